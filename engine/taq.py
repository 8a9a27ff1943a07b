"""TAQ building blocks: int8/int4 weight layers with calibrated activation quantization, and the
trigger-aware cross-attention processor.

This module is torch-only by nature (it defines nn.Modules); it is imported lazily by
engine/quantize.py, never on the light paths (index, select, app start).

Lifecycle of a quantized layer: built from a float layer (`from_float`) -> `observe` while
calibration prompts run -> `finish_calibration` fixes the activation scale -> frozen.

A calibrated layer computes in integers where engine/kernels.py's plan says so for this device and
layer kind (oneDNN int8, weights packed on the first forward; the packed copy replaces the int8
codes and `state_dict` unpacks them, so artifacts are unchanged); otherwise, and while calibrating,
it runs the fake-quant float path: codes * scales as a float weight, inputs rounded onto the grid.
Both compute the same numbers up to float accumulation order.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine import kernels
from engine import quantizers as qz


def _group_size(n_in: int, preferred: int) -> int:
    """Group size for int4: the preferred one, or the (even) input size when that is smaller."""
    if n_in >= preferred:
        return preferred
    return n_in + (n_in % 2)


class _QuantWeightMixin:
    """Shared storage: int8 codes per output channel, or packed int4 codes + fp16 group scales."""

    def _init_quant(self, weight_shape, weight_bits: int, act_bits: int | None, group_size: int, device="cpu"):
        self.weight_shape = tuple(weight_shape)
        self.weight_bits = int(weight_bits)
        self.act_bits = act_bits
        n_in = math.prod(weight_shape[1:])
        o = weight_shape[0]
        if weight_bits == 8:
            self.group_size = 0
            self.register_buffer("qweight", torch.zeros((o, n_in), dtype=torch.int8, device=device))
            self.register_buffer("wscale", torch.ones((o, 1), dtype=torch.float32, device=device))
        elif weight_bits == 4:
            g = _group_size(n_in, group_size)
            n_groups = -(-n_in // g)
            self.group_size = g
            self.register_buffer("qweight", torch.zeros((o, n_groups, g // 2), dtype=torch.uint8, device=device))
            self.register_buffer("wscale", torch.ones((o, n_groups, 1), dtype=torch.float16, device=device))
        else:
            raise ValueError(f"weight_bits must be 8 or 4, got {weight_bits}")
        # 0 = not calibrated: inputs pass through unquantized
        self.register_buffer("act_scale", torch.zeros((), dtype=torch.float32, device=device))
        self.observing = False
        self._act_max = None
        self._act_on = None  # act_scale > 0, read once: a read per forward is a GPU sync per layer
        self._packed = None  # (key, oneDNN packed weight); int8 weights: qweight is then an empty placeholder
        self.last_kernel = None  # "int8-u8" | "int8-split" | "fake-quant": what the last forward ran

    def _set_weight(self, w: torch.Tensor) -> None:
        if self.weight_bits == 8:
            codes, scale = qz.quantize_per_channel(w.reshape(w.shape[0], -1), 8)
            self.qweight.copy_(codes)
            self.wscale.copy_(scale)
        else:
            # fp16 scales: keep them normal (>= 2**-14) so codes * scale is exactly what we stored
            flat = w.reshape(w.shape[0], -1).float()
            pad = (-flat.shape[1]) % self.group_size
            grouped = F.pad(flat, (0, pad)).reshape(flat.shape[0], -1, self.group_size)
            scale = qz.symmetric_scale(grouped, 4, dim=-1).clamp(min=2.0**-14).half()
            codes = qz.quantize_int(grouped, scale.float(), 4)
            self.qweight.copy_(qz.pack_int4(codes))
            self.wscale.copy_(scale)

    def _stored_codes(self) -> torch.Tensor:
        """The qweight buffer's contents, unpacked from the packed copy when that replaced it."""
        if self._packed is not None and self.weight_bits == 8:
            return self._unpack(self._packed[1]).reshape(self.weight_shape[0], -1).to(self.wscale.device)
        return self.qweight

    def weight_codes(self) -> torch.Tensor:
        """Integer codes (int8), shape (O, n_in) for int8 or (O, G, group) for int4."""
        return self._stored_codes() if self.weight_bits == 8 else qz.unpack_int4(self.qweight)

    def dequantized_weight(self, dtype=torch.float32) -> torch.Tensor:
        """The float weight the layer computes with (codes * scales), in the layer's shape."""
        if self.weight_bits == 8:
            w = self._stored_codes().to(dtype) * self.wscale.to(dtype)
            return w.reshape(self.weight_shape)
        return qz.dequantize_groupwise(qz.unpack_int4(self.qweight), self.wscale, self.weight_shape, dtype)

    def int8_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-output-channel int8 codes (O, n_in) and fp32 scales (O, 1) for the integer kernels.

        int8 weights: the stored codes. int4 weights: the group-dequantized weight re-quantized per
        channel into an int8 scratch each call (the packed int4 stays the only copy at rest); that
        rounding is the int4 path's one difference from fake-quant (<= 1/254 of the channel's range).
        """
        if self.weight_bits == 8:
            return self._stored_codes(), self.wscale.float()
        flat = (self.weight_shape[0], math.prod(self.weight_shape[1:]))
        w = qz.dequantize_groupwise(qz.unpack_int4(self.qweight), self.wscale, flat, torch.float32)  # (O, n_in)
        return qz.quantize_per_channel(w, 8)

    def _int8_mode(self, x: torch.Tensor) -> str | None:
        """The integer kernel this forward runs ('u8' / 'split'), or None for the fake-quant path."""
        if self.observing or not self.act_bits or self.act_bits > 8 or x.device.type != "cpu":
            return None
        if self._act_on is None:
            self._act_on = bool(float(self.act_scale) > 0)
        if not self._act_on:
            return None
        plan = kernels.current_plan("cpu")
        return plan.mode if plan.uses_int8(kernels.layer_kind(self)) else None

    def _packed_weight(self, mode: str, m_hint: int):
        """(packed int8 weight, its fp32 channel scales) for `mode`; kept (replacing qweight) for int8
        weights, rebuilt per call from the int4 codes."""
        key = (mode, float(self.act_scale))
        if self._packed is not None and self._packed[0] == key:
            return self._packed[1], self.wscale
        codes, wscale = self.int8_weight()
        packed = self._pack(codes, wscale, mode, m_hint)
        if self.weight_bits == 8:
            self._packed = (key, packed)
            self.qweight = torch.empty(0, dtype=torch.int8, device=self.wscale.device)  # the packed copy replaces the codes
        return packed, wscale

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self._packed is not None and self.weight_bits == 8:
            destination[prefix + "qweight"] = self._stored_codes()  # artifacts hold codes, never packed blobs

    def _quant_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            m = x.detach().abs().amax().float()
            self._act_max = m if self._act_max is None else torch.maximum(self._act_max, m)
            return x
        if self.act_bits:
            if self._act_on is None:
                self._act_on = bool(float(self.act_scale) > 0)
            if self._act_on:
                return qz.fake_quant(x, self.act_scale, self.act_bits)
        return x

    def forward(self, x):
        """The integer kernel where this device's plan says so, else the fake-quant float path (which
        also observes inputs while calibrating); each layer kind supplies the two computations."""
        mode = self._int8_mode(x)
        if mode:
            self.last_kernel = f"int8-{mode}"
            return self._forward_int8(x, mode)
        self.last_kernel = "fake-quant"
        if self._packed is not None:  # the plan changed (a bench switching kernels, another device)
            self._drop_packed()
        return self._forward_float(self._quant_input(x))

    def _copy_float(self, layer):
        """Quantize a float layer's weight into this one and copy its bias; returns self."""
        with torch.no_grad():
            self._set_weight(layer.weight.detach())
            if layer.bias is not None:
                self.bias.copy_(layer.bias.detach())
        return self

    def _load_from_state_dict(self, *args, **kwargs):
        self._act_on = None  # a loaded act_scale is read again on the next forward
        self._drop_packed()
        return super()._load_from_state_dict(*args, **kwargs)

    def _drop_packed(self) -> None:
        """Put the codes back in qweight and forget the packed copy (weights or scales are about to change)."""
        if self._packed is not None and self.weight_bits == 8:
            self.qweight = self._stored_codes()
        self._packed = None

    def finish_calibration(self) -> None:
        """Fix the static activation scale from the observed absmax."""
        self._drop_packed()
        self.observing = False
        if self.act_bits and self._act_max is not None:
            self.act_scale.fill_(float(self._act_max.clamp(min=1e-8)) / qz.qmax(self.act_bits))
        self._act_max = None
        self._act_on = None


