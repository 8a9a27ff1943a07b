"""`personalq quantize PATH [--quant SPEC] [--device D]`: quantize a checkpoint's UNet once and keep the artifact.

The artifact is made for the device's compute dtype (fp16 on a GPU, fp32 on the CPU), which is
what `generate` and the app load for that device; calibration runs on that device."""
from __future__ import annotations

import json
import sys

DEFAULT_SPEC = "taq-w8a8"


def add_parser(sub) -> None:
    from engine.quant_specs import SPECS

    p = sub.add_parser("quantize", help="quantize a checkpoint's UNet on import (cached artifact)")
    p.add_argument("path", help="model file (.safetensors/.ckpt) or diffusers folder")
    p.add_argument("--quant", default=DEFAULT_SPEC, choices=list(SPECS), help=f"quant spec (default {DEFAULT_SPEC})")
    p.add_argument("--device", help="auto, cuda, mps or cpu: the device it will generate on (default: settings)")
    p.add_argument("--force", action="store_true", help="re-quantize even when a valid artifact exists")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _load_source(path: str, device):
    """A pipeline for PATH on `device` (a DeviceInfo), using the catalog's probe to know what the file is."""
    from catalog.probe import probe_path
    from engine.loading import load_pipeline

    probe = probe_path(path)
    if probe.error:
        raise SystemExit(f"cannot read {path}: {probe.error}")
    if probe.kind not in ("checkpoint", "diffusers"):
        raise SystemExit(f"{path} is a {probe.kind}, not a checkpoint: quantize its base model instead")
    return load_pipeline(path, probe.kind, probe.base_model, prediction_type=probe.prediction_type,
                         device=device.device, dtype=device.torch_dtype)


def run(args) -> int:
    from pathlib import Path

    from common.settings import load_settings
    from engine.devices import DeviceUnavailable, pick_device
    from engine.quantize import quantize_on_import, weight_bytes

    path = Path(args.path)
    if not path.exists():
        print(f"no such file or folder: {path}", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        device = pick_device(args.device or settings.device, settings.dtype)
    except (ValueError, DeviceUnavailable) as exc:
        print(f"personalq quantize: {exc}", file=sys.stderr)
        return 2
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    result = quantize_on_import(path, args.quant, lambda: _load_source(str(path), device), force=args.force,
                                progress=say, dtype=device.dtype, device=device.device)
    out = {
        "path": str(path.resolve()),
        "spec": args.quant,
        "device": device.device,
        "dtype": device.dtype,
        "artifact": str(result.artifact),
        "from_cache": result.from_cache,
        "seconds": round(result.seconds, 3),
        "weight_bytes": weight_bytes(result.unet),
        "reason": result.reason,
    }
    if args.json:
        print(json.dumps(out))
    else:
        state = "loaded from cache" if result.from_cache else "quantized"
        print(f"{state}: {out['artifact']} ({out['weight_bytes'] / 2**20:.1f} MiB, {out['seconds']:.1f} s)")
    return 0
