"""Apply a quant spec to a UNet (with calibration), trigger positions, and quantize-on-import artifacts.

    apply_quant_spec(pipe_or_unet, "taq-w4a8")          # quantize in place, calibrated
    set_trigger_positions(unet, trigger_token_positions(tokenizer, prompt, trigger))
    quantize_on_import(path, "taq-w4a8", load_source=...)  # cached artifact, or quantize + save

Artifacts live in cache_dir()/quantized/<key>/: `unet.safetensors` + `manifest.json` (spec,
source size/mtime/sha256, library versions, sha256 of the weights file, UNet config). A changed
source or spec, other library versions or a hash mismatch make the artifact stale: it is rebuilt,
never half-used. torch/diffusers are imported inside functions.
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
from engine.quant_specs import QuantSpec, get_spec

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 1
WEIGHTS_FILE = "unet.safetensors"
MANIFEST_FILE = "manifest.json"

# Built-in calibration captions (COCO-like scenes, people, styles), one list per base family.
_GENERAL_PROMPTS = [
    "",  # classifier-free guidance always runs the empty prompt too
    "a photo of a dog sitting on a wooden bench in a park",
    "portrait of a woman with red hair, studio lighting, 85mm",
    "a watercolor painting of a lighthouse on a cliff at sunset",
    "a bowl of ramen on a table, close-up, food photography",
    "a futuristic city street at night with neon signs, cinematic",
    "an oil painting of a cat wearing a small crown",
    "a mountain lake surrounded by pine trees, morning fog",
]
CALIBRATION_PROMPTS = {"sd15": _GENERAL_PROMPTS, "sd21": _GENERAL_PROMPTS, "sdxl": _GENERAL_PROMPTS}


class ArtifactInvalid(RuntimeError):
    """A quantized artifact that must not be used (stale or corrupt); the message says why."""


# --- small helpers ---------------------------------------------------------------------------------


def _unet_of(pipe_or_unet):
    return getattr(pipe_or_unet, "unet", pipe_or_unet)


def base_family(unet) -> str:
    """sd15 / sd21 / sdxl from the UNet's cross-attention width (768 / 1024 / 2048)."""
    dim = unet.config.cross_attention_dim
    dim = dim[0] if isinstance(dim, (list, tuple)) else dim
    return {1024: "sd21", 2048: "sdxl"}.get(int(dim), "sd15")


def calibration_prompts_for(family: str) -> list[str]:
    return list(CALIBRATION_PROMPTS.get(family, _GENERAL_PROMPTS))


def trigger_token_positions(tokenizer, prompt: str, trigger: str) -> list[int]:
    """Positions of the trigger's sub-word tokens in the padded 77-token sequence (BOS is position 0).

    Every occurrence counts; positions past the tokenizer's max length are dropped. A trigger that
    does not occur in the prompt gives [].
    """
    if not trigger or not trigger.strip():
        raise ValueError("trigger must be a non-empty string")
    max_len = getattr(tokenizer, "model_max_length", 77) or 77
    ids = tokenizer(prompt, padding="max_length", max_length=max_len, truncation=True).input_ids
    sub = tokenizer(trigger, add_special_tokens=False).input_ids
    if not sub:
        return []
    found: list[int] = []
    for start in range(1, len(ids) - len(sub) + 1):
        if ids[start : start + len(sub)] == sub:
            found.extend(range(start, start + len(sub)))
    return sorted(set(found))


def set_trigger_positions(unet_or_pipe, positions: list[int]) -> int:
    """Tell every TAQ cross-attention processor which token positions to keep unquantized.

    Returns how many processors were updated (0 for specs without TAQ processors).
    """
    from engine.taq import taq_processors

    procs = taq_processors(_unet_of(unet_or_pipe))
    clean = sorted({int(p) for p in positions})
    for proc in procs:
        proc.trigger_positions = list(clean)
    return len(procs)


def clear_kv_cache(unet_or_pipe) -> None:
    """Drop cached cross-attention K/V (after to_k/to_v weights change, e.g. a LoRA swap)."""
    from engine.taq import taq_processors

    for proc in taq_processors(_unet_of(unet_or_pipe)):
        proc.clear_cache()


def set_debug(unet_or_pipe, on: bool = True) -> None:
    """Keep the last K/V/probabilities of each TAQ processor in `processor.last` (tests, inspection)."""
    from engine.taq import taq_processors

    for proc in taq_processors(_unet_of(unet_or_pipe)):
        proc.debug = on
        if not on:
            proc.last = {}


