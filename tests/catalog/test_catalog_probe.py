"""Probe: kind/base/format from real headers; broken and hostile files become error entries."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.probe import (
    MAX_HEADER_BYTES,
    HeaderError,
    classify,
    context_widths,
    is_diffusers_folder,
    is_model_file,
    probe_path,
    read_safetensors_header,
)
from tests.catalog.fixtures import safetensors_bytes, write_hostile_files, write_library

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    return root, write_library(root)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return root, write_hostile_files(root)


def test_every_fixture_format_is_probed(library):
    root, expected = library
    for rel, exp in expected.items():
        probe = probe_path(root / rel)
        assert probe.error is None, (rel, probe.error)
        got = (probe.kind, probe.base_model, probe.format)
        assert got == (exp["kind"], exp["base_model"], exp["format"]), rel
        assert probe.variant == exp.get("variant", "normal"), rel
        if "prediction_type" in exp:
            assert probe.prediction_type == exp["prediction_type"], rel


def test_broken_and_hostile_files_become_error_entries(hostile):
    root, expected = hostile
    assert len(expected) >= 20
    for rel, needle in expected.items():
        probe = probe_path(root / rel)  # must not raise
        assert probe.error, rel
        assert needle in probe.error, (rel, probe.error)
        assert probe.kind == "unknown", rel
        assert str(root) in probe.error or probe.error.startswith("unsafe pickle"), (rel, probe.error)


def test_header_length_limit_is_the_reference_limit(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}")
    with pytest.raises(HeaderError, match="over 100000000"):
        read_safetensors_header(path)


def test_header_and_metadata_are_read(tmp_path):
    path = tmp_path / "m.safetensors"
    # off-spec on purpose (a number in __metadata__), so written by hand like the hostile files
    header = json.dumps({"emb_params": {"dtype": "F16", "shape": [2, 768], "data_offsets": [0, 3072]},
                         "__metadata__": {"a": "b", "n": 3}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(3072))
    header, metadata = read_safetensors_header(path)
    assert header["emb_params"]["shape"] == [2, 768]
    assert metadata == {"a": "b", "n": "3"}  # non-string metadata is kept as JSON text


def test_probe_path_never_raises_on_odd_paths(tmp_path):
    assert "not a diffusers" in probe_path(tmp_path).error
    assert probe_path(tmp_path / "missing.safetensors").error
    (tmp_path / "notes.txt").write_text("hi")
    assert "not a model file" in probe_path(tmp_path / "notes.txt").error
    (tmp_path / "dir.safetensors").mkdir()
    assert probe_path(tmp_path / "dir.safetensors").error


def test_is_model_file_and_diffusers_folder(library):
    root, _ = library
    assert is_model_file("a/b.SafeTensors") and is_model_file("x.ckpt") and is_model_file("x.pt")
    assert is_model_file("x.bin") and is_model_file("x.pth")
    assert not is_model_file("x.json") and not is_model_file("x.civitai.info") and not is_model_file("x.png")
    assert is_diffusers_folder(root / "diffusers/models/owl-dreambooth")
    assert not is_diffusers_folder(root / "diffusers/models/owl-dreambooth/unet")
    assert not is_diffusers_folder(root / "Lora")


def test_width_rules():
    for width, base in ((768, "sd15"), (1024, "sd21"), (2048, "sdxl")):
        lora = {"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": [4, width],
                "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": [320, 4]}
        assert classify(lora)["base_model"] == base
        peft = {"unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_v.lora_A.weight": [4, width]}
        assert classify(peft) == {"kind": "lora", "base_model": base, "variant": "normal", "format": "peft",
                                  "embedded_names": []}
    assert classify({"emb_params": [3, 1024]})["base_model"] == "sd21"
    assert classify({"clip_l": [1, 768], "clip_g": [1, 1280]})["base_model"] == "sdxl"


def test_up_matrices_do_not_count_as_context_width():
    shapes = {"x.attn2.to_k.lora_up.weight": [1024, 4], "x.attn2.to_k.lora_down.weight": [4, 768]}
    assert context_widths(shapes) == [768]


def test_sdxl_key_families_win_without_cross_attention():
    te_only = {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": [2, 768],
               "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": [2, 1280]}
    assert classify(te_only)["base_model"] == "sdxl"
    sd2_te = {"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": [2, 1024]}
    assert classify(sd2_te)["base_model"] == "sd21"


def test_metadata_is_only_a_fallback_for_base_model():
    shapes = {"lora_unet_x_attn1_to_q.lora_down.weight": [2, 320]}  # says nothing about the base
    assert classify(shapes, {"ss_base_model_version": "sdxl_base_v1-0"})["base_model"] == "sdxl"
    assert classify(shapes, {"modelspec.architecture": "stable-diffusion-v2-768-v/lora"})["base_model"] == "sd21"
    wrong = {"lora_unet_a_attn2_to_k.lora_down.weight": [2, 2048]}
    assert classify(wrong, {"ss_base_model_version": "sd_v1"})["base_model"] == "sdxl"


def test_inpainting_checkpoint_variant():
    shapes = {"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3],
              "cond_stage_model.transformer.text_model.final_layer_norm.weight": [768]}
    result = classify(shapes)
    assert (result["kind"], result["base_model"], result["variant"]) == ("checkpoint", "sd15", "inpaint")


def test_diffusers_folder_is_one_entry(library):
    root, _ = library
    probe = probe_path(root / "diffusers/models/owl-dreambooth")
    assert (probe.kind, probe.base_model, probe.format) == ("diffusers_model", "sdxl", "diffusers_folder")


def _bytes_read_by_this_process() -> int:
    """Linux's count of bytes this process got from read() calls (pages cached or not)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="needs Linux /proc/self/io to count bytes read")
