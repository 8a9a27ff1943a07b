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
