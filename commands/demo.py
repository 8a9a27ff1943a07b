"""`personalq demo ["REQUEST"]`: the embedded demo world end to end, offline.

Uses the committed world under demo/assets (builds it when missing), indexes its library,
runs one plain-words request through Check-in and generates with the chosen checkpoint.
Prints the checkpoint, the rewritten prompt and the PNG path.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_REQUEST = "a large robot head on a black background, center"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run one request against the built-in demo world",
                       description="Index the demo world's checkpoints, let Check-in pick one for a request, generate.")
    p.add_argument("request", nargs="?", default=DEFAULT_REQUEST, help=f'what you want (default: "{DEFAULT_REQUEST}")')
    p.add_argument("--world", type=Path, help="a built demo world folder (default: the committed demo/assets)")
    p.add_argument("--build-smoke", action="store_true", help="if the world is missing, build the quick smoke world instead of the full one")
    p.add_argument("--quant", default="none", help="quant spec for the UNet (none, taq-w8a8, taq-w4a8, ...)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--db", type=Path, help="catalog database (default: demo.sqlite in the app's data folder)")
    p.add_argument("--out", type=Path, help="PNG to write (default: the outputs folder)")
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
    from checkin.decide import check_in
    from catalog.indexer import index_folders
    from catalog.store import Store
    from common import paths

    world = ensure_world(args.world, args.build_smoke)
    base = world / "base"
    db = args.db or (paths.data_dir() / "demo.sqlite")
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(str(db))
    try:
        report = index_folders([str(world / "library")], store)
        result = check_in(args.request, store, use_llm=not args.no_llm)
        note = None
        if result.status == "clarify":
            note = f"Check-in asked: {result.question} -> answering with the first option for the demo"
            card, prompt, trigger = result.options[0], None, None
            from checkin.rewrite import rewrite_prompt

            rw = rewrite_prompt(args.request, card)
            prompt, trigger = rw.prompt, rw.trigger
        elif result.status == "selected":
            card, prompt, trigger = result.card, result.prompt, result.trigger
        else:
            card, prompt, trigger = None, args.request, None
            note = "Check-in found nothing that fits; generating with the base model"
    finally:
        store.close()
    out = args.out or (paths.outputs_dir() / "demo.png")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image_path, seconds = generate_with(card, prompt, trigger, base, args.quant, args.seed, args.steps, out)
    summary = {
        "status": result.status,
        "checkpoint": card.path if card else str(base),
        "name": card.name if card else "personalq-demo-base",
        "kind": card.kind if card else "diffusers_model",
        "trigger": trigger,
        "prompt": prompt,
        "quant": args.quant,
        "image": str(image_path),
        "seconds": round(seconds, 2),
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
        print(f"image:      {image_path} ({args.quant}, {seconds:.1f}s)")
    return 0


def generate_with(card, prompt: str, trigger: str | None, base: Path, quant: str, seed: int, steps: int, out: Path):
    """Load the chosen file on the demo base, quantize, generate one 32x32 image; (path, seconds)."""
    import torch

    from engine.generate import GenerationRequest, generate
    from engine.loading import ADAPTER_KINDS, apply_lora, apply_textual_inversion, load_pipeline
    from engine.quantize import apply_quant_spec

    from demo.personalize import trigger_prompts
    from demo.world import CONCEPTS

    addon = card is not None and card.kind in ADAPTER_KINDS
    if card is None or addon:  # an add-on goes onto the quantized base, as the app's pool does it
        pipe = load_pipeline(str(base), "diffusers_model", config_dir=str(base), dtype=torch.float32)
    else:
        pipe = load_pipeline(card.path, card.kind, card.base_model, config_dir=str(base), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    if quant != "none":
        calib = [p for c in CONCEPTS for p in trigger_prompts(c.key, 4, 11)]
        apply_quant_spec(pipe, quant, calibration_prompts=calib)
    if addon and card.kind == "lora":
        apply_lora(pipe, card.path)
    elif addon:
        apply_textual_inversion(pipe, card.path, trigger)
    request = GenerationRequest(
        prompt=prompt, seed=seed, steps=steps, guidance=4.0, width=32, height=32, scheduler="ddim",
        trigger=trigger, quant_spec=quant, checkpoint=card.path if card else str(base),
    )
    result = generate(pipe, request, out_path=out)
    return result.path, result.seconds
