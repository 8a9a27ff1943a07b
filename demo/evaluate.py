"""Scores of generated images, read by the judge: caption following and concept presence."""
from __future__ import annotations

import numpy as np

from demo import world

ATTRIBUTES_SCORED = ("shape", "colour")  # what "attribute accuracy" means in the targets


def attribute_accuracy(pred: dict[str, list[str]], scenes: list[world.Scene], names=ATTRIBUTES_SCORED) -> float:
    """Mean over images of the fraction of `names` the judge reads back as the caption said."""
    if not scenes:
        return float("nan")
    hits = [np.mean([pred[n][i] == getattr(s, n) for n in names]) for i, s in enumerate(scenes)]
    return float(np.mean(hits))


def per_attribute(pred: dict[str, list[str]], scenes: list[world.Scene]) -> dict[str, float]:
    return {n: float(np.mean([pred[n][i] == getattr(s, n) for i, s in enumerate(scenes)])) for n in world.ATTRIBUTES}


def concept_rate(pred: dict[str, list[str]], concept_key: str) -> float:
    """Fraction of images the judge says show the concept."""
    from demo.judge import shows_concept

    n = len(pred["concept"])
    return float(np.mean([shows_concept(pred, i, concept_key) for i in range(n)])) if n else float("nan")
