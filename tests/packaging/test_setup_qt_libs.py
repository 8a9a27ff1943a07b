"""Issue #29 item 13: setup names the system libraries Qt's xcb plugin cannot find and prints the one line
that installs them (scripts/check_qt_libs.sh, run by scripts/setup.sh); silent when nothing is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check runs on Linux only")


def _run(tmp_path, ldd_output: str) -> subprocess.CompletedProcess:
    """The script with an `ldd` that reports `ldd_output` for the plugin (what a bare Linux would say)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "ldd").write_text(f"#!/bin/sh\ncat <<'OUT'\n{ldd_output}\nOUT\n")
    (fake / "ldd").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", str(REPO / "scripts" / "check_qt_libs.sh"), sys.executable], capture_output=True,
                          text=True, env=env, cwd=str(REPO), timeout=60)


def test_missing_xcb_libraries_get_one_install_line(tmp_path):
    done = _run(tmp_path, "\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x1)\n"
                          "\tlibxcb-cursor.so.0 => not found\n\tlibxkbcommon-x11.so.0 => not found")
    assert done.returncode == 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert "libxcb-cursor.so.0" in lines[0]
    assert lines[1].strip() == "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0"


def test_nothing_missing_says_nothing(tmp_path):
    done = _run(tmp_path, "\tlibxcb-cursor.so.0 => /usr/lib/libxcb-cursor.so.0 (0x1)")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
