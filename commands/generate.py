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
import time
from pathlib import Path

log = logging.getLogger(__name__)

EXIT_ERROR, EXIT_CLARIFY, EXIT_NONE = 2, 3, 4


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="pick a checkpoint for a request and generate an image",
                       description="Check-in selects the checkpoint your request means and inserts its trigger; "
                                   "the image is generated with the quantized UNet and saved as a PNG with "
                                   "its parameters embedded.")
    p.add_argument("request", help='what you want, in plain words ("my dog on the beach")')
    p.add_argument("--checkpoint", help="use this checkpoint/LoRA/embedding instead of asking Check-in")
    p.add_argument("--base", help="base checkpoint for a LoRA or embedding (default: Settings -> base models)")
    p.add_argument("--seed", type=int, help="random seed (default: a new one, recorded in the PNG)")
    p.add_argument("--steps", type=int, help="denoising steps (default: settings, 20)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: settings, 7)")
    p.add_argument("--width", type=int, help="image width, a multiple of 8")
    p.add_argument("--height", type=int, help="image height, a multiple of 8")
    p.add_argument("--negative", default="", help="negative prompt")
    p.add_argument("--scheduler", default=None, help="ddim, euler, euler_a, dpm++, dpm++_karras, ... (default dpm++)")
    p.add_argument("--quant", help="quant spec: none, quanto-w8, quanto-w4, taq-w8a8, taq-w4a8, ... (default: settings)")
    p.add_argument("--device", help="auto, cuda, mps or cpu (default: settings)")
    p.add_argument("--out", help="PNG to write (default: the outputs folder)")
    p.add_argument("--db", help="catalog database (default: the app's data folder)")
    p.add_argument("--no-llm", action="store_true", help="Check-in without the local LLM")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _card_for_path(path: str, store):
    """The catalog's card for a file when indexed, else one read from the file now."""
    from catalog.metadata import build_card
    from catalog.probe import probe_path

    resolved = str(Path(path).expanduser().resolve())
    card = store.get(resolved) if store is not None else None
    return card or build_card(probe_path(resolved))


def _base_card(settings, store, family: str | None = None):
    """The configured base model for a family (or the first configured one)."""
    bases = settings.base_models or {}
    path = bases.get(family) if family else next(iter(bases.values()), None)
    return _card_for_path(path, store) if path else None


def _choose(args, settings, store, out):
    """(card, prompt, trigger) to generate with, or an exit code after printing why not."""
    from checkin.rewrite import rewrite_prompt

    if args.checkpoint:
        if not Path(args.checkpoint).expanduser().exists():
            print(f"personalq generate: checkpoint not found: {args.checkpoint}", file=sys.stderr)
            return EXIT_ERROR
        card = _card_for_path(args.checkpoint, store)
        if card.error:
            print(f"personalq generate: cannot use {card.path}: {card.error}", file=sys.stderr)
            return EXIT_ERROR
        rewrite = rewrite_prompt(args.request, card)
        return card, rewrite.prompt, rewrite.trigger
    from checkin.decide import check_in

    result = check_in(args.request, store, use_llm=not args.no_llm)
    if result.status == "selected":
        return result.card, result.prompt, result.trigger
    if result.status == "clarify":
        out["checkin"] = result.to_json()
        if not args.json:
            print(result.question)
            for i, name in enumerate(result.option_names or [c.name for c in result.options], 1):
                print(f"  {i}. {name}")
            print("Run again with --checkpoint PATH (or name the one you mean in the request).")
        return EXIT_CLARIFY
    base = _base_card(settings, store)
    if base is None:
        out["checkin"] = result.to_json()
        if not args.json:
            print("Nothing in your library fits this request, and no base model is configured "
                  "(Settings -> base models) to generate without a personal checkpoint.")
        return EXIT_NONE
    print(f"Nothing in your library fits; generating with the base model {base.name or base.path}.", file=sys.stderr)
    return base, args.request, None


def _progress(quiet: bool):
    started = time.perf_counter()

    def on_step(step, total, _preview):
        if not quiet:
            print(f"\rstep {step}/{total}  {time.perf_counter() - started:5.1f} s", end="", file=sys.stderr, flush=True)
            if step == total:
                print(file=sys.stderr)

    return on_step


def _out_path(args, card) -> Path:
    if args.out:
        return Path(args.out)
    from common.paths import outputs_dir

    stem = Path(card.path).stem if card else "base"
    return outputs_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}.png"


def run(args) -> int:
    from commands.index import open_store
    from common.settings import load_settings

    settings = load_settings()
    store = open_store(args.db)
    out: dict = {}
    try:
        choice = _choose(args, settings, store, out)
        if isinstance(choice, int):
            if args.json:
                print(json.dumps({"status": {EXIT_CLARIFY: "clarify", EXIT_NONE: "none"}.get(choice, "error"), **out}))
            return choice
        card, prompt, trigger = choice
        return _generate(args, settings, store, card, prompt, trigger)
    finally:
        store.close()


def _generate(args, settings, store, card, prompt, trigger) -> int:
    from engine.devices import DeviceUnavailable, pick_device
    from engine.generate import GenerationRequest, generate
    from engine.loading import LoadError
    from engine.pool import ModelRef, PipelinePool

    base_path = None
    config_dir = None
    family_base = args.base or (settings.base_models or {}).get(card.base_model)
    if card.kind in ("lora", "textual_inversion"):
        base_path = family_base
    elif card.kind == "checkpoint" and family_base and Path(family_base).is_dir() and family_base != card.path:
        config_dir = family_base  # a single file takes its component configs from its family's diffusers base
    try:
        device = pick_device(args.device or settings.device, settings.dtype)
    except (ValueError, DeviceUnavailable) as exc:
        print(f"personalq generate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    quant = args.quant or settings.quant_spec or "none"
    ref = ModelRef(path=card.path, kind=card.kind if card.kind != "unknown" else "checkpoint",
                   base_model=card.base_model, base_path=base_path,
                   trigger=trigger or card.canonical_trigger, quant_spec=quant,
                   prediction_type=card.prediction_type, config_dir=config_dir)
    request = GenerationRequest(
        prompt=prompt, negative_prompt=args.negative, seed=args.seed,
        steps=args.steps or settings.steps, guidance=args.guidance if args.guidance is not None else settings.guidance,
        width=args.width or settings.width, height=args.height or settings.height,
        scheduler=args.scheduler or "dpm++", trigger=trigger, quant_spec=quant,
        checkpoint=card.path, checkpoint_hash=card.sha256 or _hash(card.path), base_model=card.base_model,
        base_checkpoint=str(base_path) if base_path else None,
    )
    if quant != "none" and not (args.quiet or args.json):
        print(f"quant spec {quant}: the first use of a checkpoint quantizes and caches it; later runs reuse that",
              file=sys.stderr)
    pool = PipelinePool(budget_bytes=settings.memory_budget_mb * 2**20, device=device.device, dtype=device.dtype)
    try:
        with pool.session(ref) as pipe:
            result = generate(pipe, request, on_step=_progress(args.quiet or args.json), out_path=_out_path(args, card))
    except (LoadError, ValueError, FileNotFoundError) as exc:
        print(f"personalq generate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        pool.close()
    if args.json:
        print(json.dumps({"status": "generated", "path": str(result.path), "params": result.params}, default=str))
    else:
        print(result.path)
    return 0


def _hash(path: str) -> str | None:
    """sha256 of a single file for the PNG record (folders have none)."""
    from catalog.hashing import sha256_file

    return sha256_file(path) if Path(path).is_file() else None
