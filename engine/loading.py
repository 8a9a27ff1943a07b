"""Build a diffusers pipeline from a catalog entry: a diffusers folder, a single-file checkpoint, or a
LoRA / textual inversion on top of its base model. Nothing is fetched: single files get one of the
config folders shipped in engine/configs, picked from the tensor shapes in the file's header.

Pickles (.ckpt/.pt/.bin/.pth) are read only through `torch.load(weights_only=True)` (no code
execution) and converted once to safetensors in the cache dir; the safetensors copy is what loads.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
KINDS = ("checkpoint", "diffusers_model", "lora", "textual_inversion")
ADAPTER_KINDS = ("lora", "textual_inversion")
# cross-attention width in the UNet -> base family (as catalog/probe.py reads it)
WIDTH_TO_FAMILY = {768: "sd15", 1024: "sd21", 2048: "sdxl", 32: "sd15-tiny"}
FAMILY_NAMES = {"sd15": "Stable Diffusion 1.5", "sd21": "Stable Diffusion 2.1", "sdxl": "Stable Diffusion XL"}


class LoadError(RuntimeError):
    """A model could not be turned into a pipeline; the message names the path and the reason."""


class BaseModelMissing(LoadError):
    """A LoRA or embedding needs a base model of its family and none is configured."""

    def __init__(self, path, base_model: str):
        self.path = str(path)
        self.base_model = base_model
        if base_model in FAMILY_NAMES:
            name = FAMILY_NAMES[base_model]
            message = (f"{Path(path).name} is a {name} add-on and needs a {name} base checkpoint: "
                       f"add one ({base_model}) under Settings -> base models, then try again")
        else:
            message = (f"{Path(path).name} is an add-on (LoRA/embedding) whose base model could not be told from "
                       f"the file: choose its base checkpoint (Settings -> base models, or --base PATH)")
        super().__init__(message)


class UnknownBaseModel(LoadError):
    """The family of a single-file checkpoint could not be told from its header or its catalog entry."""


# --- reading files ---------------------------------------------------------------------------


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


def _torch_dtype(dtype):
    import torch

    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype):
        return dtype
    from engine.devices import normalize_dtype

    name = normalize_dtype(dtype)
    return None if name == "auto" else getattr(torch, name)


# --- base pipelines --------------------------------------------------------------------------


def _pipeline_class(family: str):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline


def load_single_file(path, base_model: str = "unknown", dtype=None, config_dir=None, prediction_type=None):
    """An original-layout checkpoint (.safetensors or converted pickle) via from_single_file and a local config."""
    from engine import configs

    path = safe_path(path)
    family = infer_family(tensor_shapes(path)) or (base_model if base_model in configs.FAMILIES else None)
    if config_dir is None:
        if family is None:
            raise UnknownBaseModel(f"cannot tell the base model of {path}: no known UNet layout and base {base_model!r}")
        config_dir = configs.config_dir(family)
    cls = _pipeline_class(family or base_model)
    kwargs = {"config": str(config_dir), "local_files_only": True, "torch_dtype": _torch_dtype(dtype)}
    if cls.__name__ == "StableDiffusionPipeline":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = cls.from_single_file(str(path), **kwargs)
    except Exception as exc:
        raise LoadError(f"cannot load checkpoint {path} as {family or base_model}: {exc}") from exc
    return _set_prediction_type(pipe, prediction_type)


def load_diffusers_folder(path, dtype=None, prediction_type=None):
    """A diffusers folder (model_index.json) from disk only."""
    import json

    from diffusers import DiffusionPipeline

    path = Path(path)
    index = path / "model_index.json"
    if not index.is_file():
        raise LoadError(f"not a diffusers folder (no model_index.json): {path}")
    kwargs = {"local_files_only": True, "torch_dtype": _torch_dtype(dtype)}
    if "safety_checker" in json.loads(index.read_text(encoding="utf-8")):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = DiffusionPipeline.from_pretrained(str(path), **kwargs)
    except Exception as exc:
        raise LoadError(f"cannot load diffusers folder {path}: {exc}") from exc
    return _set_prediction_type(pipe, prediction_type)


def _set_prediction_type(pipe, prediction_type):
    """SD 2.x comes as epsilon (512 base) or v (768): the catalog knows which, the config guesses v."""
    if prediction_type in ("v", "v_prediction", "epsilon"):
        value = "v_prediction" if prediction_type in ("v", "v_prediction") else "epsilon"
        if pipe.scheduler.config.get("prediction_type") != value:
            pipe.scheduler = pipe.scheduler.__class__.from_config(pipe.scheduler.config, prediction_type=value)
    return pipe


def load_base(path, base_model: str = "unknown", dtype=None, config_dir=None, prediction_type=None):
    """A checkpoint file or diffusers folder as a pipeline (on CPU; the caller moves it)."""
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # no tqdm bars from component loading in the CLI/app
    from common.model_lock import MODEL_LOAD_LOCK

    path = Path(path)
    with MODEL_LOAD_LOCK:
        if path.is_dir():
            pipe = load_diffusers_folder(path, dtype=dtype, prediction_type=prediction_type)
        else:
            pipe = load_single_file(path, base_model, dtype=dtype, config_dir=config_dir, prediction_type=prediction_type)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe


# --- add-ons on a base -----------------------------------------------------------------------


def adapter_name_for(path) -> str:
    """A stable adapter name for a LoRA file (peft names may not contain dots)."""
    path = Path(path)
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)[:40]
    return f"{stem}_{digest}"


# LoRA as forward hooks (unfused adapters). Why not diffusers' load_lora_weights/peft: peft can only
# wrap nn.Linear/Conv, not the int8/int4 layers of a quantized UNet, and with transformers 5.x
# diffusers 0.42 fails on kohya files that carry text-encoder weights. A hooked LoRA adds
# `scale * up(down(x))` to a layer's output whatever the layer is, keeps its factors in float (a
# few MB), and comes off by removing the hooks: the (quantized) base stays shared and untouched.
# Tests check it gives the same images as diffusers' peft path where that one works.

_LORA_PATTERNS = [  # (regex on a diffusers-normalised key, group(1) = module path, group(2) = factor)
    (r"^(.*)\.lora_([AB])\.weight$", None),  # peft
    (r"^(.*)\.lora\.(down|up)\.weight$", None),  # older diffusers
    (r"^(.*)\.lora_linear_layer\.(down|up)\.weight$", None),  # diffusers text encoder
    (r"^(.*)\.processor\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$", "processor"),  # attn-processor LoRA
    (r"^(.*self_attn)\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$", "clip"),  # kohya text encoder, as converted
]
_CLIP_PROJ = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out": "out_proj"}


@dataclass
class HookedLora:
    """One LoRA's factors by target module; `handles` is non-empty while it is attached."""

    name: str
    path: str
    factors: dict = field(default_factory=dict)  # (component, module path) -> (down, up, scale)
    handles: list = field(default_factory=list)
    weight: float = 1.0  # the user's LoRA strength, times each module's alpha/rank


