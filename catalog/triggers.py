"""Trigger words of a model file: stated in its sidecars or metadata, written in free text, or the rare token
of the kohya dataset it was trained on."""
from __future__ import annotations

import functools
import json
import re

from catalog.names import nfc, split_list

TEMPLATE_WORDS = {"a", "an", "the", "photo", "photograph", "picture", "image", "of", "in", "style", "by",
                  "art", "artwork", "painting", "drawing", "portrait", "close-up", "closeup", "high", "quality",
                  "sks"}

_TRIGGER_CUE = re.compile(
    r"(?:instance[ _]prompt|trigger(?:[ _]words?)?|activation(?:[ _]text)?|token|keyword)s?\s*[:=]\s*"
    r"[\"'`]?([^\n\"'`;]+?)[\"'`]?\s*(?:[.;\n]|$)", re.I)
_TRIGGER_TAIL = re.compile(r"\btrigger(?:\s+words?)?\s+([\w<>-]+)\s*\.?\s*$", re.I)


def rare_token(prompt: str | None) -> str | None:
    """The identifier in a DreamBooth instance prompt: 'a photo of clintdough jar' -> 'clintdough'."""
    if not prompt:
        return None
    words = [w.strip(",.:;\"'`") for w in nfc(prompt).split()]
    words = [w for w in words if w]
    for word in words:
        if word.lower() not in TEMPLATE_WORDS:
            return word
    return words[0] if words else None


def triggers_from_free_text(text: str | None) -> list[str]:
    """'token: desertbloom', 'instance prompt: priyak woman', '... trigger redhollow' in notes/comments."""
    if not text:
        return []
    m = _TRIGGER_CUE.search(text)
    if m:
        phrase = m.group(1).strip()
        label = m.group(0).lower()
        if label.startswith("instance"):
            token = rare_token(phrase)
            return [t for t in dict.fromkeys([token, phrase]) if t]
        return split_list(phrase)
    m = _TRIGGER_TAIL.search(text)
    return [m.group(1)] if m else []


def _kohya_tag_frequency(metadata: dict[str, str]) -> dict[str, dict[str, int]]:
    return _parse_tag_frequency(metadata.get("ss_tag_frequency", "") or "{}")


@functools.lru_cache(maxsize=64)
def _parse_tag_frequency(raw: str) -> dict[str, dict[str, int]]:
    """Parsed once per distinct string (triggers and tags both read it); callers must not mutate it."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for folder, tags in data.items():
        if isinstance(tags, dict):
            out[str(folder)] = {str(t).strip(): int(c) for t, c in tags.items() if isinstance(c, (int, float))}
    return out


def _dataset_dirs(metadata: dict[str, str], freq: dict) -> list[str]:
    names = list(freq)
    try:
        dirs = json.loads(metadata.get("ss_dataset_dirs", "") or "{}")
        if isinstance(dirs, dict):
            names += [str(d) for d in dirs if str(d) not in names]
    except ValueError:
        pass
    return names


COMMON_TAGS = {"1girl", "1boy", "2girls", "solo", "smile", "realistic", "photorealistic", "monochrome",
               "greyscale", "outdoors", "indoors", "portrait", "photo", "person", "man", "woman", "girl", "boy",
               "dog", "cat", "animal", "no_humans", "scenery", "landscape", "masterpiece", "best_quality"}


def kohya_triggers(metadata: dict[str, str]) -> list[str]:
    """Dataset-folder tokens ('5_wfflbeagle dog' -> wfflbeagle) confirmed by the captions, else the top rare tag."""
    freq = _kohya_tag_frequency(metadata)
    counts: dict[str, int] = {}  # lower-cased tag -> count over all folders
    spelled: dict[str, str] = {}  # lower-cased tag -> as the captions write it
    for tags in freq.values():
        for tag, count in tags.items():
            counts[tag.lower()] = counts.get(tag.lower(), 0) + count
            spelled.setdefault(tag.lower(), tag)
    found: dict[str, int] = {}
    for folder in _dataset_dirs(metadata, freq):
        leaf = folder.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        name = re.sub(r"^\d+_", "", leaf).strip()
        words = name.split()
        if not words or words[0] in found:
            continue
        token = words[0]
        confirmed = token.lower() in counts if counts else name != leaf  # no captions: trust only 'N_token'
        if confirmed and token.lower() not in COMMON_TAGS:
            found[token] = counts.get(token.lower(), 0)
    if found:
        return [t for t, _ in sorted(found.items(), key=lambda item: -item[1])]
    top = max(counts.values(), default=0)
    for tag, count in counts.items():  # a tag in every caption (the most frequent), when it is one unusual word
        if count == top and " " not in tag and tag not in COMMON_TAGS:
            return [spelled[tag]]
    return []


def kohya_top_tags(metadata: dict[str, str], exclude: set[str], limit: int = 8) -> list[str]:
    counts: dict[str, int] = {}
    for tags in _kohya_tag_frequency(metadata).values():
        for tag, count in tags.items():
            counts[tag] = counts.get(tag, 0) + count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [t for t, _ in ranked if t and t not in exclude][:limit]
