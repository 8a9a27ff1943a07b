"""The local LLM's part in Check-in, all optional: restating requests the embedder cannot read, judging
close calls (off: it did not earn its place), wording the question. Every step has a time budget; when the
model is missing, slow or fails, the retrieval decision stands and the result's note says so."""
from __future__ import annotations

import logging

from catalog.card import Card
from checkin.concepts import Concept
from checkin.intent import Intent, read_intent
from checkin.language import looks_english
from checkin.result import CheckinResult
from checkin.search import TOP_K, Candidate, search

log = logging.getLogger(__name__)

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


def llm_or_note(llm_model: str | None):
    """The loaded LLM, or (None, a note saying why Check-in runs on retrieval alone)."""
    try:
        from local_llm.runtime import get_llm

        return get_llm(llm_model), None
    except Exception as exc:  # any failure to get the model means retrieval-only, never a crash
        log.warning("local LLM unavailable, using retrieval only: %s", exc)
        return None, f"local LLM unavailable ({exc}); decided by retrieval only"


def needs_restating(request: str) -> bool:
    """Should the LLM restate the request before retrieval trusts it? Only when it is not English: the
    embedder reads English alone. Restating every "nothing fits" too changed almost nothing on another
    writer's requests (issue #27: same figures, p95 7.6-10 s) while "nothing fits" is now judged by
    meaning, so an English request never waits for the LLM."""
    return not looks_english(request)


def model_reads_languages(llm_model: str | None) -> bool:
    """Does the model Check-in would load restate well enough? (Unknown or unloadable: let loading say.)"""
    try:
        from local_llm.models import reads_languages, resolve_model_path

        return reads_languages(resolve_model_path(llm_model))
    except Exception:
        return True


def restated_search(llm, store, request: str, intent: Intent, method: str, candidates: list[Candidate],
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


def rerank_close_calls(llm, intent: Intent, concepts: list[Concept], status: str, chosen: list[Concept],
                result: CheckinResult) -> tuple[str, list[Concept]]:
    """Let the LLM judge the close calls: each option is scored on its own (no position bias)."""
    if status != "clarify":
        return status, chosen
    try:
        from local_llm.rerank import judge_fit

        fits = judge_fit(llm, intent.request, [card_facts(c.chosen) for c in chosen], timeout_s=LLM_STEP_TIMEOUT_S)
        result.llm_used = True
    except Exception as exc:
        log.warning("LLM rerank failed, keeping the retrieval decision: %s", exc)
        result.note = f"LLM rerank failed ({exc}); decided by retrieval only"
        return status, chosen
    kept = [c for c, ok in zip(chosen, fits) if ok]
    if len(kept) == 1:
        return "selected", kept
    return status, chosen


def llm_question(llm, request: str, result: CheckinResult) -> None:
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


def card_facts(card: Card) -> dict:
    """What the LLM sees about a card: user-facing facts only, never paths or ids."""
    return {"name": card.name, "trigger": card.canonical_trigger, "description": card.description,
            "tags": list(card.tags)[:8], "version": card.version, "created": (card.created or "")[:10],
            "base_model": card.base_model, "kind": card.kind}
