"""How the catalog splits names, file stems and requests into words, and folds them to compare.

Shared by retrieval (checkin/search.py), the subject rule (checkin/subjects.py) and Check-in, so
that all three see the same words for the same card.
"""
from __future__ import annotations

import re

NOISE_WORD = re.compile(r"^(?:v\d+(?:\.\d+)?[a-z]*|\d+|xl|sdxl|sd\d*|lora|loha|locon|lycoris|peft|dreambooth|"
                        r"safetensors|ckpt|pt|model|checkpoint|embedding|copy|pytorch|weights|learned|embeds|adapter|"
                        r"the|of|and|my|final|new|better|real)$")
IRREGULAR_PLURALS = {"men": "man", "women": "woman", "children": "child", "people": "person", "mice": "mouse",
                     "geese": "goose", "teeth": "tooth", "feet": "foot", "wolves": "wolf", "leaves": "leaf",
                     "knives": "knife", "puppies": "puppy", "ponies": "pony"}


def split_words(text: str) -> list[str]:
    """Words of names and file stems: camelCase, snake_case, kebab-case all split, lowercase."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    return re.findall(r"[^\W_]+", text.lower())


def singular(word: str) -> str:
    """Plain English singular, good enough to match request words to names and subjects."""
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
