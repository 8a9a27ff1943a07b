"""Quantize on import: new checkpoints are queued and quantized in the background; status and failures show."""
from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from common import paths
from common.settings import Settings

QUANT_TIMEOUT_MS = 180_000


def test_new_checkpoint_is_quantized_in_the_background(make_window, qtbot, library, tiny_checkpoint):
    root, files = library
    target = root / "Stable-diffusion" / "tin_robot.safetensors"
    target.parent.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, target)
    window = make_window(settings=Settings(quant_spec="quanto-w8"), auto_quantize=True)
    window.welcome.add_folder(str(root))
    qtbot.mouseClick(window.welcome.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=30_000)
    model = window.library_model
    # only full checkpoints are queued: LoRAs run on their (quantized) base
    assert model.quant_status(str(target))[0] in ("queued", "running", "ready")
    assert model.quant_status(str(files["corgi"]))[0] == "none"
    assert window.quant_box.isVisible() or model.quant_status(str(target))[0] == "ready"
    qtbot.waitUntil(lambda: model.quant_status(str(target))[0] in ("ready", "failed"), timeout=QUANT_TIMEOUT_MS)
    status, detail = model.quant_status(str(target))
    assert status == "ready", detail
    assert "quanto-w8" in detail
    assert list((paths.cache_dir() / "quantized").rglob("manifest.json"))
    window.library_page.select_path(str(target))
    assert window.library_page.detail.quant_badge.text() == "Quantized"
    # the next start finds the artifact valid and does not quantize again
    window.library.quant_queue.retry(str(target), "quanto-w8")
    qtbot.waitUntil(lambda: model.quant_status(str(target))[0] in ("ready", "failed"), timeout=QUANT_TIMEOUT_MS)
    assert model.quant_status(str(target)) == ("ready", "ready · quanto-w8")
    # a file that cannot be quantized says why, in the library
    window.library.quant_queue.retry(str(files["corgi"]), "quanto-w8")
    qtbot.waitUntil(lambda: model.quant_status(str(files["corgi"]))[0] in ("ready", "failed"), timeout=QUANT_TIMEOUT_MS)
    status, detail = model.quant_status(str(files["corgi"]))
    assert status == "failed" and detail
    assert "failed" in window.quant_label.text()
