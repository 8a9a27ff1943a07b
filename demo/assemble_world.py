"""Write the finished world: fp16 base folder, judge, library of personalized checkpoints with
sidecars and previews, measured metrics, and a manifest with every file's sha256."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np

from common.hashing import sha256_file as sha256
from demo import evaluate, library, personalize, sidecars, stable_files, world
from demo import model as world_model
from demo.settings import settings_key

OWNED = ("base", "library", "judge.safetensors", "manifest.json", "base_preview.png")


def png_bytes(image: np.ndarray, scale: int = 4) -> bytes:
    from PIL import Image

    img = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def grid(images: np.ndarray, cols: int) -> np.ndarray:
    rows = -(-len(images) // cols)
    h, w = images.shape[1:3]
    out = np.zeros((rows * (h + 2), cols * (w + 2), 3), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 2) : r * (h + 2) + h, c * (w + 2) : c * (w + 2) + w] = im
    return out




def _clean(out: Path) -> None:
    for name in OWNED:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def train_entry(entry, base_pipe, settings, seed: int, target: Path, log) -> dict:
    """Make one personalized file at `target`; returns what was done (for the manifest)."""
    from safetensors.torch import save_file

    c = world.CONCEPT_BY_KEY[entry.concept]
    target.parent.mkdir(parents=True, exist_ok=True)
    recipe = entry.recipe
    if entry.method == "textual_inversion":
        scenes = world.sample_scenes(seed, settings.instance_images, concept=entry.concept)
        instance = personalize.ti_captions([world.caption(s) for s in scenes], world.render(scenes), c.trigger,
                                           recipe.vectors, recipe.bare_trigger)
        vec, loss = personalize.textual_inversion(base_pipe, instance, c.trigger, c.class_noun, settings.ti_steps, settings.batch, seed,
                                                  lr=recipe.learning_rate(entry.method), vectors=recipe.vectors, log=log)
        save_file({"emb_params": vec.half().contiguous()}, str(target), metadata={"name": c.trigger, "step": str(settings.ti_steps), "sd_checkpoint_name": sidecars.BASE_NAME})
        extra = {"vectors": recipe.vectors, "bare_trigger": recipe.bare_trigger} if recipe.tuned else {}
        return {"loss": round(loss, 4), "steps": settings.ti_steps, **extra}
    n_instance, n_prior, steps = recipe.instance_images(settings), recipe.prior_images(settings), recipe.steps(settings)
    lr = recipe.learning_rate(entry.method)
    instance, prior = personalize.dreambooth_data(base_pipe, entry.concept, n_instance, n_prior, seed, settings.sample_steps)
    if entry.method == "dreambooth":
        pipe, loss = personalize.dreambooth_full(base_pipe, instance, prior, steps, settings.batch, seed, lr=lr, min_snr_gamma=recipe.min_snr_gamma,
                                                caption_dropout=recipe.caption_dropout, log=log)
        from demo import single_file

        meta = sidecars.modelspec(entry) if entry.concept == "robot_v1" else {}
        single_file.save_single_file(pipe, target, metadata=meta)
        return {"loss": round(loss, 4), "steps": steps, "lr": lr, **_recipe_info(recipe, n_instance, n_prior)}
    conv = bool(settings.lora_conv) and c.kind == "subject"  # see personalize.LORA_RANK: LoCon helps subjects, hurts styles
    state, loss = personalize.dreambooth_lora(base_pipe, instance, prior, steps, settings.batch, seed, lr=lr, conv=conv, min_snr_gamma=recipe.min_snr_gamma,
                                              caption_dropout=recipe.caption_dropout, log=log)
    meta = sidecars.kohya_metadata(entry, steps, lr, n_instance, n_prior, seed, rank=personalize.LORA_RANK, conv=conv, min_snr_gamma=recipe.min_snr_gamma,
                                   caption_dropout=recipe.caption_dropout)
    save_file(state, str(target), metadata=meta)
    return {"loss": round(loss, 4), "steps": steps, "lr": lr, "rank": personalize.LORA_RANK, "conv": conv, **_recipe_info(recipe, n_instance, n_prior)}


def _recipe_info(recipe, n_instance: int, n_prior: int) -> dict:
    """What an entry's own recipe changed, for its manifest record (nothing for the default)."""
    if not recipe.tuned:
        return {}
    return {"instance_images": n_instance, "prior_images": n_prior, "min_snr_gamma": recipe.min_snr_gamma,
            "caption_dropout": recipe.caption_dropout}


def score_entry(pipe, judge, entry, n: int, seed: int, sample_steps: int) -> tuple[dict, np.ndarray]:
    """Concept rate with and without the trigger, attribute accuracy without; returns images too."""
    trig = personalize.trigger_prompts(entry.concept, n, seed)
    plain = personalize.plain_prompts(entry.concept, n, seed)
    settings = world_model.SampleSettings(steps=sample_steps)
    seeds = [seed + i for i in range(n)]
    img_t = world_model.sample(pipe, trig, seeds, settings)
    img_p = world_model.sample(pipe, plain, seeds, settings)
    pred_t, pred_p = judge.predict(img_t), judge.predict(img_p)
    scores = {
        "concept_with_trigger": round(evaluate.concept_rate(pred_t, entry.concept), 4),
        "concept_without_trigger": round(evaluate.concept_rate(pred_p, entry.concept), 4),
        "attribute_accuracy_without_trigger": round(evaluate.attribute_accuracy(pred_p, world.plain_scenes(entry.concept, n, seed)), 4),
    }
    return scores, img_t


