"""The demo world's build settings and the cache key of each stage: plain data, no torch.

Apart from demo/build.py so that the stages it drives (demo/assemble_world.py) can key their caches
without importing the build script back.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json

SEED = 20261125


@dataclasses.dataclass(frozen=True)
class BuildSettings:
    n_images: int = 6000
    vae_concept_images: int = 3200  # drawn from the personalized concepts, for the VAE only (see vae_images)
    vae_steps: int = 3000
    unet_steps: int = 6000
    batch: int = 32
    judge_images: int = 6000
    judge_steps: int = 300
    personal_steps: int = 800
    ti_steps: int = 800
    lora_conv: int = 1  # 1: subject LoRAs train the UNet's convolutions too (kohya LoCon); 0: attention only
    instance_images: int = 24
    prior_images: int = 24
    sample_steps: int = 10
    eval_images: int = 16  # per metric group


FULL = BuildSettings()
SMOKE = BuildSettings(
    n_images=600, vae_concept_images=80, vae_steps=6, unet_steps=8, batch=8, judge_images=400, judge_steps=6, personal_steps=3, ti_steps=3,
    instance_images=4, prior_images=4, sample_steps=2, eval_images=4,
)


STAGE_FIELDS = {
    "vae": ("n_images", "vae_concept_images", "vae_steps", "batch"),
    "base": ("n_images", "vae_concept_images", "vae_steps", "batch", "unet_steps"),
    "judge": ("judge_images", "judge_steps"),
}


def settings_key(settings: BuildSettings, stage: str) -> str:
    """Cache key of a stage: only the settings that stage depends on."""
    values = dataclasses.asdict(settings)
    fields = STAGE_FIELDS.get(stage, tuple(values))
    return hashlib.sha256(json.dumps([stage, SEED, {f: values[f] for f in fields}], sort_keys=True).encode()).hexdigest()[:12]
