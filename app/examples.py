"""Example requests for the Create page, made from the user's own library (the demo's, or theirs)."""
from __future__ import annotations

import re
from pathlib import Path

from catalog.card import Card

STYLE_WORD = re.compile(r"\b(?:style|art|look|aesthetic|frame|outline|painting|sketch)\b", re.I)


def _plain_words(card: Card) -> str:
    """A card's name without its trigger, version or file-name noise: "Dfr Cactus v1" -> "cactus"."""
    triggers = {w.lower() for t in card.triggers for w in t.split()} - {"style", "art", "look"}
    words = [w for w in re.split(r"[\s_\-.]+", card.name or Path(card.path).stem)
             if w and w.lower() not in triggers and not re.fullmatch(r"v?\d+(?:\.\d+)?", w.lower())]
    return " ".join(words).lower()


def example_requests(cards: list[Card], n: int = 3) -> list[str]:
    """Plain-words requests that this library can answer: a subject, a style on a subject, a version."""
    usable = [c for c in cards if c.kind in ("lora", "checkpoint", "textual_inversion") and _plain_words(c)]
    styles = [c for c in usable if STYLE_WORD.search(_plain_words(c))]
    subjects = [c for c in usable if c not in styles and not c.is_negative_embedding]
    out: list[str] = []
    if subjects:  # "my cactus", but "luna the husky" already says whose
        words = _plain_words(subjects[0])
        out.append(f"{'' if ' the ' in f' {words} ' else 'my '}{words} in the middle")
    if styles and len(subjects) > 1:
        out.append(f"a {_plain_words(subjects[1])} in {_plain_words(styles[0])}")
    names: dict[str, int] = {}
    for c in subjects:
        names[_plain_words(c)] = names.get(_plain_words(c), 0) + 1
    versioned = [name for name, count in names.items() if count > 1]
    if versioned:
        out.append(f"the first version of my {versioned[0]}")
    for c in subjects[2:]:
        if len(out) >= n:
            break
        out.append(f"my {_plain_words(c)} on a black background")
    return out[:n]
