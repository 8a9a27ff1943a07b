"""A question's options: the cards each close concept offers, the names shown for them, the template wording."""
from __future__ import annotations

from catalog.card import Card, distinct_names
from checkin.concepts import Concept, pick_version
from checkin.intent import Intent

MAX_CARD_OPTIONS = 6  # files in one question (a concept can offer one per base model)


def display_names(cards: list[Card]) -> list[str]:
    """Names to show for options: names that would read the same get what tells them apart (catalog's rule)."""
    return distinct_names(cards)


def template_question(names: list[str]) -> str:
    if len(names) == 2:
        return f"Which one do you mean: {names[0]} or {names[1]}?"
    return "Which one do you mean: " + ", ".join(names[:-1]) + f", or {names[-1]}?"


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
