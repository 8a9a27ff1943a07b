"""After a question: the user's answer (a click, an ordinal, a name or free words) resolves it."""
from __future__ import annotations

import re

import numpy as np

from catalog.card import Card
from checkin.decide import check_in
from checkin.intent import read_intent
from checkin.result import CheckinResult
from checkin.search import negation_mask, score_cards

# how far the best option's retrieval score must lead the next one for free words to pick it (the fused
# score's scale: a name or trigger hit adds ~0.5, a clearly closer description ~0.1-0.2)
ANSWER_MARGIN = 0.1


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
        pick = _match_answer(answer, result.options, store)
    out = CheckinResult(request=result.request, status="none", method=result.method, candidates=result.candidates,
                        today=result.today, llm_used=False)
    if pick is None:  # the answer names none of the options: treat it as a new, more precise request
        redo = check_in(f"{result.request}, {answer}", store, use_llm=False, today=result.today,
                        method=result.method.replace("+llm", ""))
        redo.request = result.request
        if redo.status == "selected":
            return redo.select(redo.card, intent)
        return redo
    return out.select(pick, intent)


def _match_answer(answer: str, options: list[Card], store) -> Card | None:
    """Free text ("the cat", "Clementine", "the second one", "not the cartoon one") -> the option it points
    at, if one stands out: an ordinal, or the options scored by the same retrieval a request gets."""
    low = answer.lower()
    ordinals = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "last": -1}
    for word, i in ordinals.items():
        if re.search(rf"\b{word}\b", low) and -len(options) <= i < len(options):
            return options[i]
    intent = read_intent(answer)
    index, score, _ = score_cards(store, intent)
    excluded = negation_mask(index, intent)
    scores = []
    for card in options:
        i = index.pos.get(card.path)
        scores.append(-np.inf if i is None or excluded[i] else float(score[i]))
    if intent.negations and sum(np.isfinite(scores)) == 1:  # "not the cartoon one": the one left
        return options[int(np.argmax(scores))]
    ranked = sorted(scores, reverse=True)
    if np.isfinite(ranked[0]) and (len(ranked) == 1 or ranked[0] - ranked[1] >= ANSWER_MARGIN):
        return options[int(np.argmax(scores))]
    return None
