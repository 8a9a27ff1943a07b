"""Check-in: turn a request into one checkpoint and a rewritten prompt, one short question, or "none".

Steps: read the intent; retrieve and score cards (hybrid by default); group the top cards into
concepts (versions, base-model variants and copies of one subject are one concept: they share a
trigger and a name word, or the bytes); pick the version the request names (or the newest); then
decide with the fitted model (checkin/features.py -> checkin/decision.py, weights fitted by
scripts/fit_checkin.py on the generated corpus): a probability per concept, then select / clarify /
none. The local LLM is optional: it restates requests not in English (or that nothing fits) and words
the clarification question. When it is missing or fails, the same decision is made from retrieval
alone and the result says so.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from catalog.card import BASE_MODEL_LABELS, Card, display_name
from checkin.decision import DecisionModel, choose, load_model
from checkin.features import MAX_CONCEPTS, WordStats, concept_features, word_stats
from checkin.intent import Intent, read_intent
from checkin.language import looks_english
from checkin.rewrite import Rewrite, rewrite_prompt
from checkin.search import Candidate, encode_words, get_index, search
from checkin.words import NOISE_WORD, file_stem, split_words

log = logging.getLogger(__name__)

MAX_CARD_OPTIONS = 6  # files in one question (a concept can offer one per base model)
TOP_K = 24  # cards retrieved before grouping: a concept with many versions must not crowd out the others
DEFAULT_METHOD = "hybrid"
# Whether the LLM judges close calls (a retrieval "clarify" becomes "selected" when exactly one option
# gets a yes). Off: it does not earn its place. bench/checkin.py on intent-dev: hybrid+llm 0.844 overall
# vs hybrid 0.859, p95 3.4 s on a quiet machine (21 s under load) vs 0.1 s. The yes/no log-odds of the bundled
# Qwen2.5-Coder-0.5B stay within -0.3..+0.1 whether a card fits or not; Qwen2.5-Coder-1.5B ranks the
# fitting card first in each pair but its values overlap (-0.25..+1.19 unrelated, +0.76..+1.60 fitting)
# at 3 s per card. The LLM still words the question.
LLM_RERANK = False
# Wall-time budget of each LLM step (judging the options, wording the question). On a quiet 2-core
# laptop each takes ~1-3 s; under heavy load they took 40-125 s, so past the budget Check-in keeps the
# retrieval decision / the template question and says so in the note.
LLM_STEP_TIMEOUT_S = 10.0


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


@dataclass
class CheckinResult:
    """What Check-in decided; `to_json()` is the `personalq select --json` contract."""

    request: str
    status: str  # selected | clarify | none
    card: Card | None = None
    prompt: str | None = None
    trigger: str | None = None
    trigger_span: tuple[int, int] | None = None  # prompt[start:end] is the trigger
    question: str | None = None
    options: list[Card] = field(default_factory=list)
    option_names: list[str] = field(default_factory=list)
    candidates: list[tuple[str, float]] = field(default_factory=list)
    method: str = "hybrid"
    restated: str | None = None  # the request as the LLM restated it for retrieval, when it did
    llm_used: bool = False
    note: str | None = None
    seconds: float = 0.0
    today: str | None = None

    def to_json(self) -> dict:
        checkpoint = None
        if self.card is not None:
            checkpoint = {"path": self.card.path, "name": self.card.name, "trigger": self.trigger,
                          "kind": self.card.kind, "base_model": self.card.base_model}
        names = self.option_names or [c.name for c in self.options]
        return {
            "status": self.status,
            "checkpoint": checkpoint,
            "prompt": self.prompt,
            "question": self.question,
            "options": [{"path": c.path, "name": n} for c, n in zip(self.options, names)],
            "candidates": [{"path": p, "score": round(float(s), 4)} for p, s in self.candidates],
            "method": self.method,
            "restated": self.restated,
            "llm_used": self.llm_used,
            "note": self.note,
        }


# ---------------------------------------------------------------------------------------------
# concepts and versions (pure)

def name_key(card: Card) -> set[str]:
    """Name words without version, date, base-model and file plumbing: 'Ziggy XL v6' -> {'ziggy'}."""
    words = split_words(card.name) + split_words(file_stem(card.path))
    months = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
    return {w for w in words if len(w) >= 3 and not NOISE_WORD.match(w) and w not in months
            and not re.fullmatch(r"(?:spring|summer|fall|autumn|winter)\d*|\d+\w*", w)}


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


# ---------------------------------------------------------------------------------------------
# decision

def candidate_concepts(candidates: list[Candidate], intent: Intent) -> list[Concept]:
    """Group retrieved cards into concepts and pick each one's version; a concept whose named version,
    time or base model does not exist does not fit ("Ziggy v11") and is left out."""
    concepts = group_concepts(candidates)
    for concept in concepts:
        concept.chosen = pick_version([m.card for m in concept.members], intent)
    return [c for c in concepts if c.chosen is not None]


def display_names(cards: list[Card]) -> list[str]:
    """Names to show for options; equal names get their version/base model added so they differ."""
    names = [display_name(c, with_version=False) for c in cards]
    for i, card in enumerate(cards):
        if names.count(names[i]) > 1:
            extra = card.version or BASE_MODEL_LABELS.get(card.base_model, "")
            names[i] = f"{names[i]} ({extra})" if extra else names[i]
    return names


def template_question(names: list[str]) -> str:
    if len(names) == 2:
        return f"Which one do you mean: {names[0]} or {names[1]}?"
    return "Which one do you mean: " + ", ".join(names[:-1]) + f", or {names[-1]}?"


def decide(concepts: list[Concept], intent: Intent, extra_words: list[str] | None = None,
           model: DecisionModel | None = None, stats: WordStats | None = None) -> tuple[str, list[Concept], np.ndarray]:
    """selected / clarify / none from the fitted per-concept probabilities (checkin/decision.py):
    returns the status, the concepts kept (best first) and every scored concept's probability."""
    model = model or load_model()
    scored = concepts[:MAX_CONCEPTS]
    x = concept_features(scored, intent, encode_words, extra_words, stats)
    p = model.probabilities(x)
    status, kept = choose(p, model.thresholds, model.status, x)
    return status, [scored[i] for i in kept], p


