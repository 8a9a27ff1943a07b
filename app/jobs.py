"""What a long action receives from whoever started it: progress reporting and a cancel flag.

The window hands each worker a subclass whose `progress` emits a Qt signal; the CLI uses this
plain one with an optional callback. Actions call `check()` between steps.
"""
from __future__ import annotations

import threading
from typing import Any, Callable


class Cancelled(Exception):
    """Raised inside an action when the user asked it to stop."""


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

    def progress(self, payload: Any) -> None:
        if self._on_progress is not None:
            self._on_progress(payload)
