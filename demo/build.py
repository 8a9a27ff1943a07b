"""Build the demo world: `python -m demo.build [--smoke] [--out DIR] [--work DIR]`.

Stages (each cached in --work by its settings, so a re-run resumes): procedural data ->
VAE + text encoder + UNet from scratch -> judge -> personalized checkpoints with sidecars
and previews -> metrics -> manifest with sha256 of every file. Seeded throughout: a rebuild
reproduces the same metrics (bit-for-bit where torch's CPU kernels allow).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from demo.settings import FULL, SEED, SMOKE, STAGE_FIELDS, BuildSettings, settings_key  # noqa: F401 (build's API)

ASSETS = Path(__file__).resolve().parent / "assets"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _fp16_roundtrip(module):
    """Ship fp16; train everything downstream on exactly what ships."""
    import torch

    return module.to(torch.float16).to(torch.float32)


def vae_images(settings: BuildSettings, images):
    """The VAE's training set: the plain scenes plus drawings of every personalized concept.

    Like SD's VAE, ours is a generic image codec: it must encode what the personalizations will
    later be trained on (silver, orange, cyan, fine patterns), or no fine-tune can show them.
    Measured: a VAE fitted to plain scenes only decoded the robot as a purple blob (judge 0/16
    on its reconstructions). With 1600 concept images and 1500 steps it decoded the robot at 25 dB
    but the orange/cyan balls at 16 dB (rainbow mush; 600 more steps on the balls alone reached
    29 dB), hence 3200 concept images and 3000 steps. The UNet and text encoder never see a concept.
    """
    import numpy as np

    from demo import world

    per = settings.vae_concept_images // len(world.CONCEPTS)
    extra = [world.render(world.sample_scenes(SEED + 3 + i, per, concept=c.key)) for i, c in enumerate(world.CONCEPTS)]
    mixed = np.concatenate([images[:-256], *extra])
    order = np.random.default_rng(SEED + 2).permutation(len(mixed))
    return np.concatenate([mixed[order], images[-256:]])  # the last 256 stay plain: the held-out PSNR set


def build_vae(settings: BuildSettings, work: Path, images):
    from diffusers import AutoencoderKL

    from demo import model, train

    folder = work / f"vae-{settings_key(settings, 'vae')}"
    mpath = folder / "train_metrics.json"
    if mpath.is_file():
        log(f"vae: reusing {folder}")
        return AutoencoderKL.from_pretrained(str(folder), local_files_only=True), json.loads(mpath.read_text())
    vae, metrics = train.fit_vae(vae_images(settings, images), model.WorldConfig(), settings.vae_steps, SEED, batch=settings.batch, log=log)
    _fp16_roundtrip(vae).save_pretrained(str(folder))
    mpath.write_text(json.dumps(metrics, indent=1))
    return vae, metrics


def build_base(settings: BuildSettings, work: Path):
    """Stages 1-2: VAE, then text encoder + UNet, cached as a diffusers folder in work/base-<key>."""
    from demo import model, train, world

    folder = work / f"base-{settings_key(settings, 'base')}"
    metrics_path = folder / "train_metrics.json"
    if metrics_path.is_file():
        log(f"base: reusing {folder}")
        return model.load_base(folder), json.loads(metrics_path.read_text())
    scenes = world.sample_scenes(SEED, settings.n_images, split="train")
    images = world.render(scenes)
    captions = [world.caption(s) for s in scenes]
    vae, vae_metrics = build_vae(settings, work, images)
    pipe, metrics = train.train_base(vae, images, captions, model.WorldConfig(), settings.unet_steps, SEED, batch=settings.batch, log=log)
    _fp16_roundtrip(pipe.unet)
    _fp16_roundtrip(pipe.text_encoder)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    metrics = dict(vae_metrics, **metrics)
    metrics_path.write_text(json.dumps(metrics, indent=1))
    return model.load_base(folder), metrics


def build_judge(settings: BuildSettings, work: Path):
    from demo import judge as judge_mod

    path = work / f"judge-{settings_key(settings, 'judge')}.safetensors"
    mpath = path.with_suffix(".json")
    if mpath.is_file():
        log(f"judge: reusing {path}")
        return judge_mod.load_judge(path), json.loads(mpath.read_text())
    judge, metrics = judge_mod.train_judge(SEED + 7, settings.judge_images, settings.judge_steps, log=log)
    judge.save(path)
    mpath.write_text(json.dumps(metrics, indent=1))
    return judge, metrics


def balanced_shares(costs: dict[int, float], workers: int) -> list[list[int]]:
    """Split entries over workers, longest first to the least loaded (the build waits for the slowest)."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for index in sorted(costs, key=lambda i: (-costs[i], i)):
        k = loads.index(min(loads))
        shares[k].append(index)
        loads[k] += costs[index]
    return [sorted(s) for s in shares if s]


