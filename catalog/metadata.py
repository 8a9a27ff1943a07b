"""Turn a probe into a catalog card: display name, triggers, description, tags, version, date.

Every source a user's folder may carry is read by one small reader (a registry by name, in
precedence order): Civitai-Helper `NAME.civitai.info`, A1111 `NAME.json`, a Hugging Face
`README.md` model card, kohya `ss_*` and Stability `modelspec.*` header keys, `NAME.txt`.
Each reader returns a `Facts` record; `build_card` merges them by the precedence rules of
shared/bench/intent-dev/README.md:

* name: Civitai model.name > modelspec.title (not a `LoRA@<ts>` placeholder) > ss_output_name
  > file stem (the folder for generic stems such as `pytorch_lora_weights`).
* trigger: A1111 activation text > Civitai trainedWords > modelspec.trigger_phrase > model card
  instance_prompt token > "token: x" written in A1111 notes/description or NAME.txt > kohya
  training comment / dataset-folder token / top tag > textual-inversion file stem (learned_embeds
  key for generic stems) > none.
* version: the first source that states a number (Civitai version name, modelspec.title,
  ss_output_name, file/folder name, training comment, A1111 notes); created: training start,
  modelspec.date, Civitai createdAt, finish time; the file mtime only when the A1111 notes name
  the same month (a copy resets mtimes; the indexer keeps the raw mtime in Card.mtime).
"""
from __future__ import annotations

import functools
import html
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from catalog.card import Card, Probe
from catalog.names import GENERIC_STEMS, clean_value, file_stem, nfc, split_list
from catalog.triggers import kohya_top_tags, kohya_triggers, rare_token, triggers_from_free_text
from catalog.versions import (
    corroborated_mtime,
    iso_from_text,
    iso_from_unix,
    month_from_text,
    version_from_civitai_label,
    version_from_filename,
    version_from_text,
)

log = logging.getLogger(__name__)

PREVIEW_SUFFIXES = (".preview.png", ".preview.jpg", ".preview.jpeg", ".preview.webp",
                    ".png", ".jpg", ".jpeg", ".webp")
MAX_SIDECAR_BYTES = 2 * 1024 * 1024
SOURCE_ORDER = ("kohya", "modelspec", "civitai", "a1111", "readme")
PLACEHOLDER_TITLE = re.compile(r"^[A-Za-z][\w-]*@\d+(\.\d+)?$")  # kohya's "LoRA@1709251200.4471"
@dataclass
class Facts:
    """What one source says; empty fields mean 'says nothing'."""

    source: str
    name: str | None = None
    triggers: list[str] = field(default_factory=list)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    version: tuple[str, float] | None = None  # (label as written, number)
    created: str | None = None
    base_model: str | None = None
    negative: bool | None = None
    month_hint: int | None = None  # a month named in free text ("retrained in February")
    text_triggers: list[str] = field(default_factory=list)  # "token: x" written in notes/description
    sidecar: str | None = None  # the file it came from


# ---------------------------------------------------------------------------------------------
# small helpers

def strip_html(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"<br\s*/?>|</p>|</li>", "\n", text, flags=re.I)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n", text).strip()
    return text or None


def _read_text(path) -> str | None:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            text = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    return None if len(text) > MAX_SIDECAR_BYTES else text


def _read_json(path):
    text = _read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=512)
def _listing(folder: str, _mtime_ns: int) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return frozenset()


def _folder_names(folder) -> frozenset[str]:
    """Names in a folder, cached per folder mtime so a 10k-file scan lists each folder once."""
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return frozenset()
    return _listing(str(folder), mtime)


# ---------------------------------------------------------------------------------------------
# base model words in sidecars

def base_from_words(text: str | None) -> str | None:
    """'SD 1.5', 'SDXL 1.0', 'Pony', 'SD2', 'stabilityai/stable-diffusion-2-1' -> sd15/sdxl/sd21."""
    if not text:
        return None
    low = text.lower()
    if any(k in low for k in ("xl", "pony", "illustrious", "noobai")):
        return "sdxl"
    if re.search(r"sd\s*2|stable-diffusion-2|v2-1|2\.1|2\.0", low):
        return "sd21"
    if re.search(r"sd\s*1|stable-diffusion-v1|v1-5|v1-4|1\.5|1\.4", low):
        return "sd15"
    return None