def _lora_target(key: str):
    """(module path, 'down'|'up') for a LoRA weight key, or None for keys that are not factors."""
    import re

    for pattern, kind in _LORA_PATTERNS:
        match = re.match(pattern, key)
        if not match:
            continue
        if kind == "processor":
            base, proj, factor = match.groups()
            return f"{base}.{'to_out.0' if proj == 'to_out' else proj}", factor
        if kind == "clip":
            base, proj, factor = match.groups()
            return f"{base}.{_CLIP_PROJ[proj]}", factor
        base, factor = match.groups()
        return base, {"A": "down", "B": "up"}.get(factor, factor)
    return None


def _find_module(component, path: str):
    """A submodule by dotted path; transformers 5.x CLIPTextModel has no `text_model.` level."""
    for candidate in (path, path.removeprefix("text_model.")):
        try:
            return component.get_submodule(candidate)
        except AttributeError:
            continue
    return None


def read_hooked_lora(pipe, path, name: str | None = None) -> HookedLora:
    """Read a LoRA file (kohya or diffusers layout, via diffusers' converter) into per-module factors."""
    path = safe_path(path)
    try:
        state, alphas, _meta = pipe.lora_state_dict(str(path), return_lora_metadata=True)
    except Exception as exc:
        raise LoadError(f"cannot read LoRA {path}: {exc}") from exc
    alphas = alphas or {}
    pairs: dict = {}
    for key, tensor in state.items():
        component_name, _, rest = key.partition(".")
        target = _lora_target(rest)
        if target is None:
            continue
        module_path, factor = target
        pairs.setdefault((component_name, module_path), {})[factor] = tensor
        alpha = alphas.get(key + ".alpha", alphas.get(key.replace(".weight", ".alpha")))
        if alpha is not None:
            pairs[(component_name, module_path)]["alpha"] = float(alpha)
    lora = HookedLora(name=name or adapter_name_for(path), path=str(path))
    for (component_name, module_path), parts in pairs.items():
        component = getattr(pipe, component_name, None)
        if component is None or "down" not in parts or "up" not in parts:
            raise LoadError(f"LoRA {path}: cannot place {component_name}.{module_path} (incomplete or unknown)")
        if _find_module(component, module_path) is None:
            raise LoadError(f"LoRA {path} targets {component_name}.{module_path}, which this model does not have")
        down, up = parts["down"].float(), parts["up"].float()
        rank = down.shape[0]
        scale = parts.get("alpha", rank) / rank
        lora.factors[(component_name, module_path)] = (down, up, scale)
    if not lora.factors:
        raise LoadError(f"{path} holds no LoRA factors this loader understands (LoHa/LoKr are not supported)")
    return lora


