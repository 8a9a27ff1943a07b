"""Hybrid retrieval over the catalog: BM25 (FTS5) + dense cosine + exact/fuzzy name and trigger hits.

The three signals are fused by a weighted sum of bounded scores (not rank fusion) because the
Check-in decision needs an absolute "does anything fit" level as well as an order. Intent cues
act afterwards: negated phrases exclude the cards they name, base-model words narrow.

Everything per-card is precomputed once per catalog state (`SearchIndex`, cached and rebuilt when
the store changes), so a query is one embedding, one FTS query and a few numpy operations:
10,000 cards take a few milliseconds.
"""
from __future__ import annotations

import difflib
import math
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from catalog.card import Card
from catalog.names import file_stem
from checkin.intent import STOPWORDS, Intent, read_intent
from checkin.subjects import subject_head
from checkin.words import NOISE_WORD, singular, split_words

METHODS = ("bm25", "dense", "hybrid")
# Fusion weights (chosen on the dev sets; see bench/checkin.py): dense cosine is the backbone,
# BM25 (saturated to 0..1) and name/trigger hits (0..1) add evidence the embedder misses.
WEIGHTS = {"bm25": 0.35, "bm25_half": 12.0, "trigger": 0.5, "name": 0.45, "tag": 0.4, "gate": 0.4}
TOP_K = 24  # cards Check-in retrieves before grouping: a concept with many versions must not crowd out the others
SUBJECT_MATES = 8  # cards of a subject the request names added beyond the top k (see rank)
BM25_HALF = 6.0  # bm25 score at which the saturated signal of the plain bm25 method is 0.5


@dataclass
class Candidate:
    """One retrieved card; `signals` keeps the parts of the score (for the bench and for debugging)."""

    card: Card
    score: float
    signals: dict = field(default_factory=dict)


def identity_words(card: Card) -> set[str]:
    """Words that name the card itself (name, file stem, triggers, tags): what a negation can point at."""
    words = split_words(card.name) + split_words(file_stem(card.path))
    for trig in card.triggers:
        words += split_words(trig)
    for tag in card.tags:
        words += split_words(tag)
    return {w for w in words if w not in STOPWORDS and not NOISE_WORD.match(w)}


def _cjk_bigrams(text: str) -> set[str]:
    runs = re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+", text or "")
    return {run[i:i + 2] for run in runs for i in range(max(1, len(run) - 1))}


def _similar(a: str, b: str) -> float:
    """Typo-tolerant word similarity: 1 for equal, difflib ratio for close words, 0 otherwise."""
    if a == b:
        return 1.0
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 2:
        return 0.0
    if a.startswith(b) or b.startswith(a):
        return 0.9
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return ratio if ratio >= 0.75 else 0.0