# ---------------------------------------------------------------------------------------------
# readers: one per source, each returns Facts or None

def read_civitai(path: str) -> Facts | None:
    data = _read_json(path)
    if not isinstance(data, dict) or not _CIVITAI_KEYS & set(data):
        return None
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    words: list[str] = []
    for w in data.get("trainedWords") or []:
        words += [x for x in split_list(str(w)) if x not in words]
    tags = [nfc(str(t)) for t in model.get("tags") or [] if isinstance(t, str)]
    description = strip_html(data.get("description")) or strip_html(model.get("description"))
    kind_text = " ".join(str(x) for x in (model.get("name"), description) if x)
    negative = bool(re.search(r"\bnegative\b", kind_text, re.I)) or any("negative" in t.lower() for t in tags)
    return Facts(source="civitai", name=clean_value(model.get("name")), triggers=words, description=description,
                 tags=tags, version=version_from_civitai_label(data.get("name")),
                 created=iso_from_text(data.get("createdAt")), base_model=base_from_words(data.get("baseModel")),
                 negative=negative, sidecar=str(path))


_A1111_KEYS = {"description", "activation text", "sd version", "notes", "preferred weight", "negative text"}
_CIVITAI_KEYS = {"model", "trainedWords", "modelId", "baseModel", "files"}


def read_a1111(path: str) -> Facts | None:
    data = _read_json(path)
    if not isinstance(data, dict) or not _A1111_KEYS & set(data):
        return None  # some other tool's NAME.json
    notes = clean_value(data.get("notes"))
    description = clean_value(data.get("description"))
    triggers = split_list(data.get("activation text"))
    text_triggers = triggers_from_free_text(notes) or triggers_from_free_text(description)
    sd_version = str(data.get("sd version", ""))
    base = {"sd1": "sd15", "sd2": "sd21", "sdxl": "sdxl"}.get(sd_version.strip().lower().replace(" ", ""))
    return Facts(source="a1111", triggers=triggers, description=description,
                 version=version_from_text(notes, anywhere=False), base_model=base,
                 month_hint=month_from_text(notes), text_triggers=text_triggers, sidecar=str(path))


def _front_matter(text: str) -> tuple[dict[str, str], list[str], str]:
    """A README's YAML front matter -> (scalar fields as text, tags, body); unreadable YAML reads as no fields."""
    m = re.match(r"\s*---\s*\n(.*?)\n---\s*\n?(.*)", text, re.S)
    if not m:
        return {}, [], text
    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        return {}, [], m.group(2)
    fields = {str(k): str(v).strip() for k, v in data.items()
              if v is not None and not isinstance(v, (list, dict)) and str(v).strip()}
    raw_tags = data.get("tags")
    tags = [str(t).strip() for t in (raw_tags if isinstance(raw_tags, list) else [raw_tags] if raw_tags else [])
            if t is not None and not isinstance(t, (list, dict))]
    return fields, tags, m.group(2)


_GENERIC_README_TAGS = {"stable-diffusion", "stable-diffusion-diffusers", "stable-diffusion-xl",
                        "stable-diffusion-xl-diffusers", "text-to-image", "diffusers", "lora", "dreambooth",
                        "textual_inversion", "template:sd-lora", "diffusers-training", "lora-diffusers"}


def read_readme(path: str) -> Facts | None:
    text = _read_text(path)
    if text is None:
        return None
    fields, tags, body = _front_matter(text)
    triggers: list[str] = []
    token = rare_token(fields.get("instance_prompt"))
    if token:
        triggers = [token]
    description = None
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if not para or para.startswith(("#", "!", "```", "|", "-", "*")):
            continue
        if re.match(r"(These are|You should use|Special VAE|LoRA for the text encoder)", para):
            continue
        description = para
        break
    return Facts(source="readme", triggers=triggers, description=description,
                 tags=[t for t in tags if t.lower() not in _GENERIC_README_TAGS],
                 base_model=base_from_words(fields.get("base_model")), sidecar=str(path))


def read_txt(path: str) -> Facts | None:
    text = clean_value(_read_text(path))
    if not text:
        return None
    return Facts(source="txt", text_triggers=triggers_from_free_text(text), description=text[:2000], sidecar=str(path))


