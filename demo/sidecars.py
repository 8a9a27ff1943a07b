"""Metadata the way real model libraries carry it: kohya `ss_*`, Stability `modelspec.*`,
A1111 `NAME.json`, Civitai-Helper `NAME.civitai.info`, `NAME.preview.png`."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from demo import world

BASE_NAME = "personalq-demo-base"
# The demo base is SD 1.5's architecture at toy size and the app runs the library on it as its SD 1.5 base,
# so the sidecars say so the way creators write it: the library reads "SD 1.5", not "Unknown base".
A1111_SD_VERSION = "SD1"
CIVITAI_BASE_MODEL = "SD 1.5"


def trigger_phrase(entry) -> str:
    c = world.CONCEPT_BY_KEY[entry.concept]
    return f"{c.trigger} style" if c.kind == "style" else c.trigger


def _unix(date: str) -> int:
    return int(dt.datetime.fromisoformat(date).replace(hour=12, tzinfo=dt.timezone.utc).timestamp())


def kohya_metadata(entry, steps: int, lr: float, n_instance: int, n_prior: int, seed: int, rank: int = 4, conv: bool = False,
                   min_snr_gamma: float = 0.0, caption_dropout: float = 0.0) -> dict[str, str]:
    c = world.CONCEPT_BY_KEY[entry.concept]
    folder = f"1_{trigger_phrase(entry)} {c.class_noun}".strip()
    out = {
        "ss_session_id": str(seed),
        "ss_training_started_at": str(_unix(entry.created)),
        "ss_training_finished_at": str(_unix(entry.created) + 600),
        "ss_output_name": Path(entry.file).stem,
        "ss_sd_model_name": BASE_NAME,
        "ss_base_model_version": "personalq_demo_v1",
        "ss_v2": "False",
        "ss_resolution": "(32, 32)",
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": str(float(rank)),
        "ss_learning_rate": str(lr),
        "ss_unet_lr": str(lr),
        "ss_text_encoder_lr": str(lr),
        "ss_max_train_steps": str(steps),
        "ss_num_epochs": "1",
        "ss_num_train_images": str(n_instance),
        "ss_num_reg_images": str(n_prior),
        "ss_prior_loss_weight": "1.0",
        "ss_seed": str(seed),
        "ss_mixed_precision": "no",
        "ss_clip_skip": "None",
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 1, "img_count": n_instance}}),
        "ss_reg_dataset_dirs": json.dumps({f"1_{c.class_noun or 'picture'}": {"n_repeats": 1, "img_count": n_prior}}),
        "ss_tag_frequency": json.dumps({folder: {trigger_phrase(entry): n_instance, **({c.class_noun: n_instance} if c.class_noun else {})}}),
        "ss_training_comment": f"{entry.description} Trigger: {trigger_phrase(entry)}",
    }
    if min_snr_gamma:
        out["ss_min_snr_gamma"] = str(min_snr_gamma)
    if caption_dropout:
        out["ss_caption_dropout_rate"] = str(caption_dropout)
    if conv:  # kohya records LoCon as network args of networks.lora
        out["ss_network_args"] = json.dumps({"conv_dim": str(rank), "conv_alpha": str(float(rank))})
    if entry.version != "v1" or entry.concept.startswith("robot"):
        out.update(modelspec(entry))
    return out


def modelspec(entry) -> dict[str, str]:
    return {
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": "personalq-demo/v1" + ("/lora" if entry.method == "lora" else ""),
        "modelspec.implementation": "diffusers",
        "modelspec.title": f"{entry.name} {entry.version}",
        "modelspec.description": entry.description,
        "modelspec.date": entry.created,
        "modelspec.trigger_phrase": trigger_phrase(entry),
        "modelspec.tags": ", ".join(entry.tags),
        "modelspec.resolution": "32x32",
    }


def write_sidecars(entry, model_path: Path, preview_png: bytes) -> list[Path]:
    """NAME.preview.png always; NAME.json and/or NAME.civitai.info as the entry says."""
    stem = model_path.with_suffix("")
    written = [stem.with_name(stem.name + ".preview.png")]
    written[0].write_bytes(preview_png)
    if "a1111" in entry.sidecars:
        path = stem.with_name(stem.name + ".json")
        path.write_text(
            json.dumps(
                {"description": entry.description, "sd version": A1111_SD_VERSION, "activation text": trigger_phrase(entry), "preferred weight": 1.0, "notes": f"{entry.name} {entry.version}, made {entry.created}"},
                indent=2,
            ),
            encoding="utf-8",
        )
        written.append(path)
    if "civitai" in entry.sidecars:
        sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
        ident = int(sha[:6], 16)
        kind = {"dreambooth": "Checkpoint", "lora": "LORA", "textual_inversion": "TextualInversion"}[entry.method]
        path = stem.with_name(stem.name + ".civitai.info")
        path.write_text(
            json.dumps(
                {
                    "id": ident,
                    "modelId": int(hashlib.sha256(entry.name.encode()).hexdigest()[:5], 16),
                    "name": entry.version,
                    "createdAt": f"{entry.created}T12:00:00.000Z",
                    "updatedAt": f"{entry.created}T12:00:00.000Z",
                    "trainedWords": [trigger_phrase(entry)],
                    "baseModel": CIVITAI_BASE_MODEL,
                    "description": f"<p>{entry.description}</p>",
                    "model": {"name": entry.name, "type": kind, "nsfw": False, "poi": False, "tags": list(entry.tags)},
                    "files": [{"name": model_path.name, "sizeKB": round(model_path.stat().st_size / 1024, 2), "type": "Model", "primary": True, "hashes": {"SHA256": sha.upper(), "AutoV2": sha[:10].upper()}}],
                    "images": [],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        written.append(path)
    return written
