"""The demo world as the quantization benches use it (fidelity, the TAQ ablation, the device check):
open it, load a checkpoint at full precision, generate fixed seeds with TAQ's trigger positions set."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def positions_groups(tokenizer, prompts: list[str], trigger: str | None) -> dict[tuple, list[int]]:
    """Prompt indices grouped by their trigger token positions (TAQ protects one position set per batch)."""
    from engine.quantize import trigger_token_positions

    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(prompts):
        key = tuple(trigger_token_positions(tokenizer, p, trigger)) if trigger else ()
        groups.setdefault(key, []).append(i)
    return groups


def generate(pipe, prompts, seeds, trigger, steps):
    """Images for (prompt, seed) pairs, with TAQ trigger positions set per group."""
    from demo import model as world_model
    from engine.quantize import clear_kv_cache, set_trigger_positions

    out = np.zeros((len(prompts), 32, 32, 3), np.uint8)
    for positions, idx in positions_groups(pipe.tokenizer, prompts, trigger).items():
        set_trigger_positions(pipe, list(positions))
        clear_kv_cache(pipe)
        out[idx] = world_model.sample(pipe, [prompts[i] for i in idx], [seeds[i] for i in idx], world_model.SampleSettings(steps=steps))
    return out


def fp16_bytes(unet) -> int:
    return sum(p.numel() for p in unet.parameters()) * 2


def load_fp(world: Path, entry: dict):
    from demo.library import load_entry

    return load_entry(world / "library" / entry["file"], entry["method"], entry["trigger"], world / "base")


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
