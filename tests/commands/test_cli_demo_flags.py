"""Issue #29 bug 3: `personalq demo` checks its flags before any work, with `generate`'s types and checks."""
from __future__ import annotations

import pytest


@pytest.fixture
def no_work(monkeypatch):
    """Any step past the flags (building or indexing the world) fails the test."""
    import commands.demo as demo

    def worked(*a, **k):
        raise AssertionError("the demo started working before its flags were checked")

    monkeypatch.setattr(demo, "ensure_world", worked)


@pytest.mark.parametrize("flags, words", [
    (["--steps", "0"], ("steps", "between 1 and 150")),
    (["--steps", "-3"], ("steps",)),
    (["--seed", "-1"], ("seed",)),
    (["--quant", "bogus"], ("bogus", "quant spec")),
    (["--steps", "many"], ("steps", "whole number")),
])
def test_demo_refuses_bad_flags_in_one_line_before_any_work(flags, words, no_work, capsys):
    import main

    with pytest.raises(SystemExit) as done:
        main.main(["demo", "--no-llm", *flags])
    err = capsys.readouterr().err
    assert done.value.code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "unexpected error" not in err and "Traceback" not in err
    assert all(w in lines[0] for w in words), lines[0]


def test_demo_refuses_an_output_it_cannot_write_before_any_work(no_work, tmp_path, capsys):
    import main

    assert main.main(["demo", "--no-llm", "--out", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err
    assert main.main(["demo", "--no-llm", "--out", str(tmp_path / "demo.gif")]) == 2  # a suffix no format has
    assert ".gif" in capsys.readouterr().err