class SearchIndex:
    """Per-catalog precomputation: cards, aligned embedding matrix, and the name/trigger vocabulary."""

    def __init__(self, cards: list[Card], paths: list[str], matrix: np.ndarray):
        self.cards = [c for c in cards if not c.error]
        self.pos = {c.path: i for i, c in enumerate(self.cards)}
        n = len(self.cards)
        dim = matrix.shape[1] if matrix.size else 0
        self.matrix = np.zeros((n, dim), dtype=np.float32)
        for path, row in zip(paths, matrix):
            if path in self.pos:
                self.matrix[self.pos[path]] = row
        # vocabulary: word -> [(card index, field, weight)], field 0 = trigger, 1 = name word
        self.vocab: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
        self.cjk: dict[str, set[int]] = defaultdict(set)
        self.identity = [identity_words(c) for c in self.cards]
        self.vocab_words = set().union(*self.identity) if self.identity else set()
        self.identity_grams: dict[str, set[str]] = defaultdict(set)
        for w in self.vocab_words:
            for g in {w[j:j + 3] for j in range(len(w) - 2)} or {w}:
                self.identity_grams[g].add(w)
        # how many distinct concepts (cards sharing a trigger count once) use a name word:
        # a word many concepts share ("style", "portrait") is weak evidence; versions do not dilute it
        name_df: dict[str, set] = defaultdict(set)
        name_words = []
        for card in self.cards:
            words = {w for w in split_words(card.name) + split_words(file_stem(card.path))
                     if len(w) >= 3 and w not in STOPWORDS and not NOISE_WORD.match(w)}
            name_words.append(words)
            group = (card.canonical_trigger or "").lower() or card.path
            for w in words:
                name_df[w].add(group)
        for i, card in enumerate(self.cards):
            for trig in card.triggers:
                t = trig.lower().strip("<>")
                if len(t) >= 3:
                    self.vocab[t].append((i, 0, 1.0))
                for w in split_words(trig):
                    if len(w) >= 4 and w != t and w not in STOPWORDS:
                        self.vocab[w].append((i, 0, 0.8))
            for w in name_words[i]:
                self.vocab[w].append((i, 1, 1.0 / (1.0 + math.log(len(name_df[w])) / 2)))
            for gram in _cjk_bigrams(card.name + " " + file_stem(card.path) + " " + card.description):
                self.cjk[gram].add(i)
        # tag word -> [(card index, share of the tag's words)]: "dog" fully matches tag "dog", half of "french bulldog"
        self.tags: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, card in enumerate(self.cards):
            for tag in card.tags:
                words = [singular(w) for w in split_words(tag) if w not in STOPWORDS]
                for w in words:
                    self.tags[w].append((i, 1.0 / len(words)))
        self.words = list(self.vocab)
        by_gram: dict[str, list[int]] = defaultdict(list)
        for wi, w in enumerate(self.words):
            for g in {w[j:j + 3] for j in range(len(w) - 2)}:
                by_gram[g].append(wi)
        # postings as arrays, so a query touches them with numpy instead of Python loops
        self.by_gram = {g: np.array(v, dtype=np.int32) for g, v in by_gram.items()}
        self.vocab_arr = {w: (np.array([e[0] for e in v], dtype=np.int32), np.array([e[1] for e in v], dtype=np.int8),
                              np.array([e[2] for e in v], dtype=np.float32)) for w, v in self.vocab.items()}
        self.tags_arr = {w: (np.array([e[0] for e in v], dtype=np.int32), np.array([e[1] for e in v], dtype=np.float32))
                         for w, v in self.tags.items()}
        postings: dict[str, list[int]] = defaultdict(list)
        for i, ident in enumerate(self.identity):
            for w in ident:
                postings[w].append(i)
        self.identity_postings = {w: np.array(v, dtype=np.int32) for w, v in postings.items()}
        by_subject: dict[str, list[int]] = defaultdict(list)
        for i, card in enumerate(self.cards):
            head = subject_head(card.subject)
            if head:
                by_subject[head].append(i)
        self.subject_postings = {w: np.array(v, dtype=np.int32) for w, v in by_subject.items()}

    def cards_of_named_subjects(self, words: list[str]) -> np.ndarray:
        """Indices of the cards whose subject ("cat") the request names."""
        lists = [self.subject_postings[h] for h in {singular(w) for w in words} if h in self.subject_postings]
        return np.unique(np.concatenate(lists)) if lists else np.zeros(0, dtype=np.int32)

    def similar_identity_words(self, word: str) -> set[str]:
        """Identity words equal to `word` or a close typo of it (trigram candidates, then difflib)."""
        grams = {word[j:j + 3] for j in range(len(word) - 2)} or {word}
        pool = set().union(*(self.identity_grams.get(g, set()) for g in grams))
        return {v for v in pool if _similar(word, v) >= 0.85} | ({word} & self.vocab_words)

    def tag_hits(self, request: str) -> np.ndarray:
        """0..1 per card: how fully request words name one of the card's tags (category words: dog, cat, style)."""
        out = np.zeros(len(self.cards), dtype=np.float32)
        for w in {singular(w) for w in split_words(request) if w not in STOPWORDS}:
            hit = self.tags_arr.get(w)
            if hit is not None:
                np.add.at(out, hit[0], hit[1])
        return np.minimum(out, 1.0)

    def lexical(self, request: str) -> tuple[np.ndarray, np.ndarray]:
        """(trigger hit, name hit), 0..1 per card: the best exact or typo-tolerant hit of a request word."""
        out = np.zeros((2, len(self.cards)), dtype=np.float32)
        tokens = {t.strip("<>") for t in re.findall(r"<[^>\s]+>|[^\W_]+(?:-[^\W_]+)*", request.lower())}
        tokens |= {p for t in list(tokens) for p in t.split("-") if "-" in t}
        for tok in tokens:
            if len(tok) < 3 or tok in STOPWORDS:
                continue
            hits = [(tok, 1.0)] if tok in self.vocab_arr else []
            if len(tok) >= 4:
                lists = [self.by_gram[g] for g in {tok[j:j + 3] for j in range(len(tok) - 2)} if g in self.by_gram]
                if lists:
                    counts = np.bincount(np.concatenate(lists))
                    best = np.argsort(-counts, kind="stable")[:30]
                    for wi in best[counts[best] > 0]:
                        w = self.words[wi]
                        sim = _similar(tok, w)
                        if sim and w != tok:
                            hits.append((w, sim))
            for w, sim in hits:
                idx, fields, weights = self.vocab_arr[w]
                np.maximum.at(out, (fields.astype(np.intp), idx), sim * weights)
        grams = _cjk_bigrams(request)
        if grams:
            counts = Counter(i for g in grams for i in self.cjk.get(g, ()))
            for i, c in counts.items():
                out[1, i] = max(out[1, i], min(1.0, c / max(2.0, len(grams) * 0.5)))
        return out[0], out[1]


