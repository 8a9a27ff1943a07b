"""`personalq --self-test`: prove a packaged app works on this machine, in one line, exit 0/1.

It drives the real window the way a first-time user does, in a throw-away PERSONALQ_HOME:
welcome -> "use the demo library" (indexes the bundled demo world, computes embeddings) ->
one Check-in for a plain-words request (local LLM included) -> a 2-step generation with the
default quant spec -> the PNG on disk with its A1111 parameters. Offscreen unless
QT_QPA_PLATFORM says otherwise (smoke.sh runs it under Xvfb with a real window and saves a
screenshot with --screenshot). Lives in packaging/ (no __init__.py: the folder must not shadow
the PyPI `packaging` library), so it is imported as the top-level module `self_test`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REQUEST = "an orange ball on a black background"  # two demo concepts fit: a clarify, worded by the LLM
STEPS = 2
SIZE = 64  # the demo world's models are trained at 32x32; 64 is the smallest size every family accepts
TIMEOUT_S = 900.0  # a shared 2-core machine needs minutes for the first LLM + pipeline load


class SelfTestFailed(RuntimeError):
    """A stage did not finish, or finished with an error; the message names the stage."""


@dataclass
class Report:
    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    facts: dict[str, object] = field(default_factory=dict)

    def line(self, ok: bool, error: str = "") -> str:
        total = sum(self.stages.values())
        timing = ", ".join(f"{name} {secs:.1f}s" for name, secs in self.stages.items())
        f = self.facts
        if not ok:
            facts = "".join(f" {k}={v}" for k, v in f.items())
            return f"personalq self-test: FAIL {error} [{timing}; total {total:.1f}s]{facts}"
        return (f"personalq self-test: OK library={f.get('cards')} checkpoints, check-in={f.get('status')}"
                f" -> {f.get('checkpoint')!r} (llm={f.get('llm')}), generated {f.get('size')} in {STEPS} steps"
                f" ({f.get('quant_spec')}, {f.get('device')}) [{timing}; total {total:.1f}s]")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="personalq --self-test", description=__doc__.split("\n")[0])
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--request", default=DEFAULT_REQUEST, help="the Check-in request")
    parser.add_argument("--quant", default=None, help="quant spec for the generation (default: the app's default)")
    parser.add_argument("--no-llm", action="store_true", help="Check-in without the local LLM rerank")
    parser.add_argument("--demo", type=Path, default=None, help="a built demo world (default: the one shipped)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a screenshot of the screen/window here")
    parser.add_argument("--home", type=Path, default=None, help="PERSONALQ_HOME to use (default: a fresh temp dir)")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary PERSONALQ_HOME (printed)")
    parser.add_argument("--startup-only", action="store_true",
                        help="only measure process start -> first window shown, then exit")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds for the whole test")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args([a for a in argv if a != "--self-test"])


def _wait(app, condition, deadline: float, stage: str) -> None:
    """Run the Qt event loop until condition() is true; the deadline names the stage that hung."""
    while not condition():
        if time.monotonic() > deadline:
            raise SelfTestFailed(f"{stage}: timed out")
        app.processEvents()
        time.sleep(0.01)


def _screenshot(app, window, path: Path) -> str:
    """The whole screen when there is one (a real window under X), else the window itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    screen = app.primaryScreen()
    pixmap = None
    if app.platformName() not in ("offscreen", "minimal") and screen is not None:
        pixmap = screen.grabWindow(0)
    if pixmap is None or pixmap.isNull():
        pixmap = window.grab()
    if not pixmap.save(str(path)):
        raise SelfTestFailed(f"screenshot: could not write {path}")
    return f"{pixmap.width()}x{pixmap.height()}"


