"""The one place app/ reads the demo package: where its world is, and which base its library was trained on.

The demo is optional (a source checkout without a built world, a bundle without it): every answer here
is None or a FileNotFoundError that says how to build it, never an ImportError.
"""
from __future__ import annotations

from pathlib import Path


def demo_world() -> dict:
    """Paths of the demo world (library folder, base model), its family and image size; FileNotFoundError
    says how to build it."""
    try:
        from demo.build import ASSETS
        from demo.library import world_paths
        from demo.world import SIZE
    except ImportError as exc:
        raise FileNotFoundError(f"the demo package is not available: {exc}") from exc
    world = world_paths(ASSETS)
    if not Path(world["library"]).is_dir():
        raise FileNotFoundError(f"the demo library is not built yet ({world['library']} is missing); "
                                "build it with `python -m demo.build`")
    out = {k: Path(v) for k, v in world.items()}
    out["family"] = "sd15"
    out["image_size"] = SIZE  # the demo models are trained at this size; bigger images are just slower noise
    if not out["base"].exists():
        out.pop("base")
    return out


def demo_base_for(path: str) -> str | None:
    """The demo world's base when `path` is one of its files: the demo library knows what it was trained on."""
    try:
        from demo.build import ASSETS
        from demo.library import world_paths
    except ImportError:
        return None
    world = world_paths(ASSETS)
    try:
        Path(path).resolve().relative_to(Path(world["library"]).resolve())
    except ValueError:
        return None
    return str(world["base"]) if Path(world["base"]).is_dir() else None
