"""Reading model files without running them: safetensors headers, the family a header shows, and pickles
(.ckpt/.pt/.bin/.pth) converted once through `torch.load(weights_only=True)` to a safetensors copy in
the cache dir. LoadError, the one error of loading a model, lives here so every loader can raise it.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
# cross-attention width in the UNet -> base family (as catalog/probe.py reads it)
WIDTH_TO_FAMILY = {768: "sd15", 1024: "sd21", 2048: "sdxl", 32: "sd15-tiny"}


class LoadError(RuntimeError):
    """A model could not be turned into a pipeline; the message names the path and the reason."""


def tensor_shapes(path) -> dict[str, list[int]]:
    """Names and shapes from a .safetensors header (no weights read)."""
    from safetensors import safe_open

    with safe_open(str(_utf8_path(Path(path))), framework="pt") as handle:
        return {k: list(handle.get_slice(k).get_shape()) for k in handle.keys()}


def infer_family(shapes: dict[str, list[int]]) -> str | None:
    """Base family of an original-layout checkpoint from its UNet cross-attention width (None if unseen)."""
    if any(k.startswith("conditioner.embedders.1.") for k in shapes):
        return "sdxl"
    for name, shape in shapes.items():
        if name.startswith("model.diffusion_model.") and name.endswith("attn2.to_k.weight") and len(shape) == 2:
            return WIDTH_TO_FAMILY.get(shape[1])
    return None


def _cache_key(path: Path) -> str:
    """Identity of a source file without hashing gigabytes: resolved path, size, mtime."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]


def _flatten_tensors(obj) -> dict:
    """The tensors of a loaded pickle as a flat name -> tensor dict, in the layouts SD tools write."""
    import torch

    if isinstance(obj, dict) and "string_to_param" in obj:  # A1111 textual inversion .pt
        params = obj["string_to_param"]
        return {"emb_params": next(iter(params.values()))}
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):  # Lightning checkpoint
        obj = obj["state_dict"]
    if isinstance(obj, torch.Tensor):
        return {"emb_params": obj}
    if not isinstance(obj, dict):
        raise LoadError(f"pickle holds a {type(obj).__name__}, not a dict of tensors")
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def convert_pickle(path) -> Path:
    """Convert a torch pickle to safetensors in the cache (weights_only load: no code runs); reuse it after."""
    import torch
    from safetensors.torch import save_file

    from common import paths

    path = Path(path)
    out = paths.cache_dir() / "converted" / f"{path.stem}-{_cache_key(path)}.safetensors"
    if out.is_file():
        return out
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LoadError(f"cannot read {path} as a weights-only torch pickle: {exc}") from exc
    tensors = _flatten_tensors(obj)
    if not tensors:
        raise LoadError(f"{path} holds no tensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    # clone: pickles share storage between tensors, safetensors refuses shared memory
    save_file({k: v.detach().clone().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, out)
    log.info("converted pickle %s -> %s", path, out)
    return out


def safe_path(path) -> Path:
    """The path to load from: a safetensors file as is, a pickle through convert_pickle."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"model not found: {path}")
    if path.is_file() and path.suffix.lower() in PICKLE_SUFFIXES:
        return convert_pickle(path)
    return _utf8_path(path)


def _utf8_path(path: Path) -> Path:
    """`path` itself, or, when its name is not valid UTF-8 (safetensors and diffusers take only UTF-8
    paths), a symlink with a plain name in the cache that points at it."""
    try:
        str(path).encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    import tempfile

    from common import paths

    digest = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:24]
    for folder in (paths.cache_dir() / "links", Path(tempfile.gettempdir()) / f"personalq-links-{os.getuid()}"):
        link = folder / f"{digest}{path.suffix.encode('ascii', 'ignore').decode() or '.safetensors'}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(link) and os.readlink(link) != os.fspath(path.resolve()):
                os.unlink(link)
            if not os.path.lexists(link):
                os.symlink(path.resolve(), link)
            return link
        except OSError:
            continue
    raise LoadError(f"cannot open {os.fsencode(path).decode('utf-8', 'backslashreplace')}: its name is not "
                    "valid UTF-8; rename the file")
