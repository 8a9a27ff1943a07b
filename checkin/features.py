"""Per-concept features for the fitted Check-in decision (checkin/decision.py).

Each candidate concept (versions and copies grouped) gets a row of numbers that say how well it
explains the request on its own and next to the others: retrieval signals, idf-weighted and
by-embedding coverage of the request's words, noun-phrase heads it explains, contradictions
(another color, another gender), and, by meaning against the whole library, how close the request
and each of its parts ("golden penguin", "forest clearing") are to the card compared with the
library's typical card. The meaning features are what carry over to a writer the fit never saw
(issue #27: the word-overlap features that mirrored one generator's phrasing are gone); the fitted
trees are held to a known direction where there is one (MONOTONE). Nothing here is tuned by hand.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from catalog.card import Card
from catalog.names import file_stem
from checkin.intent import STOPWORDS, Intent
from checkin.kinds import subject_parts
from checkin.language import looks_english
from checkin.roles import role_of
from checkin.words import NOISE_WORD, singular, split_words

MAX_CONCEPTS = 8  # concepts scored per request; the rest never fit better than these
FEATURES = (
    "dense", "bm25", "trigger", "name", "tag", "score",
    "gap_top", "gap_next", "dense_gap_next", "log_rank",
    "soft_cover", "soft_gap", "named", "other_named", "not_english",
    "idf_cover", "idf_gap", "contradicted",
    "heads_covered", "orphan_modifier", "heads_missed",
    # by meaning, against the whole library (the same for every writer: no word lists)
    "dense_rel", "part_sim", "part_rel", "part_gap", "alike_05", "alike_10", "top_part_rel",
    # what the request is of (a crab, not the beach it sits on) against what the card is
    "subject_rel", "top_subject_rel", "subject_alike", "has_subject", "addon_role",
)
# the direction each feature's effect must have on "the user means this concept" (+1 / -1; 0: free);
# fitted trees are held to it so a writer's habits cannot turn a meaning feature around
MONOTONE = {"dense": 1, "trigger": 1, "name": 1, "named": 1, "other_named": -1, "soft_cover": 1, "idf_cover": 1,
            "contradicted": -1, "heads_covered": 1, "dense_rel": 1, "part_sim": 1, "part_rel": 1, "part_gap": 1,
            "subject_rel": 1}
# words that end a noun phrase: prepositions, conjunctions, verbs of placement (a phrase's head is its last word)
PHRASE_BREAK = frozenset("a an the of in on at to for with and or by from into onto under over near next beside "
                         "behind during while who that which is are was were being as like than but not no without "
                         "except please can could would should will make draw paint show generate create give want where when whose there image "
                         "need i me my our your his her their its it this these those some".split())
# a request word counts as covered by a card word at this cosine (all-MiniLM-L6-v2 single words:
# synonyms sit at 0.5-0.9, unrelated words under 0.4)
SOFT_MIN = 0.5
SOFT_HEAD = 0.6

# words of one class that exclude each other when a request and a card both use one (world knowledge, not
# tuned on requests): a card of an uncle does not fit "the woman with a nose ring"
MALE = frozenset("man men boy boys guy gentleman lad uncle brother husband son nephew grandfather grandpa granddad "
                 "father dad godfather king prince he his him".split())
FEMALE = frozenset("woman women girl girls lady aunt sister wife daughter niece grandmother grandma granny nana "
                   "mother mom godmother queen princess she her".split())

WordVectors = Callable[[list[str]], np.ndarray]
_CARD_WORDS: dict[tuple, frozenset] = {}


def card_words(card: Card) -> frozenset:
    """Folded words a card says about itself: name, file stem, triggers, description, tags, gloss, subject."""
    key = (card.path, card.name, card.description, tuple(card.tags), tuple(card.triggers), card.gloss, card.subject)
    cached = _CARD_WORDS.get(key)
    if cached is None:
        text = " ".join([card.name or "", file_stem(card.path), " ".join(card.triggers), card.description or "",
                         " ".join(card.tags), card.gloss or "", card.subject or ""])
        cached = frozenset(singular(w) for w in split_words(text)
                           if len(w) >= 2 and w not in STOPWORDS and not NOISE_WORD.match(w))
        if len(_CARD_WORDS) > 50_000:
            _CARD_WORDS.clear()
        _CARD_WORDS[key] = cached
    return cached


def request_words(intent: Intent, extra: list[str] | None = None) -> list[str]:
    """The request's content words, folded, once each (negated and version words are already cut)."""
    words = list(intent.words) + list(extra or [])
    out = []
    for w in words:
        for part in split_words(w):
            s = singular(part)
            if len(s) >= 2 and s not in STOPWORDS and s not in out and not NOISE_WORD.match(s):
                out.append(s)
    return out


