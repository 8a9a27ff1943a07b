"""Pick where generation runs: CUDA, then Apple MPS, then CPU, with the dtype that device handles well.

fp16 on CUDA/MPS halves memory at no visible quality cost. On a CPU with native bf16 dot products
(avx512_bf16 or AMX) the float parts run bf16 (0.55x fp32 per GEMM, docs/bench/2026-12-04-taq-kernels.md);
elsewhere fp32, with one log line saying so: emulated bf16 was 4-6x slower than fp32 (AVX2,
docs/bench/2026-12-07-taq-step.md) and fp16 matmuls are slow or missing on CPUs. A user setting
("cuda", "float16", ...) overrides the choice; asking for a device that is not there is an error
naming it, never a silent fallback.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPE_ALIASES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
DEFAULT_DTYPE = {"cuda": "float16", "mps": "float16", "cpu": "float32"}


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceInfo:
    """A device string for torch, the dtype name to run in, and free memory in bytes (None when unknown)."""

    device: str  # "cuda", "cuda:1", "mps", "cpu"
    dtype: str  # "float32" | "float16" | "bfloat16"
    free_bytes: int | None = None

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    @property
    def kind(self) -> str:
        return self.device.split(":")[0]


def normalize_dtype(dtype) -> str:
    """'fp16' / torch.float16 / 'float16' -> 'float16'; a bad name raises ValueError."""
    if dtype is None:
        return "auto"
    name = str(dtype).replace("torch.", "").lower()
    if name == "auto":
        return name
    if name not in DTYPE_ALIASES:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(sorted(set(DTYPE_ALIASES.values())))}")
    return DTYPE_ALIASES[name]


def available_devices() -> list[str]:
    """Device kinds this torch build can use here, best first."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def free_memory(device: str) -> int | None:
    """Free memory in bytes as the backend reports it (system RAM available for CPU)."""
    import torch

    kind = device.split(":")[0]
    try:
        if kind == "cuda":
            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        if kind == "mps":
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception as exc:  # a backend that cannot say is not an error
        log.debug("free memory unknown for %s: %s", device, exc)
        return None


def default_dtype(device: str) -> str:
    """fp16 on GPUs; on the CPU bf16 where it is native (avx512_bf16/AMX), else fp32 (said once in the log)."""
    kind = device.split(":")[0]
    if kind != "cpu":
        return DEFAULT_DTYPE[kind]
    from engine.kernels import cpu_has_fast_bf16

    if cpu_has_fast_bf16():
        return "bfloat16"
    global _FP32_SAID
    if not _FP32_SAID:
        log.info("CPU float parts run float32: this CPU has no avx512_bf16/AMX, so bfloat16 would be emulated (slower)")
        _FP32_SAID = True
    return DEFAULT_DTYPE["cpu"]


_FP32_SAID = False


def pick_device(preference: str = "auto", dtype="auto") -> DeviceInfo:
    """CUDA, then MPS, then CPU (or the one asked for), with default_dtype() unless overridden."""
    preference = (preference or "auto").lower()
    kind = preference.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {preference!r}; use one of {', '.join(DEVICES)}")
    available = available_devices()
    if kind == "auto":
        device = available[0]
    elif kind in available:
        device = preference
    else:
        raise DeviceUnavailable(f"device {preference!r} is not available here (available: {', '.join(available)})")
    dtype_name = normalize_dtype(dtype)
    if dtype_name == "auto":
        dtype_name = default_dtype(device)
    elif dtype_name == "float16" and device == "cpu":
        log.warning("float16 on CPU is slow and some ops are missing; float32 is the CPU default")
    return DeviceInfo(device=device, dtype=dtype_name, free_bytes=free_memory(device))
