"""Generation on a tiny pipeline: schedulers by name, seeds, progress + previews, cancel within one
step, PNG parameters that round-trip (ours and A1111's format), and the `personalq generate` command."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # the test machine is shared; oversubscribed threads make tiny models crawl

from engine import png_info  # noqa: E402
from engine.generate import SCHEDULERS, GenerationRequest, generate  # noqa: E402
from engine.pipeline_tiny import build_tiny_pipeline, write_single_file_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def pipe(tiny_pipe):
    return tiny_pipe


def req(**kw):
    base = dict(prompt="a photo of sks dog", seed=7, steps=2, width=64, height=64, scheduler="ddim")
    base.update(kw)
    return GenerationRequest(**base)


def test_every_scheduler_runs_by_name(pipe):
    for name in SCHEDULERS:
        result = generate(pipe, req(scheduler=name))
        assert result.image.size == (64, 64) and not result.cancelled, name
        assert result.params["scheduler"] == name
    with pytest.raises(ValueError, match="unknown scheduler"):
        generate(pipe, req(scheduler="warp"))


def test_same_seed_same_image_other_seed_other_image(pipe):
    a, b, c = (np.asarray(generate(pipe, req(seed=s)).image) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    drawn = generate(pipe, req(seed=None))
    assert isinstance(drawn.params["seed"], int)
    assert np.array_equal(np.asarray(drawn.image), np.asarray(generate(pipe, req(seed=drawn.params["seed"])).image))


def test_bad_values_are_rejected_before_work(pipe):
    for bad in (dict(steps=0), dict(width=65), dict(height=0), dict(guidance=-1), dict(seed=-3)):
        with pytest.raises(ValueError):
            generate(pipe, req(**bad))


def test_on_step_reports_every_step_with_a_preview(pipe):
    calls = []
    generate(pipe, req(steps=3), on_step=lambda s, t, p: calls.append((s, t, p)))
    assert [(s, t) for s, t, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    assert all(p is not None and p.size == (8, 8) for _, _, p in calls)  # 64 px / 8 = latent size


def test_cancel_stops_within_one_step(pipe):
    unet_calls = []
    hook = pipe.unet.register_forward_hook(lambda *a: unet_calls.append(1))
    cancel = threading.Event()

    def on_step(step, total, preview):
        if step == 2:
            cancel.set()  # as a UI would, from another thread, mid-generation

    try:
        result = generate(pipe, req(steps=10), on_step=on_step, cancel=cancel)
    finally:
        hook.remove()
    assert result.cancelled and result.image is None and result.path is None
    assert result.steps_done == 2 and len(unet_calls) == 2  # not one UNet call after the step that saw the flag
    already = threading.Event()
    already.set()
    assert generate(pipe, req(), cancel=already).cancelled


def test_png_parameters_round_trip(pipe, tmp_path):
    request = req(prompt="my dog, on the beach: sunset", negative_prompt="blurry", trigger="sks",
                  quant_spec="taq-w8a8", checkpoint="/models/dog v3.safetensors", checkpoint_hash="ab12" * 16,
                  base_model="sd15", scheduler="euler_a", seed=123)
    result = generate(pipe, request, out_path=tmp_path / "out.png")
    assert result.path.is_file()
    shared = png_info.read_png_parameters(result.path)
    assert shared == {**result.params, "checkpoint": "dog v3.safetensors"}  # no folders in a shared image
    from PIL import Image

    with Image.open(result.path) as image:
        text = image.text["parameters"]
    a1111 = png_info.parse_parameters(text)
    assert a1111["Prompt"] == "my dog, on the beach: sunset" and a1111["Negative prompt"] == "blurry"
    assert (a1111["Steps"], a1111["Sampler"], a1111["Seed"], a1111["Size"]) == ("2", "Euler a", "123", "64x64")
    assert a1111["Model hash"] == "ab12ab12ab" and a1111["Model"] == "dog v3"
    assert a1111["Quant"] == "taq-w8a8" and "Checkpoint" not in a1111 and "/models" not in text
    assert a1111["Checkpoint hash"] == "ab12" * 16 and a1111["Trigger"] == "sks"


def test_png_of_a_lora_reads_back_as_a1111_writes_it(pipe, tmp_path):
    """A LoRA image names its base as the Model and carries the <lora:name:weight> tag A1111 re-applies."""
    request = req(prompt="zqx ball", checkpoint="/home/me/Lora/zqx ball.safetensors", checkpoint_hash="cd34" * 16,
                  base_model="sd15", base_checkpoint="/home/me/sd/base v1.safetensors", base_hash="ef56" * 16,
                  loras=["<lora:zqx ball:1>"], seed=5)
    result = generate(pipe, request, out_path=tmp_path / "lora.png")
    from PIL import Image

    with Image.open(result.path) as image:
        text = image.text["parameters"]
    a1111 = png_info.parse_parameters(text)
    assert a1111["Prompt"] == "zqx ball <lora:zqx ball:1>"
    assert (a1111["Model"], a1111["Model hash"], a1111["Base model"]) == ("base v1", "ef56ef56ef", "sd15")
    assert a1111["Lora hashes"] == "zqx ball: cd34cd34cd" and "/home/me" not in text
    assert png_info.read_png_parameters(result.path)["base_checkpoint"] == "base v1.safetensors"
    full = tmp_path / "full.png"
    generate(pipe, request, out_path=full, full_paths=True)
    assert png_info.read_png_parameters(full)["checkpoint"] == "/home/me/Lora/zqx ball.safetensors"


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".JPEG", "JPEG"), (".webp", "WEBP")])
def test_jpeg_and_webp_are_written_as_named_with_a1111_exif(pipe, tmp_path, suffix, fmt):
    """--out foo.jpg is a JPEG (not PNG bytes under a .jpg name) with the parameters where A1111 writes them:
    the EXIF UserComment, UTF-16 behind the "UNICODE" character code."""
    from PIL import Image

    result = generate(pipe, req(prompt="my dog, on the beach", trigger="sks", seed=11), out_path=tmp_path / f"o{suffix}")
    with Image.open(result.path) as image:
        assert image.format == fmt and image.size == (64, 64)
        raw = image.getexif().get_ifd(0x8769)[0x9286]
    assert raw.startswith(b"UNICODE\0")
    a1111 = png_info.parse_parameters(raw[8:].decode("utf-16-be"))
    assert (a1111["Prompt"], a1111["Seed"], a1111["Trigger"]) == ("my dog, on the beach", "11", "sks")
    assert png_info.read_png_parameters(result.path)["Seed"] == "11"


def test_an_output_suffix_no_format_has_is_refused_before_generating(pipe, tmp_path, capsys):
    from engine.generate import OutputPathError

    calls = []
    with pytest.raises(OutputPathError, match=r"\.gif"):
        generate(pipe, req(), out_path=tmp_path / "out.gif", on_step=lambda *a: calls.append(a))
    assert not calls and not list(tmp_path.iterdir())


def test_parse_a1111_text_written_by_other_tools():
    text = ("masterpiece, a cat\nwearing a hat\nNegative prompt: lowres, bad hands\n"
            'Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 42, Size: 512x768, Model hash: 6ce0161689, '
            'Lora hashes: "cat: 1a2b3c", Version: v1.9.4')
    out = png_info.parse_parameters(text)
    assert out["Prompt"] == "masterpiece, a cat\nwearing a hat" and out["Negative prompt"] == "lowres, bad hands"
    assert out["Sampler"] == "DPM++ 2M Karras" and out["CFG scale"] == "6.5" and out["Lora hashes"] == "cat: 1a2b3c"
    assert png_info.parse_parameters("just a prompt") == {"Prompt": "just a prompt", "Negative prompt": ""}


def test_generate_command_with_checkpoint(pipe, tmp_path, capsys):
    import main

    ckpt = write_single_file_checkpoint(pipe, tmp_path / "Stable-diffusion" / "tiny dog.safetensors")
    out = tmp_path / "cli.png"
    code = main.main(["generate", "a photo of a dog", "--checkpoint", str(ckpt), "--seed", "3", "--steps", "2",
                      "--width", "64", "--height", "64", "--quant", "none", "--scheduler", "ddim",
                      "--out", str(out), "--db", str(tmp_path / "db.sqlite"), "--quiet"])
    assert code == 0 and out.is_file()
    assert str(out) in capsys.readouterr().out
    params = png_info.read_png_parameters(out)
    assert params["checkpoint"] == ckpt.name and params["seed"] == 3 and len(params["checkpoint_hash"]) == 64
    same = generate(pipe, req(prompt=params["prompt"], seed=3))
    assert np.array_equal(np.asarray(same.image), np.asarray(__import__("PIL.Image").Image.open(out).convert("RGB")))


def test_generate_command_errors(tmp_path, capsys):
    import main

    db = str(tmp_path / "db.sqlite")
    assert main.main(["generate", "x", "--checkpoint", str(tmp_path / "missing.safetensors"), "--db", db]) == 2
    assert "not found" in capsys.readouterr().err


def test_generate_command_none_offers_the_base_model(pipe, tmp_path, capsys):
    """Check-in finds nothing in an empty library: exit 4 without a base model, the base image with one."""
    import main
    from common.settings import Settings, save_settings

    db = str(tmp_path / "empty.sqlite")
    args = ["generate", "a red spaceship", "--no-llm", "--db", db, "--steps", "2", "--width", "64", "--height", "64",
            "--quant", "none", "--seed", "1", "--quiet"]
    assert main.main(args) == 4
    assert "no base model is configured" in capsys.readouterr().out
    base = write_single_file_checkpoint(pipe, tmp_path / "base.safetensors")
    save_settings(Settings(base_models={"sd15": str(base)}))
    out = tmp_path / "base.png"
    assert main.main(args + ["--out", str(out)]) == 0
    assert "generating with the base model" in capsys.readouterr().err
    assert png_info.read_png_parameters(out)["prompt"] == "a red spaceship"


def test_trigger_positions_reach_the_taq_processors():
    from engine.quantize import apply_quant_spec
    from engine.taq import taq_processors

    quantized = build_tiny_pipeline(seed=0)
    apply_quant_spec(quantized, "taq-w8a8")
    result = generate(quantized, req(prompt="a photo of sks dog", trigger="sks"))
    sks = quantized.tokenizer("sks", add_special_tokens=False).input_ids
    ids = quantized.tokenizer("a photo of sks dog").input_ids
    expected = [i for i in range(len(ids)) if ids[i : i + len(sks)] == sks]
    assert result.params["trigger_positions"] == expected == [4]
    assert all(p.trigger_positions == [4] for p in taq_processors(quantized.unet))
    generate(quantized, req(prompt="a photo of a dog"))  # no trigger: positions cleared
    assert all(p.trigger_positions == [] for p in taq_processors(quantized.unet))
    assert generate(build_tiny_pipeline(), req(trigger="sks")).params["trigger_positions"] == []  # float UNet


def test_taq_keeps_every_trigger_of_a_composed_prompt():
    """A subject's and a style's triggers in one prompt: TAQ gets the token positions of both."""
    from engine.quantize import apply_quant_spec, trigger_token_positions

    quantized = build_tiny_pipeline(seed=0)
    apply_quant_spec(quantized, "taq-w8a8")
    prompt = "a photo of sks dog in zqx style"
    result = generate(quantized, req(prompt=prompt, trigger="sks", extra_triggers=["zqx style"]))
    both = set(trigger_token_positions(quantized.tokenizer, prompt, "sks"))
    both |= set(trigger_token_positions(quantized.tokenizer, prompt, "zqx style"))
    assert result.params["trigger_positions"] == sorted(both) and len(both) >= 3


def test_result_reports_step_time_and_the_kernels_that_ran(monkeypatch):
    from engine.kernels import ENV
    from engine.quantize import apply_quant_spec

    monkeypatch.setenv(ENV, "int8-split")
    quantized = build_tiny_pipeline(seed=0)
    apply_quant_spec(quantized, "taq-w8a8", calibration_prompts=["", "a dog"], calibration_timesteps=(500,))
    result = generate(quantized, req(steps=3))
    assert result.step_seconds is not None and result.step_seconds > 0
    assert result.kernel["dtype"] == "float32" and result.kernel["layers"].get("int8-split", 0) > 0
    assert "kernel" not in result.params and "step_seconds" not in result.params  # not written into the PNG
    plain = generate(build_tiny_pipeline(), req(steps=2))
    assert plain.kernel == {"dtype": "float32", "layers": {}}


def test_generate_command_json_reports_step_time_and_kernel(pipe, tmp_path, capsys):
    import json

    import main

    ckpt = write_single_file_checkpoint(pipe, tmp_path / "Stable-diffusion" / "tiny.safetensors")
    code = main.main(["generate", "a photo of a dog", "--checkpoint", str(ckpt), "--seed", "3", "--steps", "3",
                      "--width", "64", "--height", "64", "--quant", "none", "--scheduler", "ddim", "--json",
                      "--out", str(tmp_path / "j.png"), "--db", str(tmp_path / "db.sqlite")])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step_seconds"] > 0 and out["kernel"]["dtype"] in ("float32", "bfloat16")
