"""`personalq list [--db DB] [--json]`: what the catalog holds."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list the catalog's entries")
    p.add_argument("--db", help="catalog database (default: the app's data folder)")
    p.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    p.add_argument("--no-errors", action="store_true", help="leave out files that could not be read")


def run(args) -> int:
    from catalog.card import display_name
    from commands import open_app
    from commands.index import card_entry
    from common.paths import default_db_path
    from common.text import escape_controls

    db = Path(args.db) if args.db else default_db_path()
    if not db.is_file():
        print(f"personalq list: no catalog at {escape_controls(str(db))} (run `personalq index FOLDER` first)",
              file=sys.stderr)
        return 1
    with open_app(args, db=db) as core:
        cards = core.cards(include_errors=not args.no_errors)
    if args.json:
        print(json.dumps([card_entry(c) for c in cards], ensure_ascii=False))
        return 0
    # one entry, one line: a newline or an escape sequence in a name is shown escaped, never printed raw
    # names as the window shows them (catalog.card.display_name): "Tvy Pink Frame Style", "PQR Robot v2"
    rows = [tuple(escape_controls(str(v)) for v in (c.kind, c.base_model, display_name(c), c.canonical_trigger or "",
                                                   c.error or c.path)) for c in cards]
    header = ("kind", "base", "name", "trigger", "path / error")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths + [0])).rstrip())
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths + [0])).rstrip())
    print(f"{len(cards)} entries")
    return 0
