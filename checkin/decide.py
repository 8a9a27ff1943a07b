"""Check-in: turn a request into one checkpoint and a rewritten prompt, one short question, or "none".

The pipeline, one module per step, in the order a request travels:
  checkin/intent.py      read the request: words, negations, version/time/base-model cues
  checkin/search.py      retrieve and score cards (hybrid: BM25 + dense + name/trigger hits)
  checkin/concepts.py    group cards into concepts (versions, variants, copies) and pick each one's version
  checkin/features.py    describe each concept next to the request and the library (by words and meaning)
  checkin/decision.py    the fitted model: a probability per concept, then select / clarify / none
  checkin/llm_stage.py   the local LLM, only where the decision needs it (restating), within a time budget
  checkin/options.py     what a question offers, and its wording
  checkin/rewrite.py     the prompt with the chosen card's trigger (CheckinResult.select)
After a question, checkin/answer.py resolves the user's answer. This module only joins the steps.
"""
from __future__ import annotations

import time
from datetime import date

import numpy as np

from checkin.composition import compose, missing_style_note
from checkin.concepts import Concept, candidate_concepts
from checkin.decision import DecisionModel, choose, load_model
from checkin.features import MAX_CONCEPTS, WordStats, concept_features, word_stats
from checkin.intent import Intent, read_intent
from checkin.llm_stage import (
    LLM_RERANK,
    llm_or_note,
    llm_question,
    model_reads_languages,
    needs_restating,
    rerank_close_calls,
    restated_search,
)
from checkin.options import clarify_options, display_names, template_question
from checkin.result import CheckinResult
from checkin.search import TOP_K, encode_words, get_index, search

MAX_SUGGESTIONS = 3  # closest cards a "nothing fits" answer offers
DEFAULT_METHOD = "hybrid"


def decide(concepts: list[Concept], intent: Intent, extra_words: list[str] | None = None,
           model: DecisionModel | None = None, stats: WordStats | None = None,
           library=None) -> tuple[str, list[Concept], np.ndarray]:
    """selected / clarify / none from the fitted per-concept probabilities (checkin/decision.py):
    returns the status, the concepts kept (best first) and every scored concept's probability."""
    model = model or load_model()
    scored = concepts[:MAX_CONCEPTS]
    x = concept_features(scored, intent, encode_words, extra_words, stats, library)
    p = model.probabilities(x)
    status, kept = choose(p, model.thresholds, model.status, x)
    return status, [scored[i] for i in kept], p


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
    library = get_index(store)
    stats = word_stats(library)
    status, chosen, p = decide(concepts, intent, stats=stats, library=library)
    if use_llm and method != "bm25" and needs_restating(request) and model_reads_languages(llm_model):
        llm, result.note = llm_or_note(llm_model)
        if llm is not None:
            candidates = restated_search(llm, store, request, intent, method, candidates, result)
            if result.restated:
                concepts = candidate_concepts(candidates, intent)
                extra = read_intent(result.restated, intent.today).words
                status, chosen, p = decide(concepts, intent, extra_words=extra, stats=stats, library=library)
    status, chosen, extras = compose(status, chosen, concepts[:MAX_CONCEPTS], p, intent, library, encode_words)
    if use_llm and (rerank or result.restated):  # the LLM took part in the decision, not just the wording
        result.method = method + "+llm"
    result.candidates = [(c.card.path, c.score) for c in candidates]
    if use_llm and llm is None and status == "clarify":  # the LLM only acts on close calls: loading it costs seconds
        llm, result.note = llm_or_note(llm_model)
    if llm is not None and rerank:
        status, chosen = rerank_close_calls(llm, intent, concepts, status, chosen, result)
    if status == "selected":
        # a restated request (another language) generates with the English words the LLM read it as
        result.select(chosen[0].chosen, read_intent(result.restated, intent.today) if result.restated else intent)
        result.add_extras([c.chosen for c in extras])
        result.note = missing_style_note(intent, result.card, extras, library, encode_words) or result.note
    elif status == "clarify":
        result.status = "clarify"
        result.options = clarify_options(chosen, intent)
        result.option_names = display_names(result.options)
        result.question = template_question(result.option_names)
        if llm is not None:
            llm_question(llm, request, result)
    else:
        result.suggestions = [c.chosen for c in concepts[:MAX_SUGGESTIONS]]
    result.seconds = time.perf_counter() - started
    return result
