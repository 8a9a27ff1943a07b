"""The commands' shared plumbing: one `open_app` (open, fail in one line, close), and the benches offered."""
from __future__ import annotations

import importlib.util
from argparse import Namespace

import pytest

from commands import CommandFailed, open_app
from commands.bench import BENCHES


def test_every_bench_the_cli_offers_has_a_module():
    assert [name for name in BENCHES if importlib.util.find_spec(f"bench.{name}") is None] == []


def test_open_app_closes_the_app_when_the_command_ends(tmp_path):
    with open_app(Namespace(db=str(tmp_path / "c.sqlite"))) as core:
        assert core.cards() == []
    assert core.store._closed


def test_open_app_closes_the_app_when_the_command_fails(tmp_path):
    with pytest.raises(ValueError), open_app(Namespace(), db=tmp_path / "c.sqlite") as core:
        raise ValueError("the command's own failure")
    assert core.store._closed


def test_a_catalog_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path, capsys):
    import main

    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not SQLite" * 100)
    (tmp_path / "lib").mkdir()
    with pytest.raises(CommandFailed), open_app(Namespace(db=str(bad))):
        pass
    assert main.main(["index", str(tmp_path / "lib"), "--db", str(bad), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("personalq index: ") and "not-a-db.sqlite" in err[0]
