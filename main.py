"""PersonalQ entry point: no arguments opens the desktop app; subcommands are the CLI."""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class _Parser(argparse.ArgumentParser):
    """A bad argument is one line naming it (and where help is), not the whole usage block."""

    def error(self, message):
        from common.text import escape_controls

        self.exit(2, f"{self.prog}: {escape_controls(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    import commands

    parser = _Parser(prog="personalq", description=__doc__)
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug output to stderr too")
    sub = parser.add_subparsers(dest="command")
    for name in commands.COMMANDS:
        try:
            module = commands.load(name)
        except ModuleNotFoundError as exc:  # a subcommand not built yet must not break the others
            if exc.name and exc.name.startswith("commands."):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in argv:  # the packaged app's smoke check, also runnable from source
        sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "packaging"))
        from self_test import run_self_test

        return run_self_test(argv)
    if not [a for a in argv if not a.startswith("-")] and not any(a in ("-h", "--help") for a in argv):
        from common.logs import setup_logging

        setup_logging(verbose="--verbose" in argv or "-v" in argv)
        from desktop.app import run_app

        _install_hooks(gui=True)
        _sweep()
        try:
            return run_app(argv)
        except Exception as exc:
            return report_unexpected(exc, "personalq")
    parser = build_parser()
    args = parser.parse_args(argv)
    from common.logs import setup_logging

    setup_logging(verbose=args.verbose)
    import commands

    _install_hooks(gui=False)
    _sweep()
    if isinstance(getattr(args, "request", None), str):  # the boundary: no undecodable bytes or escapes past here
        from common.text import clean_request

        args.request = clean_request(args.request)
    module = commands.load(args.command)
    try:
        return int(module.run(args) or 0)
    except commands.CommandFailed as exc:
        from common.text import escape_controls

        print(f"personalq {args.command}: {escape_controls(str(exc))}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line for the user, the traceback in the log
        return report_unexpected(exc, f"personalq {args.command}")


def report_unexpected(exc: BaseException, prog: str = "personalq") -> int:
    """Print one line (what failed, where the details are) and log the traceback; returns exit code 1."""
    import errno
    import logging

    from common.text import escape_controls

    logging.getLogger("personalq").error("%s failed", prog, exc_info=exc)
    log_path = _log_path()
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES):
        from common.paths import describe_os_error

        what = describe_os_error(exc)
    else:
        what = f"{type(exc).__name__}: {exc}"
    line = escape_controls(what).splitlines()[0] if what else type(exc).__name__
    where = f" (details in {log_path})" if log_path else ""
    print(f"{prog}: unexpected error: {line}{where}", file=sys.stderr)
    return 1


def _sweep() -> None:
    """Temp files and folders of killed PersonalQ processes go at start (settings, outputs, artifacts)."""
    from common.paths import sweep_at_start

    sweep_at_start()


def _install_hooks(gui: bool) -> None:
    """A thread that dies (and, in the window, a slot that raises: PySide6 hands it to sys.excepthook)
    is one line plus the log's path, not a traceback on the terminal."""
    import threading

    def thread_hook(hook_args):
        if hook_args.exc_type is SystemExit or hook_args.exc_value is None:
            return
        name = getattr(hook_args.thread, "name", "thread")
        report_unexpected(hook_args.exc_value, f"personalq ({name})")

    threading.excepthook = thread_hook
    if gui:
        def hook(exc_type, exc, tb):
            if issubclass(exc_type, KeyboardInterrupt):
                return sys.__excepthook__(exc_type, exc, tb)
            report_unexpected(exc.with_traceback(tb), "personalq")

        sys.excepthook = hook


def _log_path() -> str | None:
    import logging
    import logging.handlers

    files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    ours = [f for f in files if os.path.basename(f) == "personalq.log"]  # common.logs' file, not a test's
    return (ours or files or [None])[0]


if __name__ == "__main__":
    sys.exit(main())
