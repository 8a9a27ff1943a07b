"""A Qt test that runs past its time limit must end the run with every thread's stack, not hang.

pytest-timeout's default method (SIGALRM) raises its Timeout in the next Python code the main thread runs. While a
test waits in qtbot.waitUntil, that code is a slot called from Qt's event loop, most often pytest-qt's own 10 ms
timer slot, where the exception lands before its `finally: loop.quit()`. PySide catches it, so the wait's nested
event loop never quits and waitUntil never reaches its own timeout: the test hangs with an idle main thread (the
first-run loop's "hang" of 2026-12-08, docs/bench/2026-12-08-first-run-hang.md). pyproject.toml sets
timeout_method = "thread", which dumps the stacks and exits instead. This runs a tiny Qt test under that config.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

INNER = """
import pytest


@pytest.mark.timeout(2)  # the method comes from the config under test
def test_waits_past_its_limit(qtbot):
    qtbot.waitUntil(lambda: False, timeout=600_000)
"""


def test_a_qt_wait_past_the_time_limit_ends_with_the_stacks(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
           "-p", "no:cacheprovider", str(tmp_path / "test_inner.py")]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("a Qt test past its 2 s limit was still waiting after 90 s: the timeout was swallowed "
                    "inside Qt's event loop (timeout_method is not 'thread'?)")
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Timeout" in out and "waitUntil" in out, out  # the main thread's stack says where it waited
