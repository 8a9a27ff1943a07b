"""Background work for the window: a QRunnable that reports through signals, and a pool that holds them.

Widgets never call the catalog or engine directly on the GUI thread; they start a `Worker`
around a plain function. The function receives a `WorkContext` to report progress and to
check the cancel flag every step, so Cancel takes effect within one step.
"""
from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.jobs import Cancelled, JobContext

log = logging.getLogger(__name__)


class WorkContext(JobContext):
    """Handed to a work function: progress goes out as a signal; no Qt in the function itself."""

    def __init__(self, signals: "WorkerSignals"):
        super().__init__(signals.progressed.emit)
        self.step_at_cancel: int | None = None


class WorkerSignals(QObject):
    """Events of one worker; connected with queued connections to GUI-thread slots."""

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()  # always last, whatever the outcome


class Worker(QRunnable):
    """Runs `fn(ctx, *args)` on the thread pool and turns its outcome into one signal."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any):
        super().__init__()
        self.setAutoDelete(False)  # the pool below owns the lifetime
        self.name = name
        self.fn = fn
        self.args = args
        self.signals = WorkerSignals()
        self.ctx = WorkContext(self.signals)
        self.finished_event = threading.Event()

    def cancel(self) -> None:
        if not self.ctx.cancel_event.is_set():
            self.ctx.step_at_cancel = self.ctx.last_step
        self.ctx.cancel_event.set()

    def run(self) -> None:  # worker thread
        try:
            result = self.fn(self.ctx, *self.args)
        except Cancelled:
            self._emit(self.signals.cancelled)
        except Exception as exc:  # shown in the UI, not swallowed
            log.error("worker %s failed:\n%s", self.name, traceback.format_exc())
            self._emit(self.signals.failed, _describe(exc))
        else:
            if self.ctx.cancelled:
                self._emit(self.signals.cancelled)
            else:
                self._emit(self.signals.finished, result)
        finally:
            self.finished_event.set()
            self._emit(self.signals.done)

    def _emit(self, signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # signals object already gone at shutdown
            pass


def _describe(exc: BaseException) -> str:
    """One line for the window: the error's own first sentence (the traceback is in the log)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if type(exc).__module__ == "builtins" or not text:  # "FileNotFoundError: /x" says more than "/x"
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 240 else text[:239] + "…"


class WorkerPool(QObject):
    """Starts workers, keeps references until they end, cancels and waits for them on close."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._running: dict[int, Worker] = {}

    def start(self, worker: Worker) -> Worker:
        self._running[id(worker)] = worker
        worker.signals.done.connect(lambda key=id(worker): self._running.pop(key, None))
        self.pool.start(worker)
        return worker

    def submit(self, name: str, fn: Callable[..., Any], *args: Any, on_finished=None, on_failed=None,
               on_progress=None, on_cancelled=None) -> Worker:
        """Shortcut: build a worker, connect the handlers given, start it."""
        worker = Worker(name, fn, *args)
        if on_finished:
            worker.signals.finished.connect(on_finished)
        if on_failed:
            worker.signals.failed.connect(on_failed)
        if on_progress:
            worker.signals.progressed.connect(on_progress)
        if on_cancelled:
            worker.signals.cancelled.connect(on_cancelled)
        return self.start(worker)

    def running(self) -> list[Worker]:
        return [w for w in self._running.values() if not w.finished_event.is_set()]

    def cancel_all(self) -> None:
        for worker in list(self._running.values()):
            worker.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, mute their signals (the widgets are going away) and wait; True when all ended."""
        self.cancel_all()
        for worker in list(self._running.values()):
            worker.signals.blockSignals(True)
        self.pool.clear()  # workers not started yet never start
        ok = self.pool.waitForDone(timeout_ms)
        if not ok:
            log.warning("workers still running after %d ms: %s", timeout_ms, [w.name for w in self.running()])
        return ok


class WindowController(QObject):
    """One side of the main window (library, create): drives its widgets, runs long work in the window's pool."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window  # widgets are reached through the window; they are built after the controllers
        self.core = window.core
        self.settings = window.settings
        self.workers = window.workers
