"""Workers, the request-flow state machine and the history store: the pieces under the window."""
from __future__ import annotations

import gc
import time
import weakref

import pytest

from app.history import GenerationParams, History, HistoryEntry
from desktop import flow as F


def _count_to(ctx, n, delay=0.01):
    for i in range(n):
        ctx.check()
        ctx.last_step = i + 1
        ctx.progress(i + 1)
        time.sleep(delay)
    return n


def _boom(ctx):
    raise FileNotFoundError("/models/missing.safetensors")


def test_worker_reports_progress_then_finished(qtbot):
    from desktop.workers import WorkerPool

    pool = WorkerPool()
    seen, results = [], []
    worker = pool.submit("count", _count_to, 5, on_progress=seen.append, on_finished=results.append)
    qtbot.waitUntil(lambda: results == [5], timeout=5_000)
    assert seen == [1, 2, 3, 4, 5]
    qtbot.waitUntil(lambda: not pool.running(), timeout=2_000)
    assert worker.finished_event.is_set()


def test_worker_failure_is_a_message_naming_the_problem(qtbot):
    from desktop.workers import WorkerPool

    pool = WorkerPool()
    errors = []
    pool.submit("boom", _boom, on_failed=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5_000)
    assert errors == ["FileNotFoundError: /models/missing.safetensors"]


def test_cancel_stops_within_one_step_and_shutdown_waits(qtbot):
    from desktop.workers import WorkerPool

    pool = WorkerPool()
    cancelled, finished = [], []
    worker = pool.submit("long", _count_to, 10_000, 0.005, on_cancelled=lambda: cancelled.append(True),
                         on_finished=finished.append)
    qtbot.waitUntil(lambda: worker.ctx.last_step >= 3, timeout=5_000)
    worker.cancel()
    qtbot.waitUntil(lambda: cancelled == [True], timeout=5_000)
    assert worker.ctx.last_step - worker.ctx.step_at_cancel <= 1
    assert not finished
    # closing: running workers are cancelled and waited for
    other = pool.submit("long2", _count_to, 10_000, 0.005)
    qtbot.waitUntil(lambda: other.ctx.last_step >= 1, timeout=5_000)
    assert pool.shutdown(timeout_ms=5_000)
    assert other.finished_event.is_set() and other.ctx.last_step < 10_000


def test_flow_allows_only_the_next_steps():
    flow = F.RequestFlow()
    assert flow.fire("submit") == F.CHECKING
    assert flow.fire("result", "clarify") == F.CLARIFY
    with pytest.raises(F.FlowError):
        flow.fire("generate")  # nothing chosen yet
    assert flow.fire("answer") == F.CHECKING
    assert flow.fire("result", "selected") == F.SELECTED
    assert flow.fire("generate") == F.GENERATING
    with pytest.raises(F.FlowError):
        flow.fire("submit")  # one thing at a time
    assert flow.fire("cancelled") == F.CANCELLED
    assert flow.fire("generate") == F.GENERATING
    assert flow.fire("fail", "out of memory") == F.FAILED and flow.error == "out of memory"
    assert flow.fire("submit") == F.CHECKING and flow.error is None
    assert flow.fire("result", "none") == F.NONE
    assert flow.fire("use_base") == F.SELECTED
    with pytest.raises(F.FlowError):
        F.RequestFlow(state=F.CHECKING).fire("result", "maybe")
    # picking a checkpoint in the library works from anywhere but mid-generation
    assert F.RequestFlow(state=F.CLARIFY).fire("choose") == F.SELECTED
    assert not F.RequestFlow(state=F.GENERATING).can("choose")


def test_history_keeps_generations_newest_first(tmp_path):
    history = History(tmp_path / "history.sqlite")
    first = history.add(HistoryEntry(prompt="sks dog", params=GenerationParams(2, 1, 64, 64, 5.0, "none"),
                                     image_path=str(tmp_path / "a.png"), created=100.0))
    second = history.add(HistoryEntry(prompt="sks cat", params=GenerationParams(4, 2, 64, 64, 7.0, "taq-w8a8"),
                                      image_path=str(tmp_path / "b.png"), extra={"kind": "lora"}, created=200.0))
    history.close()
    again = History(tmp_path / "history.sqlite")
    entries = again.entries()
    assert [e.prompt for e in entries] == ["sks cat", "sks dog"]
    assert entries[0].extra == {"kind": "lora"} and entries[0].params == GenerationParams(4, 2, 64, 64, 7.0, "taq-w8a8")
    assert again.get(first.id).params.seed == 1
    again.remove(second.id)
    assert [e.id for e in again.entries()] == [first.id]