def test_probe_reads_only_the_header(tmp_path):
    # a 64 MB data section after a small header: the probe must read the header, not the data.
    path = tmp_path / "big.safetensors"
    header = json.dumps({"w": {"dtype": "F16", "shape": [32 * 1024 * 1024], "data_offsets": [0, 64 * 1024 * 1024]}})
    raw = header.encode() + b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + 64 * 1024 * 1024)  # sparse: no 64 MB write
    before = _bytes_read_by_this_process()
    for _ in range(10):
        probe = probe_path(path)
    read_per_probe = (_bytes_read_by_this_process() - before) / 10
    assert probe.error is None and probe.kind == "unknown"
    assert read_per_probe < 1024 * 1024, f"{read_per_probe:.0f} bytes read per probe"


def test_probing_never_imports_torch(library):
    root, expected = library
    paths = [str(root / rel) for rel in expected]
    code = ("import sys, json\nfrom catalog.probe import probe_path\nfrom catalog.metadata import build_card\n"
            "for p in json.loads(sys.argv[1]):\n    build_card(probe_path(p))\n"
            "heavy = [m for m in ('torch', 'safetensors', 'numpy', 'diffusers') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(paths)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_non_utf8_names_and_symlinks(tmp_path):
    import os

    from catalog.metadata import build_card
    from tests.catalog.fixtures import kohya_lora

    data = safetensors_bytes(kohya_lora("sdxl"))
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9_\xff.safetensors")  # latin-1 bytes, not UTF-8
    with open(raw, "wb") as f:
        f.write(data)
    probe = probe_path(raw)
    assert (probe.kind, probe.base_model, probe.error) == ("lora", "sdxl", None)
    card = build_card(probe)
    assert card.name == "caf\ufffd_\ufffd" and os.path.exists(card.path)
    link = tmp_path / "link.safetensors"
    link.symlink_to(os.fsdecode(raw))
    assert probe_path(link).path == str(link) and probe_path(link).base_model == "sdxl"


def test_component_files_know_their_diffusers_folder(library):
    from catalog.probe import find_diffusers_root

    root, _ = library
    folder = root / "diffusers/models/owl-dreambooth"
    assert find_diffusers_root(folder / "unet/diffusion_pytorch_model.fp16.safetensors") == str(folder)
    assert find_diffusers_root(root / "Lora/people/nora.safetensors") is None


def test_a_named_pipe_does_not_block(tmp_path):
    import os

    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    assert "not a regular file" in probe_path(fifo).error
