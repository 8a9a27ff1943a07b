"""Save a PNG of each main state of the app, driven for real offscreen: `python -m desktop.screenshots OUTDIR`.

A sample library (desktop/sample_library.py, plus the engine's tiny checkpoint for a real
generation) is indexed in a temporary PERSONALQ_HOME; each state is reached the way a user
would reach it (first run, search, a request, a question, a generation) and grabbed.
Options: --no-generate skips the tiny pipeline (no torch import); --size WxH; --demo instead shoots
the demo library (the first run's "Use the demo library"): its library page with the embedding selected,
and the Create page after one generation and then a new request (demo-library.png, demo-create-new-request.png);
--compose the demo library's Create page after a subject and a style in plain words (their chips,
create-compose-chips.png) and after a style the library lacks (its one-line note, create-compose-missing-style.png).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def _wait(app, condition, timeout: float = 180.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or condition}")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def _fresh_home(out: Path) -> Path:
    """Make `out`; point PERSONALQ_HOME into a new temporary folder (offscreen, offline, light theme unless
    PERSONALQ_THEME says otherwise) and return that folder."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pq-shots-"))
    os.environ["PERSONALQ_HOME"] = str(work / "home")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["PERSONALQ_THEME"] = os.environ.get("PERSONALQ_THEME", "light")
    return work


def _window(width: int, height: int):
    """(app, window): the main window at that size, shown, without the local LLM or auto-quantize."""
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    app = create_app([])
    window = MainWindow(use_llm=False, auto_quantize=False)
    window.resize(width, height)
    window.show()
    return app, window


def _open_demo_library(app, window) -> None:
    """The first run's "Use the demo library", waited for until it is indexed and embedded."""
    window.welcome.demo_button.click()
    _wait(app, lambda: window.root.currentWidget() is window.main_area, what="the demo library's index")
    _wait(app, lambda: window.library.embed_worker is None, what="embeddings")


def _grab(app, widget, path: Path) -> Path:
    """Let pending paints finish, save `widget` as `path` and say so on stderr."""
    for _ in range(5):
        app.processEvents()
    widget.grab().save(str(path))
    print(path, file=sys.stderr)
    return path


