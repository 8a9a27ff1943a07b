"""The diffusers config folders the project ships, so single-file checkpoints load with nothing fetched.

One folder per base family (`sd15`, `sd21`, `sdxl`, and `sd15-tiny` for the test/demo shapes of
engine/pipeline_tiny.py): model_index.json plus each component's config, no weights. The
tokenizer files are not shipped: they are written from the CLIP BPE file at first use
(engine/clip_tokenizer.py) into a cached copy of the folder, which is what `from_single_file`
gets as its `config=`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FAMILIES = ("sd15", "sd21", "sdxl", "sd15-tiny")
# SD 2.x and SDXL's second text encoder were trained with "!" (id 0) as padding, SD 1.x with <|endoftext|>
PAD_TOKENS = {"sd15": "<|endoftext|>", "sd15-tiny": "<|endoftext|>", "sd21": "!", "sdxl": "<|endoftext|>"}
PAD_TOKENS_2 = {"sdxl": "!"}


class UnknownBaseFamily(ValueError):
    """No shipped config folder for this base model family."""


def shipped_dir(family: str) -> Path:
    """The shipped (tokenizer-less) config folder of a base family."""
    if family not in FAMILIES:
        raise UnknownBaseFamily(f"no shipped config for base model {family!r}; known: {', '.join(FAMILIES)}")
    return ROOT / family


def tokenizer_pad_tokens(family: str) -> dict[str, str]:
    """Component name -> pad token, for each tokenizer the family's pipeline has."""
    pads = {"tokenizer": PAD_TOKENS[family]}
    if family in PAD_TOKENS_2:
        pads["tokenizer_2"] = PAD_TOKENS_2[family]
    return pads


def _digest(folder: Path) -> str:
    """Hash of the shipped JSON files, so an updated config replaces a stale cached copy."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.json")):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def copy_config_dir(family: str, out_dir: Path) -> Path:
    """Copy a family's config folder to out_dir and add tokenizer files; idempotent."""
    from engine.clip_tokenizer import write_tokenizer_files

    src = shipped_dir(family)
    out_dir = Path(out_dir)
    digest = _digest(src)
    marker = out_dir / ".complete"
    if marker.is_file() and marker.read_text(encoding="utf-8") == digest:
        return out_dir
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
        for name, pad in tokenizer_pad_tokens(family).items():
            folder = write_tokenizer_files(tmp / name)
            for file in ("special_tokens_map.json", "tokenizer_config.json"):
                data = json.loads((folder / file).read_text(encoding="utf-8"))
                data["pad_token"] = pad
                (folder / file).write_text(json.dumps(data), encoding="utf-8")
        (tmp / ".complete").write_text(digest, encoding="utf-8")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk leaves no half folder behind
        raise
    return out_dir


def config_dir(family: str) -> Path:
    """The cached, complete config folder (with tokenizer files) for `from_single_file(config=...)`.

    A cache that cannot be written (full, read-only) is not fatal: the folder is made in the
    system temp folder for this process instead."""
    import logging
    import tempfile

    from common import paths

    try:
        return copy_config_dir(family, paths.cache_dir() / "configs" / family)
    except OSError as exc:
        logging.getLogger(__name__).warning("config cache not writable (%s); using a temp copy", exc)
        return copy_config_dir(family, Path(tempfile.mkdtemp(prefix="personalq-configs-")) / family)
