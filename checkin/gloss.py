"""Glossing: the local LLM reads each card once. For a card whose own words the English embedder cannot
read (a description in Chinese or Spanish) it writes one plain-English line, so retrieval can find it
by plain words; for every card it names the everyday kind of thing it shows (`card.subject`: "cat" for
a Maine Coon), which Check-in uses to see that a request naming only that kind fits several cards.

Runs after indexing, in the background (seconds per card on a laptop CPU); each gloss is stored
with the hash of the facts it read (`card.gloss_source`) and the model that wrote it, so only new,
changed or differently-glossed cards cost time. Cards are re-embedded with their gloss afterwards.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from catalog.card import Card, gloss_source
from checkin.language import looks_english

log = logging.getLogger(__name__)

GLOSS_TIMEOUT_S = 30.0  # per card; a card the model cannot answer in time is skipped, not retried forever


def card_facts(card: Card) -> dict:
    """What the LLM reads about a card: user-facing words only, never paths or ids."""
    return {"name": card.name, "description": card.description, "tags": list(card.tags)}


def needs_gloss(card: Card) -> bool:
    """Cards whose name and description are not English. Only those are glossed: glossing every card
    moved the dense scores of plain English cards too and cost Check-in more than it gained
    (intent-dev overall 0.867 -> 0.828 with Qwen2.5-Coder-1.5B)."""
    text = f"{card.name}. {card.description}".strip(". ")
    return bool(card.description) and not looks_english(text)


def cards_to_gloss(store, model: str) -> list[Card]:
    """Searchable, non-duplicate cards without a gloss of their current facts by `model`."""
    have = store.gloss_models()
    todo = []
    for card in store.cards(include_errors=False):
        if card.duplicate_of or card.kind in ("vae", "unknown"):
            continue
        if have.get(card.path) != (gloss_source(card), model):
            todo.append(card)
    return todo


def gloss_cards(store, llm, progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None, embed: bool = True,
                timeout_s: float | None = GLOSS_TIMEOUT_S) -> dict:
    """Read every card that needs it (a gloss for those not in English, a subject for all), then
    re-embed the glossed ones; returns counts and seconds.

    A card the model fails on keeps its old gloss (or none) and is reported, never fatal.
    """
    from local_llm.reading import gloss_card, name_subject

    started = time.perf_counter()
    model = llm.path.name
    todo = cards_to_gloss(store, model)
    glossed, subjects, failed = 0, 0, []
    if progress:
        progress(0, len(todo))
    for i, card in enumerate(todo, 1):
        if should_stop and should_stop():
            break
        try:
            if needs_gloss(card):
                subject, text = gloss_card(llm, card_facts(card), timeout_s=timeout_s)
            else:
                subject, text = name_subject(llm, card_facts(card), timeout_s=timeout_s), ""
        except Exception as exc:  # one card's failure must not stop the others
            log.warning("gloss failed for %s: %s", card.path, exc)
            failed.append(card.path)
            continue
        if (text or subject) and store.put_gloss(card.path, gloss_source(card), model, text, subject):
            glossed += bool(text)
            subjects += bool(subject)
        if progress:
            progress(i, len(todo))
    embedded = store.refresh_embeddings() if (embed and glossed) else 0
    return {"glossed": glossed, "subjects": subjects, "failed": failed, "embedded": embedded, "model": model,
            "seconds": round(time.perf_counter() - started, 2)}


def gloss_library(store, llm_model: str | None = None, progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> dict:
    """Gloss with the configured model when it reads other languages well enough (else skip, unloaded).
    The same bar holds for subjects: on intent-dev the bundled Qwen2.5-Coder-0.5B named 11 of 54 cards
    'person' (a parrot, a rubber duck, a Maine Coon) and 9 'painting style'; the 1.5B named them well."""
    from local_llm.models import reads_languages, resolve_model_path
    from local_llm.runtime import get_llm

    path = resolve_model_path(llm_model)
    if not reads_languages(path):
        return {"glossed": 0, "subjects": 0, "failed": [], "embedded": 0, "model": path.name, "seconds": 0.0,
                "skipped": f"{path.name} does not read other languages well enough to gloss"}
    return gloss_cards(store, get_llm(path), progress=progress, should_stop=should_stop)
