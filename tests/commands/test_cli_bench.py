"""Issue #29 bug 5: `personalq bench --help` lists the benches and exits 0; no `serve`, which has no module."""
from __future__ import annotations

import pytest


def test_bench_help_lists_the_benches(capsys):
    import main
    from commands.bench import BENCHES

    assert main.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for name in BENCHES:
        assert f"  {name} " in out
    assert "serve" not in out and "fidelity" in out and "quantization" in out  # each with its one-line purpose


def test_bench_without_a_name_and_an_unknown_bench_exit_2(capsys):
    import main

    assert main.main(["bench"]) == 2
    assert "robustness" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        main.main(["bench", "serve"])
    assert done.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_bench_name_help_reaches_the_bench(capsys):
    import main

    with pytest.raises(SystemExit) as done:
        main.main(["bench", "robustness", "--help"])
    assert done.value.code == 0 and "--only" in capsys.readouterr().out
