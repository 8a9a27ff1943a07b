"""The demo first run as a new user walks it: the real window, auto-quantize on, the local LLM on, the
embedder loading while the quantize worker loads diffusers models; five requests and a generation
with every spec the Create page offers. scripts/first_run_loop.sh runs this 20 times on busy cores."""
from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from desktop.generation_panel import QUANT_SPECS

# 1800 s, not the suite's 900: at load 9-14 on 2 cores the run had reached only the fifth of seven generations at
# 900 s (docs/bench/2026-12-08-first-run-hang.md); unloaded it takes about 100 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

STEP_MS = 600_000  # generous: the loop runs with both cores kept busy by another process


def ask(window, qtbot, text: str) -> str:
    """Type a request, wait for retrieval's answer and for the local LLM's second reading."""
    panel = window.request_panel
    panel.input.clear()
    qtbot.keyClicks(panel.input, text)
    qtbot.keyClick(panel.input, Qt.Key_Return)
    qtbot.waitUntil(lambda: panel.page() != "checking", timeout=STEP_MS)
    qtbot.waitUntil(lambda: window.create.refine_worker is None, timeout=STEP_MS)
    return panel.page()


def no_error_shown(window) -> bool:
    banners = (window.request_panel.banner, window.library_page.banner)
    return not any(b.isVisible() and b.kind == "error" for b in banners)


def test_demo_first_run_never_breaks(make_window, qtbot):
    window = make_window(use_llm=True, auto_quantize=True)
    try:
        world = window.core.demo_world()
    except FileNotFoundError:
        pytest.skip("the demo world is not built in this checkout")
    qtbot.mouseClick(window.welcome.demo_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.root.currentWidget() is window.main_area, timeout=STEP_MS)
    model = window.library_model
    # both DreamBooth files are quantized on import, with the demo base's configs, while search gets ready
    qtbot.waitUntil(lambda: not window.library.quant_queue.busy() and window.library.embed_worker is None, timeout=STEP_MS)
    statuses = {c.path: model.quant_status(c.path) for c in model.cards() if c.kind == "checkpoint"}
    assert len(statuses) == 2 and all(s == "ready" for s, _ in statuses.values()), statuses
    assert window.library.embeddings_ready and no_error_shown(window)

    window.go("create")
    panel = window.request_panel
    assert ask(window, qtbot, "a ball") == "clarify"  # two different balls
    assert ask(window, qtbot, "a red sports car on a racetrack") == "none"
    assert ask(window, qtbot, "mi cactus en el desierto") == "selected"
    assert "cactus" in window.create.selection.name.lower()
    assert ask(window, qtbot, "a cactsu in the desert") == "selected"
    assert "cactus" in window.create.selection.name.lower()
    assert ask(window, qtbot, "my robot from march") == "selected"
    assert window.create.selection.path.endswith("pqr_robot_v1.safetensors")
    prompt = panel.prompt.toPlainText()
    assert "pqr" in prompt and "march" not in prompt.lower()
    assert no_error_shown(window)

    gen = window.generation_panel
    size = world["image_size"]
    assert (gen.width_box.value(), gen.height_box.value()) == (size, size)
    for spec in QUANT_SPECS:
        gen.quant.setCurrentIndex(gen.quant.findData(spec))
        qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: window.create.flow.state in ("done", "failed"), timeout=STEP_MS)
        assert window.create.flow.state == "done", (spec, window.create.flow.error)
        with Image.open(window.create.last_outcome.image_path) as image:
            assert image.size == (size, size), spec
    assert no_error_shown(window)
    assert not [p for p, (s, _) in ((p, model.quant_status(p)) for p in statuses) if s == "failed"]
