"""User settings, a small JSON file in the config dir. Unknown keys are kept; bad files fall back to defaults."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import paths

log = logging.getLogger(__name__)


@dataclass
class Settings:
    folders: list[str] = field(default_factory=list)  # watched checkpoint folders
    device: str = "auto"  # auto | cuda | mps | cpu
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    quant_spec: str = "taq-w8a8"  # default quant spec for generation
    llm_model: str | None = None  # a GGUF the user owns; None = the bundled default
    embedding_model: str | None = None  # a sentence-transformers folder; None = bundled MiniLM
    memory_budget_mb: int = 4096  # pipeline pool budget
    base_models: dict[str, str] = field(default_factory=dict)  # base family (sd15/sd21/sdxl) -> checkpoint path for LoRAs/TIs
    steps: int = 20
    guidance: float = 7.0
    width: int = 512
    height: int = 512
    png_full_paths: bool = False  # write model file paths into PNGs (off: a shared image names files only)
    use_demo_library: bool = False
    first_run_done: bool = False


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load_settings() -> Settings:
    path = settings_path()
    if not path.is_file():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("settings file is not a JSON object")
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings %s: %s", path, exc)
        return Settings()
    defaults = Settings()
    values = {}
    for key, value in data.items():
        if key not in Settings.__dataclass_fields__:
            continue
        if _type_ok(getattr(defaults, key), key, value):
            values[key] = float(value) if isinstance(getattr(defaults, key), float) else value
        else:  # a hand-edited or damaged value: its default, said in the log (ranges: engine.limits.clean_settings)
            log.warning("settings %s: %s=%r is not a %s; using %r", path, key, value,
                        type(getattr(defaults, key)).__name__, getattr(defaults, key))
    return Settings(**values)


_OPTIONAL_STR = ("llm_model", "embedding_model")


def _type_ok(default, key: str, value) -> bool:
    if key in _OPTIONAL_STR:
        return value is None or isinstance(value, str)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return isinstance(value, type(default))


def save_settings(settings: Settings) -> None:
    """Write atomically (temp file + rename) so a crash or a full disk never leaves a half-written
    settings file; an OSError (full disk, read-only folder) reaches the caller with the old file intact."""
    path = settings_path()
    paths.sweep_stale_tmp(path.parent)
    paths.atomic_write_text(path, json.dumps(asdict(settings), indent=2))
