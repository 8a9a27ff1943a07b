"""Quantize-on-import artifacts: a quantized UNet cached on disk per (source, spec, compute dtype).

    quantize_on_import(path, "taq-w4a8", load_source=...)  # cached artifact, or quantize + save

Artifacts live in cache_dir()/quantized/<key>/: `unet.safetensors` + `manifest.json` (spec,
source size/mtime/sha256, library versions, sha256 of the weights file, UNet config). A changed
source or spec, other library versions or a hash mismatch make the artifact stale: it is rebuilt,
never half-used. Quantizing itself is engine/quantize.py's job. torch/diffusers are imported inside
functions.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from common import paths
from common.hashing import sha256_file
from engine.quant_specs import get_spec
from engine.quantize import _unet_of, apply_quant_spec, convert_unet, mark_quantized, weight_bytes

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 1
WEIGHTS_FILE = "unet.safetensors"
MANIFEST_FILE = "manifest.json"


class ArtifactInvalid(RuntimeError):
    """A quantized artifact that must not be used (stale or corrupt); the message says why."""


def _source_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file())
    raise FileNotFoundError(f"quantize source not found: {source}")


def source_fingerprint(source, known: dict | None = None) -> dict:
    """{path, files: [[rel, size, mtime_ns]], sha256} of a model file or folder.

    When `known` (a previous fingerprint) has the same sizes and mtimes, its sha256 is reused
    instead of re-reading gigabytes; any stat change forces a re-hash.
    """
    source = Path(source).resolve()
    files = _source_files(source)
    stats = [[str(p.relative_to(source)) if source.is_dir() else p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    if known and known.get("files") == stats and known.get("sha256"):
        return {"path": str(source), "files": stats, "sha256": known["sha256"]}
    if len(files) == 1 and source.is_file():
        digest = sha256_file(files[0])
    else:
        h = hashlib.sha256()
        for (rel, _, _), p in zip(stats, files):
            h.update(rel.encode() + b"\0" + sha256_file(p).encode())
        digest = h.hexdigest()
    return {"path": str(source), "files": stats, "sha256": digest}


def library_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("torch", "diffusers", "optimum-quanto", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def dtype_name(dtype) -> str:
    """'float16' for torch.float16, 'float16' or 'fp16'; None means the float32 every loader defaults to."""
    from engine.devices import normalize_dtype

    return "float32" if dtype is None else normalize_dtype(dtype)


def _unet_dtype(unet) -> str:
    return dtype_name(next((p.dtype for p in unet.parameters() if p.is_floating_point()), None))


def artifact_dir(source, spec, dtype=None) -> Path:
    """cache_dir()/quantized/<name>-<path hash>-<spec>[-<dtype>]/ for a source path, spec and compute dtype.

    A GPU's fp16 artifact and the CPU's fp32 one live side by side: switching device must not load
    fp16 tensors into an fp32 pipeline (it fails on CPU).
    """
    spec = get_spec(spec)
    source = Path(source).resolve()
    tag = hashlib.sha256(os.fsencode(source)).hexdigest()[:12]  # fsencode: a name that is not UTF-8 too
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in source.stem)[:40]
    suffix = "" if dtype_name(dtype) == "float32" else f"-{dtype_name(dtype)}"
    return paths.cache_dir() / "quantized" / f"{stem}-{tag}-{spec.name}{suffix}"


def _unet_config(unet) -> dict:
    cfg = {k: v for k, v in dict(unet.config).items() if not k.startswith("_")}
    return json.loads(json.dumps(cfg, default=list))


def save_artifact(unet, spec, source, out_dir: Path | None = None, extra: dict | None = None,
                  source_info: dict | None = None, dtype=None) -> Path:
    """Write unet.safetensors + manifest.json atomically (temp folder `<key>.tmp-<pid>`, then rename).

    dtype: the compute dtype the UNet was quantized in (default: read from its float parameters).
    A failed write (disk full, read-only cache) removes the temp folder and raises the OSError;
    an existing artifact is untouched until the new one is complete."""
    from safetensors.torch import save_file

    spec = get_spec(spec)
    dtype = dtype_name(dtype) if dtype is not None else _unet_dtype(unet)
    out_dir = Path(out_dir) if out_dir else artifact_dir(source, spec, dtype)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_artifacts(out_dir.parent)
    tmp = out_dir.with_name(out_dir.name + f"{paths.TMP_MARK}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        state = {k: v.detach().contiguous().cpu() for k, v in unet.state_dict().items()}
        qmap = None
        if spec.method == "quanto":
            from optimum.quanto import quantization_map

            qmap = quantization_map(unet)
        try:
            save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "personalq_spec": spec.name})
        except OSError:
            raise
        except Exception as exc:  # safetensors reports a full disk as its own SafetensorError
            raise _as_os_error(exc, tmp / WEIGHTS_FILE) from exc
        manifest = {
            "format": ARTIFACT_FORMAT,
            "spec": spec.to_dict(),
            "dtype": dtype,
            "source": source_info or source_fingerprint(source),
            "libraries": library_versions(),
            "files": {WEIGHTS_FILE: sha256_file(tmp / WEIGHTS_FILE)},
            "unet_class": type(unet).__name__,
            "unet_config": _unet_config(unet),
            "quantization_map": qmap,
            "weight_bytes": weight_bytes(unet),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **(extra or {}),
        }
        with open(tmp / MANIFEST_FILE, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(manifest, indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        if out_dir.exists():
            old = out_dir.with_name(out_dir.name + f".old-{os.getpid()}")
            os.replace(out_dir, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _as_os_error(exc: Exception, path: Path) -> Exception:
    """safetensors' SafetensorError('... No space left on device ...') as the OSError it is; other errors as they are."""
    import errno

    text = str(exc)
    for code, words in ((errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only file system"),
                        (errno.EACCES, "Permission denied"), (errno.EDQUOT, "Disk quota exceeded")):
        if words in text:
            return OSError(code, os.strerror(code), str(path))
    return exc


def sweep_stale_artifacts(folder: Path | None = None) -> list[Path]:
    """Remove `<key>.tmp-<pid>` / `<key>.old-<pid>` folders that a killed quantize left in the cache."""
    folder = Path(folder) if folder else paths.cache_dir() / "quantized"
    return paths.sweep_stale_tmp(folder, marks=(paths.TMP_MARK, ".old-"))


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((Path(folder) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactInvalid(f"no manifest in {folder}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactInvalid(f"unreadable manifest in {folder}: {exc}") from exc
    except OSError as exc:
        raise ArtifactInvalid(f"cannot read the manifest in {folder}: {exc.strerror or exc}") from exc
    if not isinstance(manifest, dict):
        raise ArtifactInvalid(f"manifest in {folder} is not a JSON object ({type(manifest).__name__})")
    for key in ("spec", "source", "files"):
        if key in manifest and not isinstance(manifest[key], dict):
            raise ArtifactInvalid(f"manifest in {folder}: '{key}' is not a JSON object")
    return manifest


def check_artifact(folder: Path, spec, source=None, verify_hash: bool = True, dtype=None) -> dict:
    """Return the manifest if the artifact is usable for (source, spec, dtype); raise ArtifactInvalid saying why."""
    spec = get_spec(spec)
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("format") != ARTIFACT_FORMAT:
        raise ArtifactInvalid(f"{folder}: artifact format {manifest.get('format')} != {ARTIFACT_FORMAT}")
    if manifest.get("spec") != spec.to_dict():
        raise ArtifactInvalid(f"{folder}: made with another spec ({manifest.get('spec', {}).get('name')})")
    if manifest.get("dtype", "float32") != dtype_name(dtype):
        raise ArtifactInvalid(f"{folder}: made for {manifest.get('dtype', 'float32')}, needed {dtype_name(dtype)}")
    if manifest.get("libraries") != library_versions():
        raise ArtifactInvalid(f"{folder}: made with other library versions {manifest.get('libraries')}")
    if source is not None:
        now = source_fingerprint(source, known=manifest.get("source"))
        if now["sha256"] != manifest.get("source", {}).get("sha256"):
            raise ArtifactInvalid(f"{folder}: source {source} changed since it was quantized")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ArtifactInvalid(f"{folder}: {WEIGHTS_FILE} is missing")
    if verify_hash and sha256_file(weights) != manifest.get("files", {}).get(WEIGHTS_FILE):
        raise ArtifactInvalid(f"{folder}: {WEIGHTS_FILE} does not match its recorded sha256 (corrupt)")
    return manifest


def load_artifact(folder: Path, spec, source=None, device: str = "cpu", dtype=None):
    """Rebuild the quantized UNet from an artifact without quantizing (weights are assigned, not copied)."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    spec = get_spec(spec)
    manifest = check_artifact(folder, spec, source, dtype=dtype)
    if manifest.get("unet_class") != "UNet2DConditionModel":
        raise ArtifactInvalid(f"{folder}: unsupported UNet class {manifest.get('unet_class')}")
    try:
        state = load_file(str(Path(folder) / WEIGHTS_FILE), device=device)
    except Exception as exc:  # safetensors raises its own error types for truncated files
        raise ArtifactInvalid(f"{folder}: cannot read {WEIGHTS_FILE}: {exc}") from exc
    from common.model_lock import MODEL_LOAD_LOCK

    with MODEL_LOAD_LOCK, torch.device("meta"):  # built on meta on purpose; the lock keeps other loads out
        unet = UNet2DConditionModel.from_config(manifest["unet_config"])
    unet.to(getattr(torch, manifest.get("dtype", "float32"))).eval()  # quanto's requantize keeps the model's dtype
    if spec.method == "quanto":
        from optimum.quanto import requantize

        requantize(unet, state, manifest["quantization_map"], device=torch.device(device))
    else:
        if spec.method == "taq":
            convert_unet(unet, spec, shell=True)
        try:
            unet.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as exc:
            raise ArtifactInvalid(f"{folder}: weights do not fit the spec's layers: {exc}") from exc
    leftovers = [n for n, t in list(unet.named_parameters()) + list(unet.named_buffers()) if t.device.type == "meta"]
    if leftovers:
        raise ArtifactInvalid(f"{folder}: artifact lacks tensors {leftovers[:5]}")
    mark_quantized(unet, spec)
    return unet


@dataclass
class ImportResult:
    unet: object
    artifact: Path | None  # None: quantized for this session only (the cache could not be written)
    from_cache: bool
    seconds: float
    reason: str  # why it was (re)built, or "cached"
    warning: str | None = None  # one line for the user (the artifact could not be cached, and why)


def quantize_on_import(source, spec, load_source, calibration_prompts=None, force: bool = False,
                       progress=None, dtype=None, device: str = "cpu", **apply_kwargs) -> ImportResult:
    """The quantized UNet for (source, spec, dtype): from its artifact when valid, else quantize and save one.

    load_source() must return a pipeline (or a bare UNet) freshly loaded from `source` in `dtype`
    (None: float32) and placed where calibration should run; it is only called when the artifact has
    to be (re)built. A cached artifact is loaded onto `device`. A cache that cannot be written (full
    disk, read-only) is not a failure: the UNet quantized in memory is used for this session, and
    `warning` says why nothing was cached (stale temp folders of killed runs are swept first).
    """
    spec = get_spec(spec)
    source = Path(source)
    say = progress or (lambda msg: log.info(msg))
    start = time.perf_counter()
    reason = "forced" if force else "no artifact"
    try:
        folder = artifact_dir(source, spec, dtype)
    except OSError as exc:  # the cache folder itself cannot be made
        folder, cache_error = None, exc
    else:
        cache_error = None
        sweep_stale_artifacts(folder.parent)
    if folder is not None and not force and folder.exists():
        try:
            unet = load_artifact(folder, spec, source, device=device, dtype=dtype)
            say(f"loaded quantized artifact {folder}")
            return ImportResult(unet, folder, True, time.perf_counter() - start, "cached")
        except ArtifactInvalid as exc:
            reason = str(exc)
            say(f"rebuilding quantized artifact: {reason}")
    info = source_fingerprint(source)
    loaded = load_source()
    loaded_dtype = _unet_dtype(_unet_of(loaded))
    if loaded_dtype != dtype_name(dtype):
        raise ValueError(f"load_source() gave a {loaded_dtype} UNet for a {dtype_name(dtype)} artifact")
    unet = apply_quant_spec(loaded, spec, calibration_prompts=calibration_prompts, **apply_kwargs)
    seconds = time.perf_counter() - start
    if folder is not None:
        try:
            save_artifact(unet, spec, source, folder, extra={"quantize_seconds": round(seconds, 3)},
                          source_info=info, dtype=loaded_dtype)
        except OSError as exc:
            cache_error = exc
    if cache_error is not None:
        warning = (f"the quantized model could not be cached ({paths.describe_os_error(cache_error)}); "
                   f"it is used for this session only and will be quantized again next time")
        log.warning(warning)
        say(f"warning: {warning}")
        return ImportResult(unet, None, False, time.perf_counter() - start, f"{reason}; not cached", warning)
    say(f"quantized {source} with {spec.name} in {seconds:.1f} s -> {folder}")
    return ImportResult(unet, folder, False, time.perf_counter() - start, reason)
