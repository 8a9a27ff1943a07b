"""TAQ on the tiny SD-1.5-shaped pipeline: every spec runs; trigger rows/columns stay exact; the rest
is on the quantization grid; K/V are computed once per prompt; weights are really stored small."""
from __future__ import annotations

import pytest
import torch

from engine import quantizers as qz
from engine.pipeline_tiny import build_tiny_pipeline, write_tiny_lora
from engine.quant_specs import CORE_SPECS, SPECS, UnknownQuantSpec, get_spec
from engine.quantize import (
    apply_quant_spec,
    encode_prompts,
    quant_spec_of,
    set_debug,
    set_trigger_positions,
    trigger_token_positions,
    weight_bytes,
)
from engine.taq import QuantConv2d, QuantLinear, TAQCrossAttnProcessor, taq_processors

PROMPT = "a photo of sks dog on the beach"
LIGHT = {"calibration_prompts": ["", "a photo of a dog"], "calibration_timesteps": (500,)}


pytestmark = pytest.mark.usefixtures("one_thread")


def _unet_inputs(pipe, prompt=PROMPT):
    ehs = encode_prompts([prompt], pipe.tokenizer, pipe.text_encoder)
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    return latents, ehs


def _debug_step(spec):
    """Tiny pipeline quantized by `spec`, trigger 'sks' set, one debug UNet step run; (pipe, trigger positions)."""
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, spec, **LIGHT)
    pos = trigger_token_positions(pipe.tokenizer, PROMPT, "sks")
    set_trigger_positions(pipe, pos)
    set_debug(pipe)
    latents, ehs = _unet_inputs(pipe)
    with torch.no_grad():
        pipe.unet(latents, 10, ehs)
    return pipe, pos


