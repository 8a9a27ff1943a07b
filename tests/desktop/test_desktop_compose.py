"""A subject and a style named in plain words become the chosen set on the Create page (the demo library)."""
from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from demo.build import ASSETS

CHECK_TIMEOUT_MS = 300_000  # the first Check-in loads the sentence model and waits for the index (on busy cores too)


def _ask_on_the_demo_library(make_window, qtbot, tmp_path, request: str):
    """The real window on a copy of the demo library, the request typed on the Create page and answered."""
    if not (ASSETS / "manifest.json").is_file():
        pytest.skip("the demo world is not built in this checkout")
    root = tmp_path / "demo-library"
    shutil.copytree(ASSETS / "library", root)
    window = make_window()
    window.welcome.add_folder(str(root))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    window.go("create")
    panel = window.request_panel
    qtbot.keyClicks(panel.input, request)
    qtbot.keyClick(panel.input, Qt.Key_Return)
    qtbot.waitUntil(lambda: panel.page() != "checking", timeout=CHECK_TIMEOUT_MS)
    return window, panel


def test_a_plain_words_subject_and_style_show_as_two_chips(make_window, qtbot, tmp_path):
    window, panel = _ask_on_the_demo_library(make_window, qtbot, tmp_path, "my cactus with a pink frame")
    assert panel.page() == "selected"
    selection = window.create.selection
    assert selection.path.endswith("dfr_cactus.safetensors")
    assert [e.path.rsplit("/", 1)[-1] for e in selection.extras] == ["tvy_pink_frame_style.safetensors"]
    assert panel.chips.isVisible() and len(panel.chips.findChildren(QWidget, "chip")) == 2
    prompt = panel.prompt.toPlainText()
    assert "dfr" in prompt and "tvy style" in prompt


def test_a_style_the_library_lacks_is_said_in_one_line(make_window, qtbot, tmp_path):
    window, panel = _ask_on_the_demo_library(make_window, qtbot, tmp_path, "my cactus in charcoal style")
    assert panel.page() == "selected" and window.create.selection.path.endswith("dfr_cactus.safetensors")
    assert not window.create.selection.extras
    note = panel.banner.text.text()
    assert panel.banner.isVisible() and "charcoal" in note and "\n" not in note