def _lora_hook(down, up, scale):
    import torch.nn.functional as F

    def hook(module, args, output):
        x = args[0]
        if down.ndim == 2:  # Linear: (..., in) -> (..., rank) -> (..., out)
            delta = F.linear(F.linear(x.to(down.dtype), down), up)
        else:  # Conv2d: down has the layer's kernel, up is 1x1
            stride, padding = getattr(module, "stride", 1), getattr(module, "padding", 0)
            delta = F.conv2d(F.conv2d(x.to(down.dtype), down, stride=stride, padding=padding), up)
        return output + (scale * delta).to(output.dtype)

    return hook


def attach_hooked_lora(pipe, lora: HookedLora, weight: float = 1.0) -> None:
    """Install the LoRA's hooks (moving its factors to the layers' device); idempotent."""
    if lora.handles:
        return
    for (component_name, module_path), (down, up, scale) in list(lora.factors.items()):
        module = _find_module(getattr(pipe, component_name), module_path)
        device = next(iter(module.parameters()), next(iter(module.buffers()), down)).device
        down, up = down.to(device), up.to(device)
        lora.factors[(component_name, module_path)] = (down, up, scale)
        lora.handles.append(module.register_forward_hook(_lora_hook(down, up, scale * weight)))


def detach_hooked_lora(lora: HookedLora) -> None:
    """Remove the LoRA's hooks: the layers compute exactly what they did before."""
    for handle in lora.handles:
        handle.remove()
    lora.handles.clear()


def apply_lora(pipe, path, adapter_name: str | None = None, scale: float = 1.0) -> str:
    """Make the LoRA at `path` the one active adapter (read once per pipeline, then swapped by hooks)."""
    return apply_loras(pipe, [(path, scale)], [adapter_name or adapter_name_for(path)])[0]


def apply_loras(pipe, loras: list[tuple[str, float]], names: list[str] | None = None) -> list[str]:
    """Make exactly these LoRAs active, each at its own weight (a subject plus a style): their hooks add up
    on the same layers; every other LoRA read on this pipeline is detached. Returns their adapter names."""
    known = pipe.__dict__.setdefault("_pq_loras", {})
    names = names or [adapter_name_for(path) for path, _ in loras]
    for (path, _), name in zip(loras, names):
        if name not in known:
            known[name] = read_hooked_lora(pipe, path, name)
    wanted = dict(zip(names, (weight for _, weight in loras)))
    for lora in known.values():
        if lora.name not in wanted or lora.weight != wanted[lora.name]:
            detach_hooked_lora(lora)
    for name, weight in wanted.items():
        attach_hooked_lora(pipe, known[name], weight)
        known[name].weight = weight
    return names


def deactivate_loras(pipe) -> None:
    """Detach every LoRA: the pipeline is its plain base again (LoRAs stay read for a quick swap back)."""
    for lora in pipe.__dict__.get("_pq_loras", {}).values():
        detach_hooked_lora(lora)


def remove_lora(pipe, adapter_name: str) -> None:
    """Detach and forget one LoRA (its factors are freed)."""
    lora = pipe.__dict__.get("_pq_loras", {}).pop(adapter_name, None)
    if lora is not None:
        detach_hooked_lora(lora)


def loaded_loras(pipe) -> list[str]:
    """Names of LoRAs read on this pipeline; the attached one is `active_lora(pipe)`."""
    return list(pipe.__dict__.get("_pq_loras", {}))


def active_lora(pipe) -> str | None:
    return next((n for n, lora in pipe.__dict__.get("_pq_loras", {}).items() if lora.handles), None)


def apply_textual_inversion(pipe, path, token: str | None = None) -> str:
    """Load an embedding under `token` (default: the file stem, as A1111 names them); SDXL files fill both encoders."""
    from safetensors.torch import load_file

    token = token or Path(path).stem  # the user's file name, not the converted copy's
    path = safe_path(path)
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise LoadError(f"cannot read embedding {path}: {exc}") from exc
    pairs = [(pipe.tokenizer, pipe.text_encoder)]
    if "clip_l" in state and getattr(pipe, "text_encoder_2", None) is not None:
        vectors = [state["clip_l"], state["clip_g"]]
        pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
    elif len(state) == 1:
        vectors = [next(iter(state.values()))]
    elif "emb_params" in state:
        vectors = [state["emb_params"]]
    else:
        raise LoadError(f"{path} is not a textual-inversion embedding (tensors: {', '.join(sorted(state)[:5])})")
    for (tokenizer, encoder), emb in zip(pairs, vectors):
        add_embedding_tokens(tokenizer, encoder, token, emb, path)
    return token


