"""CLI subcommands. Each module exposes `add_parser(subparsers)` and `run(args) -> int`.

Modules are imported only when their subcommand runs, so `personalq index --help` stays light.
"""
from __future__ import annotations

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
