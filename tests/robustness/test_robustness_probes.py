"""Issue #21, one test per row of its table (and variant): the probes of `personalq bench robustness`.

Each probe provokes the failure in a fresh PERSONALQ_HOME and asserts the exit code, the one line
the user reads, and that the catalog, the cache and the outputs folder are intact. tmpfs variants
need mount rights (root) and skip elsewhere; the injected-OSError variant of the row always runs.
"""
from __future__ import annotations

import pytest

from bench import robustness
from bench.robustness.harness import ProbeSkipped

CASES = [pytest.param(fn, id=robustness.probe_id(name, variant)) for name, variant, fn in robustness.PROBES]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("probe", CASES)
def test_probe(probe, tmp_path):
    try:
        detail = probe(tmp_path)
    except ProbeSkipped as exc:
        pytest.skip(str(exc))
    assert detail


def test_every_row_of_the_issue_has_a_probe():
    rows = {name for name, _variant, _fn in robustness.PROBES}
    assert len(rows) >= 16
    # rows where the failure is a full or read-only disk also run without mount rights
    for row in ("index-disk-full", "out-disk-full", "quantize-cache-full"):
        assert (row, "injected") in {(n, v) for n, v, _ in robustness.PROBES}


def test_bench_prints_one_row_per_probe_as_json(tmp_path, capsys):
    import json

    import main

    code = main.main(["bench", "robustness", "--json", "--only", "guidance-inf-nan,newline-in-file-name",
                      "--workdir", str(tmp_path)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["bench"] == "robustness"
    assert [(r["probe"], r["status"]) for r in result["rows"]] == [("guidance-inf-nan", "PASS"),
                                                                  ("newline-in-file-name", "PASS")]
    assert result["summary"]["pass"] == 2 and result["summary"]["fail"] == 0
