"""What a card is to a picture: the subject, or a style, pose or outfit that goes on top of one.

Read from what the card says about itself (name, tags, the LLM's subject word), so a request's parts can
be matched to concepts of the same role (checkin/composition.py, checkin/features.py).
"""
from __future__ import annotations

from catalog.card import Card
from checkin.words import split_words

ROLES = ("style", "pose", "clothing")  # what goes on top of a subject
_ROLE_WORDS = {
    "style": {"style", "styles", "aesthetic", "artstyle", "look", "frame", "outline", "painting", "drawing", "sketch",
              "illustration", "watercolor", "watercolour", "ink", "lineart", "filter", "render", "medium"},
    "pose": {"pose", "poses", "posing", "stance"},
    "clothing": {"outfit", "outfits", "clothing", "clothes", "costume", "wearing", "dress", "jacket", "uniform"},
}


def role_of(card: Card) -> str:
    """'style', 'pose' or 'clothing' when the card says it is one (its name, tags or subject); else 'subject'."""
    words = set(split_words(" ".join([card.name or "", " ".join(card.tags), card.subject or ""])))
    for role in ROLES:
        if words & _ROLE_WORDS[role]:
            return role
    return "subject"
