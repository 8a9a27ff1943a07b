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
    p.add_argument("--base", help="a diffusers folder whose component configs a single file needs (as generate "
                                   "--base): a checkpoint not sized like its family's shipped config")
    p.add_argument("--quant", default=DEFAULT_SPEC, choices=list(SPECS), help=f"quant spec (default {DEFAULT_SPEC})")
    p.add_argument("--device", type=_device_arg, help="auto, cuda, mps or cpu: the device it will generate on (default: settings)")
    p.add_argument("--force", action="store_true", help="re-quantize even when a valid artifact exists")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _device_arg(text: str) -> str:
    from engine.limits import argparse_type, check_device

    return argparse_type(check_device)(text)


def run(args) -> int:
    from pathlib import Path

    from app.core import CannotQuantize
    from app.jobs import JobContext, Stage
    from commands import open_app
    from common.settings import load_settings
    from common.text import escape_controls
    from engine.devices import DeviceUnavailable
    from engine.loading import LoadError
    from engine.quantize import weight_bytes

    path = Path(args.path)
    if not path.exists():
        print(f"personalq quantize: no such file or folder: {escape_controls(str(path))}", file=sys.stderr)
        return 2
    settings = load_settings()
    if args.device:
        settings.device = args.device
    base = getattr(args, "base", None)

    def say(event):
        if isinstance(event, Stage) and not event.text.startswith("warning:"):  # a cache warning ends the run below
            print(event.text, file=sys.stderr)

    try:
        with open_app(args, settings) as core:
            result, device = core.quantize_model(JobContext(say), str(path), args.quant, base=base, force=args.force)
    except (CannotQuantize, ValueError, DeviceUnavailable) as exc:
        print(f"personalq quantize: {escape_controls(str(exc))}", file=sys.stderr)
        return 2
    except LoadError as exc:
        hint = "" if base else " (a file that needs its base's configs: pass --base FOLDER)"
        print(f"personalq quantize: cannot load {escape_controls(str(path))}: {escape_controls(str(exc))}{hint}",
              file=sys.stderr)
        return 2
    if result.artifact is None:  # quantized, but nothing could be kept: what this command is for
        print(f"personalq quantize: {result.warning}", file=sys.stderr)
        return 1
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