def concept_variants(concept: Concept, intent: Intent) -> list[Card]:
    """The cards a question offers for one concept: the version the intent picks, and, when the request
    does not name a base model, the same pick for each other base model the concept was trained for
    (an SD 1.5 and an SDXL LoRA of one subject are different checkpoints to the user)."""
    cards = [concept.chosen] if concept.chosen is not None else []
    if intent.base_model or not cards:
        return cards
    for base in sorted({m.card.base_model for m in concept.members} - {concept.chosen.base_model, None, "unknown"}):
        variant = pick_version([m.card for m in concept.members if m.card.base_model == base], intent)
        if variant is not None:
            cards.append(variant)
    return cards


def clarify_options(concepts: list[Concept], intent: Intent) -> list[Card]:
    """Options of a question: every close concept's variants, best concept first, at most MAX_CARD_OPTIONS."""
    options: list[Card] = []
    for concept in concepts:
        options += [c for c in concept_variants(concept, intent) if c.path not in {o.path for o in options}]
    return options[:MAX_CARD_OPTIONS]


def _finish_selected(result: CheckinResult, card: Card, intent: Intent) -> CheckinResult:
    rewrite: Rewrite = rewrite_prompt(intent.request, card, intent)
    result.status = "selected"
    result.card = card
    result.prompt = rewrite.prompt
    result.trigger = rewrite.trigger
    result.trigger_span = rewrite.span
    return result


