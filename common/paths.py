"""Where PersonalQ keeps its files: platformdirs locations, all moved by PERSONALQ_HOME."""
from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "PersonalQ"


def _home_override() -> Path | None:
    home = os.environ.get("PERSONALQ_HOME")
    return Path(home).expanduser() if home else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Databases, generated images, logs."""
    home = _home_override()
    if home:
        return _ensure(home / "data")
    import platformdirs

    return _ensure(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))


def cache_dir() -> Path:
    """Rebuildable files: quantized artifacts, assembled GGUF, embeddings cache."""
    home = _home_override()
    if home:
        return _ensure(home / "cache")
    import platformdirs

    return _ensure(Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)))


def config_dir() -> Path:
    """User settings."""
    home = _home_override()
    if home:
        return _ensure(home / "config")
    import platformdirs

    return _ensure(Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)))


def default_db_path() -> Path:
    return data_dir() / "catalog.sqlite"


def log_dir() -> Path:
    return _ensure(data_dir() / "logs")


def outputs_dir() -> Path:
    return _ensure(data_dir() / "outputs")
