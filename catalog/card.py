"""The records the catalog passes around: what a probe reads from a file, and the card built from it.

Plain dataclasses, no I/O: probe.py fills `Probe`, metadata.py turns it into a `Card`,
store.py persists cards, search/checkin read them.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.families import BASE_MODEL_LABELS  # noqa: F401  (callers read it as catalog.card.BASE_MODEL_LABELS)

KINDS = ("lora", "textual_inversion", "checkpoint", "diffusers_model", "vae", "unknown")
ADDON_KINDS = ("lora", "textual_inversion")  # what goes on top of a base; a full checkpoint is a base, never an add-on
BASE_MODELS = ("sd15", "sd21", "sdxl", "unknown")
# how a base model is written for people, everywhere (badges, questions, settings, messages)


@dataclass
class Probe:
    """What the header (never the weights) says about one model file or diffusers folder."""

    path: str  # absolute path of the file (or the diffusers folder)
    kind: str = "unknown"  # one of KINDS
    base_model: str = "unknown"  # one of BASE_MODELS
    variant: str = "normal"  # normal | inpaint | ...
    format: str = ""  # kohya, kohya_loha, kohya_locon, peft, peft_legacy, peft_adapter, ti_pt, ti_st, ti_xl, ti_diffusers, ckpt_st, ckpt_pickle, diffusers_folder, vae
    prediction_type: str | None = None  # epsilon | v when known
    metadata: dict[str, str] = field(default_factory=dict)  # safetensors __metadata__ (strings)
    embedded_names: list[str] = field(default_factory=list)  # e.g. learned_embeds key / TI placeholder tokens
    error: str | None = None  # set when the file cannot be read safely; then kind is "unknown"


@dataclass
class Card:
    """Everything Check-in and the UI need to know about one checkpoint."""

    path: str
    kind: str = "unknown"
    base_model: str = "unknown"
    variant: str = "normal"
    format: str = ""
    name: str = ""  # display name
    canonical_trigger: str | None = None  # the token the prompt rewrite inserts
    triggers: list[str] = field(default_factory=list)  # all trigger words, canonical first
    description: str = ""
    tags: list[str] = field(default_factory=list)
    version: str | None = None  # as written: "v3", "v5.0 XL", "final_final"
    version_number: float | None = None  # orderable form when one can be read ("v5.0 XL" -> 5.0)
    created: str | None = None  # ISO-8601 date or datetime of training/creation when known
    preview: str | None = None  # absolute path of the preview image
    sidecars: list[str] = field(default_factory=list)
    metadata_sources: list[str] = field(default_factory=list)  # kohya, modelspec, civitai, a1111, readme, none
    is_negative_embedding: bool = False
    prediction_type: str | None = None
    size: int = 0
    mtime: float = 0.0
    sha256: str | None = None  # filled in the background by the indexer
    duplicate_of: str | None = None
    error: str | None = None
    gloss: str = ""  # the local LLM's plain-English line about it (checkin/gloss.py), "" until made
    subject: str = ""  # the local LLM's everyday word for what it shows ("cat" for a Maine Coon), "" until made

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Card":
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def gloss_source(card: Card) -> str:
    """Hash of the facts a gloss is made from: when they change (a new file, a user edit) the gloss is stale."""
    facts = [card.name or "", card.description or "", "\x1f".join(card.tags), "\x1f".join(card.triggers)]
    return hashlib.sha1("\x1e".join(facts).encode("utf-8", "surrogatepass")).hexdigest()


def display_name(card: Card, with_version: bool = True) -> str:
    """What a person reads: "zqx_bullseye_ball" as "Zqx Bullseye Ball", with its version when it has one
    (two "PQR Robot" cards are v1 and v2)."""
    name = (card.name or Path(card.path).stem).strip()
    if re.fullmatch(r"[a-z0-9]+(?:[_\-.][a-z0-9]+)*", name):  # a file stem, not a name someone wrote
        name = " ".join(w.capitalize() for w in re.split(r"[_\-.]+", name))
    version = (card.version or "").strip()
    if with_version and version and version.lower() not in name.lower():
        name = f"{name} {version}"
    return name


def _tells(card: Card, name: str) -> list[str | None]:
    """What can set a card apart from another of the same name, in the order a person would ask for it."""
    version = (card.version or "").strip()
    return [
        version if version and version.lower() not in name.lower() else None,
        BASE_MODEL_LABELS.get(card.base_model, card.base_model),
        Path(card.path).name,
        Path(card.path).parent.name or None,
        (card.created or "")[:10] or None,
    ]


def distinct_names(cards: list[Card], with_version: bool = False) -> list[str]:
    """Display names for cards shown side by side (a question's options): names that would read the same get
    the first thing that tells them apart — version, base model, file name, folder, date — else their path
    below the folder they share. "Fz (Unknown base), Fz (Unknown base)" never happens."""
    names = [display_name(c, with_version) for c in cards]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name.lower(), []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        tells = [_tells(cards[i], names[i]) for i in members]
        for k in range(len(tells[0])):
            values = [t[k] for t in tells]
            if all(values) and len({v.lower() for v in values}) == len(values):
                break
        else:  # nothing alone tells them apart: where each one lives, below the folder they share
            import os

            paths = [str(Path(cards[i].path)) for i in members]
            try:
                common = os.path.commonpath(paths)
            except ValueError:
                common = ""
            values = [os.path.relpath(p, common) if common else p for p in paths]
        for i, value in zip(members, values):
            names[i] = f"{names[i]} ({value})"
    return names