@pytest.mark.parametrize("name", list(SPECS))
def test_every_spec_generates(name):
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, name, **LIGHT)
    set_trigger_positions(pipe, trigger_token_positions(pipe.tokenizer, PROMPT, "sks"))
    out = pipe(PROMPT, num_inference_steps=2, output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert out.shape[0] == 1 and torch.isfinite(torch.from_numpy(out)).all()
    assert quant_spec_of(pipe) == name


def test_unknown_spec_names_the_known_ones():
    with pytest.raises(UnknownQuantSpec, match="taq-w4a8"):
        get_spec("taq-w2a2")


def test_trigger_token_positions_real_clip_tokens():
    pipe = build_tiny_pipeline()
    tok = pipe.tokenizer
    assert trigger_token_positions(tok, "a photo of sks dog", "sks") == [4]  # BOS a photo of sks
    # a trigger that BPE splits into several sub-words covers all of them, every occurrence
    pos = trigger_token_positions(tok, "zxqvbn cat, zxqvbn style", "zxqvbn")
    n = len(tok("zxqvbn", add_special_tokens=False).input_ids)
    assert n > 1 and len(pos) == 2 * n and pos[0] == 1
    assert trigger_token_positions(tok, "a photo of a dog", "sks") == []


def test_taq_keeps_trigger_rows_and_columns_exact():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    pos = trigger_token_positions(pipe.tokenizer, PROMPT, "sks")
    assert set_trigger_positions(pipe, pos) == len(taq_processors(pipe.unet)) > 0
    set_debug(pipe)
    latents, ehs = _unet_inputs(pipe)
    with torch.no_grad():
        pipe.unet(latents, 10, ehs)
    others = [t for t in range(77) if t not in pos]
    for proc in taq_processors(pipe.unet):
        last = proc.last
        assert last["kept"] == pos
        for name in ("key", "value"):
            q, raw = last[name], last[f"{name}_raw"]  # (B, 77, inner)
            assert torch.equal(q[:, pos], raw[:, pos])
            scale = raw[:, others].abs().amax(-1, keepdim=True) / qz.qmax(8)
            codes = q[:, others] / scale
            assert torch.allclose(codes, codes.round(), atol=1e-3)  # on the int8 grid
            assert not torch.equal(q[:, others], raw[:, others])
        probs, raw = last["probs"], last["probs_raw"]  # (B, H, N, 77)
        assert torch.equal(probs[..., pos], raw[..., pos])
        grid = probs[..., others] * 255
        assert torch.allclose(grid, grid.round(), atol=1e-3)
        assert not torch.equal(probs[..., others], raw[..., others])


def test_naive_quantizes_trigger_rows_too():
    pipe, pos = _debug_step("naive-w8a8")
    proc = taq_processors(pipe.unet)[0]
    assert proc.last["kept"] == []
    assert not torch.equal(proc.last["key"][:, pos], proc.last["key_raw"][:, pos])
    assert not torch.equal(proc.last["probs"][..., pos], proc.last["probs_raw"][..., pos])


def test_log2_spec_puts_probabilities_on_powers_of_two():
    pipe, pos = _debug_step("taq-w4a8-log")
    probs = taq_processors(pipe.unet)[0].last["probs"]
    others = probs[..., [t for t in range(77) if t not in pos]]
    nonzero = others[others > 0]
    assert torch.equal(torch.log2(nonzero), torch.log2(nonzero).round())


def test_kv_computed_once_per_prompt_and_trigger_change():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w4a8", **LIGHT)
    procs = taq_processors(pipe.unet)
    gen = lambda p: pipe(p, num_inference_steps=3, output_type="np", generator=torch.Generator().manual_seed(0))  # noqa: E731
    before = [p.kv_computations for p in procs]
    count = lambda: [p.kv_computations - b for p, b in zip(procs, before)]  # noqa: E731
    gen(PROMPT)
    assert count() == [1] * len(procs)  # 3 steps, CFG batch: one projection
    gen("another prompt")
    assert count() == [2] * len(procs)
    set_trigger_positions(pipe, [4])
    latents, ehs = _unet_inputs(pipe)
    with torch.no_grad():
        a = pipe.unet(latents, 10, ehs).sample
        b = pipe.unet(latents, 10, ehs).sample
    assert torch.equal(a, b)
    assert count() == [3] * len(procs)  # new tensor from encode_prompts: once more, then cached


def test_cached_kv_gives_the_same_output_as_recomputing():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    latents, ehs = _unet_inputs(pipe)
    with torch.no_grad():
        first = pipe.unet(latents, 10, ehs).sample
        for proc in taq_processors(pipe.unet):
            proc.cache_kv = False
        fresh = pipe.unet(latents, 10, ehs).sample
    assert torch.equal(first, fresh)


def test_quantized_weights_are_stored_as_int8_and_packed_int4():
    base = weight_bytes(build_tiny_pipeline().unet)
    sizes = {}
    for name in ("taq-w8a8", "taq-w4a8"):
        pipe = build_tiny_pipeline()
        apply_quant_spec(pipe, name, **LIGHT)
        layers = [m for m in pipe.unet.modules() if isinstance(m, (QuantLinear, QuantConv2d))]
        assert layers
        want = torch.int8 if name == "taq-w8a8" else torch.uint8
        assert all(m.qweight.dtype == want for m in layers)
        assert not any(isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and m.weight.dtype == torch.float32
                       for m in pipe.unet.modules())  # no float copy left behind
        sizes[name] = weight_bytes(pipe.unet)
    assert sizes["taq-w4a8"] < sizes["taq-w8a8"] < 0.35 * base


def test_int4_layer_weight_is_codes_times_scales():
    lin = torch.nn.Linear(300, 20)
    q = QuantLinear.from_float(lin, 4, group_size=128)
    codes = q.weight_codes()  # (O, G, group)
    assert codes.min() >= -8 and codes.max() <= 7
    w = q.dequantized_weight()
    assert w.shape == lin.weight.shape
    assert (w - lin.weight).abs().max() <= q.wscale.float().max() / 2 + 1e-6


def test_w8a8_stays_close_to_float():
    ref = build_tiny_pipeline()
    latents, ehs = _unet_inputs(ref)
    with torch.no_grad():
        want = ref.unet(latents, 10, ehs).sample
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    with torch.no_grad():
        got = pipe.unet(latents, 10, ehs).sample
    rel = (got - want).norm() / want.norm()
    assert 0 < rel < 0.1


def test_processor_rejects_self_attention_use():
    proc = TAQCrossAttnProcessor()
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        proc(None, torch.zeros(1, 4, 8))


def test_applying_twice_is_an_error():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    with pytest.raises(ValueError, match="already quantized"):
        apply_quant_spec(pipe, "taq-w4a8", **LIGHT)


def test_core_specs_all_registered():
    assert set(CORE_SPECS) <= set(SPECS)


def test_default_calibration_uses_builtin_prompts_and_sets_scales():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8")  # built-in sd15 captions through the pipeline's text encoder
    layers = [m for m in pipe.unet.modules() if isinstance(m, (QuantLinear, QuantConv2d))]
    assert all(float(m.act_scale) > 0 for m in layers if m.act_bits)


def test_bare_unet_calibrates_on_seeded_states():
    a = apply_quant_spec(build_tiny_pipeline().unet, "naive-w4a8", **LIGHT)
    b = apply_quant_spec(build_tiny_pipeline().unet, "naive-w4a8", **LIGHT)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # deterministic


@pytest.mark.parametrize("name", ["naive-w8a8", "taq-w8a8", "taq-w4a8"])
def test_first_conv_reads_a_float_latent(name):
    """The noisy latent entering conv_in keeps full precision (its weights are still int); every
    other quantized layer gets a calibrated activation scale."""
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, name, **LIGHT)
    unet = pipe.unet
    assert isinstance(unet.conv_in, QuantConv2d) and unet.conv_in.act_bits is None
    assert unet.conv_in.qweight.dtype in (torch.int8, torch.uint8)
    latents, ehs = _unet_inputs(pipe)
    assert torch.equal(unet.conv_in._quant_input(latents), latents)
    others = [m for n, m in unet.named_modules() if isinstance(m, (QuantLinear, QuantConv2d)) and n != "conv_in"]
    assert others and all(m.act_bits == 8 and float(m.act_scale) > 0 for m in others)


