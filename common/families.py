"""Base-model families by key ('sd15', 'sd21', 'sdxl'), and the one table of how each is named.

Short labels are what lists and badges show; long names are what a sentence says ("needs a
Stable Diffusion 1.5 base checkpoint"). catalog/ and engine/ both read them here (engine may not
import catalog).
"""
from __future__ import annotations

BASE_MODEL_LABELS = {"sd15": "SD 1.5", "sd21": "SD 2.x", "sdxl": "SDXL", "unknown": "Unknown base"}
FAMILY_NAMES = {"sd15": "Stable Diffusion 1.5", "sd21": "Stable Diffusion 2.1", "sdxl": "Stable Diffusion XL"}


def can_share_base(a: str | None, b: str | None) -> bool:
    """Can models for base-model keys a and b run on one base? Yes unless both are known families and differ
    (an unknown base is not ruled out)."""
    return a not in FAMILY_NAMES or b not in FAMILY_NAMES or a == b
