"""`personalq bench NAME [--json] [...]`: run bench/NAME.py, which owns its own arguments."""
from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = ("catalog", "checkin", "taq", "fidelity", "robustness")


def add_parser(sub) -> None:
    # add_help=False: `bench NAME --help` reaches the bench's own parser; `bench --help` lists the benches
    p = sub.add_parser("bench", help="run a benchmark (" + " | ".join(BENCHES) + ")", add_help=False)
    p.add_argument("-h", "--help", action="store_true", dest="bench_help", help="list the benches")
    p.add_argument("name", nargs="?", choices=BENCHES)
    p.add_argument("rest", nargs=argparse.REMAINDER)


def summary_line(name: str) -> str:
    """A bench's one-line purpose, read from its module docstring without importing it (no torch)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(f"bench.{name}")
    try:
        with open(spec.origin, encoding="utf-8") as handle:
            doc = ast.get_docstring(ast.parse(handle.read())) or ""
    except (AttributeError, TypeError, OSError, SyntaxError):
        return ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.split("`:", 1)[1].strip() if "`:" in first else first


def usage() -> str:
    lines = ["usage: personalq bench NAME [--json] [...]   (personalq bench NAME --help: that bench's options)",
             "", "benches:"]
    lines += [f"  {name:<11} {summary_line(name)}" for name in BENCHES]
    return "\n".join(lines)


def run(args) -> int:
    if not args.name:  # --help: the list on stdout, exit 0; no name at all: the same on stderr, exit 2
        if args.bench_help:
            print(usage())
            return 0
        print(usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{args.name}")
    rest = list(args.rest) + (["--help"] if args.bench_help else [])
    return int(module.main(rest) or 0)
