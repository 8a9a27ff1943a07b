"""Fixtures the engine tests share."""
from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared; restores the count after."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny_pipe(tmp_path_factory):
    """The seed-0 tiny pipeline, one per test module, built with PERSONALQ_HOME in a temp folder (a module
    fixture cannot use `monkeypatch`)."""
    from engine.pipeline_tiny import build_tiny_pipeline

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERSONALQ_HOME", str(tmp_path_factory.mktemp("home")))
        return build_tiny_pipeline(seed=0)
