"""Several concepts from one request: a subject plus the styles, poses or outfits other parts of it name.

"a checker ball in outline style" is not a choice between the ball and the style: each part of the request
is a different concept. An add-on joins the chosen subject when the fitted decision already counts it as
meant (it was kept, or it is likely on its own) and a *different* part of the request is what it is by
meaning: no other concept is closer to that part, and it is not the part the subject explains (two
concepts reached by the same words are alternatives, and a question is for those). A request written as
one run of words ("the green globe ukiyo woodcut style") is cut where two concepts explain the sides.
"""
from __future__ import annotations

import re

import numpy as np

from catalog.card import ADDON_KINDS, Card
from checkin.concepts import Concept
from checkin.features import WordVectors, card_words, part_matrix
from checkin.intent import Intent
from checkin.kinds import nearest_kinds
from checkin.roles import role_of
from checkin.words import singular, split_words
from common.families import can_share_base

LIKELY = 0.5  # a concept this probable is meant even when the question would not have offered it
# a subject this probable joins a style, pose or outfit picked first ("our cream dog in a cyanotype style");
# at any probability a style asked alone ("a fox in gouache style") gained a stranger (lib8: 15 of 322 picks)
MIN_SUBJECT_P = 0.05


def add_ons(subject: Concept, concepts: list[Concept], p: np.ndarray, kept: list[Concept], intent: Intent,
            library, vectors: WordVectors | None) -> list[Concept]:
    """The style/pose/outfit concepts another part of the request names beside `subject`, best first."""
    if subject.chosen is None or role_of(subject.chosen) != "subject":
        return []
    parts, sims = part_matrix(intent, library, vectors)
    if sims is None:
        return []
    if len(parts) < 2:  # "the green globe ukiyo woodcut style": one run of words, perhaps two things
        parts, sims = split_by_meaning(parts, concepts, library, vectors)
        if len(parts) < 2:
            return []

    def closeness(c: Concept) -> np.ndarray:  # (n_parts,) the best member's cosine to each part
        rows = [library.pos[m.card.path] for m in c.members if m.card.path in library.pos]
        return sims[:, rows].max(axis=1) if rows else np.zeros(len(parts), dtype=np.float32)

    near = [closeness(c) for c in concepts]
    by_part = np.max(near, axis=0)  # (n_parts,) the closest concept's cosine to each part
    mine = near[concepts.index(subject)] if subject in concepts else closeness(subject)
    subject_part = int(np.argmax(mine))
    out = []
    for c, prob, close in zip(concepts, p, near):
        card = c.chosen
        if (c is subject or card is None or card.kind not in ADDON_KINDS or role_of(card) == "subject"
                or not can_share_base(subject.chosen.base_model, card.base_model) or (c not in kept and prob < LIKELY)):
            continue
        part = int(np.argmax(close))
        if part != subject_part and close[part] >= by_part[part] - 1e-6:
            out.append(c)
    return out


def split_by_meaning(parts: list[str], concepts: list[Concept], library, vectors: WordVectors) -> tuple[list[str], np.ndarray | None]:
    """A request of one noun phrase, cut where two different concepts explain the two sides best: the cut
    whose sides are each closest to a different concept, most closely. ([], None) when no cut does."""
    words = parts[0].split() if len(parts) == 1 else []
    if len(words) < 2:
        return [], None
    rows = sorted({library.pos[m.card.path] for c in concepts for m in c.members if m.card.path in library.pos})
    if len(rows) < 2:
        return [], None
    owner = {library.pos[m.card.path]: i for i, c in enumerate(concepts) for m in c.members if m.card.path in library.pos}
    spans = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(1, len(words))]
    flat = [t for pair in spans for t in pair]
    sims = vectors(flat) @ library.matrix[rows].T  # (2 * cuts, rows)
    best, cut = None, None
    for k in range(len(spans)):
        left, right = sims[2 * k], sims[2 * k + 1]
        a, b = int(np.argmax(left)), int(np.argmax(right))
        if owner[rows[a]] != owner[rows[b]] and (best is None or left[a] + right[b] > best):
            best, cut = float(left[a] + right[b]), k
    if cut is None:
        return [], None
    full = np.zeros((2, library.matrix.shape[0]), dtype=np.float32)
    full[:, rows] = sims[2 * cut: 2 * cut + 2]
    return list(spans[cut]), full


