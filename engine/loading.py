"""Build a diffusers pipeline from a catalog entry: a diffusers folder, a single-file checkpoint, or a
LoRA / textual inversion on top of its base model. Nothing is fetched: single files get one of the
config folders shipped in engine/configs, picked from the tensor shapes in the file's header.

Reading the files themselves (headers, pickles converted to safetensors) is engine/model_files.py;
LoRA hooks are engine/lora.py.
"""
from __future__ import annotations

import logging
from pathlib import Path

from common.families import FAMILY_NAMES
from engine.lora import apply_lora
from engine.model_files import (  # noqa: F401  (re-exported: callers and tests name them loading.X)
    PICKLE_SUFFIXES,
    WIDTH_TO_FAMILY,
    LoadError,
    convert_pickle,
    infer_family,
    safe_path,
    tensor_shapes,
)

log = logging.getLogger(__name__)

KINDS = ("checkpoint", "diffusers_model", "lora", "textual_inversion")
ADAPTER_KINDS = ("lora", "textual_inversion")


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
    return _run_loader(cls.from_single_file, path, kwargs, cls.__name__ == "StableDiffusionPipeline",
                  f"checkpoint {path} as {family or base_model}", prediction_type)


def load_diffusers_folder(path, dtype=None, prediction_type=None):
    """A diffusers folder (model_index.json) from disk only."""
    import json

    from diffusers import DiffusionPipeline

    path = Path(path)
    index = path / "model_index.json"
    if not index.is_file():
        raise LoadError(f"not a diffusers folder (no model_index.json): {path}")
    kwargs = {"local_files_only": True, "torch_dtype": _torch_dtype(dtype)}
    return _run_loader(DiffusionPipeline.from_pretrained, path, kwargs,
                  "safety_checker" in json.loads(index.read_text(encoding="utf-8")), f"diffusers folder {path}",
                  prediction_type)


def _run_loader(load, path, kwargs: dict, has_safety_checker: bool, what: str, prediction_type):
    """Run a diffusers loader on `path` with no safety checker; any failure is one LoadError naming `what`."""
    if has_safety_checker:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = load(str(path), **kwargs)
    except Exception as exc:
        raise LoadError(f"cannot load {what}: {exc}") from exc
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
