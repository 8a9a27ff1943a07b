"""The committed demo world is intact, small, and generates through `personalq demo`."""
from __future__ import annotations

import hashlib
import json

from PIL import Image

from demo.build import ASSETS


def test_committed_world_matches_its_manifest():
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    assert len(manifest["entries"]) >= 8
    total = 0
    for rel, info in manifest["files"].items():
        data = (ASSETS / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == info["sha256"], rel
        total += len(data)
    assert total <= 25 * 2**20


def test_committed_world_met_its_build_targets():
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    m, entries = manifest["metrics"], manifest["entries"]
    assert m["judge_heldout_min"] >= 0.95
    assert m["base_attribute_accuracy_heldout"] >= 0.8  # the base follows held-out captions
    assert all(e["metrics"]["concept_without_trigger"] <= 0.2 for e in entries)  # no concept leaks into plain prompts
    missed = [e["concept"] for e in entries if e["metrics"]["concept_with_trigger"] < 0.8]
    assert not missed  # each checkpoint shows its concept with its trigger


def test_personalq_demo_generates_from_the_committed_world(tmp_path, capsys):
    import main

    out = tmp_path / "demo.png"
    code = main.main(["demo", "--no-llm", "--steps", "4", "--db", str(tmp_path / "d.sqlite"), "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "selected" and "pqr" in summary["prompt"]
    assert summary["quant"] == "taq-w8a8"  # the app's default, as the window runs it (issue #29 item 12)
    img = Image.open(summary["image"])
    assert img.size == (32, 32) and "parameters" in img.info


def test_demo_quantized_lora_generation_keeps_the_lora(tmp_path):
    """A LoRA goes onto the quantized base (quantizing first would replace the layers it hooks):
    the quantized image with the LoRA differs from the quantized base's image for the same prompt and seed."""
    import numpy as np

    import main

    manifest = json.loads((ASSETS / "manifest.json").read_text())
    entry = next(e for e in manifest["entries"] if e["method"] == "lora")
    prompt = f"a {entry['trigger']} on a white background"
    images = []
    for which in (ASSETS / "library" / entry["file"], ASSETS / "base"):
        out = tmp_path / f"{which.stem}.png"
        assert main.main(["generate", prompt, "--checkpoint", str(which), "--quant", "taq-w8a8", "--seed", "3",
                          "--steps", "4", "--out", str(out), "--quiet", "--no-llm"]) == 0
        images.append(np.asarray(Image.open(out), dtype=np.float32))
    assert np.abs(images[0] - images[1]).mean() > 2.0


def test_the_embedding_shows_its_triangle_on_the_apps_own_prompts():
    """Issue #29 item 14: the prompts Check-in makes for the warning badge ("kxj stripes", "a kxj warning
    sign", the trigger alone) show it in at least 3 of 4 seeds, at the app's 10 steps, full precision."""
    import torch

    from demo import library, model, personalize
    from demo.judge import load_judge, shows_concept

    torch.set_num_threads(1)
    entry = next(e for e in personalize.LIBRARY if e.method == "textual_inversion")
    pipe = library.load_entry(ASSETS / "library" / entry.file, entry.method, entry.trigger, ASSETS / "base")
    judge = load_judge(ASSETS / "judge.safetensors")
    for prompt in ("kxj", "kxj stripes", "a kxj warning sign", "a kxj triangle"):
        images = model.sample(pipe, [prompt] * 4, [1, 2, 3, 4], model.SampleSettings(steps=10, guidance=4.0))
        pred = judge.predict(images)
        assert sum(shows_concept(pred, i, entry.concept) for i in range(4)) >= 3, prompt