_CACHE: dict[str, tuple[tuple, SearchIndex]] = {}
_LOCK = threading.Lock()


def _state_key(store) -> tuple[str, int]:
    """The catalog's change counter (bumped by SQLite triggers on every card, edit, gloss and embedding
    row): one indexed read, where aggregating the tables cost 10-30 ms of a 48 ms search at 10k cards."""
    return store.catalog_version()


def get_index(store) -> SearchIndex:
    """The cached SearchIndex of this store, rebuilt when the catalog changed."""
    key = _state_key(store)
    name = str(store.db_path)
    with _LOCK:
        cached = _CACHE.get(name)
        if cached and cached[0] == key:
            return cached[1]
    paths, matrix = store.embedding_matrix()
    index = SearchIndex(store.cards(include_errors=False), paths, matrix)
    with _LOCK:
        _CACHE[name] = (key, index)
    return index


def _bm25_raw(store, index: SearchIndex, query: str, limit: int = 200) -> np.ndarray:
    out = np.zeros(len(index.cards), dtype=np.float32)
    for path, score in store.fts_search(query, limit=limit):
        i = index.pos.get(path)
        if i is not None and score > 0:
            out[i] = score
    return out


_QUERY_CACHE: dict[str, np.ndarray] = {}
_ENCODE_LOCK = threading.Lock()


def _encode(texts: list[str]) -> np.ndarray:
    """Embed a few short texts with one torch thread: for ~10 tokens a thread pool only adds
    synchronisation, and on a busy 2-core machine it made encoding 10x slower (2 s vs 0.16 s)."""
    from catalog.embeddings import get_embedder

    embedder = get_embedder()
    import torch  # already loaded by the embedder

    with _ENCODE_LOCK:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embedder.encode(texts)
        finally:
            torch.set_num_threads(threads)


def encode_query(query: str) -> np.ndarray:
    """The query's unit vector, cached (a bench or a user often repeats one)."""
    cached = _QUERY_CACHE.get(query)
    if cached is not None:
        return cached
    vector = _encode([query])[0]
    if len(_QUERY_CACHE) > 256:
        _QUERY_CACHE.clear()
    _QUERY_CACHE[query] = vector
    return vector


_WORD_CACHE: dict[str, np.ndarray] = {}


def encode_words(words: list[str]) -> np.ndarray:
    """Unit vectors of single words (checkin/subjects.py compares words by meaning), cached per word."""
    todo = [w for w in dict.fromkeys(words) if w not in _WORD_CACHE]
    if todo:
        vectors = _encode(todo)
        if len(_WORD_CACHE) > 20_000:
            _WORD_CACHE.clear()
        _WORD_CACHE.update(zip(todo, vectors))
    return np.array([_WORD_CACHE[w] for w in words], dtype=np.float32).reshape(len(words), -1)


def _dense_scores(index: SearchIndex, query: str) -> np.ndarray:
    if not index.matrix.size or not query.strip():
        return np.zeros(len(index.cards), dtype=np.float32)
    q = encode_query(query)
    if q.shape[0] != index.matrix.shape[1]:
        raise ValueError(f"query embedding width {q.shape[0]} != stored width {index.matrix.shape[1]}: re-index the catalog")
    return np.clip(index.matrix @ q, 0.0, 1.0)


