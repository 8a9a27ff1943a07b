"""PersonalQ entry point: no arguments opens the desktop app; subcommands are the CLI."""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def build_parser() -> argparse.ArgumentParser:
    import commands

    parser = argparse.ArgumentParser(prog="personalq", description=__doc__)
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

        return run_app(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    from common.logs import setup_logging

    setup_logging(verbose=args.verbose)
    import commands

    module = commands.load(args.command)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