def test_quantized_latent_input_variant_quantizes_conv_in():
    pipe = build_tiny_pipeline()
    apply_quant_spec(pipe, "taq-w8a8-qin", **LIGHT)
    assert pipe.unet.conv_in.act_bits == 8 and float(pipe.unet.conv_in.act_scale) > 0


def test_a8_specs_share_the_int4_group_size_and_quanto_w4_keeps_128():
    assert get_spec("taq-w4a8").group_size == get_spec("naive-w4a8").group_size == 32
    assert get_spec("quanto-w4").group_size == get_spec("taq-w4a8-g128").group_size == 128


def test_quantizing_with_a_hooked_lora_attached_is_refused(tmp_path):
    """Quantization replaces the float layers the LoRA hooks sit on; it must not drop the LoRA silently."""
    from engine import lora

    pipe = build_tiny_pipeline()
    lora_path = write_tiny_lora(pipe, tmp_path / "tiny_lora.safetensors", "kohya", seed=1)
    lora.apply_lora(pipe, lora_path)
    with pytest.raises(ValueError, match="detach LoRA"):
        apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    lora.deactivate_loras(pipe)
    apply_quant_spec(pipe, "taq-w8a8", **LIGHT)
    lora.apply_lora(pipe, lora_path)  # attached to the quantized layers afterwards
    assert quant_spec_of(pipe) == "taq-w8a8"


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_layers_are_built_where_their_float_layer_lives(bits):
    """Quantizing a UNet on a GPU must not leave its new layers on the CPU (calibration then mixed
    devices). No GPU here: the meta device stands in for 'not the CPU'."""
    lin = torch.nn.Linear(64, 8, device="meta")
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, device="meta")
    for q in (QuantLinear.from_float(lin, bits, 8), QuantConv2d.from_float(conv, bits, 8)):
        assert {t.device.type for t in list(q.buffers()) + list(q.parameters())} == {"meta"}
