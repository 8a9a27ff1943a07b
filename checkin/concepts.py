"""Concepts and versions: retrieved cards grouped into the subjects they depict, and the version a request picks.

Versions, base-model variants and copies of one subject are one concept (they share a trigger and a name
word, or the bytes). When several versions fit and the request names none, the newest is picked; "v3",
"the first one", "from last summer" and base-model words pick that version.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from catalog.card import Card
from catalog.names import file_stem
from checkin.intent import Intent
from checkin.search import Candidate
from checkin.words import NOISE_WORD, split_words


@dataclass
class Concept:
    """Cards that depict one subject or style (versions, base-model variants, copies)."""

    members: list[Candidate]
    score: float  # relevance of the concept: its best member's score
    chosen: Card | None = None  # the version the intent picks (None: the named version does not exist)

    @property
    def best(self) -> Candidate:
        return self.members[0]

    def signal(self, name: str) -> float:
        """The strongest value of one retrieval signal over the members (any version can carry the evidence)."""
        return max((float(m.signals.get(name, 0.0)) for m in self.members), default=0.0)


@lru_cache(maxsize=50_000)
def _name_key(name: str, path: str) -> frozenset[str]:
    words = split_words(name) + split_words(file_stem(path))
    months = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
    return frozenset(w for w in words if len(w) >= 3 and not NOISE_WORD.match(w) and w not in months
                     and not re.fullmatch(r"(?:spring|summer|fall|autumn|winter)\d*|\d+\w*", w))


def name_key(card: Card) -> frozenset[str]:
    """Name words without version, date, base-model and file plumbing: 'Ziggy XL v6' -> {'ziggy'}
    (cached: grouping compares every pair of retrieved cards)."""
    return _name_key(card.name or "", card.path)


def same_concept(a: Card, b: Card) -> bool:
    if a.path == b.path or a.duplicate_of == b.path or b.duplicate_of == a.path:
        return True
    if a.sha256 and a.sha256 == b.sha256:
        return True
    ka, kb = name_key(a), name_key(b)
    shared_trigger = {t.lower() for t in a.triggers} & {t.lower() for t in b.triggers}
    if shared_trigger and ka & kb:
        return True
    return bool(ka) and ka == kb and a.kind == b.kind


def group_concepts(candidates: list[Candidate]) -> list[Concept]:
    """Union candidates that are one concept; concepts ordered by their best member's score."""
    parent = list(range(len(candidates)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            if same_concept(candidates[i].card, candidates[j].card):
                parent[find(j)] = find(i)
    groups: dict[int, list[Candidate]] = {}
    for i, cand in enumerate(candidates):
        groups.setdefault(find(i), []).append(cand)
    concepts = [Concept(members=sorted(m, key=lambda c: -c.score), score=max(c.score for c in m)) for m in groups.values()]
    return sorted(concepts, key=lambda c: -c.score)


def _created_day(card: Card) -> date | None:
    """The creation day from the card's metadata. File mtimes are not used: a copy or a checkout resets them."""
    if card.created:
        try:
            return date.fromisoformat(card.created[:10])
        except ValueError:
            return None
    return None


def version_order(cards: list[Card]) -> list[Card]:
    """Oldest to newest: by stated version number when every card states one, else by creation date.

    Cards with neither cannot be placed among dated ones and are left out when others are dated.
    """
    if all(c.version_number is not None for c in cards):
        return sorted(cards, key=lambda c: (c.version_number, _created_day(c) or date.min))
    dated = [c for c in cards if _created_day(c) is not None]
    if not dated:
        return sorted(cards, key=lambda c: (c.version_number if c.version_number is not None else -1.0, c.path))
    return sorted(dated, key=lambda c: (_created_day(c), c.version_number if c.version_number is not None else -1.0))


def _distinct(cards: list[Card]) -> list[Card]:
    """One card per file content: copies (same sha256 / duplicate_of) collapse onto the original."""
    out, seen = [], {}
    for c in sorted(cards, key=lambda c: (c.duplicate_of is not None, c.path)):
        key = c.sha256 or c.path
        if c.duplicate_of:
            key = next((o.sha256 or o.path for o in out if o.path == c.duplicate_of), key)
        if key not in seen:
            seen[key] = c
            out.append(c)
    return out


def pick_version(cards: list[Card], intent: Intent) -> Card | None:
    """The version the intent names (number, order, time window, base model), else the newest; None if absent."""
    cards = _distinct(cards)
    if intent.base_model:
        narrowed = [c for c in cards if c.base_model == intent.base_model]
        if not narrowed:
            return None
        cards = narrowed
    ordered = version_order(cards)
    if intent.version is not None:
        want = float(intent.version)
        ordered = version_order([c for c in cards if c.version_number is not None and abs(c.version_number - want) < 1e-6])
        if not ordered:
            return None
    if intent.window is not None:
        lo, hi = intent.window
        ordered = [c for c in ordered if (d := _created_day(c)) and (lo is None or d >= lo) and (hi is None or d <= hi)]
        if not ordered:
            return None
    if intent.order is not None:
        k = intent.order
        if k > 0:
            return ordered[k - 1] if k <= len(ordered) else None
        return ordered[k] if -k <= len(ordered) else None
    return ordered[-1]


def candidate_concepts(candidates: list[Candidate], intent: Intent) -> list[Concept]:
    """Group retrieved cards into concepts and pick each one's version; a concept whose named version,
    time or base model does not exist does not fit ("Ziggy v11") and is left out."""
    concepts = group_concepts(candidates)
    for concept in concepts:
        concept.chosen = pick_version([m.card for m in concept.members], intent)
    return [c for c in concepts if c.chosen is not None]
