"""The window and the CLI generate through one application core: the same request, seed and settings
give the same PNG parameters, Model hash and prediction type included, for SD 1.5 and SD 2.x (v)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine import png_info

GEN_TIMEOUT_MS = 180_000
V_METADATA = {"modelspec.architecture": "stable-diffusion-v2-768-v", "modelspec.prediction_type": "v",
              "modelspec.title": "Tiny Vase", "modelspec.trigger_phrase": "zxvase", "format": "pt"}


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory) -> Path:
    from engine.pipeline_tiny import build_tiny_pipeline, write_single_file_checkpoint, write_tin_robot

    root = tmp_path_factory.mktemp("same_path") / "Stable-diffusion"
    write_tin_robot(root / "tin_robot.safetensors")
    write_single_file_checkpoint(build_tiny_pipeline(seed=1), root / "tiny_vase.safetensors", V_METADATA)
    return root


def window_image(window, qtbot, path: Path, request: str) -> dict:
    panel = window.request_panel
    panel.input.setText(request)
    window.create.use_card(str(path))
    gen = window.generation_panel
    gen.set_params(gen.params().__class__(steps=2, seed=11, width=64, height=64, guidance=5.0, quant_spec="none"))
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.create.flow.state in ("done", "failed"), timeout=GEN_TIMEOUT_MS)
    assert window.create.flow.state == "done", window.create.flow.error
    return png_info.read_png_parameters(window.create.last_outcome.image_path)


def cli_image(path: Path, request: str, out: Path) -> dict:
    import main

    code = main.main(["generate", request, "--checkpoint", str(path), "--seed", "11", "--steps", "2",
                      "--width", "64", "--height", "64", "--guidance", "5", "--quant", "none",
                      "--out", str(out), "--quiet", "--no-llm"])
    assert code == 0
    return png_info.read_png_parameters(out)


@pytest.mark.parametrize("name, request_text, prediction", [
    ("tin_robot.safetensors", "zxrobot on a hill", None),
    ("tiny_vase.safetensors", "my vase on a table", "v"),
])
def test_window_and_cli_write_the_same_parameters(make_window, qtbot, two_checkpoints, tmp_path, name,
                                                   request_text, prediction):
    window = make_window()
    window.welcome.add_folder(str(two_checkpoints.parent))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    path = (two_checkpoints / name).resolve()
    card = window.core.store.get(str(path))
    assert card is not None and card.prediction_type == prediction
    shown = window_image(window, qtbot, path, request_text)
    written = cli_image(path, request_text, tmp_path / "cli.png")
    for params in (shown, written):
        params.pop("seconds")
    assert shown == written
    assert shown["prediction_type"] == ("v_prediction" if prediction == "v" else "epsilon")
    assert len(shown["checkpoint_hash"]) == 64 and shown["checkpoint"] == name  # the file's name, no folders
