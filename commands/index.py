"""`personalq index FOLDER... [--db DB] [--json]`: scan folders into the catalog.

Thin: open the store, call `catalog.indexer.index_folders`, print. Progress goes to stderr so
`--json` output on stdout stays one JSON list.
"""
from __future__ import annotations

import json
import logging
import sys

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("index", help="scan checkpoint folders into the catalog",
                       description="Scan folders (recursively) for checkpoints, LoRAs and embeddings and "
                                   "record them in the catalog. Rescans only read what changed.")
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="folder(s) to scan")
    p.add_argument("--db", help="catalog database (default: the app's data folder)")
    p.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    p.add_argument("--no-hash", action="store_true", help="skip the sha256 pass (no duplicate detection)")
    p.add_argument("--no-embed", action="store_true", help="skip sentence embeddings (keyword search only)")
    p.add_argument("--gloss", action="store_true",
                   help="also let the local LLM read each card (about 2 s per card): the kind of thing it shows "
                        "('cat'), so Check-in asks when a request names only a kind several cards show, and an "
                        "English line for a card described in another language, so Check-in finds it by plain "
                        "words; needs a model that reads well enough (the 1.5B that make setup "
                        "installs, or your own GGUF in settings)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


EXIT_NOT_STORED = 1  # the run finished but some cards could not be written (listed)
EXIT_ABORTED = 1  # the catalog stopped taking writes (disk full, read-only): the cause is printed


def run(args) -> int:
    from app.jobs import Counted, JobContext
    from catalog.indexer import IndexAborted
    from catalog.scan import FolderNotFound
    from commands import CommandFailed, open_app
    from commands.progress import ProgressBar
    from common.text import escape_controls

    bar = None if args.quiet else ProgressBar(sys.stderr)
    ctx = JobContext(lambda event: bar(event.phase, event.done, event.total)
                     if bar and isinstance(event, Counted) else None)
    with open_app(args) as core:
        try:
            report = core.index(ctx, args.folders, embed=not args.no_embed, compute_hashes=not args.no_hash)
        except FolderNotFound as exc:
            raise CommandFailed(str(exc)) from None
        except IndexAborted as exc:
            done = exc.report
            raise CommandFailed(f"stopped: {exc} ({done.added} new and {done.updated} changed entries were "
                                "stored; run it again when there is room)", EXIT_ABORTED) from None
        finally:
            if bar:
                bar.finish()
        if args.gloss and not report.cancelled:
            problem = _gloss(core, ctx)
            if problem:
                report.problems.append(problem)
        for problem in report.problems:
            log.warning(problem)
            print(f"warning: {escape_controls(problem)}", file=sys.stderr)
        wanted = set(report.paths)
        cards = [c for c in core.cards() if c.path in wanted]
    if args.json:
        print(json.dumps([card_entry(c) for c in cards], ensure_ascii=False))
    else:
        print(summary_line(report))
        for card in cards:
            if card.error:
                print(f"  error: {escape_controls(card.error)}")
    if report.not_stored:
        print(f"personalq index: {len(report.not_stored)} entr{'y' if len(report.not_stored) == 1 else 'ies'} "
              "could not be stored (run it again to retry):", file=sys.stderr)
        for line in report.not_stored:
            log.warning("not stored: %s", line)
            print(f"  not stored: {escape_controls(line)}", file=sys.stderr)
        return EXIT_NOT_STORED
    return 0


def _gloss(core, ctx) -> str | None:
    """Gloss the cards that need it; a problem (no LLM, failed cards) comes back as a warning line."""
    try:
        report = core.gloss(ctx)
    except (RuntimeError, OSError) as exc:  # no LLM installed or loadable (ModelUnavailable, LLMError), no room
        return f"cards not glossed: {exc}"
    if report.get("skipped"):
        return f"cards not glossed: {report['skipped']}"
    if report["failed"]:
        return f"{len(report['failed'])} card(s) not glossed (the model failed or ran out of time)"
    return None


def card_entry(card) -> dict:
    """The `index --json` / `list --json` entry of DESIGN.md (plus a few extra fields)."""
    from catalog.card import display_name

    return {
        "path": card.path,
        "kind": card.kind,
        "base_model": card.base_model,
        "name": card.name,
        "display_name": display_name(card),  # as the window and `personalq list` show it
        "triggers": list(card.triggers),
        "error": card.error,
        "canonical_trigger": card.canonical_trigger,
        "format": card.format,
        "duplicate_of": card.duplicate_of,
        "sha256": card.sha256,
    }


def summary_line(report) -> str:
    total = sum(report.seconds.values())
    parts = [f"{report.added} new", f"{report.updated} changed", f"{report.unchanged} unchanged",
             f"{report.removed} removed", f"{report.errors} with errors"]
    if report.duplicates:
        parts.append(f"{report.duplicates} duplicates")
    if report.embedded:
        parts.append(f"{report.embedded} embedded")
    return f"indexed {len(report.paths)} entries ({', '.join(parts)}) in {total:.2f} s"
