"""Quantizer math: grids, error bounds, int4 packing, probability quantizers."""
from __future__ import annotations

import pytest
import torch

from engine import quantizers as qz


def test_qmax_and_bad_bits():
    assert qz.qmax(8) == 127 and qz.qmax(4) == 7
    with pytest.raises(ValueError, match="bits"):
        qz.qmax(1)


@pytest.mark.parametrize("bits", [8, 4])
def test_per_row_fake_quant_error_bound_and_grid(bits):
    x = torch.randn(3, 77, 64)
    out = qz.fake_quant_rows(x, bits)
    scale = x.abs().amax(dim=-1, keepdim=True) / qz.qmax(bits)
    # on the grid: out / scale is an integer in [-qmax, qmax]
    codes = out / scale
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert codes.abs().max() <= qz.qmax(bits) + 1e-4
    # rounding error at most half a step per element
    assert ((out - x).abs() <= scale / 2 + 1e-6).all()


def test_fake_quant_rows_keeps_listed_rows_exact():
    x = torch.randn(2, 77, 16)
    out = qz.fake_quant_rows(x, 4, keep_rows=[5, 6])
    assert torch.equal(out[:, 5:7], x[:, 5:7])
    assert not torch.equal(out[:, 4], x[:, 4])


@pytest.mark.parametrize("bits", [8, 4])
def test_per_channel_weights_roundtrip_within_half_step(bits):
    w = torch.randn(16, 8, 3, 3)
    codes, scale = qz.quantize_per_channel(w, bits)
    assert codes.dtype == torch.int8 and scale.shape == (16, 1, 1, 1)
    assert ((codes.float() * scale - w).abs() <= scale / 2 + 1e-6).all()


def test_groupwise_padding_and_roundtrip():
    w = torch.randn(4, 100)  # 100 is not a multiple of 64: padded
    codes, scale = qz.quantize_groupwise(w, 4, 64)
    assert codes.shape == (4, 2, 64) and scale.shape == (4, 2, 1)
    back = qz.dequantize_groupwise(codes, scale, w.shape, torch.float32)
    assert back.shape == w.shape
    per_elem_scale = scale.expand(4, 2, 64).reshape(4, 128)[:, :100]
    assert ((back - w).abs() <= per_elem_scale / 2 + 1e-6).all()


def test_int4_pack_unpack_exact_and_half_size():
    codes = torch.randint(-8, 8, (5, 6, 32), dtype=torch.int8)
    packed = qz.pack_int4(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (5, 6, 16)
    assert torch.equal(qz.unpack_int4(packed), codes)
    with pytest.raises(ValueError, match="even"):
        qz.pack_int4(torch.zeros(3, dtype=torch.int8))


def test_linear_prob_quantizer_grid():
    p = torch.rand(4, 77).softmax(-1)
    out = qz.linear_quantize_probs(p, 8)
    assert torch.allclose(out * 255, (out * 255).round(), atol=1e-4)
    assert (out - p).abs().max() <= 0.5 / 255 + 1e-6


def test_log2_prob_quantizer_powers_of_two_and_underflow():
    p = torch.tensor([1.0, 0.5, 0.3, 0.01, 2.0**-20])
    out = qz.log2_quantize_probs(p, 4)  # levels 2**0 .. 2**-15
    assert out.tolist()[:3] == [1.0, 0.5, 0.25]
    assert out[3].item() == 2.0**-7  # 0.01 -> round(6.64) = 7
    assert out[4].item() == 0.0  # below the last level
    # relative error of kept values is bounded by sqrt(2)
    ratio = out[:4] / p[:4]
    assert ((ratio >= 2**-0.5 - 1e-6) & (ratio <= 2**0.5 + 1e-6)).all()


def test_log2_beats_linear_at_4_bits_on_softmax():
    torch.manual_seed(0)
    p = (torch.randn(64, 77) * 2).softmax(-1)
    rel = lambda q: ((q - p).abs() / p).mean().item()  # noqa: E731
    assert rel(qz.log2_quantize_probs(p, 4)) < rel(qz.linear_quantize_probs(p, 4))


def test_quantize_probs_keeps_columns_and_rejects_unknown():
    p = torch.rand(2, 8, 16, 77).softmax(-1)
    out = qz.quantize_probs(p, 4, "log2", keep_cols=[3])
    assert torch.equal(out[..., 3], p[..., 3])
    assert not torch.equal(out[..., 2], p[..., 2])
    with pytest.raises(ValueError, match="unknown probability quantizer"):
        qz.quantize_probs(p, 4, "cubic")


def test_unpack_int4_decodes_every_byte():
    """All 256 byte values decode to the two's-complement nibbles they hold (low nibble first)."""
    import torch

    from engine.quantizers import pack_int4, unpack_int4

    packed = torch.arange(256, dtype=torch.uint8).reshape(1, 256)
    codes = unpack_int4(packed)
    expected = [[(b & 0xF) - 16 * ((b & 0xF) > 7), (b >> 4) - 16 * ((b >> 4) > 7)] for b in range(256)]
    assert codes.dtype == torch.int8
    assert codes.reshape(256, 2).tolist() == expected
    assert torch.equal(pack_int4(codes), packed)