def negation_mask(index: SearchIndex, intent: Intent) -> np.ndarray:
    """True for cards a negated phrase names ("not the puppet" -> every card whose name says puppet)."""
    mask = np.zeros(len(index.cards), dtype=bool)
    for words in intent.negations:
        hits = np.zeros(len(index.cards), dtype=np.int32)
        for w in words:
            named = index.similar_identity_words(w)
            if named:
                cards = np.unique(np.concatenate([index.identity_postings[v] for v in named]))
                hits[cards] += 1
        one = (hits > 0) & (hits * 2 >= len(words))
        if one.sum() * 2 <= len(index.cards):  # a word most cards share names no particular card
            mask |= one
    return mask


def fuse(signals: dict, method: str = "hybrid", weights: dict | None = None) -> np.ndarray:
    """One score per card from the signals (pure; the bench and tests call it directly).

    hybrid = dense + w_bm25 * bm25 + w_trigger * trigger hit + w_name * name hit * gate, where the
    gate (dense / GATE, capped at 1) keeps a common word in a name ("portrait", "glass") from
    pulling in a card the meaning of the request does not support.
    """
    w = {**WEIGHTS, **(weights or {})}
    if method == "bm25":
        return signals["bm25"].copy()
    if method == "dense":
        return signals["dense"].copy()
    bm25 = signals["bm25_raw"] / (signals["bm25_raw"] + w["bm25_half"])
    gate = np.minimum(1.0, signals["dense"] / w["gate"])
    return (signals["dense"] + w["bm25"] * bm25 + w["trigger"] * signals["trigger"]
            + (w["name"] * signals["name"] + w["tag"] * signals["tag"]) * gate).astype(np.float32)


def score_cards(store, intent: Intent, method: str = "hybrid") -> tuple[SearchIndex, np.ndarray, dict]:
    """Scores for every card under `method`, with the per-signal arrays."""
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; expected one of {METHODS}")
    index = get_index(store)
    n = len(index.cards)
    zero = np.zeros(n, dtype=np.float32)
    query = intent.query
    bm25_raw = _bm25_raw(store, index, query) if method in ("bm25", "hybrid") else zero
    if intent.self_reference and method != "bm25":
        query = query + " (a self portrait of me)"
    dense = _dense_scores(index, query) if method in ("dense", "hybrid") else zero
    trigger, name = index.lexical(intent.query) if method == "hybrid" else (zero, zero)
    tag = index.tag_hits(intent.query) if method == "hybrid" else zero
    # the library's typical cosine to this request: a long, chatty request is a little close to every
    # card, so "how far above the library" transfers between writers where the raw cosine does not
    floor = np.full(n, float(np.median(dense)) if n else 0.0, dtype=np.float32)
    signals = {"bm25_raw": bm25_raw, "bm25": bm25_raw / (bm25_raw + BM25_HALF), "dense": dense,
               "dense_floor": floor, "trigger": trigger, "name": name, "tag": tag}
    return index, fuse(signals, method), signals


def rank(index: SearchIndex, score: np.ndarray, signals: dict, intent: Intent, k: int = 10) -> list[Candidate]:
    """Top-k candidates after the intent's filters: negated cards out, base-model words narrow; then the
    best few (SUBJECT_MATES) of the cards whose subject the request names, wherever they rank: Check-in
    must see every cat when the request says "an orange cat", even one whose words never say cat."""
    if not index.cards:
        return []
    keep = ~negation_mask(index, intent)
    if intent.base_model:
        base = np.array([c.base_model == intent.base_model for c in index.cards])
        if (keep & base & (score > 0)).any():
            keep &= base
    score = np.where(keep, score, -np.inf)
    k = min(k, int(np.isfinite(score).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-score, k - 1)[:k] if k < len(score) else np.arange(len(score))
    top = top[np.argsort(-score[top], kind="stable")]
    mates = index.cards_of_named_subjects(intent.words)
    if mates.size:
        mates = mates[np.isfinite(score[mates]) & ~np.isin(mates, top)]
        top = np.concatenate([top, mates[np.argsort(-score[mates], kind="stable")][:SUBJECT_MATES]])
    return [
        Candidate(index.cards[i], float(score[i]), {name: float(arr[i]) for name, arr in signals.items()})
        for i in top
    ]


def search(store, request: str, intent: Intent | None = None, method: str = "hybrid", k: int = 10) -> list[Candidate]:
    """Top-k cards for a request, best first; negated cards are left out, base-model words narrow."""
    intent = intent or read_intent(request)
    index, score, signals = score_cards(store, intent, method)
    return rank(index, score, signals, intent, k)
