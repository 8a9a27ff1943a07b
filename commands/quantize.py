"""`personalq quantize PATH [--quant SPEC]`: quantize a checkpoint's UNet once and keep the artifact."""
from __future__ import annotations

import json
import sys

DEFAULT_SPEC = "taq-w8a8"


def add_parser(sub) -> None:
    from engine.quant_specs import SPECS

    p = sub.add_parser("quantize", help="quantize a checkpoint's UNet on import (cached artifact)")
    p.add_argument("path", help="model file (.safetensors/.ckpt) or diffusers folder")
    p.add_argument("--quant", default=DEFAULT_SPEC, choices=list(SPECS), help=f"quant spec (default {DEFAULT_SPEC})")
    p.add_argument("--force", action="store_true", help="re-quantize even when a valid artifact exists")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _load_source(path: str):
    """A pipeline for PATH, using the catalog's probe to know what the file is."""
    from catalog.probe import probe_path
    from engine.loading import load_pipeline

    probe = probe_path(path)
    if probe.error:
        raise SystemExit(f"cannot read {path}: {probe.error}")
    if probe.kind not in ("checkpoint", "diffusers"):
        raise SystemExit(f"{path} is a {probe.kind}, not a checkpoint: quantize its base model instead")
    return load_pipeline(path, probe.kind, probe.base_model, prediction_type=probe.prediction_type)


def run(args) -> int:
    from pathlib import Path

    from engine.quantize import quantize_on_import, weight_bytes

    path = Path(args.path)
    if not path.exists():
        print(f"no such file or folder: {path}", file=sys.stderr)
        return 2
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    result = quantize_on_import(path, args.quant, lambda: _load_source(str(path)), force=args.force, progress=say)
    out = {
        "path": str(path.resolve()),
        "spec": args.quant,
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
