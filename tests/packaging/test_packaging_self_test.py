"""`--self-test` logic in-process on a tiny demo-shaped world (the bundle itself is built by
packaging/build_linux.sh and checked by packaging/smoke.sh, never inside pytest)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "packaging") not in sys.path:
    sys.path.append(str(REPO / "packaging"))

import self_test  # noqa: E402


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Path:
    """A world laid out like demo/assets: library/ with one single-file checkpoint + manifest.json."""
    import torch

    from engine.pipeline_tiny import write_tin_robot

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny_world")
    write_tin_robot(root / "library" / "tin_robot.safetensors")
    (root / "manifest.json").write_text(json.dumps({"format": 1, "entries": []}))
    return root


def test_self_test_passes_on_a_tiny_world_and_prints_one_line(tiny_world, capsys):
    code = self_test.run_self_test(["--self-test", "--demo", str(tiny_world), "--no-llm", "--quant", "none",
                                    "--request", "the tin robot toy in a garden", "--timeout", "300"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, out
    assert len(out) == 1 and out[0].startswith("personalq self-test: OK")
    assert "check-in=selected -> 'Tin Robot'" in out[0] and "generated 64x64 in 2 steps (none, cpu)" in out[0]


def test_self_test_fails_with_a_reason_when_the_demo_world_is_missing(tmp_path, capsys):
    code = self_test.run_self_test(["--demo", str(tmp_path / "no_world"), "--no-llm", "--timeout", "60"])
    out = capsys.readouterr().out.strip()
    assert code == 1
    assert out.startswith("personalq self-test: FAIL demo library:") and "\n" not in out


def test_self_test_uses_a_throwaway_home_not_the_users(tiny_world, personalq_home, tmp_path, capsys):
    keep = tmp_path / "home"
    code = self_test.run_self_test(["--startup-only", "--home", str(keep)])
    line = capsys.readouterr().out.strip()
    assert code == 0 and "first window on screen" in line
    assert not any(personalq_home.rglob("settings.json"))  # the test's own home was left alone


def test_report_line_names_every_stage_and_the_failure():
    report = self_test.Report(stages={"qt": 0.5, "window": 1.0})
    line = report.line(False, "check-in: timed out")
    assert line.startswith("personalq self-test: FAIL check-in: timed out") and "qt 0.5s, window 1.0s" in line
    assert "total 1.5s" in line