class QuantLinear(_QuantWeightMixin, nn.Module):
    """nn.Linear with int8/int4 weight storage and optional static activation fake-quant."""

    def __init__(self, in_features, out_features, bias, weight_bits, act_bits=None, group_size=128, device="cpu", dtype=torch.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_quant((out_features, in_features), weight_bits, act_bits, group_size, device)
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype, device=device), requires_grad=False) if bias else None

    @classmethod
    def from_float(cls, lin: nn.Linear, weight_bits, act_bits=None, group_size=128):
        q = cls(lin.in_features, lin.out_features, lin.bias is not None, weight_bits, act_bits, group_size,
                device=lin.weight.device, dtype=lin.weight.dtype)
        return q._copy_float(lin)

    def _pack(self, codes, wscale, mode, m_hint):
        return kernels.pack_linear(codes, m_hint)

    @staticmethod
    def _unpack(packed):
        return kernels.unpack_linear(packed)

    def _forward_int8(self, x, mode):
        packed, wscale = self._packed_weight(mode, x.numel() // x.shape[-1])
        return kernels.linear_int8(x, packed, wscale, float(self.act_scale), self.bias, mode)

    def _forward_float(self, x):
        return F.linear(x, self.dequantized_weight(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, w{self.weight_bits}, a{self.act_bits}, group={self.group_size}"


class QuantConv2d(_QuantWeightMixin, nn.Module):
    """nn.Conv2d (zeros padding) with int8/int4 weight storage and optional activation fake-quant."""

    def __init__(self, weight_shape, bias, stride, padding, dilation, groups, weight_bits, act_bits=None, group_size=128, device="cpu", dtype=torch.float32):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self._init_quant(weight_shape, weight_bits, act_bits, group_size, device)
        self.bias = nn.Parameter(torch.zeros(weight_shape[0], dtype=dtype, device=device), requires_grad=False) if bias else None

    @classmethod
    def from_float(cls, conv: nn.Conv2d, weight_bits, act_bits=None, group_size=128):
        if conv.padding_mode != "zeros":
            raise ValueError(f"QuantConv2d supports padding_mode='zeros' only, got {conv.padding_mode!r}")
        q = cls(tuple(conv.weight.shape), conv.bias is not None, conv.stride, conv.padding, conv.dilation, conv.groups,
                weight_bits, act_bits, group_size, device=conv.weight.device, dtype=conv.weight.dtype)
        return q._copy_float(conv)

    def _pack(self, codes, wscale, mode, m_hint):
        return kernels.pack_conv(codes.reshape(self.weight_shape), wscale, float(self.act_scale), mode,
                                 self.stride, self.padding, self.dilation, self.groups)

    @staticmethod
    def _unpack(packed):
        return kernels.unpack_conv(packed)

    def _forward_int8(self, x, mode):
        packed, wscale = self._packed_weight(mode, 0)
        return kernels.conv_int8(x, packed, wscale, float(self.act_scale), self.bias, mode,
                                 self.stride, self.padding, self.dilation, self.groups)

    def _forward_float(self, x):
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.conv2d(x, self.dequantized_weight(x.dtype), bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return f"{self.weight_shape}, w{self.weight_bits}, a{self.act_bits}, group={self.group_size}"


class TAQCrossAttnProcessor:
    """Cross-attention (attn2) with trigger-aware quantization.

    (a) K and V are quantized per token row, except the trigger rows (kept in compute dtype);
    (b) attention probabilities are quantized (linear or log2), except the trigger columns;
    (c) K/V are computed once per prompt and reused across denoising steps.
    protect=False is the naive ablation: same bits, every row and column quantized.
    debug=True keeps the last raw and quantized K/V/probs in `self.last` for inspection.
    """

    def __init__(self, kv_bits: int | None = 8, prob_bits: int | None = 8, prob_quantizer: str = "linear",
                 protect: bool = True, cache_kv: bool = True, debug: bool = False):
        if prob_quantizer not in qz.PROB_QUANTIZERS:
            raise ValueError(f"unknown prob_quantizer {prob_quantizer!r}; known: {sorted(qz.PROB_QUANTIZERS)}")
        self.kv_bits, self.prob_bits, self.prob_quantizer = kv_bits, prob_bits, prob_quantizer
        self.protect, self.cache_kv, self.debug = protect, cache_kv, debug
        self.trigger_positions: list[int] = []
        self.last: dict = {}
        self.kv_computations = 0  # how many times K/V were projected (tests check the cache)
        self._cache = None  # (source tensor, its _version, positions, epoch, key, value)
        self.epoch = 0

    def clear_cache(self) -> None:
        """Forget cached K/V (call after changing to_k/to_v weights, e.g. a LoRA swap)."""
        self._cache = None
        self.epoch += 1

    def _kept(self, length: int) -> list[int]:
        if not self.protect:
            return []
        return [p for p in self.trigger_positions if 0 <= p < length]

    def quantize_kv(self, key: torch.Tensor, value: torch.Tensor, kept: list[int]):
        """K/V (B, T, inner) -> fake-quantized K/V, rows in `kept` exact. Per token row here;
        engine/granularity.py overrides it with calibrated per-tensor / per-channel scales."""
        return qz.fake_quant_rows(key, self.kv_bits, kept), qz.fake_quant_rows(value, self.kv_bits, kept)

    def _key_value(self, attn, encoder_hidden_states: torch.Tensor, dtype):
        # The cache holds a reference to the source tensor, so `is` cannot match a new tensor
        # that reuses freed memory; _version catches in-place edits.
        positions = tuple(self.trigger_positions)
        version = _version(encoder_hidden_states)
        c = self._cache
        if self.cache_kv and c is not None and c[0] is encoder_hidden_states and c[1] == version and c[2] == positions and c[3] == self.epoch:
            return c[4], c[5]
        self.kv_computations += 1
        ehs = attn.norm_encoder_hidden_states(encoder_hidden_states) if attn.norm_cross else encoder_hidden_states
        kdtype = getattr(getattr(attn.to_k, "weight", None), "dtype", dtype)
        src = ehs.to(kdtype) if kdtype in (torch.float16, torch.bfloat16, torch.float32) else ehs
        key = attn.to_k(src).to(dtype)  # (B, T, inner)
        value = attn.to_v(src).to(dtype)  # (B, T, inner)
        kept = self._kept(key.shape[1])
        if self.debug:
            self.last.update(key_raw=key.clone(), value_raw=value.clone())
        if self.kv_bits:
            key, value = self.quantize_kv(key, value, kept)
        if self.cache_kv:
            self._cache = (encoder_hidden_states, version, positions, self.epoch, key, value)
        return key, value

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
        if encoder_hidden_states is None:
            raise ValueError("TAQCrossAttnProcessor is for cross-attention (attn2): encoder_hidden_states is required")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch = hidden_states.shape[0]
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)  # (B, N, inner)
        key, value = self._key_value(attn, encoder_hidden_states, query.dtype)  # (B, T, inner)
        heads = attn.heads
        head_dim = key.shape[-1] // heads
        q = query.view(batch, -1, heads, head_dim).transpose(1, 2)  # (B, H, N, d)
        k = key.view(batch, -1, heads, head_dim).transpose(1, 2)  # (B, H, T, d)
        v = value.view(batch, -1, heads, head_dim).transpose(1, 2)  # (B, H, T, d)
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        scores = (q @ k.transpose(-1, -2)) * attn.scale  # (B, H, N, T)
        if attention_mask is not None:
            mask = attn.prepare_attention_mask(attention_mask, k.shape[2], batch)
            scores = scores + mask.view(batch, heads, -1, mask.shape[-1])
        probs = scores.softmax(dim=-1)
        del scores
        if self.debug:
            self.last["probs_raw"] = probs.clone()
        if self.prob_bits:
            probs = qz.quantize_probs(probs, self.prob_bits, self.prob_quantizer, self._kept(probs.shape[-1]))
        if self.debug:
            self.last.update(key=key.clone(), value=value.clone(), probs=probs.clone(), kept=self._kept(key.shape[1]))
        out = (probs @ v).transpose(1, 2).reshape(batch, -1, heads * head_dim)  # (B, N, inner)
        out = attn.to_out[0](out.to(query.dtype))
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def _version(t: torch.Tensor) -> int:
    try:
        return t._version
    except RuntimeError:  # inference-mode tensors keep no version counter
        return -1


def cross_attention_modules(unet) -> dict:
    """name -> Attention module for every cross-attention (attn2) in the UNet."""
    return {name: m for name, m in unet.named_modules() if name.endswith("attn2") and hasattr(m, "to_k")}


def taq_processors(unet) -> list[TAQCrossAttnProcessor]:
    """The TAQ processors installed in the UNet (empty when it is not TAQ-quantized)."""
    return [m.processor for m in cross_attention_modules(unet).values() if isinstance(m.processor, TAQCrossAttnProcessor)]
