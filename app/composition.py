"""Several personalizations in one image: a subject plus styles, checked to fit one base."""
from __future__ import annotations

import re

from app.generation import FAMILY_LABEL, Selection, family_of
from catalog.card import ADDON_KINDS, Card
from common.families import can_share_base


def named_companions(request: str, chosen: Card, cards: list[Card]) -> list[Card]:
    """LoRAs and embeddings besides the chosen card whose trigger the request spells out ("dfr cactus in tvy
    style"): a trigger is the user naming that file, so it joins the image. Words that only describe a style
    ("with a pink frame") are left to Check-in; a card for another base family never joins."""
    text = f" {request.lower()} "
    found = []
    for card in cards:
        if card.path == chosen.path or card.kind not in ADDON_KINDS or card.error or card.is_negative_embedding:
            continue
        if not can_share_base(card.base_model, chosen.base_model):
            continue
        triggers = [t for t in card.triggers if len(t) >= 3]
        if any(re.search(rf"(?<![\w<]){re.escape(t.lower())}(?![\w>])", text) for t in triggers):
            found.append(card)
    chosen_triggers = {t.lower() for t in chosen.triggers}
    return [c for c in found if not chosen_triggers & {t.lower() for t in c.triggers}]


class CannotCompose(ValueError):
    """Two personalizations that cannot run together (another base family, or a full checkpoint as an add-on)."""


def add_extra(selection: Selection, extra: Selection) -> None:
    """Put a LoRA or embedding on top of the selection (a style on a subject), checking that they fit together."""
    if extra.kind not in ADDON_KINDS:
        raise CannotCompose(f"{extra.name} is a full checkpoint: it can be the model, not an add-on")
    if not can_share_base(selection.base_model, extra.base_model):
        raise CannotCompose(f"{extra.name} is for {FAMILY_LABEL[family_of(extra.base_model)]}, "
                            f"{selection.name} for {FAMILY_LABEL[family_of(selection.base_model)]}")
    if extra.path != selection.path and all(e.path != extra.path for e in selection.extras):
        selection.extras.append(extra)
