"""What a long action receives from whoever started it: progress reporting and a cancel flag.

The window hands each worker a subclass whose `progress` emits a Qt signal; the CLI uses this
plain one with an optional callback. Actions call `check()` between steps.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable


class Cancelled(Exception):
    """Raised inside an action when the user asked it to stop."""


# What an action reports through `ctx.progress`: one small frozen dataclass per kind of event.
@dataclass(frozen=True)
class _Text:
    text: str


class Stage(_Text):
    """A new phase began ("Loading …", "Generating…", a quantize step)."""


class Notice(_Text):
    """Something the user should read but that did not stop the action (a full cache: not kept)."""


@dataclass(frozen=True)
class Step:
    """A denoising step finished; `preview` is what the caller's preview function made of the image."""

    step: int
    total: int
    preview: Any = None


@dataclass(frozen=True)
class Counted:
    """`done` of `total` items of a phase (index: scan, index, hash, embed, gloss)."""

    phase: str
    done: int
    total: int


class JobContext:
    def __init__(self, on_progress: Callable[[Any], None] | None = None):
        self._on_progress = on_progress
        self.cancel_event = threading.Event()
        self.last_step = 0  # written by step-wise work, so a cancel can be measured in steps

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise Cancelled when Cancel was pressed; call it between steps."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, payload: Stage | Step | Notice | Counted) -> None:
        if self._on_progress is not None:
            self._on_progress(payload)
