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

# Modules that build diffusers pipelines, quantize, drive the window through generations or rebuild the demo
# world: seconds to minutes per test on the 2-core machine, so `make test-fast` (-m "not slow") skips them.
# Entries are node-id prefixes (a module, or module::test). A test file may instead mark its own tests with
# @pytest.mark.slow (tests/local_llm, tests/catalog do).
SLOW = (
    "tests/demo/test_demo_build.py",
    "tests/demo/test_demo_committed.py",
    "tests/demo/test_demo_fidelity.py",
    "tests/desktop/test_desktop_create.py",
    "tests/desktop/test_desktop_library.py::test_first_run_indexes_lists_and_remembers_the_folder",
    "tests/desktop/test_desktop_quantize.py",
    "tests/desktop/test_desktop_same_path.py",
    "tests/engine/test_engine_generate.py",
    "tests/engine/test_engine_granularity.py",
    "tests/engine/test_engine_loading.py",
    "tests/engine/test_engine_pool.py",
    "tests/engine/test_engine_quantize.py",
    "tests/engine/test_engine_taq.py",
    "tests/robustness/test_robustness_probes.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


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
