"""Pick where generation runs: CUDA, then Apple MPS, then CPU, with the dtype that device handles well.

fp16 on CUDA/MPS halves memory at no visible quality cost; CPU stays fp32: fp16 matmuls are slow
(or missing) on CPUs, and bf16 was measured here (no AMX/avx512_bf16) at more than 4x the time of
fp32 for one SD-1.5 UNet step (fp32: 26 s, 1 thread, batch 2, 32x32 latents, busy machine). A user setting ("cuda", "float16", ...) overrides the choice; asking
for a device that is not there is an error naming it, never a silent fallback.
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


def pick_device(preference: str = "auto", dtype="auto") -> DeviceInfo:
    """CUDA, then MPS, then CPU (or the one asked for), with fp16 on GPUs and fp32 on CPU unless overridden."""
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
        dtype_name = DEFAULT_DTYPE[device.split(":")[0]]
    elif dtype_name == "float16" and device == "cpu":
        log.warning("float16 on CPU is slow and some ops are missing; float32 is the CPU default")
    return DeviceInfo(device=device, dtype=dtype_name, free_bytes=free_memory(device))