def compose(status: str, kept: list[Concept], scored: list[Concept], p: np.ndarray, intent: Intent,
            library, vectors: WordVectors | None) -> tuple[str, list[Concept], list[Concept]]:
    """A subject and the add-ons other parts of the request name are one selection, not a question:
    (status, concepts kept, add-ons)."""
    if status == "none" or not kept:
        return status, kept, []
    likely = kept + [c for c, q in zip(scored, p) if q >= LIKELY and c not in kept]
    subject = next((c for c in likely if c.chosen is not None and role_of(c.chosen) == "subject"), None)
    if subject is None:
        return subject_for_add_on(status, kept, scored, p, intent, library, vectors)
    extras = add_ons(subject, scored, p, kept, intent, library, vectors)
    left = [c for c in kept if c is not subject and c not in extras]
    if not extras or (status == "clarify" and left):
        return status, kept, []
    return "selected", [subject], extras


def subject_for_add_on(status: str, kept: list[Concept], scored: list[Concept], p: np.ndarray, intent: Intent,
                       library, vectors: WordVectors | None) -> tuple[str, list[Concept], list[Concept]]:
    """The pick is a style, pose or outfit and no subject is likely: the most probable subject joins it when
    another part of the request names that subject and the pick is what its own part names (as `add_ons`)."""
    add_on = kept[0]
    if status != "selected" or add_on.chosen is None or role_of(add_on.chosen) == "subject":
        return status, kept, []
    subjects = [(q, c) for c, q in zip(scored, p) if c is not add_on and c.chosen is not None
                and role_of(c.chosen) == "subject" and q >= MIN_SUBJECT_P]
    if not subjects:
        return status, kept, []
    subject = max(subjects, key=lambda qc: qc[0])[1]
    extras = add_ons(subject, scored, p, [add_on], intent, library, vectors)
    return ("selected", [subject], extras) if add_on in extras else (status, kept, [])


_ASKED_STYLE = re.compile(r"\b(?:in|as)\s+(?:an?\s+|the\s+|my\s+)?([\w\s-]{2,30}?)\s+(style|look)\b", re.I)
_AFTER_IN_AS = re.compile(r"\b(?:in|as)\s+(?:an?\s+|the\s+|my\s+)?([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2})", re.I)
# words this close to their nearest kind, a style, ask for it (MiniLM: charcoal 0.74, neon 0.79, oil paint
# 0.92); further off the nearest kind is a guess (pastel 0.57, "the style of van gogh" 0.57 are not read)
MIN_STYLE_COSINE = 0.6


def asked_style(request: str, vectors: WordVectors | None = None) -> str | None:
    """The style a request names: in so many words ("in charcoal style" -> 'charcoal') or, with `vectors`,
    by meaning after "in" or "as" ("a teacup as stained glass" -> 'stained glass'; checkin/kinds.py)."""
    m = _ASKED_STYLE.search(request)
    if m or vectors is None:
        return m.group(1).strip() if m else None
    for m in _AFTER_IN_AS.finditer(request):
        words = m.group(1).lower().split()
        runs = [" ".join(words[:n]) for n in range(1, len(words) + 1)]  # "stained", "stained glass", "... please"
        styles = [(cosine, run) for run, (category, cosine) in zip(runs, nearest_kinds(runs, vectors))
                  if category == "style" and cosine >= MIN_STYLE_COSINE]
        if styles:
            return max(styles)[1]
    return None


def missing_style_note(intent: Intent, card: Card, extras: list[Concept], library, vectors: WordVectors | None) -> str | None:
    """Says "no charcoal style in your library" when a subject was chosen, the request asks for a style, none joined
    it and no style card of the library uses a word of it (then "none" would be wrong, whatever joined)."""
    if extras or role_of(card) != "subject":
        return None
    style = asked_style(intent.query, vectors)  # embeds the everyday kinds on its first use: checked last
    if not style:
        return None
    words = {singular(w) for w in split_words(style)}
    if any(role_of(c) == "style" and words & card_words(c) for c in library.cards):
        return None
    return f"no {style} style in your library: generating without it"