def read_modelspec(metadata: dict[str, str]) -> Facts | None:
    if "modelspec.title" not in metadata and not any(k.startswith("modelspec.") for k in metadata):
        return None
    title = clean_value(metadata.get("modelspec.title"))
    if title and PLACEHOLDER_TITLE.match(title):
        title = None
    tags = split_list(metadata.get("modelspec.tags"))
    negative = (metadata.get("modelspec.is_negative_embedding", "").lower() == "true") or None
    return Facts(source="modelspec", name=title, triggers=split_list(metadata.get("modelspec.trigger_phrase")),
                 description=clean_value(metadata.get("modelspec.description")), tags=tags,
                 version=version_from_text(title), created=iso_from_text(metadata.get("modelspec.date")),
                 negative=negative)


def read_kohya(metadata: dict[str, str]) -> Facts | None:
    if "ss_output_name" not in metadata and not any(k.startswith("ss_") for k in metadata):
        return None
    comment = clean_value(metadata.get("ss_training_comment"))
    if comment:
        comment = re.sub(r"^dimension is resized from \d+ to \d+;?\s*", "", comment).strip() or None
    output_name = clean_value(metadata.get("ss_output_name"))
    triggers = triggers_from_free_text(comment) or kohya_triggers(metadata)
    version = version_from_text(output_name) or version_from_text(comment, anywhere=False)
    created = iso_from_unix(metadata.get("ss_training_started_at")) or iso_from_unix(metadata.get("ss_training_finished_at"))
    return Facts(source="kohya", name=output_name, triggers=triggers, description=comment,
                 tags=kohya_top_tags(metadata, exclude=set(triggers)), version=version, created=created)


# ---------------------------------------------------------------------------------------------
# sidecars

def find_sidecars(path: str, is_folder: bool) -> dict[str, str]:
    """Sidecar files of a model: civitai, a1111, txt, readme, preview (only those that exist)."""
    found: dict[str, str] = {}
    if is_folder:
        if "README.md" in _folder_names(path):
            found["readme"] = os.path.join(path, "README.md")
        return found
    folder, name = os.path.split(path)
    names = _folder_names(folder)
    base = os.path.splitext(name)[0]
    for key, suffix in (("civitai", ".civitai.info"), ("a1111", ".json"), ("txt", ".txt")):
        if base + suffix in names:
            found[key] = os.path.join(folder, base + suffix)
    for suffix in PREVIEW_SUFFIXES:
        if base + suffix in names:
            found["preview"] = os.path.join(folder, base + suffix)
            break
    if "README.md" in names and (base.lower() in GENERIC_STEMS or _only_model_in(names, name)):
        found["readme"] = os.path.join(folder, "README.md")
    return found


def _only_model_in(names: frozenset[str], own: str) -> bool:
    from catalog.probe import is_model_file

    return [n for n in names if is_model_file(n)] == [own]


# ---------------------------------------------------------------------------------------------
# the card

def build_card(probe: Probe) -> Card:
    """Merge header metadata and sidecars into a Card (size/mtime/sha256 are the indexer's)."""
    is_folder = probe.kind == "diffusers_model" or (probe.kind == "unknown" and os.path.isdir(probe.path))
    card = Card(path=probe.path, kind=probe.kind, base_model=probe.base_model, variant=probe.variant,
                format=probe.format, prediction_type=probe.prediction_type, error=probe.error)
    stem = file_stem(probe.path, is_folder)
    card.name = stem
    try:
        _fill(card, probe, is_folder, stem)
    except Exception:  # a sidecar we failed to understand must not lose (or poison) the entry
        log.warning("metadata of %s could not be read fully", probe.path, exc_info=True)
    return card


