"""Open a demo library entry with diffusers' own loaders, the way any SD tool would.

Used by the build (metrics and previews come from the shipped files, not from in-memory
training state) and as the fidelity bench's reference loader.
"""
from __future__ import annotations

import json
from pathlib import Path

from demo import model as world_model
from demo import single_file


def world_paths(root: Path) -> dict[str, Path]:
    root = Path(root)
    return {"root": root, "base": root / "base", "library": root / "library", "judge": root / "judge.safetensors", "manifest": root / "manifest.json"}


def read_manifest(root: Path) -> dict:
    path = world_paths(root)["manifest"]
    if not path.is_file():
        raise FileNotFoundError(f"demo world manifest not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_entry(path: Path, method: str, trigger: str, base_folder: Path):
    """A float32 pipeline with the personalization applied (LoRA fused at scale 1)."""
    path, base_folder = Path(path), Path(base_folder)
    if not path.is_file():
        raise FileNotFoundError(f"demo checkpoint not found: {path}")
    if method == "dreambooth":
        return single_file.load_single_file(path, base_folder)
    pipe = world_model.load_base(base_folder)
    if method == "lora":
        pipe.load_lora_weights(str(path))
        pipe.fuse_lora(lora_scale=1.0)
        pipe.unload_lora_weights()
    elif method == "textual_inversion":
        pipe.load_textual_inversion(str(path), token=trigger)
    else:
        raise ValueError(f"unknown personalization method {method!r} for {path}")
    return pipe
