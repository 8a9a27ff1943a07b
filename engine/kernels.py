"""Which kernel a TAQ layer computes with on this device, and the integer kernels themselves.

A TAQ W8A8/W4A8 layer means: input codes round(x / act_scale) clamped to [-127, 127], weight codes
per output channel (int8) or per group (int4), products summed, scales and bias applied after.
`fake-quant` (engine/taq.py's float path) computes exactly that in float; `int8` computes it in
integers through oneDNN's u8 x s8 -> s32 kernels, with the weights pre-packed once.

CPU facts this rests on (docs/bench/2026-12-07-taq-step.md, docs/decisions.md):
- oneDNN/fbgemm take uint8 activations (signed int8 activations fall to a reference path,
  hundreds of times slower) and int8 weights.
- With VNNI (avx512_vnni, avx_vnni) or AMX the products accumulate in 32 bits: one pass with the
  codes shifted to uint8 (zero point 128) is exact ("u8" mode).
- AVX2 without VNNI multiplies u8 x s8 pairs into a saturating int16 (vpmaddubsw): with codes up
  to 255 x 127 per pair it overflows, measured 1.4-5.6% error on a Linear. The exact AVX2 form is
  "split": |codes| <= 127 on both sides cannot saturate, so positive and negative input codes run
  as two uint8 halves of one batched call and are subtracted. It does twice the integer work.
- torch._int_mm (s8 x s8) on the CPU is a reference path (20-40x fp32); on CUDA it is the int8
  tensor-core GEMM, not wired yet: CUDA and MPS use fake-quant.

`PERSONALQ_TAQ_KERNEL` = auto | fake-quant | int8 | int8-u8 | int8-split overrides the choice (bench rows).
torch is imported inside functions.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ENV = "PERSONALQ_TAQ_KERNEL"
CHOICES = ("auto", "fake-quant", "int8", "int8-u8", "int8-split")
LAYER_KINDS = ("linear", "conv1x1", "conv3x3")

# Which layer kinds run int8 when `auto`, per int8 mode: chosen on the whole UNet step
# (bench taq, docs/bench/2026-12-07-taq-step.md), not on one GEMM.
AUTO_LAYERS = {
    "u8": ("linear", "conv1x1", "conv3x3"),
    "split": ("conv3x3",),
}


@dataclass(frozen=True)
class KernelPlan:
    """What TAQ layers on one device compute with. `note` is the one line a user sees about it."""

    device: str  # "cpu", "cuda", "mps"
    mode: str | None  # "u8" | "split" | None (no integer kernel: fake-quant everywhere)
    layers: tuple[str, ...] = ()  # layer kinds that run int8
    note: str = ""
    features: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """'int8-u8[linear,conv3x3]', 'fake-quant', ... (what `generate --json` reports)."""
        if not self.mode or not self.layers:
            return "fake-quant"
        return f"int8-{self.mode}[{','.join(self.layers)}]"

    def uses_int8(self, kind: str) -> bool:
        return self.mode is not None and kind in self.layers


def cpu_features() -> dict:
    """The x86 features the kernel choice needs, as torch's own cpuinfo sees them."""
    import torch

    def has(fn: str) -> bool:
        probe = getattr(torch.cpu, fn, None)
        try:
            return bool(probe()) if probe else False
        except RuntimeError:
            return False

    engines = list(getattr(torch.backends.quantized, "supported_engines", []))
    return {
        "avx2": has("_is_avx2_supported"),
        "avx512": has("_is_avx512_supported"),
        "vnni": has("_is_vnni_supported"),  # avx512_vnni or avx_vnni
        "avx512_bf16": has("_is_avx512_bf16_supported"),
        "amx": has("_is_amx_tile_supported"),
        "onednn": "onednn" in engines and torch.backends.mkldnn.is_available(),
    }


def cpu_has_fast_bf16(features: dict | None = None) -> bool:
    """bf16 is faster than fp32 only with native bf16 dot products (avx512_bf16 or AMX); emulated it
    was 6x slower here (AVX2, docs/bench/2026-12-07-taq-step.md)."""
    f = features if features is not None else cpu_features()
    return bool(f.get("avx512_bf16") or f.get("amx"))


