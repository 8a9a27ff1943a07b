"""What a PNG says it was made from, ours or A1111's, read back into a request and its settings."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.generation import DEFAULT_SCHEDULER
from app.history import GenerationParams
from catalog.card import Card
from common.settings import Settings

LORA_TAG = re.compile(r"<lora:([^:>]+)(?::[^>]*)?>")


@dataclass(frozen=True)
class ImageRequest:
    """What a PNG says it was made from; `card` is None when its checkpoint is not in the library."""

    card: Card | None
    prompt: str
    params: GenerationParams
    scheduler: str
    negative_prompt: str


def image_request(path: str, cards: list[Card], settings: Settings) -> ImageRequest | None:
    """What a PNG says it was made from (ours, or A1111's `parameters` text); None when it carries no parameters."""
    from engine.png_info import read_png_parameters
    from engine.schedulers import SCHEDULERS

    try:
        raw = read_png_parameters(path)
    except OSError:
        return None
    if not raw:
        return None
    by_sampler = {a1111: name for name, (_, _, a1111) in SCHEDULERS.items()}
    if "Prompt" in raw:  # A1111's text: strings, its own key names
        def num(key, cast, default):
            try:
                return cast(raw[key])
            except (KeyError, ValueError):
                return default
        width, _, height = str(raw.get("Size", "")).partition("x")
        data = {"prompt": raw["Prompt"], "negative_prompt": raw.get("Negative prompt", ""),
                "steps": num("Steps", int, settings.steps), "guidance": num("CFG scale", float, settings.guidance),
                "seed": num("Seed", int, 0), "width": int(width) if width.isdigit() else settings.width,
                "height": int(height) if height.isdigit() else settings.height,
                "scheduler": by_sampler.get(raw.get("Sampler"), DEFAULT_SCHEDULER),
                "model": raw.get("Model"), "hash": raw.get("Model hash")}
    else:
        data = dict(raw, model=raw.get("checkpoint"), hash=raw.get("checkpoint_hash"))
    prompt = str(data.get("prompt") or "")
    loras = LORA_TAG.findall(prompt)
    prompt = re.sub(r"\s{2,}", " ", LORA_TAG.sub("", prompt)).strip()
    wanted = [n for n in loras] + [Path(str(data.get("model") or "")).stem]
    card = None
    for name in wanted:
        card = next((c for c in cards if name and Path(c.path).stem == name), None)
        if card:
            break
    if card is None and data.get("hash"):
        card = next((c for c in cards if c.sha256 and c.sha256.startswith(str(data["hash"])[:10])), None)
    params = GenerationParams(steps=int(data.get("steps") or settings.steps), seed=int(data.get("seed") or 0),
                              width=int(data.get("width") or settings.width), height=int(data.get("height") or settings.height),
                              guidance=float(data.get("guidance") or settings.guidance),
                              quant_spec=str(data.get("quant_spec") or settings.quant_spec))
    return ImageRequest(card, prompt, params, str(data.get("scheduler") or DEFAULT_SCHEDULER),
                        str(data.get("negative_prompt") or ""))
