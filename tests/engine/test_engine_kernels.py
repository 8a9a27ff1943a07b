"""TAQ layers on the integer kernels compute what the fake-quant reference computes: Linear, 1x1 and
3x3 convs, int8 and int4 weights, with and without a calibrated activation scale; the packed weight
replaces the int8 codes and state_dict gives the exact codes back; the plan says why it chose."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import kernels
from engine import quantizers as qz
from engine.taq import QuantConv2d, QuantLinear

pytestmark = pytest.mark.usefixtures("one_thread")


def _rel(a, b) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def _reference(layer, x):
    """Today's fake-quant layer: inputs rounded onto the calibrated grid, codes * scales as a float weight."""
    xq = qz.fake_quant(x, layer.act_scale, layer.act_bits) if float(layer.act_scale) > 0 else x
    w = layer.dequantized_weight(torch.float32)
    if isinstance(layer, QuantLinear):
        return F.linear(xq, w, layer.bias)
    return F.conv2d(xq, w, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)


def _layer(kind: str, bits: int, calibrated: bool, seed: int = 0):
    """A quantized layer of SD-like proportions and its input; calibrated on a narrower batch so the
    real input clips a little, as at inference."""
    g = torch.Generator().manual_seed(seed)
    if kind == "linear":
        float_layer = nn.Linear(96, 80)
        x = torch.randn(2, 37, 96, generator=g)
        layer_cls = QuantLinear
    else:
        k = 1 if kind == "conv1x1" else 3
        float_layer = nn.Conv2d(32, 48, k, padding=k // 2)
        x = torch.randn(2, 32, 9, 9, generator=g)
        layer_cls = QuantConv2d
    with torch.no_grad():
        float_layer.weight.copy_(torch.randn(float_layer.weight.shape, generator=g) * 0.1)
        float_layer.bias.copy_(torch.randn(float_layer.bias.shape, generator=g) * 0.1)
    layer = layer_cls.from_float(float_layer, bits, act_bits=8, group_size=32)
    if calibrated:
        layer.observing = True
        layer(x * 0.8)
        layer.finish_calibration()
    return layer, x


@pytest.mark.parametrize("mode", ["int8-split", "int8-u8"])
@pytest.mark.parametrize("calibrated", [True, False])
@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("kind", ["linear", "conv1x1", "conv3x3"])
def test_integer_kernel_matches_fake_quant(monkeypatch, kind, bits, calibrated, mode):
    monkeypatch.setenv(kernels.ENV, mode)
    layer, x = _layer(kind, bits, calibrated)
    if mode == "int8-u8" and bits == 8:
        # one u8 pass is exact with 32-bit accumulation (VNNI/AMX); AVX2 saturates int16 pairs beyond
        # 7-bit weights, so on codes that cannot saturate anywhere this checks the wiring on any x86 CPU
        with torch.no_grad():
            layer.qweight.copy_(layer.qweight.clamp(-64, 64))
    if mode == "int8-u8" and bits == 4 and not (kernels.cpu_features()["vnni"] or kernels.cpu_features()["amx"]):
        mode = None  # int4 re-quantized to int8 spans the full int8 range: only VNNI is exact in one pass
    if mode is None:
        return
    ref = _reference(layer, x)
    with torch.no_grad():
        out = layer(x)
    assert layer.last_kernel == (mode if calibrated else "fake-quant")
    assert out.shape == ref.shape and out.dtype == x.dtype
    assert _rel(out, ref) <= (1e-2 if bits == 4 else 1e-5)


def test_u8_on_avx2_is_refused_by_auto_and_named_in_the_note():
    avx2 = {"avx2": True, "vnni": False, "amx": False, "onednn": True}
    plan = kernels.plan_for("cpu", "auto", avx2)
    assert plan.mode == "split" and plan.layers == kernels.AUTO_LAYERS["split"]
    assert "no VNNI" in plan.note
    forced = kernels.plan_for("cpu", "int8-u8", avx2)
    assert forced.mode == "u8" and "NOT exact" in forced.note
    vnni = kernels.plan_for("cpu", "auto", dict(avx2, vnni=True))
    assert vnni.mode == "u8" and vnni.layers == kernels.LAYER_KINDS and vnni.name.startswith("int8-u8[")


def test_fallbacks_say_why():
    assert kernels.plan_for("cuda").name == "fake-quant" and "cuda" in kernels.plan_for("cuda").note
    no_engine = kernels.plan_for("cpu", "auto", {"avx2": True, "onednn": False})
    assert no_engine.mode is None and "oneDNN" in no_engine.note
    old = kernels.plan_for("cpu", "auto", {"avx2": False, "onednn": True})
    assert old.mode is None and "neither VNNI nor AVX2" in old.note
    assert kernels.plan_for("cpu", "fake-quant").name == "fake-quant"
    with pytest.raises(ValueError, match=kernels.ENV):
        kernels.plan_for("cpu", "int3")


def test_bf16_only_with_native_bf16():
    assert not kernels.cpu_has_fast_bf16({"avx2": True, "avx512": True})
    assert kernels.cpu_has_fast_bf16({"avx512_bf16": True})
    assert kernels.cpu_has_fast_bf16({"amx": True})


@pytest.mark.parametrize("kind", ["linear", "conv3x3"])
def test_packed_weight_replaces_the_codes_and_state_dict_is_unchanged(monkeypatch, kind):
    monkeypatch.setenv(kernels.ENV, "int8-split")
    layer, x = _layer(kind, 8, calibrated=True)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    with torch.no_grad():
        layer(x)
    assert layer.qweight.numel() == 0  # the packed copy is the only one
    after = layer.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    # a fresh layer loads what the packed one saves and computes the same
    fresh, _ = _layer(kind, 8, calibrated=False, seed=1)
    fresh.load_state_dict(after)
    with torch.no_grad():
        assert torch.equal(fresh(x), layer(x))
    # loading into the packed layer puts codes back and drops the stale packing
    layer.load_state_dict(before)
    assert layer.qweight.shape == before["qweight"].shape and layer._packed is None


def test_int4_keeps_only_packed_int4_at_rest(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "int8-split")
    layer, x = _layer("linear", 4, calibrated=True)
    with torch.no_grad():
        layer(x)
    assert layer.qweight.dtype == torch.uint8 and layer._packed is None  # the int8 scratch is not kept


def test_fake_quant_setting_runs_todays_path(monkeypatch):
    monkeypatch.setenv(kernels.ENV, "fake-quant")
    layer, x = _layer("conv3x3", 8, calibrated=True)
    with torch.no_grad():
        out = layer(x)
    assert layer.last_kernel == "fake-quant" and torch.equal(out, _reference(layer, x))


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["taq-w8a8", "taq-w4a8"])
def test_artifact_of_the_fake_quant_layers_loads_and_gives_the_same_image(monkeypatch, tmp_path, spec):
    """An artifact written by the layers as they were (fake-quant only) loads under the integer kernels;
    on the fake-quant path it gives the identical image, on the int8 one the same image up to the
    path's own rounding noise; written again after packing, it holds the identical tensors (the file's
    bytes are not comparable: safetensors orders its metadata differently from call to call).

    Why not identical under int8: a quantized net flips an input code wherever float accumulation
    order moves a value across a rounding boundary. The fake-quant path alone differs that much between
    1 and 2 threads (tiny pipeline: mean 1.6e-2, max 0.13); per layer the kernels are exact (above)."""
    from safetensors.torch import load_file

    from engine.artifacts import quantize_on_import, save_artifact
    from engine.pipeline_tiny import build_tiny_pipeline

    monkeypatch.setenv("PERSONALQ_HOME", str(tmp_path / "home"))
    source = tmp_path / "model.safetensors"
    source.write_bytes(b"checkpoint bytes")
    pipe = build_tiny_pipeline(seed=0)

    def image():
        out = pipe("a photo of sks dog", num_inference_steps=2, output_type="np",
                   generator=torch.Generator().manual_seed(0)).images
        return torch.from_numpy(out)

    monkeypatch.setenv(kernels.ENV, "fake-quant")
    old = quantize_on_import(source, spec, lambda: build_tiny_pipeline(seed=0),
                             calibration_prompts=["", "a photo of a dog"], calibration_timesteps=(500,))
    pipe.unet = old.unet
    before = image()
    monkeypatch.setenv(kernels.ENV, "int8-split")
    loaded = quantize_on_import(source, spec, lambda: pytest.fail("the artifact must load, not be rebuilt"))
    assert loaded.from_cache
    pipe.unet = loaded.unet
    on_int8 = image()
    assert kernels.kernels_in(loaded.unet).get("int8-split", 0) > 0
    assert float((on_int8 - before).abs().mean()) <= 0.05
    again = load_file(save_artifact(loaded.unet, spec, source, tmp_path / "again") / "unet.safetensors")
    first = load_file(old.artifact / "unet.safetensors")
    assert again.keys() == first.keys() and all(torch.equal(again[k], first[k]) for k in first)
    monkeypatch.setenv(kernels.ENV, "fake-quant")
    assert torch.equal(image(), before)
