"""Requests through the Create page: select + generate with the tiny pipeline, clarify by clicking, none, cancel."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.history import History

CHECK_TIMEOUT_MS = 120_000  # the first Check-in loads the sentence model
GEN_TIMEOUT_MS = 120_000  # the first generation imports diffusers and loads the pipeline


@pytest.fixture
def ready_window(make_window, qtbot, library, tiny_checkpoint):
    """A window after first run on a library that also holds the tiny checkpoint (trigger "zxrobot")."""
    root, files = library
    (root / "tin_robot.safetensors").symlink_to(tiny_checkpoint)  # one file: the pipeline pool loads it once
    window = make_window()
    window.welcome.add_folder(str(root))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    window.go("create")
    return window, root, files


def fast_params(window) -> None:
    """Two steps at the tiny model's own 64×64 (a pick sets the model's size, steps and guidance)."""
    window.generation_panel.set_params(window.generation_panel.params().__class__(
        steps=2, seed=7, width=64, height=64, guidance=5.0, quant_spec="none"))


def ask(window, qtbot, text: str) -> str:
    panel = window.request_panel
    panel.input.clear()
    qtbot.keyClicks(panel.input, text)
    qtbot.keyClick(panel.input, Qt.Key_Return)
    assert panel.page() == "checking"
    qtbot.waitUntil(lambda: panel.page() != "checking", timeout=CHECK_TIMEOUT_MS)
    return panel.page()


def test_request_selects_and_generates_into_the_gallery(ready_window, qtbot):
    window, root, _ = ready_window
    panel = window.request_panel
    assert ask(window, qtbot, "zxrobot the tin robot in a garden") == "selected"
    assert panel.chosen.name.text() == "Tin Robot"
    prompt = panel.prompt.toPlainText()
    assert "zxrobot" in prompt
    gen = window.generation_panel
    assert (gen.width_box.value(), gen.height_box.value()) == (64, 64)  # the pick brought the model's own size
    fast_params(window)
    panel.prompt.setPlainText(prompt + ", morning light")  # the rewritten prompt is editable
    steps_seen = []
    window.gen_worker_progress = steps_seen
    window.generation_panel.bar.valueChanged.connect(steps_seen.append)
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.create.flow.state in ("done", "failed"), timeout=GEN_TIMEOUT_MS)
    assert window.create.flow.state == "done", window.create.flow.error
    assert 2 in steps_seen  # the progress bar went through the steps
    image_path = Path(window.create.last_outcome.image_path)
    assert image_path.is_file()
    with Image.open(image_path) as img:
        assert img.size == (64, 64)
        assert "morning light" in img.text.get("parameters", "")
    # stored in the history and shown in the gallery
    entries = History().entries()
    assert len(entries) == 1 and entries[0].prompt.endswith("morning light") and entries[0].params.seed == 7
    assert window.history_model.rowCount() == 1
    window.go("history")
    gallery = window.gallery
    assert gallery.current is not None and gallery.current.image_path == str(image_path)
    qtbot.mouseClick(gallery.copy_button, Qt.LeftButton)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == entries[0].prompt
    # re-run with the same settings gives a second, identical image
    qtbot.mouseClick(gallery.rerun_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.history_model.rowCount() == 2, timeout=GEN_TIMEOUT_MS)
    second = Path(window.create.last_outcome.image_path)
    assert second != image_path
    with Image.open(image_path) as a, Image.open(second) as b:
        assert a.tobytes() == b.tobytes()


def test_clarify_question_is_answered_by_clicking_an_option(ready_window, qtbot):
    window, _, files = ready_window
    panel = window.request_panel
    assert ask(window, qtbot, "Luna at night") == "clarify"
    clarify = panel.clarify
    labels = [b.text() for b in clarify.option_buttons]
    assert sorted(labels) == ["Luna moth", "Luna the husky"]
    assert "Luna" in clarify.question.text()
    assert not any("/" in text for text in labels)  # never paths or ids on the buttons
    moth = next(b for b in clarify.option_buttons if b.text() == "Luna moth")
    qtbot.mouseClick(moth, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.page() == "selected", timeout=CHECK_TIMEOUT_MS)
    assert panel.chosen.name.text() == "Luna moth"
    assert window.create.selection.path == str(files["moth"])
    assert "lnmoth" in panel.prompt.toPlainText()


def test_none_offers_the_base_model_and_cancel_stops_within_a_step(ready_window, qtbot):
    window, root, _ = ready_window
    panel = window.request_panel
    assert ask(window, qtbot, "a red sports car on a racetrack") == "none"
    assert not panel.base_button.isEnabled()  # no base model known yet: says so, points to Settings
    assert "Settings" in panel.none_detail.text()
    # the closest cards are offered, not picked: the user's click chooses one
    assert panel.suggestions.isVisibleTo(panel) and 1 <= len(panel.suggestion_buttons) <= 3
    assert window.create.flow.state == "none"
    first = window.create.checkin_result.suggestions[0]
    qtbot.mouseClick(panel.suggestion_buttons[0], Qt.LeftButton)
    assert panel.page() == "selected" and window.create.selection.path == first.path
    new = window.settings.__class__(**{**window.settings.__dict__,
                                       "base_models": {"sd15": str(root / "tin_robot.safetensors")}})
    window.apply_settings(new)
    assert ask(window, qtbot, "a red sports car on a racetrack") == "none"
    assert panel.base_button.isEnabled()
    qtbot.mouseClick(panel.base_button, Qt.LeftButton)
    assert panel.page() == "selected" and window.create.selection.is_base
    # a long run, cancelled after its first step: it stops within one step and leaves no image
    gen = window.generation_panel
    gen.steps.setValue(60)
    gen.quant.setCurrentIndex(gen.quant.findData("none"))  # applying settings reset it to the default spec
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    worker = window.create.gen_worker
    qtbot.waitUntil(lambda: gen.bar.value() >= 1 or window.create.flow.state == "failed", timeout=GEN_TIMEOUT_MS)
    assert window.create.flow.state == "generating", window.create.flow.error
    qtbot.mouseClick(gen.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.create.flow.state == "cancelled", timeout=GEN_TIMEOUT_MS)
    ctx = worker.ctx
    assert ctx.step_at_cancel is not None and ctx.last_step - ctx.step_at_cancel <= 1
    assert ctx.last_step < 60
    assert "Cancelled" in gen.status.text()
    assert window.history_model.rowCount() == 0  # nothing half-made went to the gallery
    assert not list(Path(window.core.store.db_path).parent.glob("outputs/*/*.png"))


def test_a_request_the_llm_restated_says_how_it_was_read(make_window, qtbot, library, tmp_path, monkeypatch):
    """With a model the user chose (trusted to read other languages), a Spanish request is restated in
    English before retrieval, and the panel shows that reading whatever Check-in decides."""
    from checkin import llm_stage as checkin
    from local_llm.models import DEFAULT_MODEL, assemble

    monkeypatch.setattr(checkin, "LLM_STEP_TIMEOUT_S", None)  # behaviour, not speed
    model = assemble(DEFAULT_MODEL, tmp_path / "llm" / DEFAULT_MODEL.filename)
    own = tmp_path / "my-model.gguf"
    own.symlink_to(model)
    root, _ = library
    window = make_window(use_llm=True)
    window.settings.llm_model = str(own)
    window.welcome.add_folder(str(root))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    window.go("create")
    page = ask(window, qtbot, "un coche rojo en una pista de carreras")  # retrieval's answer, at once
    assert window.create.refine_worker is not None and window.request_panel.refine_note.isVisible()
    qtbot.waitUntil(lambda: window.create.refine_worker is None, timeout=CHECK_TIMEOUT_MS)  # then the LLM's reading
    page = window.request_panel.page()
    restated = window.create.checkin_result.restated
    assert restated and restated != "un coche rojo en una pista de carreras"
    panel = window.request_panel
    shown = {"none": panel.none_label.text(), "selected": panel.chosen.caption.text()}.get(page, restated)
    assert restated in shown


def test_batch_with_sampler_and_negative_then_edit_in_create(ready_window, qtbot):
    window, root, _ = ready_window
    panel = window.request_panel
    assert ask(window, qtbot, "zxrobot the tin robot in a garden") == "selected"
    fast_params(window)
    gen = window.generation_panel
    gen.more_button.click()
    assert gen.more.isVisible()
    gen.sampler.setCurrentIndex(gen.sampler.findData("euler_a"))
    gen.negative.setText("blurry")
    gen.batch.setValue(2)
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.history_model.rowCount() == 2 and window.create.flow.state == "done",
                    timeout=GEN_TIMEOUT_MS)
    entries = History().entries()
    assert sorted(e.params.seed for e in entries) == [7, 8]  # each image of a batch takes the next seed
    assert gen.batch_strip.count() == 2
    with Image.open(entries[0].image_path) as img:
        text = img.text["parameters"]
    assert "Negative prompt: blurry" in text and "Sampler: Euler a" in text
    # the gallery sends an image back to Create with its settings, without running it
    window.go("history")
    gen.negative.clear()
    qtbot.mouseClick(window.gallery.send_button, Qt.LeftButton)
    assert window.pages.currentIndex() == 0 and window.create.flow.state == "selected"
    assert gen.negative.text() == "blurry" and gen.sampler.currentData() == "euler_a"
    assert window.history_model.rowCount() == 2


def test_a_png_dropped_on_the_window_restores_its_request(ready_window, qtbot, tmp_path):
    """An A1111 image (its `parameters` text only) brings back prompt, seed, size, sampler and checkpoint."""
    from PIL.PngImagePlugin import PngInfo
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    window, root, _ = ready_window
    info = PngInfo()
    info.add_text("parameters", "zxrobot on the moon <lora:nowhere:0.8>\nNegative prompt: lowres\n"
                  "Steps: 3, Sampler: DDIM, CFG scale: 6, Seed: 1234, Size: 64x64, Model hash: 0123456789, "
                  "Model: tin_robot")
    png = tmp_path / "from_a1111.png"
    Image.new("RGB", (64, 64)).save(png, pnginfo=info)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png))])
    event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    gen = window.generation_panel
    assert window.create.flow.state == "selected" and window.create.selection.name == "Tin Robot"
    assert window.request_panel.prompt.toPlainText() == "zxrobot on the moon"
    p = gen.params()
    assert (p.steps, p.width, p.height, p.guidance) == (3, 64, 64, 6.0)
    assert gen.seed.value() == 1234 and gen.sampler.currentData() == "ddim" and gen.negative.text() == "lowres"


def test_a_style_lora_goes_on_the_chosen_checkpoint_as_a_chip(make_window, qtbot, library, tiny_checkpoint, tmp_path):
    """Library → “Add to this image”: a chip with a weight; the image carries both, the × takes it out."""
    from engine.pipeline_tiny import build_tiny_pipeline, write_tiny_lora

    root, _ = library
    (root / "tin_robot.safetensors").symlink_to(tiny_checkpoint)
    style = write_tiny_lora(build_tiny_pipeline(seed=0), root / "Lora" / "tiny_ink.safetensors", "kohya", seed=5)
    window = make_window()
    window.welcome.add_folder(str(root))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    window.go("create")
    assert ask(window, qtbot, "zxrobot the tin robot in a garden") == "selected"
    fast_params(window)
    window.go("library")
    window.library_page.select_path(str(style))
    detail = window.library_page.detail
    assert detail.add_button.isVisible()
    qtbot.mouseClick(detail.add_button, Qt.LeftButton)
    panel = window.request_panel
    assert window.pages.currentIndex() == 0 and panel.chips.isVisible()
    chips = panel.chips.findChildren(QWidget, "chip")
    assert len(chips) == 2 and chips[1].weight is not None
    chips[1].weight.setValue(0.5)
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.create.flow.state in ("done", "failed"), timeout=GEN_TIMEOUT_MS)
    assert window.create.flow.state == "done", window.create.flow.error
    with Image.open(window.create.last_outcome.image_path) as img:
        assert "<lora:tiny_ink:0.5>" in img.text["parameters"]
    assert History().entries()[0].extra["extras"] == [[str(style), 0.5]]
    qtbot.mouseClick(chips[1].remove, Qt.LeftButton)
    assert not window.create.selection.extras and not panel.chips.isVisible()
