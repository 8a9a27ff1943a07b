"""Byte-stable world files: the same weights must give the same bytes on every rebuild.

Two things made a rebuild differ while every tensor was equal: safetensors writes its metadata
in hash-map order (a new order in every process), and diffusers records the folder it loaded
from (`_name_or_path`, a path on the building machine) in every config it saves; transformers
also writes how its tokenizer was loaded (`local_files_only` follows HF_HUB_OFFLINE).
"""
from __future__ import annotations

import json
from pathlib import Path

from common.tensor_files import stable_safetensors_bytes  # the one home of the rule; demo/ re-uses it


def copy_stable_safetensors(src: Path, dst: Path) -> None:
    Path(dst).write_bytes(stable_safetensors_bytes(Path(src).read_bytes()))


LOAD_TIME_KEYS = ("_name_or_path", "local_files_only", "is_local")  # how the builder loaded it, not what it is


def drop_local_paths(folder: Path) -> None:
    """Remove the load-time keys (`_name_or_path`, ...) from every JSON config under a saved diffusers folder."""
    for path in sorted(Path(folder).rglob("*.json")):
        config = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(config, dict) and any(key in config for key in LOAD_TIME_KEYS):
            for key in LOAD_TIME_KEYS:
                config.pop(key, None)
            path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