def _cached_entry(index: int, settings, work: Path) -> tuple[Path, Path]:
    """(checkpoint, train info) paths of entry `index` in the stage cache; the info is written last."""
    entry = personalize.LIBRARY[index]
    cached = work / f"library-{_library_key(settings, entry)}" / entry.file
    return cached, cached.with_suffix(".train.json")


def entry_cached(index: int, settings, work: Path) -> bool:
    return _cached_entry(index, settings, work)[1].is_file()


def ensure_entry(index: int, base, settings, work: Path, log=print) -> tuple[Path, dict]:
    """Train library entry `index` into the stage cache unless it is there; (file, train info)."""
    entry = personalize.LIBRARY[index]
    cached, info_path = _cached_entry(index, settings, work)
    if not info_path.is_file():
        log(f"training {entry.file} ({entry.method})")
        info = train_entry(entry, base, settings, 5000 + 100 * index, cached, log)
        info_path.write_text(json.dumps(info))
    return cached, json.loads(info_path.read_text())


def write_generation_defaults(base: Path, settings) -> None:
    """What the app generates with by default on this base: the steps and guidance the world was measured at
    (its size the app reads from the UNet and VAE configs: 32×32)."""
    defaults = {"steps": settings.sample_steps, "guidance": world_model.SampleSettings().guidance}
    (base / "personalq.json").write_text(json.dumps(defaults, indent=2) + "\n", encoding="utf-8")


def write_world(pipe, judge, settings, work: Path, out: Path, metrics: dict, log=print) -> dict:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    paths = library.world_paths(out)
    # 1. the base, shipped in fp16; everything below uses exactly the shipped weights
    pipe.to(dtype=torch.float16)
    pipe.save_pretrained(str(paths["base"]), safe_serialization=True)
    stable_files.drop_local_paths(paths["base"])
    write_generation_defaults(paths["base"], settings)
    base = world_model.load_base(paths["base"])
    judge.save(paths["judge"])

    # 2. base caption following on held-out captions
    n = settings.eval_images
    held = world.sample_scenes(9001, 2 * n, split="heldout")
    images = world_model.sample(base, [world.caption(s) for s in held], [9001 + i for i in range(len(held))], world_model.SampleSettings(steps=settings.sample_steps))
    pred = judge.predict(images)
    metrics["base_attribute_accuracy_heldout"] = round(evaluate.attribute_accuracy(pred, held), 4)
    metrics["base_per_attribute_heldout"] = {k: round(v, 4) for k, v in evaluate.per_attribute(pred, held).items()}
    paths["root"].joinpath("base_preview.png").write_bytes(png_bytes(grid(images[:16], 8), scale=3))
    log(f"base held-out attribute accuracy {metrics['base_attribute_accuracy_heldout']}")

    # 3. personalized checkpoints
    entries = []
    for i, entry in enumerate(personalize.LIBRARY):
        seed = 5000 + 100 * i
        cached, info = ensure_entry(i, base, settings, work, log)
        target = paths["library"] / entry.file
        target.parent.mkdir(parents=True, exist_ok=True)
        stable_files.copy_stable_safetensors(cached, target)
        loaded = library.load_entry(target, entry.method, entry.trigger, paths["base"])
        scores, img_t = score_entry(loaded, judge, entry, n, seed + 50, settings.sample_steps)
        sidecars.write_sidecars(entry, target, png_bytes(img_t[0]))
        log(f"{entry.file}: {scores}")
        c = world.CONCEPT_BY_KEY[entry.concept]
        record = {k: v for k, v in dataclasses.asdict(entry).items() if k != "recipe"}  # `train` says what was done
        entries.append(dict(record, trigger=entry.trigger, trigger_phrase=sidecars.trigger_phrase(entry), kind=c.kind, class_noun=c.class_noun, train=info, metrics=scores))
        del loaded

    metrics["concept_with_trigger_min"] = min(e["metrics"]["concept_with_trigger"] for e in entries)
    metrics["concept_without_trigger_max"] = max(e["metrics"]["concept_without_trigger"] for e in entries)
    files = {str(p.relative_to(out)): {"sha256": sha256(p), "bytes": p.stat().st_size} for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    import diffusers
    import transformers

    return {
        "format": 1,
        "seed": 20261125,
        "settings": dataclasses.asdict(settings),
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__},
        "threads": torch.get_num_threads(),
        "base": "base",
        "judge": "judge.safetensors",
        "library": "library",
        "entries": entries,
        "metrics": metrics,
        "files": files,
        "total_bytes": sum(f["bytes"] for f in files.values()),
    }


def _library_key(settings, entry) -> str:
    """The build settings' key, plus the entry's own recipe where it has one (so only it retrains)."""
    key = settings_key(settings, "library")
    if entry.recipe.tuned:
        trained_with = entry.recipe.cache_fields(entry.method)
        key += "-" + hashlib.sha256(repr(trained_with).encode()).hexdigest()[:8]
    return key