def weight_bytes(module) -> int:
    """Bytes of everything the module stores (parameters + buffers, quantized codes and scales)."""
    seen, total = set(), 0
    for t in module.state_dict().values():
        key = (t.data_ptr(), t.numel(), t.dtype) if t.device.type != "meta" else id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def quant_spec_of(unet_or_pipe) -> str:
    """The name of the spec applied to this UNet ('none' when unquantized)."""
    return getattr(_unet_of(unet_or_pipe), "_personalq_quant", "none")


# --- applying a spec -------------------------------------------------------------------------------


def convert_unet(unet, spec: QuantSpec, shell: bool = False) -> int:
    """Swap Linear/Conv2d layers for int8/int4 layers and install TAQ processors, per spec.

    shell=True builds empty quantized layers of the right shapes (on the UNet's device, e.g. meta)
    for loading an artifact; otherwise weights are quantized from the float layers.
    Returns the number of layers swapped.
    """
    import torch
    from torch import nn

    from engine.taq import QuantConv2d, QuantLinear, TAQCrossAttnProcessor, cross_attention_modules

    kv_dtype = getattr(torch, spec.kv_weights_dtype)
    targets = []
    for name, module in unet.named_modules():
        if type(module) not in (nn.Linear, nn.Conv2d):
            continue
        if spec.kv_weights_high_precision and name.endswith((".attn2.to_k", ".attn2.to_v")):
            module.to(kv_dtype)
            continue
        targets.append((name, module))
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = unet.get_submodule(parent_name) if parent_name else unet
        act_bits = None if name in spec.float_inputs else spec.act_bits
        if shell:
            device, dtype = module.weight.device, module.weight.dtype
            if isinstance(module, nn.Linear):
                q = QuantLinear(module.in_features, module.out_features, module.bias is not None, spec.weight_bits,
                                act_bits, spec.group_size, device=device, dtype=dtype)
            else:
                q = QuantConv2d(tuple(module.weight.shape), module.bias is not None, module.stride, module.padding,
                                module.dilation, module.groups, spec.weight_bits, act_bits, spec.group_size,
                                device=device, dtype=dtype)
        else:
            cls = QuantLinear if isinstance(module, nn.Linear) else QuantConv2d
            q = cls.from_float(module, spec.weight_bits, act_bits, spec.group_size)
        setattr(parent, child, q)
    if spec.kv_bits or spec.prob_bits or spec.cache_kv or spec.kv_weights_high_precision:
        for attn in cross_attention_modules(unet).values():
            attn.set_processor(TAQCrossAttnProcessor(
                kv_bits=spec.kv_bits, prob_bits=spec.prob_bits, prob_quantizer=spec.prob_quantizer,
                protect=spec.protect_trigger, cache_kv=spec.cache_kv))
    return len(targets)


def encode_prompts(prompts: list[str], tokenizer, text_encoder):
    """(len(prompts), 77, dim) CLIP hidden states, as SD pipelines feed the UNet."""
    import torch

    device = next(text_encoder.parameters()).device
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    with torch.no_grad():
        return text_encoder(ids)[0]


def _added_cond(unet, batch: int, device, dtype):
    """Zero SDXL micro-conditioning for calibration forwards (None for SD1/SD2 UNets)."""
    import torch

    if getattr(unet.config, "addition_embed_type", None) != "text_time":
        return None
    n_time = 6
    text_dim = unet.config.projection_class_embeddings_input_dim - n_time * unet.config.addition_time_embed_dim
    return {"text_embeds": torch.zeros(batch, text_dim, device=device, dtype=dtype),
            "time_ids": torch.zeros(batch, n_time, device=device, dtype=dtype)}