def check_in(request: str, store, use_llm: bool = True, today: date | str | None = None,
             method: str = DEFAULT_METHOD, llm_model: str | None = None, llm_rerank: bool | None = None) -> CheckinResult:
    """Pick the checkpoint a request means (selected), ask one question (clarify), or say none fits.

    use_llm: let the local LLM word the clarification question (and, with llm_rerank, judge close
    calls); when it cannot be loaded the result is the retrieval-only one with a note saying so.
    """
    started = time.perf_counter()
    if not isinstance(request, str) or not request.strip():
        raise ValueError("request must be a non-empty string")
    intent = read_intent(request, today)
    candidates = search(store, request, intent=intent, method=method, k=TOP_K)
    rerank = LLM_RERANK if llm_rerank is None else llm_rerank
    result = CheckinResult(request=request, status="none", method=method, today=intent.today.isoformat())
    llm = None
    concepts = candidate_concepts(candidates, intent)
    stats = word_stats(get_index(store))
    status, chosen, _ = decide(concepts, intent, stats=stats)
    if use_llm and method != "bm25" and needs_restating(request, status) and _reads_languages(llm_model):
        llm, result.note = _llm_or_note(llm_model)
        if llm is not None:
            candidates = _restated_search(llm, store, request, intent, method, candidates, result)
            if result.restated:
                concepts = candidate_concepts(candidates, intent)
                extra = read_intent(result.restated, intent.today).words
                status, chosen, _ = decide(concepts, intent, extra_words=extra, stats=stats)
    if use_llm and (rerank or result.restated):  # the LLM took part in the decision, not just the wording
        result.method = method + "+llm"
    result.candidates = [(c.card.path, c.score) for c in candidates]
    if use_llm and llm is None and status == "clarify":  # the LLM only acts on close calls: loading it costs seconds
        llm, result.note = _llm_or_note(llm_model)
    if llm is not None and rerank:
        status, chosen = _llm_rerank(llm, intent, concepts, status, chosen, result)
    if status == "selected":
        _finish_selected(result, chosen[0].chosen, intent)
    elif status == "clarify":
        result.status = "clarify"
        result.options = clarify_options(chosen, intent)
        result.option_names = display_names(result.options)
        result.question = template_question(result.option_names)
        if llm is not None:
            _llm_question(llm, request, result)
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------------
# LLM stage (optional)

def _llm_or_note(llm_model: str | None):
    """The loaded LLM, or (None, a note saying why Check-in runs on retrieval alone)."""
    try:
        from local_llm.runtime import get_llm

        return get_llm(llm_model), None
    except Exception as exc:  # any failure to get the model means retrieval-only, never a crash
        log.warning("local LLM unavailable, using retrieval only: %s", exc)
        return None, f"local LLM unavailable ({exc}); decided by retrieval only"


def needs_restating(request: str, status: str) -> bool:
    """Should the LLM restate the request before retrieval trusts it? When it is not English (the
    embedder reads English only) or the fitted decision finds nothing that fits ("my doggo", "my pup").
    Most requests are neither, so most Check-ins never wait for the LLM."""
    return status == "none" or not looks_english(request)


def _reads_languages(llm_model: str | None) -> bool:
    """Does the model Check-in would load restate well enough? (Unknown or unloadable: let loading say.)"""
    try:
        from local_llm.models import reads_languages, resolve_model_path

        return reads_languages(resolve_model_path(llm_model))
    except Exception:
        return True


def _restated_search(llm, store, request: str, intent: Intent, method: str, candidates: list[Candidate],
                     result: CheckinResult) -> list[Candidate]:
    """Search again with the LLM's plain-English restatement; each card keeps its better score."""
    try:
        from local_llm.reading import restate_request

        restated = restate_request(llm, request, timeout_s=LLM_STEP_TIMEOUT_S)
        result.llm_used = True
    except Exception as exc:
        log.warning("LLM restatement failed, searching the request as written: %s", exc)
        result.note = f"LLM restatement failed ({exc}); searched the request as written"
        return candidates
    if not restated or restated.casefold() == request.casefold():
        return candidates
    result.restated = restated
    again = read_intent(restated, intent.today)
    return merge_candidates(candidates, search(store, restated, intent=again, method=method, k=TOP_K))


def merge_candidates(first: list[Candidate], second: list[Candidate], k: int = TOP_K) -> list[Candidate]:
    """Union of two rankings of the same cards: each card's better-scored entry, best first (at least k,
    and as many as the longer ranking, which can hold cards of a named subject beyond its top k)."""
    best: dict[str, Candidate] = {}
    for cand in first + second:
        if cand.card.path not in best or cand.score > best[cand.card.path].score:
            best[cand.card.path] = cand
    return sorted(best.values(), key=lambda c: -c.score)[:max(k, len(first), len(second))]


