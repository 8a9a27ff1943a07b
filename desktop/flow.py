"""The request flow as a small state machine, Qt-free: what the Create page may do next.

idle -> checking -> selected | clarify | none
clarify -(answer)-> checking;  none -(use base model)-> selected
selected -(generate)-> generating -> done | cancelled | failed
choose (a checkpoint picked in the library or the history) -> selected, from any state but generating
A failure anywhere lands in `failed` with the message; `reset` goes back to idle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

IDLE = "idle"
CHECKING = "checking"
SELECTED = "selected"
CLARIFY = "clarify"
NONE = "none"
GENERATING = "generating"
DONE = "done"
CANCELLED = "cancelled"
FAILED = "failed"

# state -> events allowed there -> next state (None: decided by the payload)
TRANSITIONS: dict[str, dict[str, str | None]] = {
    IDLE: {"submit": CHECKING},
    CHECKING: {"result": None, "fail": FAILED, "submit": CHECKING},
    SELECTED: {"generate": GENERATING, "submit": CHECKING},
    CLARIFY: {"answer": CHECKING, "submit": CHECKING},
    NONE: {"use_base": SELECTED, "submit": CHECKING},
    GENERATING: {"generated": DONE, "cancelled": CANCELLED, "fail": FAILED},
    DONE: {"generate": GENERATING, "submit": CHECKING},
    CANCELLED: {"generate": GENERATING, "submit": CHECKING},
    FAILED: {"submit": CHECKING, "generate": GENERATING},
}
RESULT_STATES = {"selected": SELECTED, "clarify": CLARIFY, "none": NONE}
# "refine": the local LLM answered after retrieval's decision was shown and changed it
for _state in (SELECTED, CLARIFY, NONE):
    TRANSITIONS[_state]["refine"] = None
# "choose": the user picked a checkpoint directly (library, history re-run); allowed unless generating
for _state, _events in TRANSITIONS.items():
    if _state != GENERATING:
        _events["choose"] = SELECTED


class FlowError(ValueError):
    """An event arrived that the current state does not allow (a UI bug, not a user error)."""


@dataclass
class RequestFlow:
    state: str = IDLE
    request: str = ""
    error: str | None = None
    history: list[str] = field(default_factory=list)

    def can(self, event: str) -> bool:
        return event == "reset" or event in TRANSITIONS.get(self.state, {})

    def fire(self, event: str, payload: str | None = None) -> str:
        """Apply one event; `payload` is the Check-in status for "result", the message for "fail"."""
        if event == "reset":
            return self._go(IDLE)
        allowed = TRANSITIONS.get(self.state, {})
        if event not in allowed:
            raise FlowError(f"event {event!r} not allowed in state {self.state!r}")
        target = allowed[event]
        if event in ("result", "refine"):
            if payload not in RESULT_STATES:
                raise FlowError(f"unknown Check-in status {payload!r}")
            target = RESULT_STATES[payload]
        if event == "fail":
            self.error = payload or "unknown error"
        elif target != FAILED:
            self.error = None
        return self._go(target)

    def _go(self, state: str) -> str:
        self.history.append(state)
        self.state = state
        return state
