"""Same kind of thing: when a request names only what several cards show ("an orange cat", and the
library holds two orange cats), each of them fits and Check-in should ask, even when one card's words
happen to match the request better (its description says "orange cat", the other's "ginger Maine Coon").

A card's `subject` is the local LLM's everyday word for what it shows (checkin/gloss.py). Two concepts
are the same kind when their subjects share a head word (the last one: "old man" -> "man") that the
request names. What can still tell them apart is a request word that the top card's own words explain
and the other card's do not ("a cat with a crooked tail"). Words are compared by embedding, not by
spelling, so a synonym ("orange" / "ginger", "big" / "huge") explains a word as well as the word itself.
Pure: the word embedder is passed in.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from catalog.card import Card
from catalog.names import file_stem
from checkin.intent import STOPWORDS
from checkin.words import singular, split_words

# Cosine of two single words (all-MiniLM-L6-v2) from which one explains the other. Measured pairs:
# orange~ginger 0.51, hound~beagle 0.59, big~huge 0.90, sofa~couch 0.86 explain; straw~cowboy 0.22,
# bald~weathered 0.26, droopy~long 0.22, white~ginger 0.42, straw~hat 0.41 do not.
MIN_WORD_SIMILARITY = 0.5
# But MiniLM puts words of one closed class as close as synonyms (red~blue 0.73, black~white 0.76,
# small~big 0.68, summer~winter 0.60, old~young 0.64): two different words of one of these classes
# never explain each other, so "the black cat" still tells a black cat from an orange one.
EXCLUSIVE_CLASSES = (
    frozenset("red orange yellow green blue purple pink brown black white grey gray gold silver".split()),
    frozenset("spring summer autumn fall winter".split()),
    frozenset("morning noon afternoon evening night day".split()),
)
OPPOSITES = (
    (frozenset("small tiny little mini".split()), frozenset("big large huge giant".split())),
    (frozenset("old elderly aged".split()), frozenset("young new baby".split())),
    (frozenset("long".split()), frozenset("short".split())),
    (frozenset("tall".split()), frozenset("short".split())),
    (frozenset("light pale".split()), frozenset("dark".split())),
    (frozenset("thin slim skinny".split()), frozenset("fat chubby stocky".split())),
    (frozenset("man boy male".split()), frozenset("woman girl female".split())),
)
SAME_WORD = {frozenset({"grey", "gray"})}


def contrast(a: str, b: str) -> bool:
    """Do two different words name opposite or mutually exclusive values (colors, seasons, sizes)?"""
    if a == b or frozenset({a, b}) in SAME_WORD:
        return False
    if any(a in cls and b in cls for cls in EXCLUSIVE_CLASSES):
        return True
    return any((a in x and b in y) or (a in y and b in x) for x, y in OPPOSITES)


WordVectors = Callable[[list[str]], np.ndarray]  # words -> unit-norm rows, one per word


def subject_head(subject: str | None) -> str | None:
    """The word a request would use for the subject: its last word, singular ("old women" -> "woman")."""
    words = split_words(subject or "")
    return singular(words[-1]) if words else None


def comparable_words(words: Iterable[str]) -> list[str]:
    """Distinct singular words worth comparing (no stopwords, nothing shorter than 3 letters)."""
    return sorted({singular(w) for w in words if len(w) >= 3 and w not in STOPWORDS})


def card_words(card: Card) -> list[str]:
    """Everything the card says about itself: name, file stem, triggers, description, tags, gloss, subject."""
    text = " ".join([card.name or "", file_stem(card.path), " ".join(card.triggers), card.description or "",
                     " ".join(card.tags), card.gloss or "", card.subject or ""])
    return comparable_words(split_words(text))


def explained(words: list[str], card: Card, vectors: WordVectors) -> np.ndarray:
    """For each word, does some word of the card mean about the same (cosine >= MIN_WORD_SIMILARITY)?"""
    own = card_words(card)
    if not words or not own:
        return np.zeros(len(words), dtype=bool)
    similarity = vectors(words) @ vectors(own).T
    for i, word in enumerate(words):
        for j, theirs in enumerate(own):
            if contrast(word, theirs):
                similarity[i, j] = 0.0
    return similarity.max(axis=1) >= MIN_WORD_SIMILARITY


def telling_words(request_words: list[str], top: Card, other: Card, vectors: WordVectors) -> list[str]:
    """Request words that the top card explains and the other does not: the reasons to prefer the top."""
    if not request_words:
        return []
    top_has, other_has = explained(request_words, top, vectors), explained(request_words, other, vectors)
    return [w for w, a, b in zip(request_words, top_has, other_has) if a and not b]