def noun_phrases(request: str) -> list[list[str]]:
    """Runs of content words between function words, folded: 'a golden penguin in a forest' ->
    [['golden', 'penguin'], ['forest']]; the last word of each run is its head."""
    import re

    phrases, run = [], []
    for tok in re.findall(r"[^\W_]+(?:'[^\W_]+)?|[,.;:!?()]", request.lower()):
        tok = re.sub(r"'s$", "", tok)
        if not tok[0].isalnum() or tok in PHRASE_BREAK or tok in STOPWORDS:
            if run:
                phrases.append(run)
            run = []
            continue
        run.append(singular(tok))
    if run:
        phrases.append(run)
    return phrases


def _typo_close(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    # one edit (substitution, insertion, deletion or swap) apart
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def covered(words: list[str], card_set: frozenset) -> np.ndarray:
    """Which request words the card's own words contain (exactly or one typo away)."""
    out = np.zeros(len(words), dtype=bool)
    for i, w in enumerate(words):
        out[i] = w in card_set or (len(w) >= 5 and any(_typo_close(w, v) for v in card_set if abs(len(v) - len(w)) <= 1))
    return out


def soft_covered(words: list[str], card_set: frozenset, vectors: WordVectors | None) -> np.ndarray:
    """Per request word: the best cosine to a card word (1 for an exact hit); zeros without vectors."""
    if vectors is None or not words or not card_set:
        return np.zeros(len(words), dtype=np.float32)
    own = sorted(card_set)
    return (vectors(words) @ vectors(own).T).max(axis=1).astype(np.float32)


def contradicts(word: str, card_set: frozenset) -> bool:
    """Does a request word name a value the card's words exclude (another color, season, size, gender)?"""
    from checkin.subjects import contrast

    if word in card_set:
        return False
    if word in MALE and card_set & FEMALE and not card_set & MALE:
        return True
    if word in FEMALE and card_set & MALE and not card_set & FEMALE:
        return True
    return any(contrast(word, v) for v in card_set)


class WordStats:
    """How many cards use each word (document frequency over the catalog's card words)."""

    def __init__(self, cards: list[Card]):
        self.n = max(1, len(cards))
        self.df: dict[str, int] = {}
        for card in cards:
            for w in card_words(card):
                self.df[w] = self.df.get(w, 0) + 1

    def idf(self, word: str) -> float:
        """log(N / df), with an unknown word as rare as a word on one card."""
        return math.log((self.n + 1) / (self.df.get(word, 0) + 1)) + 1.0


_STATS: dict[int, tuple[object, WordStats]] = {}


def word_stats(index) -> WordStats:
    """WordStats of a checkin.search.SearchIndex, cached per index object."""
    cached = _STATS.get(id(index))
    if cached is None or cached[0] is not index:
        cached = (index, WordStats(index.cards))
        if len(_STATS) > 8:
            _STATS.clear()
        _STATS[id(index)] = cached
    return cached[1]


def request_parts(intent: Intent, limit: int = 6) -> list[str]:
    """What the request is of, part by part: its noun phrases as text ('golden penguin', 'forest clearing')."""
    parts = [" ".join(p) for p in noun_phrases(intent.query) if any(len(w) >= 3 for w in p)]
    return list(dict.fromkeys(parts))[:limit]


def part_matrix(intent: Intent, library, vectors: WordVectors | None) -> tuple[list[str], np.ndarray | None]:
    """The request's parts and each one's cosine to every library card's embedded text: (n_parts, n_cards)."""
    if library is None or vectors is None or not library.matrix.size:
        return [], None
    parts = request_parts(intent)
    if not parts:
        return [], None
    return parts, vectors(parts) @ library.matrix.T


def best_of_members(per_card: np.ndarray, concepts: list, library) -> np.ndarray:
    """Per concept: the best value of any of its cards in a per-library-card array (0 for a card not indexed)."""
    return np.array([max(float(per_card[library.pos[m.card.path]]) if m.card.path in library.pos else 0.0
                         for m in c.members) for c in concepts], dtype=np.float32)


def subject_closeness(concepts: list, parts: list[str], sims: np.ndarray | None, library,
                      vectors: WordVectors | None) -> np.ndarray | None:
    """Per concept: how much closer the request's subject ("a crab" of "a crab on the beach") is to the
    concept's best card than to the library's typical card, from `part_matrix`'s parts and cosines; None
    when no part is a thing (checkin/kinds.py). A card that shares only the setting ("photos from the
    beach") stays near zero."""
    if sims is None:
        return None
    things = subject_parts(parts, vectors)
    if not things.any():
        return None
    rel = sims[things] - np.median(sims[things], axis=1, keepdims=True)  # (subject parts, cards)
    return best_of_members(rel.max(axis=0), concepts, library)


def concept_features(concepts: list, intent: Intent, vectors: WordVectors | None = None,
                     extra_words: list[str] | None = None, stats: WordStats | None = None,
                     library=None) -> np.ndarray:
    """(n_concepts, len(FEATURES)) for the first MAX_CONCEPTS concepts (checkin.decide.Concept objects);
    `library` (the checkin.search.SearchIndex) gives the by-meaning features their library-wide reference."""
    concepts = concepts[:MAX_CONCEPTS]
    n = len(concepts)
    if n == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    words = request_words(intent, extra_words)
    sig = {k: np.array([c.signal(k) for c in concepts], dtype=np.float32)
           for k in ("dense", "bm25", "trigger", "name", "tag")}
    score = np.array([c.score for c in concepts], dtype=np.float32)
    cover_rows, soft_rows, contra = [], [], []
    for c in concepts:
        cw = frozenset().union(*(card_words(m.card) for m in c.members[:4]))
        cover_rows.append(covered(words, cw))
        contra.append(sum(contradicts(w, cw) for w in words))
        soft_rows.append(np.maximum(soft_covered(words, cw, vectors), cover_rows[-1].astype(np.float32)))
    soft = np.array([(np.clip((r - SOFT_MIN) / (1 - SOFT_MIN), 0, 1)).mean() if len(r) else 0.0 for r in soft_rows],
                    dtype=np.float32)
    named = np.maximum(sig["trigger"], sig["name"]) >= 0.8

    def best_other(values: np.ndarray) -> np.ndarray:
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            others = np.delete(values, i)
            out[i] = others.max() if others.size else 0.0
        return out

    idf = np.array([stats.idf(w) if stats else 1.0 for w in words], dtype=np.float32)
    total_idf = float(idf.sum()) or 1.0
    idf_cov = np.array([float(idf[r].sum()) / total_idf for r in cover_rows], dtype=np.float32)
    # noun phrases: a card that explains a modifier but not its head ("a velvet jellyfish" and a velvet
    # scarf) shows something else; a head counts as explained by a synonym (soft >= SOFT_HEAD)
    phrases = noun_phrases(intent.query)
    heads_cov, orphan, heads_missed = (np.zeros(n, dtype=np.float32) for _ in range(3))
    for i in range(n):
        strength = dict(zip(words, soft_rows[i]))
        for phrase in phrases:
            hit = np.array([strength.get(w, 0.0) >= SOFT_HEAD for w in phrase])
            heads_cov[i] += hit[-1]
            heads_missed[i] += not hit[-1]
            orphan[i] += bool(hit[:-1].any() and not hit[-1])
    rank = np.arange(n, dtype=np.float32)
    part = np.zeros(n, dtype=np.float32)
    part_floor = 0.0
    parts, part_sims = part_matrix(intent, library, vectors)
    if part_sims is not None:
        # a card fits when some part of the request *is* that card ("a rusty submarine" is no rusty van); the
        # whole request's cosine mixes in the setting and the chatter around it
        sims = part_sims.max(axis=0)  # (n_cards,)
        part = best_of_members(sims, concepts, library)
        part_floor = float(np.median(sims))
    part_rel = part - part_floor
    subject = subject_closeness(concepts, parts, part_sims, library, vectors)
    subject = part_rel if subject is None else subject
    addon = np.array([role_of(c.chosen or c.members[0].card) != "subject" for c in concepts], dtype=np.float32)
    alike = part.max() - part  # how far each concept is from the best by meaning
    dense_floor = np.array([c.signal("dense_floor") for c in concepts], dtype=np.float32)
    rows = {
        "dense": sig["dense"], "bm25": sig["bm25"], "trigger": sig["trigger"], "name": sig["name"], "tag": sig["tag"],
        "score": score, "gap_top": score - score.max(), "gap_next": score - best_other(score),
        "dense_gap_next": sig["dense"] - best_other(sig["dense"]), "log_rank": np.log1p(rank),
        "soft_cover": soft, "soft_gap": soft - best_other(soft),
        "named": named.astype(np.float32), "other_named": best_other(named.astype(np.float32)),
        "not_english": np.full(n, 0.0 if looks_english(intent.request) else 1.0),
        "idf_cover": idf_cov, "idf_gap": idf_cov - best_other(idf_cov),
        "contradicted": np.minimum(np.array(contra, dtype=np.float32), 2) / 2,
        "heads_covered": np.minimum(heads_cov, 3) / 3, "orphan_modifier": np.minimum(orphan, 2) / 2,
        "heads_missed": np.minimum(heads_missed, 4) / 4,
        "dense_rel": sig["dense"] - dense_floor, "part_sim": part, "part_rel": part_rel,
        "part_gap": part - best_other(part), "alike_05": np.full(n, float((alike <= 0.05).sum() - 1) / 3),
        "alike_10": np.full(n, float((alike <= 0.10).sum() - 1) / 3), "top_part_rel": np.full(n, float(part_rel.max())),
        "subject_rel": subject, "top_subject_rel": np.full(n, float(subject.max())),
        "subject_alike": np.full(n, float((subject >= subject.max() - 0.05).sum() - 1) / 3),
        "has_subject": np.full(n, float(subject is not part_rel)), "addon_role": addon,
    }
    return np.stack([rows[name] for name in FEATURES], axis=1).astype(np.float32)
