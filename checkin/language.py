"""Is a text English? Cheap and offline: the share of letters outside the Latin script, and the common
function words of the languages creators most often write in besides English.

The sentence embedder reads English only, so text that is not English is what the local LLM restates
(requests) or glosses (card descriptions) before retrieval relies on it.
"""
from __future__ import annotations

import re
import unicodedata

# Function words that are not also common English words (no "a", "me", "die", "is", "on").
FOREIGN_FUNCTION_WORDS = frozenset(
    # Spanish, Portuguese
    "el la los las un una unos unas del y con mi mis tu su por para que es en al muy sin sobre pero "
    "o os um uma do da dos das com meu minha não é em no na "
    # French
    "le les une des du et avec mon ma mes ton dans pour est sur sans chez au aux ce cette "
    # German
    "der das ein eine einen und mit mein meine dein im am auf für ist nicht zum zur vom beim "
    # Italian
    "il lo gli uno della con nel nella sul per che di mio mia".split()
)
ENGLISH_FUNCTION_WORDS = frozenset(
    "the a an of and with my in on at to for from by is are this that his her our their it".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def non_latin_share(text: str) -> float:
    """Share of letters outside the Latin script (CJK, Cyrillic, Arabic, ...)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if not unicodedata.name(ch, "").startswith("LATIN")) / len(letters)


def looks_english(text: str) -> bool:
    """False for text mostly in another script, or whose function words are mostly another language's."""
    if non_latin_share(text) >= 0.3:
        return False
    words = [w.lower() for w in _WORD.findall(text)]
    foreign = sum(1 for w in words if w in FOREIGN_FUNCTION_WORDS)
    english = sum(1 for w in words if w in ENGLISH_FUNCTION_WORDS)
    return not (foreign >= 1 and foreign > english)
