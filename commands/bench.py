"""`personalq bench NAME [--json] [...]`: run bench/NAME.py, which owns its own arguments."""
from __future__ import annotations

import argparse
import importlib

BENCHES = ("catalog", "checkin", "taq", "serve", "fidelity", "robustness")


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark (catalog | checkin | taq | serve | fidelity | robustness)", add_help=False)
    p.add_argument("name", nargs="?", choices=BENCHES)
    p.add_argument("rest", nargs=argparse.REMAINDER)


def run(args) -> int:
    if not args.name:
        print("usage: personalq bench {" + ",".join(BENCHES) + "} [--json] [--help]")
        return 2
    try:
        module = importlib.import_module(f"bench.{args.name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bench.{args.name}":
            print(f"bench '{args.name}' is not available in this build")
            return 2
        raise
    return int(module.main(list(args.rest)) or 0)
