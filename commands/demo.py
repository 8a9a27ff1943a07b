"""`personalq demo ["REQUEST"]`: the embedded demo world end to end, offline.

Uses the committed world under demo/assets (builds it when missing), indexes its library,
runs one plain-words request through Check-in and generates with the chosen checkpoint, through the
same application core as the window and `personalq generate`.
Prints the checkpoint, the rewritten prompt and the PNG path.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_REQUEST = "a large robot head on a black background, center"


def add_parser(sub) -> None:
    from engine import limits

    check = limits.argparse_type  # the same types and checks as `generate`: a bad value is one line, before any work
    p = sub.add_parser("demo", help="run one request against the built-in demo world",
                       description="Index the demo world's checkpoints, let Check-in pick one for a request, generate.")
    p.add_argument("request", nargs="?", default=DEFAULT_REQUEST, help=f'what you want (default: "{DEFAULT_REQUEST}")')
    p.add_argument("--world", type=Path, help="a built demo world folder (default: the committed demo/assets)")
    p.add_argument("--build-smoke", action="store_true", help="if the world is missing, build the quick smoke world instead of the full one")
    p.add_argument("--quant", type=check(limits.check_quant_spec),
                   help="quant spec for the UNet: none, taq-w8a8, taq-w4a8, ... (default: settings, taq-w8a8)")
    p.add_argument("--seed", type=check(limits.check_seed), default=1, help="random seed (default: 1)")
    p.add_argument("--steps", type=check(limits.check_steps), help="denoising steps (default: what the demo base was made for)")
    p.add_argument("--db", type=Path, help="catalog database (default: demo.sqlite in the app's data folder)")
    p.add_argument("--out", type=Path, help="image to write, .png, .jpg or .webp (default: the outputs folder)")
    p.add_argument("--no-llm", action="store_true", help="Check-in without the local LLM")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def ensure_world(world: Path | None, smoke: bool) -> Path:
    """The world folder; built (full, or smoke) when its manifest is missing."""
    from demo.build import ASSETS
    from demo.build import main as build_main

    world = Path(world) if world else ASSETS
    if not (world / "manifest.json").is_file():
        print(f"personalq demo: no demo world at {world}; building it (this takes a while)...", file=sys.stderr)
        code = build_main((["--smoke"] if smoke else []) + ["--out", str(world)])
        if code != 0 or not (world / "manifest.json").is_file():
            raise RuntimeError(f"building the demo world into {world} failed")
    return world


def run(args) -> int:
    from dataclasses import replace

    from app.generation import GenerationJob, Selection, card_for_path
    from app.jobs import JobContext
    from commands import open_app
    from common import paths
    from common.settings import load_settings
    from engine.generate import OutputPathError, check_output_path

    out = Path(args.out or (paths.outputs_dir() / "demo.png"))
    try:  # before the ~10 s of indexing and loading: a folder, device or unwritable place is one line now
        check_output_path(out, 32, 32)
    except OutputPathError as exc:
        print(f"personalq demo: {exc}", file=sys.stderr)
        return 2
    world = ensure_world(args.world, args.build_smoke)
    db = args.db or (paths.data_dir() / "demo.sqlite")
    db.parent.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    quant = args.quant or settings.quant_spec or "none"  # the app's default (taq-w8a8), as the window runs it
    settings.base_models = {**settings.base_models, "sd15": str(world / "base")}  # the demo's own base
    note = None
    with open_app(args, settings, db=db, use_llm=not args.no_llm) as core:
        quiet = JobContext()
        report = core.index(quiet, [str(world / "library")])
        core.embed(quiet)
        result = core.check_in(None, args.request)
        if result.status == "clarify":
            note = f"Check-in asked: {result.question} -> answering with the first option for the demo"
            card = result.options[0]
            selection, prompt = Selection.from_card(card), core.rewrite(args.request, card).prompt
        elif result.status == "selected":
            selection, prompt = core.selection_for(result), result.prompt
        else:
            note = "Check-in found nothing that fits; generating with the base model"
            selection = Selection.from_card(card_for_path(str(world / "base"), core.store), is_base=True)
            prompt = args.request
        params = core.default_params(selection, seed=args.seed)  # the demo base's own 32x32, steps, guidance
        params = replace(params, quant_spec=quant, **({"steps": args.steps} if args.steps is not None else {}))
        outcome = core.generate(JobContext(), GenerationJob(selection, prompt, params, request=args.request,
                                                            out_path=str(out)))
    summary = {
        "status": result.status,
        "checkpoint": selection.path,
        "name": selection.name,
        "kind": selection.kind,
        "trigger": selection.trigger,
        "prompt": prompt,
        "quant": quant,
        "image": outcome.image_path,
        "seconds": round(outcome.seconds, 2),
        "indexed": getattr(report, "added", None),
        "note": note or result.note,
    }
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"request:    {args.request}")
        print(f"check-in:   {result.status}" + (f" ({summary['note']})" if summary["note"] else ""))
        print(f"checkpoint: {summary['name']} [{summary['kind']}] {summary['checkpoint']}")
        print(f"prompt:     {prompt}")
        print(f"image:      {outcome.image_path} ({quant}, {outcome.seconds:.1f}s)")
    return 0
