"""Fixtures for the desktop tests: a small real library on disk and a window driven offscreen."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PERSONALQ_THEME", "light")


def write_test_library(root: Path) -> dict[str, Path]:
    """app.sample_library's folder, keyed by short names: corgi, husky, cat, moth, style, broken."""
    from app.sample_library import write_sample_library

    files = write_sample_library(root)
    short = {"rex_corgi": "corgi", "luna_husky": "husky", "mochi_cat": "cat", "luna_moth": "moth",
             "soft_watercolor": "style", "broken": "broken"}
    return {short[k]: v for k, v in files.items()}


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The engine's tiny SD-1.5-shaped pipeline saved as an A1111 single-file checkpoint with a trigger."""
    import torch

    from engine.pipeline_tiny import write_tin_robot

    torch.set_num_threads(1)
    return write_tin_robot(tmp_path_factory.mktemp("tiny_models") / "tin_robot.safetensors")


@pytest.fixture
def library(tmp_path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "checkpoints"
    return root, write_test_library(root)


@pytest.fixture
def make_window(qtbot):
    """Build a MainWindow on the current PERSONALQ_HOME; closes it (cancel + wait) after the test."""
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app([])
    made = []

    def make(**kw):
        kw.setdefault("use_llm", False)
        kw.setdefault("auto_quantize", False)
        window = MainWindow(**kw)
        qtbot.addWidget(window)
        window.resize(1280, 820)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()