def _llm_rerank(llm, intent: Intent, concepts: list[Concept], status: str, chosen: list[Concept],
                result: CheckinResult) -> tuple[str, list[Concept]]:
    """Let the LLM judge the close calls: each option is scored on its own (no position bias)."""
    if status != "clarify":
        return status, chosen
    try:
        from local_llm.rerank import judge_fit

        fits = judge_fit(llm, intent.request, [_card_facts(c.chosen) for c in chosen], timeout_s=LLM_STEP_TIMEOUT_S)
        result.llm_used = True
    except Exception as exc:
        log.warning("LLM rerank failed, keeping the retrieval decision: %s", exc)
        result.note = f"LLM rerank failed ({exc}); decided by retrieval only"
        return status, chosen
    kept = [c for c, ok in zip(chosen, fits) if ok]
    if len(kept) == 1:
        return "selected", kept
    return status, chosen


def _llm_question(llm, request: str, result: CheckinResult) -> None:
    try:
        from local_llm.rerank import write_question

        question = write_question(llm, request, result.option_names, timeout_s=LLM_STEP_TIMEOUT_S)
        result.llm_used = True
    except Exception as exc:
        log.warning("LLM question failed, using the template: %s", exc)
        if not result.note:
            result.note = f"LLM question failed ({exc}); template question used"
        return
    if question:
        result.question = question


def _card_facts(card: Card) -> dict:
    """What the LLM sees about a card: user-facing facts only, never paths or ids."""
    return {"name": card.name, "trigger": card.canonical_trigger, "description": card.description,
            "tags": list(card.tags)[:8], "version": card.version, "created": (card.created or "")[:10],
            "base_model": card.base_model, "kind": card.kind}


# ---------------------------------------------------------------------------------------------
# after a question

def resolve_clarification(result: CheckinResult, answer: str, store) -> CheckinResult:
    """Resolve a clarify result with the user's answer: an option (index, path or name) or free text."""
    if result.status != "clarify" or not result.options:
        raise ValueError("resolve_clarification needs a result with status 'clarify' and options")
    answer = (answer or "").strip()
    if not answer:
        raise ValueError("empty answer to the clarification question")
    intent = read_intent(result.request, result.today)
    names = result.option_names or [c.name for c in result.options]
    pick = None
    if answer.isdigit() and 1 <= int(answer) <= len(result.options):
        pick = result.options[int(answer) - 1]
    for card, name in zip(result.options, names):
        if pick is None and answer in (card.path, name, card.name):
            pick = card
    if pick is None:
        pick = _match_answer(answer, result.options, names, store)
    out = CheckinResult(request=result.request, status="none", method=result.method, candidates=result.candidates,
                        today=result.today, llm_used=False)
    if pick is None:  # the answer names none of the options: treat it as a new, more precise request
        redo = check_in(f"{result.request}, {answer}", store, use_llm=False, today=result.today,
                        method=result.method.replace("+llm", ""))
        redo.request = result.request
        if redo.status == "selected":
            return _finish_selected(redo, redo.card, intent)
        return redo
    return _finish_selected(out, pick, intent)


def _match_answer(answer: str, options: list[Card], names: list[str], store) -> Card | None:
    """Free text ("the cat", "Clementine", "the second one") -> the option it points at, if one stands out."""
    low = answer.lower()
    ordinals = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "last": -1}
    for word, i in ordinals.items():
        if re.search(rf"\b{word}\b", low) and -len(options) <= i < len(options):
            return options[i]
    from checkin.search import get_index, negation_mask

    index = get_index(store)
    sub = read_intent(answer)
    trigger_hit, name_hit = index.lexical(answer)
    lexical = np.maximum(trigger_hit, name_hit)
    scores = []
    for card in options:
        i = index.pos.get(card.path)
        s = float(lexical[i]) if i is not None else 0.0
        words = set(sub.words)
        s += 0.2 * len(words & name_key(card)) + 0.1 * len(words & set(split_words(card.description)))
        scores.append(s)
    if sub.negations:
        mask = negation_mask(index, sub)
        scores = [s if not (index.pos.get(c.path) is not None and mask[index.pos[c.path]]) else -1 for c, s in zip(options, scores)]
        if sum(1 for s in scores if s >= 0) == 1:
            return options[next(i for i, s in enumerate(scores) if s >= 0)]
    best = max(range(len(options)), key=lambda i: scores[i])
    ranked = sorted(scores, reverse=True)
    if ranked[0] > 0 and (len(ranked) == 1 or ranked[0] - ranked[1] >= 0.1):
        return options[best]
    return None
