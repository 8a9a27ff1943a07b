"""What Check-in decided, and the `personalq select --json` contract it prints as."""
from __future__ import annotations

from dataclasses import dataclass, field

from catalog.card import Card
from checkin.intent import Intent
from checkin.options import display_names
from checkin.rewrite import rewrite_prompt


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
    suggestions: list[Card] = field(default_factory=list)  # "none": the closest cards, offered, never picked
    extras: list[Card] = field(default_factory=list)  # add-ons the request also names (a style on the subject)
    extra_triggers: list[str | None] = field(default_factory=list)
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
            "extras": [{"path": c.path, "name": c.name, "trigger": t, "kind": c.kind, "base_model": c.base_model}
                       for c, t in zip(self.extras, self.extra_triggers)],
            "suggestions": [{"path": c.path, "name": n} for c, n in zip(self.suggestions, display_names(self.suggestions))],
            "candidates": [{"path": p, "score": round(float(s), 4)} for p, s in self.candidates],
            "method": self.method,
            "restated": self.restated,
            "llm_used": self.llm_used,
            "note": self.note,
        }

    def select(self, card: Card, intent: Intent) -> "CheckinResult":
        """Make this a "selected" result for `card`, with the request rewritten around its trigger."""
        rewrite = rewrite_prompt(intent.request, card, intent)
        self.status = "selected"
        self.card = card
        self.prompt = rewrite.prompt
        self.trigger = rewrite.trigger
        self.trigger_span = rewrite.span
        return self

    def add_extras(self, cards: list[Card]) -> "CheckinResult":
        """Put add-ons on a selected result: each one's trigger goes where the request names it."""
        for card in cards:
            rewrite = rewrite_prompt(self.prompt or self.request, card)
            self.prompt = rewrite.prompt
            self.extras.append(card)
            self.extra_triggers.append(rewrite.trigger)
        if cards and self.trigger and self.prompt:  # insertions moved the subject's trigger
            at = self.prompt.find(self.trigger)
            self.trigger_span = (at, at + len(self.trigger)) if at >= 0 else None
        return self
