"""Background work for the window: workers run on a QThreadPool and report through signals on the GUI thread.

Widgets never call the catalog or engine directly on the GUI thread; they start a `Worker`
around a plain function. The function receives a `WorkContext` to report progress and to
check the cancel flag every step, so Cancel takes effect within one step.

Lifetime (docs/bench/2026-12-08-worker-leak.md): PySide keeps every QRunnable given to `QThreadPool.start` as a
child of the pool until Qt deletes the runnable, so a `Worker` that was itself the runnable, with auto-delete
off, lived as long as the pool, and with it its function, its arguments and its connections. Now the pool runs a
small auto-deleted `_Task` that lets go of its worker before it reports the end. The worker's events cross to
the GUI thread as arguments of the pool's own `_Relay` signals (a bound-method slot, never a lambda, receives
them), are re-emitted there on the worker's signals, and only then does the pool drop the worker and its
connections: its last reference goes on the GUI thread, after every event was delivered.
"""
from __future__ import annotations

import functools
import itertools
import logging
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QMetaMethod, QObject, QRunnable, QThreadPool, Signal

from app.jobs import Cancelled, JobContext

log = logging.getLogger(__name__)


class WorkContext(JobContext):
    """Handed to a work function: progress goes out as a signal; no Qt in the function itself.

    `WorkerPool.start` points progress at its relay; before that, progress goes nowhere."""

    def __init__(self) -> None:
        super().__init__(None)
        self.step_at_cancel: int | None = None

    def report_to(self, on_progress: Callable[[Any], None]) -> None:
        self._on_progress = on_progress

    def progress(self, payload: Any) -> None:
        try:
            super().progress(payload)
        except RuntimeError:  # the pool's relay already gone at shutdown
            pass


class WorkerSignals(QObject):
    """Events of one worker, emitted on the GUI thread (the pool re-emits what its worker thread reported)."""

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()  # always last, whatever the outcome

    def disconnect_all(self) -> None:
        """Drop every connection: a handler that refers to its own worker (the check-in's `current()`) makes a
        cycle through Qt's connection that Python's collector cannot see, and it would keep the worker for good."""
        meta = self.metaObject()
        for index in range(meta.methodOffset(), meta.methodCount()):
            method = meta.method(index)
            if method.methodType() == QMetaMethod.MethodType.Signal and self.isSignalConnected(method):
                getattr(self, bytes(method.name()).decode()).disconnect()


class Worker:
    """`fn(ctx, *args)` to run on the pool, its signals and its cancel flag; `WorkerPool.start` runs it."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any):
        self.name = name
        self.fn = fn
        self.args = args
        self.signals = WorkerSignals()
        self.ctx = WorkContext()
        self.finished_event = threading.Event()

    def cancel(self) -> None:
        if not self.ctx.cancel_event.is_set():
            self.ctx.step_at_cancel = self.ctx.last_step
        self.ctx.cancel_event.set()

    def execute(self) -> tuple[str, tuple]:  # worker thread
        """Run the function; its outcome as the name of the signal to emit and that signal's arguments."""
        try:
            result = self.fn(self.ctx, *self.args)
        except Cancelled:
            return "cancelled", ()
        except Exception as exc:  # shown in the UI, not swallowed
            log.error("worker %s failed:\n%s", self.name, traceback.format_exc())
            return "failed", (_describe(exc),)
        if self.ctx.cancelled:
            return "cancelled", ()
        return "finished", (result,)


def _describe(exc: BaseException) -> str:
    """One line for the window: the error's own first sentence (the traceback is in the log)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if type(exc).__module__ == "builtins" or not text:  # "FileNotFoundError: /x" says more than "/x"
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 240 else text[:239] + "…"


class _Relay(QObject):
    """Carries workers' events from pool threads to the GUI thread, keyed by the worker's number.

    It lives as long as its pool, so a queued event never outlives its sender."""

    progressed = Signal(int, object)
    ended = Signal(int, object)  # (signal name, arguments), or None when the function raised a BaseException


class _Task(QRunnable):
    """What the QThreadPool runs for one worker. Auto-deleted after `run`, which also ends PySide's reference."""

    def __init__(self, worker: Worker, key: int, relay: _Relay):
        super().__init__()
        self.setAutoDelete(True)
        self._worker: Worker | None = worker
        self._key = key
        self._relay = relay

    def run(self) -> None:  # worker thread
        worker, self._worker = self._worker, None
        outcome = None
        try:
            outcome = worker.execute()
        finally:
            worker.finished_event.set()
            # drop this thread's reference before the end is reported: the pool's is then the last one, and the
            # pool drops it on the GUI thread once the end was delivered (no Qt object is freed on this thread)
            del worker
            try:
                self._relay.ended.emit(self._key, outcome)
            except RuntimeError:  # the pool already gone at shutdown
                pass


class WorkerPool(QObject):
    """Starts workers, keeps each until its end was delivered on the GUI thread, cancels and waits on close."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        # bound methods of this QObject: queued to the GUI thread, and delivered (a lambda could lose its call)
        self._relay.progressed.connect(self._on_progressed)
        self._relay.ended.connect(self._on_ended)
        self._keys = itertools.count()
        self._running: dict[int, Worker] = {}

    def start(self, worker: Worker) -> Worker:
        key = next(self._keys)
        self._running[key] = worker
        worker.ctx.report_to(functools.partial(self._relay.progressed.emit, key))  # no reference to the worker
        self.pool.start(_Task(worker, key, self._relay))
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

    def _on_progressed(self, key: int, event: Any) -> None:  # GUI thread
        worker = self._running.get(key)
        if worker is not None:
            worker.signals.progressed.emit(event)

    def _on_ended(self, key: int, outcome: tuple[str, tuple] | None) -> None:  # GUI thread
        worker = self._running.get(key)
        if worker is None:
            return
        try:
            if outcome is not None:
                name, args = outcome
                getattr(worker.signals, name).emit(*args)
            worker.signals.done.emit()
        finally:
            del self._running[key]
            worker.signals.disconnect_all()  # it never emits again

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