def _tiny_checkpoint(folder: Path) -> Path:
    import torch

    from app.sample_library import write_preview, write_tin_robot

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    path = write_tin_robot(folder / "Stable-diffusion" / "tin_robot.safetensors")
    write_preview(folder / "Stable-diffusion" / "tin_robot.preview.png", (225, 230, 235), (150, 160, 175))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desktop.screenshots", description=__doc__)
    parser.add_argument("outdir")
    parser.add_argument("--no-generate", action="store_true", help="skip the real generation (no torch)")
    parser.add_argument("--size", default="1280x820")
    parser.add_argument("--demo", action="store_true", help="the demo library's library and Create pages only")
    parser.add_argument("--compose", action="store_true", help="the demo library's Create page after subject+style requests")
    args = parser.parse_args(argv)
    if args.compose:
        return compose_shots(Path(args.outdir), *(int(v) for v in args.size.lower().split("x")))
    if args.demo:
        return demo_shots(Path(args.outdir), *(int(v) for v in args.size.lower().split("x")))
    out = Path(args.outdir)
    width, height = (int(v) for v in args.size.lower().split("x"))
    work = _fresh_home(out)

    from app.sample_library import write_sample_library

    library = work / "checkpoints"
    write_sample_library(library, previews=True)
    if not args.no_generate:
        _tiny_checkpoint(library)

    from desktop import theme
    from desktop.settings_dialog import SettingsDialog

    app, window = _window(width, height)
    saved: list[str] = []

    def shot(name: str, widget=None) -> None:
        saved.append(_grab(app, widget or window, out / f"{name}.png").name)

    # first run
    shot("01-welcome")
    window.welcome.add_folder(str(library))
    window.welcome.show_indexing()
    window.welcome.set_progress("index", 4, 7, "Reading checkpoints…")
    shot("02-first-run-indexing")
    window.welcome.show_choose()
    window.welcome.start_button.click()
    _wait(app, lambda: window.root.currentWidget() is window.main_area, what="first index")
    _wait(app, lambda: window.library.embed_worker is None, what="embeddings")

    # library
    page = window.library_page
    page.select_path(next(c.path for c in window.library_model.cards() if c.name == "Rex the corgi"))
    shot("03-library-grid-detail")
    page.set_grid(False)
    page.broken_toggle.setChecked(True)
    shot("04-library-list-broken-files")
    page.broken_toggle.setChecked(False)
    page.set_grid(True)
    page.search.setText("family pet")
    _wait(app, lambda: window.library.search_worker is not None and window.library_model.is_filtered(), what="search")
    shot("05-library-search")
    page.search.setText("zzzz unknown thing")
    _wait(app, lambda: page.stack.currentWidget() is page.empty, what="empty search")
    shot("06-library-search-empty")
    page.search.clear()

    # create
    window.go("create")
    shot("07-create-empty")
    panel = window.request_panel

    def ask(text: str) -> None:
        panel.input.setText(text)
        window.create.submit_request(text)
        _wait(app, lambda: panel.page() != "checking", what=f"check-in for {text!r}")

    ask("Luna at night")
    shot("08-create-clarify")
    ask("a red sports car on a racetrack")
    shot("09-create-none")
    if not args.no_generate:
        gen = window.generation_panel
        ask("zxrobot the tin robot waving in a garden")
        gen.set_params(gen.params().__class__(steps=12, seed=42, width=64, height=64, guidance=5.0, quant_spec="none"))
        shot("10-create-selected")
        window.create.start_generation(panel.prompt.toPlainText())
        _wait(app, lambda: gen.bar.value() >= 6 or window.create.flow.state != "generating", what="generation steps")
        shot("11-generating-with-preview")
        _wait(app, lambda: window.create.flow.state != "generating", what="generation")
        shot("12-generated")
        window.go("history")
        shot("13-history")
    else:
        window.go("history")
        shot("13-history-empty")

    # errors are shown in the window
    window.go("create")
    panel.banner.show_message("Generation failed: cannot load checkpoint /models/broken.safetensors: "
                              "header is not valid JSON", "error")
    shot("14-error-banner")
    panel.banner.hide()

    dialog = SettingsDialog(window.settings, window)
    dialog.resize(680, 520)
    dialog.show()
    shot("15-settings", dialog)
    dialog.close()

    # dark scheme
    os.environ["PERSONALQ_THEME"] = "dark"
    theme.apply_theme(app)
    window.go("library")
    page.select_path(next(c.path for c in window.library_model.cards() if c.name == "Luna moth"))
    shot("16-dark-library")
    window.go("create")
    shot("17-dark-create")
    window.go("history")
    shot("18-dark-history")

    window.close()
    print(f"saved {len(saved)} screenshots to {out}", file=sys.stderr)
    return 0


COMPOSE_REQUESTS = {"create-compose-chips": "my cactus with a pink frame",
                    "create-compose-missing-style": "my cactus in charcoal style"}


def compose_shots(out: Path, width: int, height: int) -> int:
    """Issue #30: a subject and a style named in plain words show as two chips; a style the library lacks is
    said in one line. The demo library, Check-in without the local LLM (the same answer on every machine)."""
    _fresh_home(out)

    app, window = _window(width, height)
    _open_demo_library(app, window)
    window.go("create")
    panel = window.request_panel
    for name, text in COMPOSE_REQUESTS.items():
        panel.input.setText(text)
        window.create.submit_request(text)
        _wait(app, lambda: panel.page() != "checking", timeout=300, what=f"check-in for {text!r}")
        _grab(app, window, out / f"{name}.png")
    window.close()
    return 0


def demo_shots(out: Path, width: int, height: int) -> int:
    """The demo library as a new user first sees it: base-model and kind badges, the embedding's detail with
    its path, and the Create page's status after an image and a new request."""
    _fresh_home(out)

    app, window = _window(width, height)

    def shot(name: str) -> None:
        _grab(app, window, out / f"{name}.png")

    _open_demo_library(app, window)
    window.go("library")
    window.library_page.select_path(next(c.path for c in window.library_model.cards() if c.kind == "textual_inversion"))
    shot("demo-library")

    window.go("create")
    panel, gen = window.request_panel, window.generation_panel
    for text in ("a vwk ball on black", "a dfr cactus in the middle"):
        panel.input.setText(text)
        window.create.submit_request(text)
        _wait(app, lambda: panel.page() != "checking", what=f"check-in for {text!r}")
        if gen.last_image is None and text.startswith("a vwk"):
            window.create.start_generation(panel.prompt.toPlainText())
            _wait(app, lambda: window.create.flow.state != "generating", what="generation")
    shot("demo-create-new-request")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
