"""Every test runs offline, offscreen, with PersonalQ's files in a temp dir."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def personalq_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("pq_home")
    monkeypatch.setenv("PERSONALQ_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared/ not found beside the repo at {SHARED}")
    return SHARED
