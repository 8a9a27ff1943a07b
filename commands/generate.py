"""`personalq generate "REQUEST" [--checkpoint PATH] [--seed N] [--steps N] [--quant SPEC] [--out FILE]`.

Thin: Check-in picks the checkpoint and rewrites the prompt (or `--checkpoint` names it), the
engine loads it on its base, applies the quant spec and generates. Exit codes: 0 image written,
2 bad input or a model that cannot load, 3 Check-in needs an answer (question and options are
printed), 4 nothing fits and no base model is configured.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

EXIT_ERROR, EXIT_CLARIFY, EXIT_NONE = 2, 3, 4


def add_parser(sub) -> None:
    from engine import limits

    check = limits.argparse_type  # bad values end the parse with one line naming them, before any work
    p = sub.add_parser("generate", help="pick a checkpoint for a request and generate an image",
                       description="Check-in selects the checkpoint your request means and inserts its trigger; "
                                   "the image is generated with the quantized UNet and saved as a PNG with "
                                   "its parameters embedded.")
    p.add_argument("request", help='what you want, in plain words ("my dog on the beach")')
    p.add_argument("--checkpoint", help="use this checkpoint/LoRA/embedding instead of asking Check-in")
    p.add_argument("--base", help="base checkpoint for a LoRA or embedding (default: Settings -> base models)")
    p.add_argument("--seed", type=check(limits.check_seed), help="random seed (default: a new one, recorded in the PNG)")
    p.add_argument("--steps", type=check(limits.check_steps), help="denoising steps (default: settings, 20)")
    p.add_argument("--guidance", type=check(limits.check_guidance), help="classifier-free guidance scale (default: settings, 7)")
    p.add_argument("--width", type=check(lambda v: limits.check_size("width", v)), help="image width, a multiple of 8")
    p.add_argument("--height", type=check(lambda v: limits.check_size("height", v)), help="image height, a multiple of 8")
    p.add_argument("--negative", default="", help="negative prompt")
    p.add_argument("--scheduler", default=None, type=check(limits.check_scheduler), help="ddim, euler, euler_a, dpm++, dpm++_karras, ... (default dpm++)")
    p.add_argument("--quant", type=check(limits.check_quant_spec), help="quant spec: none, quanto-w8, quanto-w4, taq-w8a8, taq-w4a8, ... (default: settings)")
    p.add_argument("--device", type=check(limits.check_device), help="auto, cuda, mps or cpu (default: settings)")
    p.add_argument("--out", help="PNG to write (default: the outputs folder)")
    p.add_argument("--db", help="catalog database (default: the app's data folder)")
    p.add_argument("--no-llm", action="store_true", help="Check-in without the local LLM")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _choose(args, core, out):
    """(Selection, prompt) to generate with, or an exit code after printing why not."""
    from app.core import LLM_WAIT_NOTICE
    from app.generation import Selection, card_for_path

    if args.checkpoint:
        if not Path(args.checkpoint).expanduser().exists():
            print(f"personalq generate: checkpoint not found: {args.checkpoint}", file=sys.stderr)
            return EXIT_ERROR
        card = card_for_path(args.checkpoint, core.store)
        if card.error:
            print(f"personalq generate: cannot use {card.path}: {card.error}", file=sys.stderr)
            return EXIT_ERROR
        rewrite = core.rewrite(args.request, card)
        selection = Selection.from_card(card)
        selection.trigger = rewrite.trigger or selection.trigger
        return selection, rewrite.prompt
    if core.llm_enabled() and not (args.json or args.quiet):
        print(LLM_WAIT_NOTICE, file=sys.stderr)
    result = core.check_in(None, args.request)
    if result.status == "selected":
        return core.selection_for(result), result.prompt
    if result.status == "clarify":
        out["checkin"] = result.to_json()
        if not args.json:
            print(result.question)
            for i, name in enumerate(result.option_names or [c.name for c in result.options], 1):
                print(f"  {i}. {name}")
            print("Run again with --checkpoint PATH (or name the one you mean in the request).")
        return EXIT_CLARIFY
    base = core.base_selection(core.likely_family())
    if base is None:
        out["checkin"] = result.to_json()
        if not args.json:
            print("Nothing in your library fits this request, and no base model is configured "
                  "(Settings -> base models) to generate without a personal checkpoint.")
        return EXIT_NONE
    print(f"Nothing in your library fits; generating with the base model {base.name}.", file=sys.stderr)
    return base, args.request


def _progress(quiet: bool):
    """Stages as lines, notices as `warning: …` (even when quiet), the steps as one bar; all on stderr."""
    from app.jobs import Notice, Stage, Step
    from commands.progress import ProgressBar

    bar = ProgressBar(sys.stderr)

    def on_progress(event):
        if isinstance(event, Notice):
            print(f"warning: {event.text}", file=sys.stderr, flush=True)
        elif quiet:
            return
        elif isinstance(event, Stage):
            print(event.text, file=sys.stderr, flush=True)
        elif isinstance(event, Step):
            bar("step", event.step, event.total)
            if event.step == event.total:
                bar.finish()

    return on_progress


def run(args) -> int:
    from commands import open_app
    from common.settings import load_settings

    settings = load_settings()
    if args.device:
        settings.device = args.device
    with open_app(args, settings, use_llm=not args.no_llm) as core:
        for line in core.settings_warnings:
            print(f"warning: {line}", file=sys.stderr)
        out: dict = {}
        choice = _choose(args, core, out)
        if isinstance(choice, int):
            if args.json:
                print(json.dumps({"status": {EXIT_CLARIFY: "clarify", EXIT_NONE: "none"}.get(choice, "error"), **out}))
            return choice
        selection, prompt = choice
        return _generate(args, core, selection, prompt)


def _generate(args, core, selection, prompt) -> int:
    """The app's one generation path; flags override the model's own size, steps and guidance."""
    from dataclasses import replace

    from app.generation import DEFAULT_SCHEDULER, GenerationJob, NoBaseModel, size_warning
    from app.jobs import JobContext
    from engine.devices import DeviceUnavailable
    from engine.loading import LoadError

    quiet = args.quiet or args.json
    try:
        params = core.default_params(selection, seed=args.seed, base=args.base)
        params = replace(params, **{k: v for k, v in {
            "steps": args.steps, "width": args.width, "height": args.height, "guidance": args.guidance,
            "quant_spec": args.quant}.items() if v is not None})
        job = GenerationJob(selection, prompt, params, request=args.request, negative_prompt=args.negative,
                            scheduler=args.scheduler or DEFAULT_SCHEDULER, out_path=args.out)
        warning = size_warning(job, core.settings, core.store, base=args.base)
        if warning and not args.json:
            print(f"note: {warning}", file=sys.stderr)
        if params.quant_spec != "none" and not quiet:
            print(f"quant spec {params.quant_spec}: the first use of a checkpoint quantizes and caches it; "
                  "later runs reuse that", file=sys.stderr)
        outcome = core.generate(JobContext(_progress(quiet)), job, base=args.base)
    except (LoadError, ValueError, FileNotFoundError, NoBaseModel, DeviceUnavailable) as exc:
        print(f"personalq generate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        timing = {k: outcome.extra.get(k) for k in ("step_seconds", "kernel")}
        print(json.dumps({"status": "generated", "path": outcome.image_path, "params": outcome.params, **timing},
                         default=str))
    else:
        print(outcome.image_path)
    return 0
