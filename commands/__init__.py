"""CLI subcommands. Each module exposes `add_parser(subparsers)` and `run(args) -> int`.

Modules are imported only when their subcommand runs, so `personalq index --help` stays light.
"""
from __future__ import annotations

import contextlib
import importlib

# subcommand name -> module under commands/
COMMANDS = {
    "index": "commands.index",
    "list": "commands.list_cmd",
    "select": "commands.select",
    "generate": "commands.generate",
    "quantize": "commands.quantize",
    "demo": "commands.demo",
    "bench": "commands.bench",
}


def load(name: str):
    return importlib.import_module(COMMANDS[name])


class CommandFailed(Exception):
    """Ends a command with one line on stderr (`personalq COMMAND: message`) and `code` as its exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def open_app(args, settings=None, db=None, use_llm: bool | None = None):
    """The App a command works with (its `--db`, else `db`, else the app's catalog), closed when the command
    is done; a catalog that cannot be opened or created ends the command as CommandFailed."""
    from app.core import App
    from catalog.store import StoreError
    from common.paths import default_db_path
    from common.settings import load_settings

    try:
        core = App(settings or load_settings(), db_path=getattr(args, "db", None) or db or default_db_path(),
                   use_llm=use_llm)
    except StoreError as exc:
        raise CommandFailed(str(exc)) from None
    with core:
        yield core