def process_age() -> float:
    """Seconds since this process started (bootloader and interpreter start included)."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except (ImportError, OSError):  # psutil missing: /proc (Linux) or nothing
        try:
            ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
            uptime = float(Path("/proc/uptime").read_text().split()[0])
            return uptime - ticks / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")


def first_window(app, deadline: float) -> float:
    """Open the main window as a first run does and return the process age when it is on screen."""
    from desktop.main_window import MainWindow

    window = MainWindow(settings=_self_test_settings(False), use_llm=False, auto_quantize=False)
    window.show()
    _wait(app, lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), deadline, "window")
    app.processEvents()
    age = process_age()
    window.close()
    window.shutdown()
    return age


def _self_test_settings(use_llm: bool):
    """Fresh settings for the throw-away home; the bundled GGUF is named explicitly when there is one."""
    from common.settings import Settings

    settings = Settings()
    bundled = os.environ.get("PERSONALQ_BUNDLED_LLM")
    if use_llm and bundled:
        settings.llm_model = bundled
    return settings


def drive(app, request: str, quant: str | None, use_llm: bool, deadline: float, report: Report,
          screenshot: Path | None = None) -> Path:
    """The user's first run, step by step; returns the generated PNG."""
    from desktop.main_window import MainWindow

    t = time.monotonic()
    settings = _self_test_settings(use_llm)
    window = MainWindow(settings=settings, use_llm=use_llm, auto_quantize=False)
    window.show()
    _wait(app, lambda: window.isVisible(), deadline, "window")
    report.stages["window"] = time.monotonic() - t
    try:
        # 1. welcome -> demo library (index + embeddings)
        t = time.monotonic()
        if window.root.currentWidget() is not window.welcome:
            raise SelfTestFailed("window: the welcome page is not shown on a first run")
        window.library.first_run_demo()
        _wait(app, lambda: window.library.index_worker is None, deadline, "demo library")
        if window.root.currentWidget() is not window.main_area:
            raise SelfTestFailed("demo library: the demo world could not be opened (is it in the bundle?)")
        _wait(app, lambda: window.library.index_worker is None and window.library.embed_worker is None, deadline, "demo library")
        cards = window.library_model.total()
        if cards == 0:
            raise SelfTestFailed("demo library: no checkpoints were indexed")
        report.facts["cards"] = cards
        report.stages["library"] = time.monotonic() - t

        # 2. one Check-in
        t = time.monotonic()
        window.go("create")
        window.create.submit_request(request)
        _wait(app, lambda: window.create.checkin_worker is None and window.create._pending_checkin is None, deadline, "check-in")
        result = window.create.checkin_result
        if result is None:
            raise SelfTestFailed(f"check-in: {window.create.flow.error or 'no result'}")
        report.facts["status"] = result.status
        report.facts["llm"] = "used" if getattr(result, "llm_used", False) else "not used"
        if result.status == "clarify":  # answer with the first option, as a click would
            names = result.option_names or [getattr(o, "name", "") for o in result.options]
            window.create.answer_clarification(names[0])
            _wait(app, lambda: window.create.checkin_worker is None, deadline, "clarify")
            result = window.create.checkin_result
            report.facts["status"] = f"clarify->{result.status}"
        if result.status == "none":
            window.create.use_base_model()
        if use_llm and not getattr(result, "llm_used", False):
            report.facts["llm"] = _prove_llm(window.settings.llm_model)
        if window.create.selection is None:
            raise SelfTestFailed(f"check-in: {result.status} and no checkpoint or base model to generate with")
        report.facts["checkpoint"] = window.create.selection.name
        report.stages["check-in"] = time.monotonic() - t

        # 3. a 2-step generation
        t = time.monotonic()
        panel = window.generation_panel
        params = panel.params()
        params = params.__class__(steps=STEPS, seed=1, width=SIZE, height=SIZE,
                                  guidance=params.guidance, quant_spec=quant or params.quant_spec)
        prompt = (getattr(result, "prompt", None) or request) if result.status != "none" else request
        window.create.start_generation(prompt, params)
        _wait(app, lambda: window.create.gen_worker is None, deadline, "generation")
        if window.create.flow.state != "done" or window.create.last_outcome is None:
            raise SelfTestFailed(f"generation: {window.create.flow.error or window.create.flow.state}")
        image = Path(window.create.last_outcome.image_path)
        report.facts.update(quant_spec=params.quant_spec, device=window.core.device_name or "?")
        report.stages["generation"] = time.monotonic() - t
        _check_png(image, report)
        if screenshot is not None:
            settle = time.monotonic() + 1.0  # let the window paint the finished image first
            _wait(app, lambda: time.monotonic() > settle, deadline, "screenshot")
            report.facts["screenshot"] = _screenshot(app, window, screenshot)
        return image
    finally:
        window.close()
        window.shutdown()


def _prove_llm(model_path: str | None) -> str:
    """Check-in consults the LLM only on close calls; when it did not, load it and ask one question."""
    from local_llm.runtime import get_llm

    t = time.monotonic()
    llm = get_llm(model_path)
    score = llm.yes_logodds([{"role": "user", "content": "Is a cactus a plant? Answer yes or no."}])
    if score <= 0:
        raise SelfTestFailed(f"llm: {llm.path} answered 'no' to a yes-question (log-odds {score:.2f})")
    return f"loaded and answered in {time.monotonic() - t:.1f}s"


def _check_png(path: Path, report: Report) -> None:
    """The PNG exists, decodes, and carries the A1111 parameters chunk with the step count."""
    from PIL import Image

    if not path.is_file():
        raise SelfTestFailed(f"generation: no image at {path}")
    with Image.open(path) as img:
        img.load()
        params = img.text.get("parameters", "")
        report.facts["size"] = f"{img.width}x{img.height}"
    if f"Steps: {STEPS}" not in params:
        raise SelfTestFailed(f"generation: {path} lacks an A1111 'parameters' chunk with Steps: {STEPS}")


def run_self_test(argv: list[str] | None = None) -> int:
    """Entry point for `personalq --self-test [...]`: prints one line, returns 0 (pass) or 1."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    owned_home = str(args.home) if args.home else tempfile.mkdtemp(prefix="personalq-selftest-")
    os.environ["PERSONALQ_HOME"] = owned_home  # never the user's library, settings or history
    report = Report()
    start = time.monotonic()
    ok, error, line = False, "", None
    try:
        from common.logs import setup_logging

        setup_logging(verbose=args.verbose)
        if args.demo is not None:
            import demo.build

            demo.build.ASSETS = args.demo.resolve()  # services reads it at call time
        from desktop.app import create_app

        t = time.monotonic()
        app = create_app([])
        report.stages["qt"] = time.monotonic() - t
        if args.startup_only:
            line = f"personalq self-test: first window on screen {first_window(app, start + args.timeout):.2f}s after process start"
        else:
            drive(app, args.request, args.quant, not args.no_llm, start + args.timeout, report, args.screenshot)
        ok = True
    except SelfTestFailed as exc:
        error = str(exc)
    except Exception as exc:  # anything else is a failure too, reported on the one line
        error = f"{type(exc).__name__}: {exc}"
        if args.verbose:
            traceback.print_exc()
    print(line if ok and line else report.line(ok, error), flush=True)
    if args.home is None and not args.keep_home:
        shutil.rmtree(owned_home, ignore_errors=True)
    elif args.keep_home:
        print(f"personalq self-test: home kept at {owned_home}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_self_test())
