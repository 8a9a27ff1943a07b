"""Quantizer math as pure tensor functions: symmetric int8/int4 (per row, per channel, group-wise),
int4 packing, static fake-quant for activations, linear and log2 quantizers for softmax probabilities.

Only pure functions live here (no modules, no state), so each can be tested with plain asserts.
torch is imported inside each function: importing this module stays free.
"""
from __future__ import annotations


def qmax(bits: int) -> int:
    """Largest magnitude of a symmetric signed integer grid: 127 for 8 bits, 7 for 4 bits."""
    if bits < 2 or bits > 8:
        raise ValueError(f"bits must be in 2..8, got {bits}")
    return 2 ** (bits - 1) - 1


def symmetric_scale(x, bits: int, dim: int | tuple | None = None, eps: float = 1e-12):
    """Per-slice absmax scale so that x / scale fits [-qmax, qmax]; dim=None gives one scale."""
    import torch

    if dim is None:
        amax = x.detach().abs().amax()
    else:
        amax = x.detach().abs().amax(dim=dim, keepdim=True)
    return torch.clamp(amax.float(), min=eps) / qmax(bits)


def quantize_int(x, scale, bits: int):
    """Round x / scale onto the signed grid [-qmax, qmax] and return int8 codes."""
    import torch

    q = qmax(bits)
    return torch.clamp(torch.round(x.float() / scale), -q, q).to(torch.int8)


def fake_quant(x, scale, bits: int):
    """Quantize then dequantize with a given (static or dynamic) scale; keeps x's dtype."""
    import torch

    q = qmax(bits)
    return (torch.clamp(torch.round(x.float() / scale), -q, q) * scale).to(x.dtype)


def fake_quant_rows(x, bits: int, keep_rows=None):
    """Quantize each row of x (..., T, C) along C with its own scale; rows listed in keep_rows stay exact.

    This is TAQ's K/V quantizer: one row per token, trigger token rows are protected.
    """
    out = fake_quant(x, symmetric_scale(x, bits, dim=-1), bits)  # (..., T, C)
    if keep_rows:
        idx = list(keep_rows)
        out[..., idx, :] = x[..., idx, :]
    return out


def quantize_per_channel(w, bits: int):
    """Weight (O, ...) -> (int8 codes, fp32 scale of shape (O, 1...)): one scale per output channel."""
    scale = symmetric_scale(w, bits, dim=tuple(range(1, w.dim())))
    return quantize_int(w, scale, bits), scale


def quantize_groupwise(w, bits: int, group_size: int):
    """Weight (O, ...) -> (int8 codes (O, G, group), fp32 scale (O, G, 1)) with one scale per group.

    The flattened input dimension is zero-padded up to a multiple of group_size.
    """
    import torch

    flat = w.reshape(w.shape[0], -1).float()
    pad = (-flat.shape[1]) % group_size
    if pad:
        flat = torch.nn.functional.pad(flat, (0, pad))
    grouped = flat.reshape(flat.shape[0], -1, group_size)  # (O, G, group)
    scale = symmetric_scale(grouped, bits, dim=-1)  # (O, G, 1)
    return quantize_int(grouped, scale, bits), scale


def dequantize_groupwise(codes, scale, shape, dtype):
    """Inverse of quantize_groupwise: (O, G, group) codes * scale -> weight of `shape`."""
    import math

    flat = (codes.float() * scale.float()).reshape(codes.shape[0], -1)
    n = math.prod(shape[1:])
    return flat[:, :n].reshape(shape).to(dtype)


def pack_int4(codes):
    """Pack signed int4 codes (int8 in [-8, 7], even count in the last dim) two per uint8 byte."""
    import torch

    if codes.shape[-1] % 2:
        raise ValueError(f"pack_int4 needs an even last dimension, got shape {tuple(codes.shape)}")
    u = (codes.to(torch.int16) & 0xF).to(torch.uint8)  # two's complement nibble
    return u[..., 0::2] | (u[..., 1::2] << 4)


def unpack_int4(packed):
    """Inverse of pack_int4: uint8 bytes -> int8 codes in [-8, 7], last dim doubled."""
    import torch

    signed = packed.view(torch.int8)
    lo = (signed << 4) >> 4  # arithmetic shifts sign-extend each nibble: no compare/where pass (5x faster)
    hi = signed >> 4
    return torch.stack([lo, hi], dim=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)


def linear_quantize_probs(p, bits: int):
    """Uniform unsigned quantizer for probabilities in [0, 1]: 2**bits - 1 steps of equal size."""
    import torch

    levels = 2**bits - 1
    return (torch.round(p.clamp(0, 1) * levels) / levels).to(p.dtype)


def log2_quantize_probs(p, bits: int):
    """Log2 quantizer for probabilities in (0, 1]: p -> 2**-k, k an integer in [0, 2**bits - 1].

    Values smaller than the last level round to 0. Small probabilities keep their relative size,
    which is why it beats the linear grid at 4 bits (softmax mass is mostly tiny values).
    """
    import torch

    levels = 2**bits
    k = torch.round(-torch.log2(p.float().clamp(min=1e-30)))
    k = k.clamp(min=0)
    out = torch.pow(2.0, -k)
    out = torch.where(k >= levels, torch.zeros_like(out), out)
    return out.to(p.dtype)


PROB_QUANTIZERS = {"linear": linear_quantize_probs, "log2": log2_quantize_probs}


def quantize_probs(p, bits: int, method: str, keep_cols=None):
    """Quantize attention probabilities (..., Tq, Tk) except the key columns in keep_cols."""
    if method not in PROB_QUANTIZERS:
        raise ValueError(f"unknown probability quantizer {method!r}; known: {sorted(PROB_QUANTIZERS)}")
    out = PROB_QUANTIZERS[method](p, bits)
    if keep_cols:
        idx = list(keep_cols)
        out[..., idx] = p[..., idx]
    return out