# -- lifetime: a worker, its function and its arguments are released once its end reached the GUI thread --------

class _Payload:
    """Stands for what a worker's arguments can hold (a pipeline, an image): only its lifetime matters."""

    def __init__(self, i: int):
        self.i = i


def _outcome(ctx, payload, kind, steps):
    """Reports `steps` progress events, then finishes, fails or is cancelled according to `kind`."""
    for s in range(steps):
        ctx.progress((payload.i, s))
    if kind == "failed":
        raise ValueError(f"worker {payload.i} failed")
    if kind == "cancelled":
        ctx.cancel_event.set()
        ctx.check()
    return payload.i


def _run_and_release(qtbot, n: int, steps: int, max_threads: int, timeout_ms: int, self_referring: bool = False):
    """Start `n` workers back to back (finished, failed and cancelled in turn), wait for every `done`, then check
    that each worker delivered its outcome, its progress and its `done` exactly once and in order, and that
    nothing of it is alive afterwards: the worker, its signals object, its function and its arguments."""
    from desktop.workers import Worker, WorkerPool

    pool = WorkerPool(max_threads=max_threads)
    kinds = ("finished", "failed", "cancelled")
    events: dict[int, list] = {i: [] for i in range(n)}
    refs = []
    for i in range(n):
        kind, payload = kinds[i % 3], _Payload(i)
        fn = lambda ctx, p, k, s: _outcome(ctx, p, k, s)  # noqa: E731 (one function object per worker)
        log = events[i]
        worker = Worker(f"w{i}", fn, payload, kind, steps)  # connected before it starts, as QuantizeQueue does
        worker.signals.progressed.connect(lambda e, log=log: log.append(("progress", e[1])))
        worker.signals.finished.connect(lambda r, log=log: log.append(("finished", r)))
        worker.signals.failed.connect(lambda m, log=log: log.append(("failed", m)))
        worker.signals.cancelled.connect(lambda log=log: log.append(("cancelled",)))
        worker.signals.done.connect(lambda log=log: log.append(("done",)))
        if self_referring:  # a handler that refers to its own worker, as the check-in's `current()` does
            holder = [worker]
            worker.signals.finished.connect(lambda r, h=holder: h)
        pool.start(worker)
        refs.append((weakref.ref(worker), weakref.ref(worker.signals), weakref.ref(fn), weakref.ref(payload)))
        del worker, payload, fn
        holder = None
    qtbot.waitUntil(lambda: all(log and log[-1] == ("done",) for log in events.values()), timeout=timeout_ms)
    qtbot.wait(50)  # any event still queued (a second `done`, a late progress) would arrive here

    expected = {"finished": lambda i: ("finished", i), "failed": lambda i: ("failed", f"ValueError: worker {i} failed"),
                "cancelled": lambda i: ("cancelled",)}
    wrong = {i: log for i, log in events.items()
             if log != [("progress", s) for s in range(steps)] + [expected[kinds[i % 3]](i), ("done",)]}
    assert not wrong, f"{len(wrong)} of {n} workers delivered wrong events, e.g. {next(iter(wrong.items()))}"

    gc.collect()
    alive = [i for i, rs in enumerate(refs) if any(r() is not None for r in rs)]
    assert not alive, (f"{len(alive)} of {n} ended workers are still alive (worker, signals, fn, payload): "
                       f"{[tuple(r() is not None for r in refs[i]) for i in alive[:3]]}")
    assert pool.running() == []
    assert pool.shutdown(timeout_ms=5_000)


def test_ended_workers_release_themselves_their_function_and_arguments(qtbot):
    _run_and_release(qtbot, n=30, steps=3, max_threads=4, timeout_ms=30_000)


def test_a_handler_that_refers_to_its_worker_does_not_keep_it(qtbot):
    _run_and_release(qtbot, n=9, steps=1, max_threads=2, timeout_ms=30_000, self_referring=True)


def test_many_short_workers_back_to_back_lose_no_event_and_leave_nothing(qtbot):
    """The stress case: hundreds of tiny workers on many threads, so ends race their own delivery."""
    _run_and_release(qtbot, n=600, steps=2, max_threads=8, timeout_ms=120_000)