def _fill(card: Card, probe: Probe, is_folder: bool, stem: str) -> None:
    sidecars = find_sidecars(probe.path, is_folder)
    readers = {"civitai": read_civitai, "a1111": read_a1111, "readme": read_readme, "txt": read_txt}
    facts: dict[str, Facts] = {}
    for key, reader in readers.items():
        if key in sidecars:
            got = reader(sidecars[key])
            if got is not None:
                facts[key] = got
    for key, reader in (("modelspec", read_modelspec), ("kohya", read_kohya)):
        got = reader(probe.metadata)
        if got is not None:
            facts[key] = got

    card.sidecars = [sidecars[k] for k in ("a1111", "civitai", "txt", "readme") if k in facts]  # the ones understood
    card.preview = sidecars.get("preview")
    card.metadata_sources = [s for s in SOURCE_ORDER if s in facts] or ["none"]

    def first(attr, order):
        for key in order:
            value = getattr(facts[key], attr) if key in facts else None
            if value:
                return value
        return None

    card.name = first("name", ("civitai", "modelspec", "kohya")) or stem
    card.triggers = _triggers(facts, probe, stem)
    card.canonical_trigger = card.triggers[0] if card.triggers else None
    card.description = first("description", ("a1111", "civitai", "modelspec", "kohya", "readme", "txt")) or ""
    tags: list[str] = []
    for key in ("civitai", "modelspec", "readme", "kohya"):
        for tag in facts[key].tags if key in facts else []:
            if tag not in tags:
                tags.append(tag)
    card.tags = tags
    _fill_version(card, facts, probe, stem, is_folder)
    card.created = first("created", ("kohya", "modelspec", "civitai"))
    if card.created is None and "a1111" in facts:
        card.created = corroborated_mtime(probe.path, facts["a1111"].month_hint)
    if card.base_model == "unknown":
        card.base_model = first("base_model", ("civitai", "readme", "a1111")) or _adapter_config_base(probe) or "unknown"
    card.is_negative_embedding = card.kind == "textual_inversion" and _is_negative(facts, probe, stem)


def _triggers(facts: dict[str, Facts], probe: Probe, stem: str) -> list[str]:
    ranked = [(key, "triggers") for key in ("a1111", "civitai", "modelspec", "readme")]
    ranked += [("a1111", "text_triggers"), ("txt", "text_triggers"), ("kohya", "triggers")]
    for key, attr in ranked:  # stated triggers, then ones written in free text, then kohya's dataset token
        words = getattr(facts[key], attr) if key in facts else None
        if words:
            return list(dict.fromkeys(nfc(t) for t in words))
    if probe.kind == "textual_inversion":
        # A1111 prompts an embedding by its file stem; diffusers' learned_embeds by the key inside.
        file_stem = nfc(Path(probe.path).stem)
        if file_stem.lower() not in GENERIC_STEMS:
            return [file_stem]
        usable = [n for n in probe.embedded_names if n and n != "*" and not any(c.isspace() for c in n)]
        return [nfc(usable[0])] if usable else [stem]
    return []


def _fill_version(card: Card, facts: dict[str, Facts], probe: Probe, stem: str, is_folder: bool) -> None:
    file_stem = nfc(Path(probe.path).name if is_folder else Path(probe.path).stem)
    candidates = [
        facts["civitai"].version if "civitai" in facts else None,
        facts["modelspec"].version if "modelspec" in facts else None,
        version_from_text(facts["kohya"].name) if "kohya" in facts else None,
        version_from_filename(file_stem),
        version_from_filename(stem) if stem != file_stem else None,
        version_from_text(facts["kohya"].description, anywhere=False) if "kohya" in facts else None,
        facts["a1111"].version if "a1111" in facts else None,
    ]
    for found in candidates:
        if found:
            card.version, card.version_number = found
            return
    label = _undated_label(file_stem)
    card.version = label


def _undated_label(stem: str) -> str | None:
    """A version written as a date or season in the name ('2025-06', 'summer24'), without a number."""
    m = re.search(r"(?<!\d)(\d{4}-\d{2}(?:-\d{2})?)(?!\d)", stem)
    if m:
        return m.group(1)
    m = re.search(r"(?i)(spring|summer|autumn|fall|winter)[ _-]?(\d{2}|\d{4})(?!\d)", stem)
    return m.group(0) if m else None


def _adapter_config_base(probe: Probe) -> str | None:
    config = Path(probe.path).parent / "adapter_config.json"
    if probe.format != "peft_adapter" or not config.is_file():
        return None
    data = _read_json(config)
    return base_from_words(str(data.get("base_model_name_or_path", ""))) if isinstance(data, dict) else None


def _is_negative(facts: dict[str, Facts], probe: Probe, stem: str) -> bool:
    for key in ("modelspec", "civitai"):
        if key in facts and facts[key].negative:
            return True
    words = re.split(r"[\s_\-.]+", f"{stem} {Path(probe.path).parent.name}".lower())
    return any(w in {"neg", "negative", "negatives", "easynegative"} for w in words)