def add_embedding_tokens(tokenizer, text_encoder, token: str, emb, path="") -> list[str]:
    """Add `token` (and `token_1`... for multi-vector embeddings) with its vectors to one tokenizer/encoder.

    Done here rather than through diffusers' load_textual_inversion, which refuses any name that is
    also a BPE piece of the vocabulary (most plain words); the pipeline still expands `token` to all
    its vectors in prompts (TextualInversionLoaderMixin.maybe_convert_prompt reads `token_1`...).
    """
    import torch

    emb = emb.reshape(-1, emb.shape[-1]) if emb.ndim != 2 else emb  # (vectors, hidden)
    weight = text_encoder.get_input_embeddings().weight
    if emb.shape[-1] != weight.shape[-1]:
        raise LoadError(f"embedding {path} has width {emb.shape[-1]}, the text encoder {weight.shape[-1]}: wrong base model")
    names = [token] + [f"{token}_{i}" for i in range(1, emb.shape[0])]
    if token in tokenizer.added_tokens_encoder:
        return names  # already loaded on this pipeline
    tokenizer.add_tokens(names)
    text_encoder.resize_token_embeddings(len(tokenizer))
    weight = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        for name, vector in zip(names, emb):
            weight[tokenizer.convert_tokens_to_ids(name)] = vector.to(device=weight.device, dtype=weight.dtype)
    return names


# --- the one entry point ---------------------------------------------------------------------


def load_pipeline(
    path,
    kind: str,
    base_model: str = "unknown",
    base_path=None,
    device: str = "cpu",
    dtype=None,
    trigger: str | None = None,
    config_dir=None,
    prediction_type: str | None = None,
):
    """A ready pipeline for a catalog entry: a checkpoint as is, a LoRA/TI on its base, moved to device."""
    if kind not in KINDS:
        raise LoadError(f"cannot generate with a {kind!r} file: {path}")
    if kind in ADAPTER_KINDS:
        if base_path is None:
            raise BaseModelMissing(path, base_model)
        pipe = load_base(base_path, base_model, dtype=dtype, config_dir=config_dir, prediction_type=prediction_type)
        if kind == "lora":
            apply_lora(pipe, path)
        else:
            apply_textual_inversion(pipe, path, trigger)
    else:
        pipe = load_base(path, base_model, dtype=dtype, config_dir=config_dir, prediction_type=prediction_type)
    return pipe.to(device)


# --- what a model was made for ---------------------------------------------------------------

DEFAULTS_FILE = "personalq.json"  # optional, beside model_index.json: {"steps": N, "guidance": G}
FAMILY_SIZE = {"sd15": 512, "sd21": 768, "sdxl": 1024}


def native_settings(path, base_model: str = "unknown", config_dir=None, prediction_type: str | None = None) -> dict:
    """The image size (and steps/guidance when the folder records them) a model was trained for.

    Read from configs only, never weights: a diffusers folder's UNet sample size times the VAE's
    scale (what diffusers pipelines default to), a single file's config folder, else its family.
    A tiny model asked for 512x512 renders noise for minutes, so callers default to this.
    """
    import json

    from engine import configs

    folder = Path(config_dir) if config_dir else Path(path)
    if folder.suffix == ".safetensors":  # a single file: the shipped config of the family its UNet shapes say
        try:
            family = infer_family(tensor_shapes(folder)) or base_model
            folder = configs.shipped_dir(family) if family in configs.FAMILIES else folder
        except Exception:  # unreadable header, pickle not converted yet: fall back to the family table
            pass
    out: dict = {}
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        vae = json.loads((folder / "vae" / "config.json").read_text(encoding="utf-8"))
        size = int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
        out["width"] = out["height"] = size
    except (OSError, ValueError, KeyError, TypeError):
        size = 512 if base_model == "sd21" and prediction_type == "epsilon" else FAMILY_SIZE.get(base_model)
        if size:
            out["width"] = out["height"] = size
    try:
        extra = json.loads((folder / DEFAULTS_FILE).read_text(encoding="utf-8"))
        if isinstance(extra, dict):
            out.update({k: extra[k] for k in ("steps", "guidance", "width", "height") if isinstance(extra.get(k), (int, float))})
    except (OSError, ValueError):
        pass
    return out
