"""Workers, the request-flow state machine and the history store: the pieces under the window."""
from __future__ import annotations

import time

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
