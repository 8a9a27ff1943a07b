"""Quantize-on-import: new checkpoints wait in a queue and are quantized one at a time in the background."""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from app.jobs import Stage
from desktop.workers import Worker, WorkerPool

FAILED_SENTENCE = "Could not be quantized; it generates at full precision instead."


class QuantizeQueue(QObject):
    """Runs `fn(ctx, path, spec) -> detail` for each queued path; reports (path, status, detail).

    Status is one of queued, running, ready, failed; a failure carries the reason as detail.
    """

    status_changed = Signal(str, str, str)
    idle = Signal()

    def __init__(self, workers: WorkerPool, fn: Callable[..., Any], parent: QObject | None = None):
        super().__init__(parent)
        self.workers = workers
        self.fn = fn
        self.pending: deque[tuple[str, str]] = deque()
        self.current: Worker | None = None
        self.current_path: str | None = None
        self.status: dict[str, tuple[str, str]] = {}
        self.errors: dict[str, str] = {}  # path -> the full error of its last failure (the "details")
        self.retried: set[str] = set()
        self.paused = False

    def enqueue(self, path: str, spec: str) -> bool:
        """Queue `path` unless it is queued, running or already done for this run; True if queued."""
        state = self.status.get(path, ("", ""))[0]
        if state in ("queued", "running", "ready"):
            return False
        self.pending.append((path, spec))
        self._set(path, "queued", f"waiting ({spec})")
        self._next()
        return True

    def retry(self, path: str, spec: str) -> bool:
        if self.status.get(path, ("", ""))[0] in ("queued", "running"):
            return False
        self.status.pop(path, None)
        self.retried.discard(path)
        return self.enqueue(path, spec)

    def mark(self, path: str, status: str, detail: str = "") -> None:
        """Record a status found elsewhere (an artifact already in the cache)."""
        self._set(path, status, detail)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for status, _ in self.status.values():
            out[status] = out.get(status, 0) + 1
        return out

    def busy(self) -> bool:
        return self.current is not None or bool(self.pending)

    def cancel_all(self) -> None:
        for path, _ in self.pending:
            self.status.pop(path, None)
            self.status_changed.emit(path, "none", "")
        self.pending.clear()
        if self.current is not None:
            self.current.cancel()

    def _set(self, path: str, status: str, detail: str) -> None:
        self.status[path] = (status, detail)
        self.status_changed.emit(path, status, detail)

    def _next(self) -> None:
        if self.current is not None or self.paused or not self.pending:
            if self.current is None and not self.pending:
                self.idle.emit()
            return
        path, spec = self.pending.popleft()
        self.current_path = path
        self._set(path, "running", f"quantizing ({spec})…")
        worker = Worker(f"quantize {path}", self.fn, path, spec)
        worker.signals.finished.connect(lambda detail, p=path: self._set(p, "ready", str(detail or "")))
        worker.signals.failed.connect(lambda message, p=path, sp=spec: self._failed(p, sp, message))
        worker.signals.cancelled.connect(lambda p=path: self._set(p, "none", "cancelled"))
        worker.signals.progressed.connect(
            lambda event, p=path: self._set(p, "running", event.text) if isinstance(event, Stage) else None)
        worker.signals.done.connect(self._finished)
        self.current = worker
        self.workers.start(worker)

    def _failed(self, path: str, spec: str, message: str) -> None:
        """Retry once (a busy machine, a race with another load), then one plain sentence; details kept apart."""
        self.errors[path] = message
        if path not in self.retried:
            self.retried.add(path)
            self.pending.append((path, spec))
            self._set(path, "queued", "retrying once…")
            return
        self._set(path, "failed", FAILED_SENTENCE)

    def _finished(self) -> None:
        self.current = None
        self.current_path = None
        self._next()
