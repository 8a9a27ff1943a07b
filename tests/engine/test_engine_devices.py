"""Device and dtype choice: real on this CPU machine; CUDA/MPS only through mocks (none here)."""
from __future__ import annotations

import pytest
import torch

from engine import devices


def test_auto_on_this_machine_is_cpu_with_free_memory():
    from engine.kernels import cpu_has_fast_bf16

    info = devices.pick_device()
    expected = "bfloat16" if cpu_has_fast_bf16() else "float32"
    assert (info.device, info.dtype) == ("cpu", expected)
    assert info.free_bytes and info.free_bytes > 0


def test_cpu_default_is_bf16_only_where_native(monkeypatch):
    from engine import kernels

    monkeypatch.setattr(kernels, "cpu_features", lambda: {"avx2": True, "avx512_bf16": True})
    assert devices.default_dtype("cpu") == "bfloat16"
    monkeypatch.setattr(kernels, "cpu_features", lambda: {"avx2": True})
    assert devices.default_dtype("cpu") == "float32"
    assert devices.default_dtype("cuda:0") == "float16"


def test_dtype_override_and_aliases():
    assert devices.pick_device("cpu", "bf16").dtype == "bfloat16"
    assert devices.pick_device("auto", torch.float16).dtype == "float16"
    with pytest.raises(ValueError, match="unknown dtype"):
        devices.pick_device("cpu", "int3")


def test_unknown_and_missing_devices_are_errors():
    with pytest.raises(ValueError, match="unknown device"):
        devices.pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(devices.DeviceUnavailable, match="cuda"):
            devices.pick_device("cuda")


def test_cuda_preferred_with_fp16_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3 * 2**30, 8 * 2**30))
    info = devices.pick_device()
    assert (info.device, info.dtype, info.free_bytes) == ("cuda", "float16", 3 * 2**30)
    assert devices.pick_device("cuda:1").device == "cuda:1"
    assert devices.pick_device("cpu").dtype == devices.default_dtype("cpu")  # the user's setting wins


def test_mps_after_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.available_devices() == ["mps", "cpu"]
    info = devices.pick_device()
    assert (info.device, info.dtype) == ("mps", "float16")