def train_library_in_workers(settings: BuildSettings, work: Path, threads: int, smoke: bool, overrides: list[str]) -> None:
    """Train the personalizations not yet cached in `threads` one-thread processes (entries are
    independent; one-thread workers use 2 cores better than one two-thread loop, and the committed
    world was trained this way: another thread count, or another split of the entries over the
    workers, changes the last bits)."""
    import subprocess

    from demo import assemble_world, personalize

    pending = [i for i in range(len(personalize.LIBRARY)) if not assemble_world.entry_cached(i, settings, work)]
    if not pending:
        return
    workers = max(1, min(threads, len(pending)))
    shares = balanced_shares({i: personalize.LIBRARY[i].recipe.step_factor for i in pending}, workers)
    base_cmd = [sys.executable, "-m", "demo.build", "--threads", "1", "--work", str(work)]
    base_cmd += (["--smoke"] if smoke else []) + [f"--set={item}" for item in overrides]
    procs = []
    for k, share in enumerate(shares):
        log(f"worker {k + 1}/{workers}: library entries {share}")
        cmd = base_cmd + [arg for i in share for arg in ("--train-entry", str(i))]
        procs.append(subprocess.Popen(cmd, cwd=str(Path(__file__).resolve().parents[1])))
    failed = [p.args for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(f"library training failed in {len(failed)} worker(s); rerun to resume: {failed[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.build", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny settings for CI (~1-2 min); not for shipping")
    parser.add_argument("--out", type=Path, default=None, help=f"where the world goes (default {ASSETS}, or a temp dir for --smoke)")
    parser.add_argument("--work", type=Path, default=None, help="stage cache (default OUT/../.demo_work-<mode>)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the result may differ across thread counts)")
    parser.add_argument("--stage", choices=["base", "judge", "all"], default="all", help="stop after this stage")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=N", help="override a build setting, e.g. --set unet_steps=6000 (a different world: rebuild and re-measure)")
    parser.add_argument("--train-entry", type=int, action="append", default=None, metavar="I", help="only train library entry I (repeatable) into the stage cache; the build starts such workers itself")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    settings = SMOKE if args.smoke else FULL
    for item in args.set:
        field, _, value = item.partition("=")
        if field not in BuildSettings.__dataclass_fields__ or not value.isdigit():
            parser.error(f"--set needs FIELD=INTEGER with FIELD one of {', '.join(BuildSettings.__dataclass_fields__)}; got {item!r}")
        settings = dataclasses.replace(settings, **{field: int(value)})
    if args.out is None:
        if args.smoke:
            import tempfile

            args.out = Path(tempfile.mkdtemp(prefix="personalq-demo-smoke-"))
        else:
            args.out = ASSETS
    work = args.work or (Path(__file__).resolve().parents[1] / "build" / f"demo_work-{'smoke' if args.smoke else 'full'}")
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pipe, base_metrics = build_base(settings, work)
    from demo import assemble_world

    if args.train_entry is not None:
        for index in args.train_entry:
            assemble_world.ensure_entry(index, pipe, settings, work, log=log)
        return 0
    log(f"base ready ({time.time() - t0:.0f}s): {base_metrics}")
    if args.stage == "base":
        return 0
    judge, judge_metrics = build_judge(settings, work)
    log(f"judge ready ({time.time() - t0:.0f}s)")
    if args.stage == "judge":
        return 0
    train_library_in_workers(settings, work, args.threads, args.smoke, args.set)
    log(f"library trained ({time.time() - t0:.0f}s)")

    manifest = assemble_world.write_world(pipe, judge, settings, work, args.out, dict(base_metrics, **judge_metrics), log=log)
    manifest["build_seconds"] = round(time.time() - t0, 1)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    log(f"world written to {args.out} in {time.time() - t0:.0f}s")
    print(json.dumps({"out": str(args.out), "metrics": manifest["metrics"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
