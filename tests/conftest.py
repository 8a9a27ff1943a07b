"""Every test runs offline, offscreen, with PersonalQ's files in a temp dir."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.worlds import GENERATORS, build_world

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def personalq_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("pq_home")
    monkeypatch.setenv("PERSONALQ_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def bench_worlds(tmp_path_factory) -> Path:
    """A folder laid out like shared/ (bench/intent-dev, bench/intent-versions-dev), built from tests/worlds."""
    root = tmp_path_factory.mktemp("worlds")
    for name in GENERATORS:
        build_world(name, root / "bench")
    return root


@pytest.fixture(scope="session")
def shared_dir(bench_worlds) -> Path:
    """The old name of bench_worlds: tests never read ../shared, they read the same files built here."""
    return bench_worlds