def plan_for(device: str = "cpu", choice: str | None = None, features: dict | None = None) -> KernelPlan:
    """The kernel plan for a device kind, honouring PERSONALQ_TAQ_KERNEL (or `choice`)."""
    kind = str(device).split(":")[0]
    choice = (choice or os.environ.get(ENV) or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{ENV}={choice!r} is not a kernel; use one of {', '.join(CHOICES)}")
    if kind != "cpu":
        return KernelPlan(kind, None, note=f"TAQ layers on {kind} use fake-quant float kernels (int8 on {kind} is not wired yet)")
    f = features if features is not None else cpu_features()
    if choice == "fake-quant":
        return KernelPlan("cpu", None, note=f"TAQ layers use fake-quant float kernels ({ENV}=fake-quant)", features=f)
    if not f.get("onednn"):
        return KernelPlan("cpu", None, features=f,
                          note="this CPU build has no oneDNN int8 engine: TAQ layers use fake-quant float kernels")
    exact_u8 = bool(f.get("vnni") or f.get("amx"))
    if choice == "int8-u8":
        mode = "u8"
    elif choice == "int8-split":
        mode = "split"
    elif exact_u8:
        mode = "u8"
    elif f.get("avx2"):
        mode = "split"
    else:
        return KernelPlan("cpu", None, features=f,
                          note="this CPU has neither VNNI nor AVX2: TAQ layers use fake-quant float kernels")
    layers = LAYER_KINDS if choice.startswith("int8") else AUTO_LAYERS[mode]
    if mode == "u8" and not exact_u8:
        note = "int8-u8 forced on a CPU without VNNI: int16 products saturate, results are NOT exact"
    elif mode == "u8":
        note = "TAQ layers run int8 (oneDNN u8 x s8, 32-bit accumulation: VNNI/AMX)"
    else:
        note = ("this CPU has AVX2 but no VNNI: exact int8 needs two passes (sign split), so only "
                f"{', '.join(layers)} run int8; the rest use fake-quant float kernels")
    return KernelPlan("cpu", mode, tuple(layers), note, f)


_PLANS: dict = {}


def current_plan(device: str = "cpu") -> KernelPlan:
    """plan_for(device), computed once per (device kind, env setting); its note is logged once."""
    kind = str(device).split(":")[0]
    key = (kind, os.environ.get(ENV, "auto"))
    if key not in _PLANS:
        _PLANS[key] = plan_for(kind)
        log.info(_PLANS[key].note)
    return _PLANS[key]


def layer_kind(module) -> str:
    """'linear', 'conv1x1' or 'conv3x3' ('conv3x3' stands for every spatial conv)."""
    shape = getattr(module, "weight_shape", ())
    if len(shape) == 2:
        return "linear"
    return "conv1x1" if tuple(shape[2:]) == (1, 1) else "conv3x3"


def kernels_in(unet) -> dict:
    """{kernel name: layer count} over the UNet's TAQ layers as they ran last (never-run layers: 'pending')."""
    counts: dict = {}
    for m in unet.modules():
        k = getattr(m, "last_kernel", None)
        if hasattr(m, "weight_shape") and hasattr(m, "act_bits"):
            counts[k or "pending"] = counts.get(k or "pending", 0) + 1
    return counts


# --- the int8 kernels (CPU, oneDNN) --------------------------------------------------------------------


def _quiet_quantize_warning() -> None:
    """torch 2.13 warns that quantize_per_tensor (quint8/qint8 tensors) is deprecated; it is still the one
    fused pass from float to codes, and only its int_repr() is used here. Filter that one message."""
    import warnings

    warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor.*deprecated", category=UserWarning)


def _zeros(n: int):
    import torch

    return torch.zeros(n, dtype=torch.long)


def input_codes(x, act_scale: float):
    """x (any shape, float) -> int8 codes round(x / act_scale) clamped to [-127, 127] (TAQ's A8 grid)."""
    import torch

    q = torch.quantize_per_tensor(x.float(), act_scale, 0, torch.qint8).int_repr()  # [-128, 127]
    return q.clamp_(min=-127)


def _u8_halves(q, dim: int = 0):
    """int8 codes -> uint8 (positive part; negated negative part) stacked along `dim` (both in [0, 127])."""
    import torch

    return torch.cat([q.clamp(min=0), q.clamp(max=0).neg_()], dim=dim).view(torch.uint8)


def pack_linear(codes, m_hint: int | None = None):
    """int8 weight codes (O, I) -> oneDNN's packed weight (an opaque tensor; `unpack_linear` inverts it)."""
    import torch

    _quiet_quantize_warning()
    return torch.ops.onednn.qlinear_prepack(codes.contiguous(), [m_hint or 1024, codes.shape[1]])


def unpack_linear(packed):
    """The exact (O, I) int8 codes a packed Linear weight holds."""
    return packed.to_dense().t().contiguous()


def pack_conv(codes, wscale, act_scale: float, mode: str, stride, padding, dilation, groups):
    import torch

    zp = 128 if mode == "u8" else 0
    _quiet_quantize_warning()
    return torch.ops.onednn.qconv_prepack(codes.contiguous(), wscale.reshape(-1).float().contiguous(), float(act_scale), zp,
                                          list(stride), list(padding), list(dilation), int(groups), None)


def unpack_conv(packed):
    return packed.to_dense().contiguous()


def linear_int8(x, packed, wscale, act_scale: float, bias, mode: str):
    """y = (codes(x) @ W_codes^T) * act_scale * wscale + bias, in integers; x (..., I) float -> (..., O) x.dtype."""
    import torch

    shape = x.shape
    x2 = x.reshape(-1, shape[-1])  # (M, I)
    ws = wscale.reshape(-1).float()
    n = ws.shape[0]
    b = None if bias is None else bias.float()
    if mode == "u8":
        u = torch.quantize_per_tensor(x2.float(), act_scale, 128, torch.quint8).int_repr().clamp_(min=1)  # codes + 128
        y = torch.ops.onednn.qlinear_pointwise(u, act_scale, 128, packed, ws, _zeros(n), b, 1.0, 0,
                                               torch.float32, "none", [], "")
    else:
        m = x2.shape[0]
        both = torch.ops.onednn.qlinear_pointwise(_u8_halves(input_codes(x2, act_scale)), act_scale, 0, packed, ws,
                                                  _zeros(n), None, 1.0, 0, torch.float32, "none", [], "")  # (2M, O)
        y = torch.sub(both[:m], both[m:])
        del both
        if b is not None:
            y += b
    return y.to(x.dtype).reshape(*shape[:-1], n)


def conv_int8(x, packed, wscale, act_scale: float, bias, mode: str, stride, padding, dilation, groups):
    """conv2d of input codes with packed int8 weights, scales and bias applied after; x (B, C, H, W) float."""
    import torch

    ws = wscale.reshape(-1).float()
    n = ws.shape[0]
    b = None if bias is None else bias.float()
    args = (list(stride), list(padding), list(dilation), int(groups), 1.0, 0, torch.float32, "none", [], "")
    if mode == "u8":
        u = torch.quantize_per_tensor(x.float(), act_scale, 128, torch.quint8).int_repr().clamp_(min=1)
        y = torch.ops.onednn.qconv2d_pointwise(u, act_scale, 128, packed, ws, _zeros(n), b, *args)
    else:
        batch = x.shape[0]
        both = torch.ops.onednn.qconv2d_pointwise(_u8_halves(input_codes(x, act_scale)), act_scale, 0, packed, ws,
                                                  _zeros(n), None, *args)  # (2B, O, H', W')
        y = torch.sub(both[:batch], both[batch:])
        del both
        if b is not None:
            y += b.view(1, -1, 1, 1)
    return y.to(x.dtype)