def calibrate(unet, encoder_states, timesteps=(900, 500, 100), latent_size: int | None = None, seed: int = 0,
              alphas_cumprod=None) -> None:
    """Fix every layer's activation scale from the ranges seen along a short denoising trajectory.

    The UNet is run at `timesteps` (high to low) with DDIM steps between them, so it sees the partly
    denoised latents it meets when sampling. Fresh random latents at every timestep (the first
    version) set the scales for noise, not for images near the end of sampling.
    """
    import torch

    from engine.taq import QuantConv2d, QuantLinear

    layers = [m for m in unet.modules() if isinstance(m, (QuantLinear, QuantConv2d)) and m.act_bits]
    if not layers:
        return
    param = next(p for p in unet.parameters() if p.is_floating_point())
    device, dtype = param.device, param.dtype
    size = latent_size or int(unet.config.sample_size)
    gen = torch.Generator().manual_seed(seed)
    ehs = encoder_states.to(device=device, dtype=dtype)
    if alphas_cumprod is None:  # a bare UNet: the schedule every SD 1.x/2.x/XL checkpoint was trained with
        from diffusers import DDIMScheduler

        from engine.pipeline_tiny import SD15_SCHEDULER

        alphas_cumprod = DDIMScheduler(**SD15_SCHEDULER).alphas_cumprod
    alphas = torch.as_tensor(alphas_cumprod).double().cpu()
    steps = sorted(timesteps, reverse=True)
    for m in layers:
        m.observing = True
    try:
        with torch.no_grad():
            latents = torch.randn(ehs.shape[0], unet.config.in_channels, size, size, generator=gen).to(device, dtype)
            for i, t in enumerate(steps):
                eps = unet(latents, t, ehs, added_cond_kwargs=_added_cond(unet, ehs.shape[0], device, dtype)).sample
                a_t = float(alphas[t])
                a_next = float(alphas[steps[i + 1]]) if i + 1 < len(steps) else 1.0
                x0 = (latents - (1 - a_t) ** 0.5 * eps) / a_t**0.5
                latents = a_next**0.5 * x0 + (1 - a_next) ** 0.5 * eps
    finally:
        for m in layers:
            m.finish_calibration()
        from engine.taq import taq_processors

        for proc in taq_processors(unet):
            proc.clear_cache()


def apply_quant_spec(pipe_or_unet, spec, calibration_prompts=None, tokenizer=None, text_encoder=None,
                     calibration_timesteps=(900, 500, 100), calibration_latent_size: int | None = None, seed: int = 0):
    """Quantize the UNet (of a pipeline, or a bare UNet) in place by spec name; returns the UNet.

    Specs with activation quantization are calibrated on `calibration_prompts` (default: the
    built-in set for the UNet's base family) encoded with the pipeline's tokenizer/text encoder.
    Without a text encoder, seeded random encoder states stand in (random-weight tests/benches only).
    """
    import torch

    from engine.loading import active_lora

    spec = get_spec(spec)
    unet = _unet_of(pipe_or_unet)
    if quant_spec_of(unet) != "none":
        raise ValueError(f"UNet is already quantized with {quant_spec_of(unet)!r}; load a fresh one to apply {spec.name!r}")
    attached = active_lora(pipe_or_unet)
    if attached and spec.method != "none":
        # the hooks sit on the float layers that quantization replaces: the LoRA would silently vanish
        raise ValueError(f"detach LoRA {attached} before quantizing; attach it to the quantized UNet after")
    unet.eval()
    if spec.method == "none":
        pass
    elif spec.method == "quanto":
        from optimum.quanto import freeze, qint4, qint8, quantize

        quantize(unet, weights={8: qint8, 4: qint4}[spec.weight_bits])
        freeze(unet)
    elif spec.method == "taq":
        convert_unet(unet, spec)
        if spec.calibrated:
            tokenizer = tokenizer or getattr(pipe_or_unet, "tokenizer", None)
            text_encoder = text_encoder or getattr(pipe_or_unet, "text_encoder", None)
            prompts = list(calibration_prompts) if calibration_prompts else calibration_prompts_for(base_family(unet))
            if tokenizer is not None and text_encoder is not None:
                states = encode_prompts(prompts, tokenizer, text_encoder)
            else:
                dim = unet.config.cross_attention_dim
                gen = torch.Generator().manual_seed(seed + 1)
                states = torch.randn(len(prompts), 77, int(dim), generator=gen)
            size = calibration_latent_size or min(int(unet.config.sample_size), 16)  # 128 px: ranges, not images
            scheduler = getattr(pipe_or_unet, "scheduler", None)
            calibrate(unet, states, calibration_timesteps, size, seed, getattr(scheduler, "alphas_cumprod", None))
    else:
        raise ValueError(f"spec {spec.name!r} has unknown method {spec.method!r}")
    unet._personalq_quant = spec.name
    return unet


# --- quantize-on-import artifacts -------------------------------------------------------------------




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
    unet._personalq_quant = spec.name
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
