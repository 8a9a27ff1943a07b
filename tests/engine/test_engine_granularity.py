"""K/V quantization granularity (engine/granularity.py): the static scale math on tiny tensors, and the
granular attn2 processor on the tiny pipeline (static grid, trigger and start rows kept, calibration)."""
from __future__ import annotations

import pytest
import torch

from engine import granularity as gr
from engine import quantizers as qz

pytestmark = pytest.mark.usefixtures("one_thread")


def _kv():
    x = torch.tensor([[[1.0, -2.0], [0.5, 0.25], [8.0, -1.0]]])  # (N=1, T=3, C=2); row 2 is an outlier
    return x


def test_tensor_scale_is_absmax_over_all_rows():
    assert gr.static_kv_scale(_kv(), 8, "tensor").item() == pytest.approx(8.0 / 127)


def test_excluded_rows_do_not_set_the_scale():
    exclude = torch.tensor([[False, False, True]])
    assert gr.static_kv_scale(_kv(), 8, "tensor", exclude).item() == pytest.approx(2.0 / 127)


def test_channel_scale_is_one_per_channel():
    s = gr.static_kv_scale(_kv(), 4, "channel")
    assert s.shape == (2,) and torch.allclose(s, torch.tensor([8.0, 2.0]) / 7)


def test_token_granularity_has_nothing_to_calibrate():
    with pytest.raises(ValueError, match="dynamic"):
        gr.static_kv_scale(_kv(), 8, "token")
    with pytest.raises(ValueError, match="unknown granularity"):
        gr.static_kv_scale(_kv(), 8, "row")


def test_static_quant_clips_rows_beyond_the_calibrated_range_and_keeps_listed_rows():
    x = _kv()
    scale = gr.static_kv_scale(x, 4, "tensor", torch.tensor([[False, False, True]]))  # 2/7
    q = gr.fake_quant_static(x, scale, 4)
    assert q[0, 2, 0].item() == pytest.approx(2.0)  # the outlier row is clipped to the grid's end
    codes = q / scale
    assert torch.allclose(codes, codes.round(), atol=1e-5)
    kept = gr.fake_quant_static(x, scale, 4, keep_rows=[2])
    assert torch.equal(kept[0, 2], x[0, 2]) and torch.equal(kept[0, :2], q[0, :2])


def test_one_outlier_row_coarsens_every_other_row_under_a_tensor_scale():
    x = _kv()
    err = lambda scale: (gr.fake_quant_static(x, scale, 4)[0, :2] - x[0, :2]).abs().max().item()  # noqa: E731
    with_outlier = gr.static_kv_scale(x, 4, "tensor")
    without = gr.static_kv_scale(x, 4, "tensor", torch.tensor([[False, False, True]]))
    assert err(with_outlier) > err(without)


def test_token_granularity_is_todays_per_row_quantizer():
    x = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(gr.fake_quant_kv(x, 8, "token", keep_rows=[1]), qz.fake_quant_rows(x, 8, [1]))
    with pytest.raises(ValueError, match="calibrated scale"):
        gr.fake_quant_kv(x, 8, "tensor")


# --- the processor on the tiny pipeline -------------------------------------------------------------

PROMPT = "a photo of sks dog on the beach"
CALIB = ["", "a photo of a dog", "a photo of sks dog"]


def _granular_step(protect: bool, granularity: str, keep_start: bool):
    from engine.pipeline_tiny import build_tiny_pipeline
    from engine.quant_specs import QuantSpec
    from engine.quantize import (
        apply_quant_spec,
        encode_prompts,
        set_debug,
        set_trigger_positions,
        trigger_token_positions,
    )

    pipe = build_tiny_pipeline()
    spec = QuantSpec("t", "taq", weight_bits=8, act_bits=8, protect_trigger=protect, kv_bits=8, prob_bits=8)
    apply_quant_spec(pipe, spec, calibration_prompts=CALIB, calibration_timesteps=(500,))
    gr.apply_granularity(pipe, granularity, keep_start, CALIB, trigger="sks")
    pos = trigger_token_positions(pipe.tokenizer, PROMPT, "sks")
    set_trigger_positions(pipe, pos)
    set_debug(pipe)
    ehs = encode_prompts([PROMPT], pipe.tokenizer, pipe.text_encoder)
    with torch.no_grad():
        pipe.unet(torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)), 10, ehs)
    return pipe, pos


def test_tensor_processor_puts_kv_on_one_calibrated_grid_and_keeps_trigger_and_start_rows():
    from engine.taq import taq_processors

    pipe, pos = _granular_step(protect=True, granularity="tensor", keep_start=True)
    procs = taq_processors(pipe.unet)
    assert procs and all(p.granularity == "tensor" and p.k_scale.dim() == 0 for p in procs)
    for proc in procs:
        last = proc.last
        assert last["kept"] == [0] + pos
        rest = [t for t in range(77) if t not in last["kept"]]
        codes = last["key"][:, rest] / proc.k_scale
        assert torch.allclose(codes, codes.round(), atol=1e-3) and codes.abs().max() <= 127
        assert torch.equal(last["key"][:, last["kept"]], last["key_raw"][:, last["kept"]])
        assert torch.equal(last["probs"][..., last["kept"]], last["probs_raw"][..., last["kept"]])


def test_calibration_leaves_kept_rows_out_only_when_they_are_kept():
    from engine.taq import taq_processors

    sep, _ = _granular_step(protect=True, granularity="channel", keep_start=True)
    nos, _ = _granular_step(protect=False, granularity="channel", keep_start=False)
    s_sep, s_nos = taq_processors(sep.unet)[0].k_scale, taq_processors(nos.unet)[0].k_scale
    assert s_sep.dim() == 1 and torch.all(s_sep <= s_nos)  # fewer rows in the statistics: never a wider range
    assert not torch.equal(taq_processors(nos.unet)[0].last["key"][:, 0], taq_processors(nos.unet)[0].last["key_raw"][:, 0])


def test_granularity_needs_a_taq_quantized_unet():
    from engine.pipeline_tiny import build_tiny_pipeline

    with pytest.raises(ValueError, match="taq spec"):
        gr.install_processors(build_tiny_pipeline().unet, "tensor")
