"""`personalq select "REQUEST" [--db DB] [--json] [--no-llm] [--llm-model PATH] [--today YYYY-MM-DD]`.

Thin: open the catalog, run Check-in once, print the decision (one JSON object with --json).
"""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("select", help="pick the checkpoint a request means (or ask, or say none fits)",
                       description="Check-in: read the request, find the checkpoint it means, rewrite the "
                                   "prompt with its trigger; ask one question when several really fit.")
    p.add_argument("request", help='what you want, in plain words, e.g. "my corgi at the beach, watercolor"')
    p.add_argument("--db", help="catalog database (default: the app's data folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-llm", action="store_true", help="retrieval only: do not load the local LLM")
    p.add_argument("--llm-model", help="a GGUF chat model to use instead of the bundled one")
    p.add_argument("--today", help="read relative dates ('last summer') against this day (YYYY-MM-DD)")


def run(args) -> int:
    from common.paths import default_db_path

    db = Path(args.db) if args.db else default_db_path()
    if not db.is_file():
        print(f"personalq select: no catalog at {db} (run `personalq index FOLDER` first)", file=sys.stderr)
        return 1
    today = None
    if args.today:
        try:
            today = date.fromisoformat(args.today)
        except ValueError:
            print(f"personalq select: --today must be YYYY-MM-DD, got {args.today!r}", file=sys.stderr)
            return 2
    if not args.request.strip():
        print("personalq select: the request is empty", file=sys.stderr)
        return 2
    from app.core import LLM_WAIT_NOTICE
    from commands import open_app
    from common.settings import load_settings

    settings = load_settings()
    if args.llm_model:
        settings.llm_model = args.llm_model
    from common.text import escape_controls

    with open_app(args, settings, db=db, use_llm=not args.no_llm) as core:
        if core.llm_enabled() and not args.json:
            print(LLM_WAIT_NOTICE, file=sys.stderr)
        result = core.check_in(None, args.request, today=today)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    if result.status == "selected":
        from app.generation import display_name

        print(f"checkpoint: {escape_controls(display_name(result.card))}  ({escape_controls(result.card.path)})")
        for extra in result.extras:  # a style or pose the request also names
            print(f"with:       {escape_controls(display_name(extra))}  ({escape_controls(extra.path)})")
        print(f"prompt:     {escape_controls(result.prompt)}")
    elif result.status == "clarify":
        print(escape_controls(result.question))
        for i, name in enumerate(result.option_names, 1):
            print(f"  {i}. {escape_controls(name)}")
    else:
        print("None of your checkpoints fits this request; the base model can generate it as is.")
        if result.suggestions:
            from app.generation import display_name

            names = ", ".join(escape_controls(display_name(c)) for c in result.suggestions)
            print(f"closest (use --checkpoint with generate to pick one): {names}")
    if result.note:
        print(f"note: {result.note}", file=sys.stderr)
    return 0
