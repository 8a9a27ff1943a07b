"""The demo world as the quantization benches use it (fidelity, the TAQ ablation, the device check):
open it, load a checkpoint at full precision, generate fixed seeds with TAQ's trigger positions set."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def positions_groups(pipe, prompts: list[str], triggers: str | list[str] | None) -> dict[tuple, list[int]]:
    """Prompt indices grouped by the token positions TAQ keeps for them (one position set per batch): those of
    the triggers the UNet's spec protects (engine.quantize.protected_positions, as generate() sets them)."""
    from engine.quantize import protected_positions

    triggers = [triggers] if isinstance(triggers, str) else list(triggers or [])
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(tuple(protected_positions(pipe, p, triggers)), []).append(i)
    return groups


def generate(pipe, prompts, seeds, triggers, steps):
    """Images for (prompt, seed) pairs, with TAQ trigger positions set per group; `triggers` is one trigger or
    a composed prompt's list (the subject's first)."""
    from demo import model as world_model
    from engine.quantize import clear_kv_cache, set_trigger_positions

    out = np.zeros((len(prompts), 32, 32, 3), np.uint8)
    for positions, idx in positions_groups(pipe, prompts, triggers).items():
        set_trigger_positions(pipe, list(positions))
        clear_kv_cache(pipe)
        out[idx] = world_model.sample(pipe, [prompts[i] for i in idx], [seeds[i] for i in idx], world_model.SampleSettings(steps=steps))
    return out


def fp16_bytes(unet) -> int:
    return sum(p.numel() for p in unet.parameters()) * 2


def load_fp(world: Path, entry: dict):
    from demo.library import load_entry

    return load_entry(world / "library" / entry["file"], entry["method"], entry["trigger"], world / "base")


def load_base_of(world: Path, entry: dict):
    """The float32 pipeline an entry runs on in the app, without its LoRA: a DreamBooth file is its own base,
    a LoRA or an embedding sits on the world's base (an embedding is loaded into it)."""
    from demo import model as world_model

    if entry["method"] in ("dreambooth", "textual_inversion"):
        return load_fp(world, entry)
    return world_model.load_base(Path(world) / "base")


def attach_loras(pipe, world: Path, entries: list[dict]) -> list[str]:
    """Hook the entries' LoRAs on the (quantized or float) pipeline at weight 1, as the app composes them."""
    from engine.lora import apply_loras

    return apply_loras(pipe, [(str(Path(world) / "library" / e["file"]), 1.0) for e in entries if e["method"] == "lora"])


def add_world_args(p, seeds: int, seeds_help: str) -> None:
    """The arguments `open_world` reads (--world, --threads, --steps) and the run's checkpoints and seeds."""
    p.add_argument("--world", type=Path, help="built demo world (default: the committed demo/assets)")
    p.add_argument("--checkpoints", default="", help="comma-separated library files or concept keys (default: all)")
    p.add_argument("--seeds", type=int, default=seeds, help=seeds_help)
    p.add_argument("--steps", type=int, default=0, help="denoising steps (default: the world's build setting)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")


def open_world(args):
    """(world folder, manifest, judge, steps) for a bench run: --world or the committed one, --threads applied."""
    import torch

    from demo.build import ASSETS
    from demo.judge import load_judge

    if args.threads:
        torch.set_num_threads(args.threads)
    world = args.world or ASSETS
    manifest = world_manifest(world)
    judge = load_judge(world / manifest["judge"])
    return world, manifest, judge, args.steps or manifest["settings"]["sample_steps"]


def world_manifest(world: Path) -> dict:
    """The world's manifest; a world still being assembled (no manifest yet) is described by the library spec."""
    import dataclasses

    from demo.build import FULL
    from demo.library import read_manifest
    from demo.personalize import LIBRARY

    if (Path(world) / "manifest.json").is_file():
        return read_manifest(world)
    entries = [dict(dataclasses.asdict(e), trigger=e.trigger) for e in LIBRARY]
    return {"judge": "judge.safetensors", "settings": dataclasses.asdict(FULL), "entries": entries}


def save_grid(grid_rows: list[np.ndarray], specs: list[str], path: Path) -> Path:
    """Rows = specs, columns = the same seeds; labelled on the left."""
    from PIL import Image, ImageDraw

    scale, label_w = 3, 90
    cols = max(len(r) for r in grid_rows)
    cell = 32 * scale + 4
    canvas = Image.new("RGB", (label_w + cols * cell, len(grid_rows) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (spec, imgs) in enumerate(zip(specs, grid_rows)):
        draw.text((4, r * cell + cell // 2 - 6), spec, fill=(0, 0, 0))
        for c, im in enumerate(imgs):
            canvas.paste(Image.fromarray(im).resize((32 * scale, 32 * scale), Image.NEAREST), (label_w + c * cell + 2, r * cell + 2))
    canvas.save(path)
    return path
