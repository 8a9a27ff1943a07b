"""Quantize-on-import artifacts: exact round trip, invalidation on changed source/spec, corrupt files rebuilt."""
from __future__ import annotations

import json

import pytest
import torch

from engine.artifacts import (
    ArtifactInvalid,
    artifact_dir,
    check_artifact,
    load_artifact,
    quantize_on_import,
)
from engine.pipeline_tiny import build_tiny_pipeline
from engine.quantize import weight_bytes


@pytest.fixture
def source(tmp_path):
    """A stand-in checkpoint file: the artifact is keyed by its path and sha256."""
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"checkpoint bytes v1")
    return path


LIGHT = {"calibration_prompts": ["", "a photo of a dog"], "calibration_timesteps": (500,)}


pytestmark = pytest.mark.usefixtures("one_thread")


def _load():
    return build_tiny_pipeline(seed=0)


def _run(unet):
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    ehs = torch.randn(2, 77, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return unet(latents, 10, ehs).sample


@pytest.mark.parametrize("spec", ["taq-w4a8", "taq-w8a8", "quanto-w8", "quanto-w4", "none"])
def test_artifact_round_trip_is_exact(source, spec):
    first = quantize_on_import(source, spec, _load, **LIGHT)
    assert not first.from_cache and (first.artifact / "manifest.json").is_file()
    again = quantize_on_import(source, spec, lambda: pytest.fail("must not reload the source"))
    assert again.from_cache and again.reason == "cached"
    a, b = first.unet.state_dict(), again.unet.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert weight_bytes(again.unet) == weight_bytes(first.unet)
    assert torch.equal(_run(first.unet), _run(again.unet))


def test_manifest_records_spec_source_and_libraries(source):
    res = quantize_on_import(source, "taq-w4a8", _load, **LIGHT)
    manifest = json.loads((res.artifact / "manifest.json").read_text())
    assert manifest["spec"]["name"] == "taq-w4a8" and manifest["spec"]["weight_bits"] == 4
    assert len(manifest["source"]["sha256"]) == 64
    assert manifest["libraries"]["torch"].startswith(torch.__version__.split("+")[0])
    assert len(manifest["files"]["unet.safetensors"]) == 64
    assert res.artifact.parent.name == "quantized"


def test_changed_source_invalidates(source):
    quantize_on_import(source, "taq-w8a8", _load, **LIGHT)
    source.write_bytes(b"checkpoint bytes v2, retrained")
    with pytest.raises(ArtifactInvalid, match="changed"):
        check_artifact(artifact_dir(source, "taq-w8a8"), "taq-w8a8", source)
    res = quantize_on_import(source, "taq-w8a8", _load, **LIGHT)
    assert not res.from_cache and "changed" in res.reason
    assert quantize_on_import(source, "taq-w8a8", _load, **LIGHT).from_cache


def test_artifacts_are_kept_per_compute_dtype(source):
    """A GPU pool quantizes in fp16, the CPU in fp32: each gets its own artifact, never the other's."""
    fp32 = quantize_on_import(source, "quanto-w8", _load)
    half = quantize_on_import(source, "quanto-w8", lambda: _load().to(torch.float16), dtype=torch.float16)
    assert not half.from_cache and half.artifact != fp32.artifact
    assert json.loads((half.artifact / "manifest.json").read_text())["dtype"] == "float16"
    again = quantize_on_import(source, "quanto-w8", lambda: pytest.fail("must not reload"), dtype="float16")
    assert again.from_cache and again.unet.conv_in.bias.dtype == torch.float16
    assert quantize_on_import(source, "quanto-w8", lambda: pytest.fail("must not reload")).unet.conv_in.bias.dtype == torch.float32
    with pytest.raises(ArtifactInvalid, match="made for float32, needed float16"):
        check_artifact(fp32.artifact, "quanto-w8", source, dtype=torch.float16)
    with pytest.raises(ValueError, match="float16 UNet for a float32 artifact"):
        quantize_on_import(source, "quanto-w8", lambda: _load().to(torch.float16), force=True)


def test_changed_spec_invalidates(source):
    res = quantize_on_import(source, "taq-w4a8", _load, **LIGHT)
    other = artifact_dir(source, "taq-w8a8")
    assert other != res.artifact and not other.exists()
    manifest = json.loads((res.artifact / "manifest.json").read_text())
    manifest["spec"]["group_size"] = 64  # an older definition of the same spec name
    (res.artifact / "manifest.json").write_text(json.dumps(manifest))
    res2 = quantize_on_import(source, "taq-w4a8", _load, **LIGHT)
    assert not res2.from_cache and "another spec" in res2.reason


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest"])
def test_corrupt_artifact_is_detected_and_rebuilt(source, damage):
    res = quantize_on_import(source, "taq-w4a8", _load, **LIGHT)
    expected = _run(res.unet)
    weights = res.artifact / "unet.safetensors"
    data = bytearray(weights.read_bytes())
    if damage == "flip":
        data[-10] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        weights.write_bytes(bytes(data[: len(data) // 2]))
    else:
        (res.artifact / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactInvalid):
        load_artifact(res.artifact, "taq-w4a8", source)
    rebuilt = quantize_on_import(source, "taq-w4a8", _load, **LIGHT)
    assert not rebuilt.from_cache
    assert torch.equal(_run(rebuilt.unet), expected)
    assert quantize_on_import(source, "taq-w4a8", _load, **LIGHT).from_cache


def test_missing_source_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        quantize_on_import(tmp_path / "nope.safetensors", "taq-w8a8", _load)


def test_quantize_command_on_a_single_file_checkpoint(tmp_path, capsys):
    import main
    from engine.pipeline_tiny import write_single_file_checkpoint

    path = write_single_file_checkpoint(build_tiny_pipeline(), tmp_path / "tiny-sd15.safetensors")
    assert main.main(["quantize", str(path), "--quant", "taq-w4a8", "--json"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["spec"] == "taq-w4a8" and not first["from_cache"] and first["weight_bytes"] > 0
    assert main.main(["quantize", str(path), "--quant", "taq-w4a8", "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["from_cache"] and again["artifact"] == first["artifact"]


def test_quantize_command_missing_path(tmp_path, capsys):
    import main

    assert main.main(["quantize", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
