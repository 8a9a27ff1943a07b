"""Decide what a model file is (kind, base model, variant, format) from its header alone.

Safetensors headers are read directly (8-byte little-endian length + JSON), bounded so a
hostile or broken file becomes an error entry instead of a crash or a huge allocation.
Pickled torch files go through `catalog.pickles` (allow-list, nothing executed). The rules
that map tensor names and shapes to a kind/base model are pure functions over
`{name: shape}` so both containers share them and tests can call them directly.
"""
from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path

from catalog.card import Probe

MAX_HEADER_BYTES = 100_000_000  # the safetensors reference limit
SAFETENSORS_EXTS = {".safetensors"}
PICKLE_EXTS = {".ckpt", ".pt", ".bin", ".pth"}
MODEL_EXTS = SAFETENSORS_EXTS | PICKLE_EXTS
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
WIDTH_TO_BASE = {768: "sd15", 1024: "sd21", 2048: "sdxl"}


class HeaderError(ValueError):
    """The safetensors header cannot be trusted (too large, truncated, not JSON, bad offsets)."""


# ---------------------------------------------------------------------------------------------
# files and folders

def is_model_file(path) -> bool:
    """True for file names the catalog probes (.safetensors and the pickle formats)."""
    return Path(path).suffix.lower() in MODEL_EXTS


def is_diffusers_folder(path) -> bool:
    """True for a diffusers pipeline folder (model_index.json with a _class_name)."""
    index = Path(path) / "model_index.json"
    if not index.is_file():
        return False
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "_class_name" in data


def find_diffusers_root(path, max_up: int = 3) -> str | None:
    """The diffusers folder a component file lives in (unet/x.safetensors -> the pipeline folder), if any."""
    folder = Path(path).parent
    for _ in range(max_up):
        if is_diffusers_folder(folder):
            return str(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def read_safetensors_header(path) -> tuple[dict[str, dict], dict[str, str]]:
    """Return ({tensor name: {dtype, shape, data_offsets}}, __metadata__) or raise HeaderError."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            file_size = f.tell()
            f.seek(0)
            head = f.read(8)
            if len(head) < 8:
                raise HeaderError(f"{path}: file too short for a safetensors header ({file_size} bytes)")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES:
                raise HeaderError(f"{path}: header length {length} is over {MAX_HEADER_BYTES} bytes")
            if 8 + length > file_size:
                raise HeaderError(f"{path}: header length {length} runs past the end of the file ({file_size} bytes)")
            raw = f.read(length)
    except OSError as exc:
        raise HeaderError(f"{path}: cannot read: {exc}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HeaderError(f"{path}: header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise HeaderError(f"{path}: header is JSON but not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise HeaderError(f"{path}: __metadata__ is not an object")
    metadata = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    buffer = file_size - 8 - length
    for name, info in header.items():
        try:  # fast path: well-formed entries cost a few operations each (10k-file scans)
            begin, end = info["data_offsets"]
            numel = 1
            for s in info["shape"]:
                if s.__class__ is not int or s < 0:
                    raise TypeError
                numel *= s
            if begin.__class__ is not int or end.__class__ is not int or not 0 <= begin <= end <= buffer:
                raise TypeError
            width = DTYPE_BYTES.get(info.get("dtype"))
            if width is not None and numel * width != end - begin:
                raise TypeError
        except (TypeError, KeyError, ValueError, AttributeError):
            _check_tensor_entry(path, name, info, buffer)  # slow path: names the exact problem
            raise HeaderError(f"{path}: tensor {name!r} entry is malformed") from None
    return header, metadata


def _check_tensor_entry(path, name, info, buffer: int) -> None:
    if not isinstance(info, dict):
        raise HeaderError(f"{path}: tensor {name!r} entry is not an object")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise HeaderError(f"{path}: tensor {name!r} has a bad shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets)):
        raise HeaderError(f"{path}: tensor {name!r} has bad data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= buffer:
        raise HeaderError(f"{path}: tensor {name!r} offsets [{begin}, {end}] are outside the file (buffer {buffer} bytes)")
    width = DTYPE_BYTES.get(info.get("dtype"))
    if width is not None:
        numel = 1
        for s in shape:
            numel *= s
        if numel * width != end - begin:
            raise HeaderError(f"{path}: tensor {name!r} size {end - begin} does not match shape {shape} {info.get('dtype')}")


def probe_path(path) -> Probe:
    """Probe one model file or diffusers folder; never raises (problems become Probe.error)."""
    path = os.path.abspath(os.fsdecode(os.fspath(path)))  # bytes names arrive as str with surrogate escapes
    try:
        if os.path.isdir(path):
            if is_diffusers_folder(path):
                return _probe_diffusers_folder(path)
            return Probe(path=path, error=f"{path}: a folder that is not a diffusers model (no model_index.json)")
        ext = Path(path).suffix.lower()
        if ext in MODEL_EXTS and not stat.S_ISREG(os.stat(path).st_mode):
            return Probe(path=path, error=f"{path}: not a regular file (a pipe or device would block the scan)")
        if ext in SAFETENSORS_EXTS:
            header, metadata = read_safetensors_header(path)
            shapes = {name: list(info["shape"]) for name, info in header.items()}
            return _finish(Probe(path=path, metadata=metadata), shapes, container="safetensors")
        if ext in PICKLE_EXTS:
            return _probe_pickle(path)
        return Probe(path=path, error=f"{path}: not a model file (extension {ext or 'none'})")
    except Exception as exc:  # never raise: the indexer records the error and moves on
        message = str(exc) or type(exc).__name__
        return Probe(path=path, error=message if path in message else f"{path}: {message}")


def _probe_pickle(path: str) -> Probe:
    from catalog import pickles

    try:
        obj = pickles.read_torch_file(path)
    except pickles.UnsafePickle as exc:
        return Probe(path=path, error=str(exc))
    except pickles.PickleError as exc:
        return Probe(path=path, error=str(exc) if path in str(exc) else f"{path}: {exc}")
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # Lightning/original checkpoints wrap the weights
    tensors = pickles.flatten_tensors(obj)
    shapes = {name: list(t.shape) for name, t in tensors.items()}
    metadata = {f"pickle.{k}": v for k, v in pickles.scalar_fields(obj).items()}
    return _finish(Probe(path=path, metadata=metadata), shapes, container="pickle")


def _finish(probe: Probe, shapes: dict[str, list[int]], container: str) -> Probe:
    result = classify(shapes, probe.metadata, container=container)
    probe.kind = result["kind"]
    probe.base_model = result["base_model"]
    probe.variant = result["variant"]
    probe.format = result["format"]
    probe.embedded_names = result["embedded_names"]
    probe.prediction_type = prediction_type_from_metadata(probe.metadata)
    return probe  # a well-formed file we do not recognise stays kind "unknown" without an error


# ---------------------------------------------------------------------------------------------
# diffusers folders

def _read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _probe_diffusers_folder(path: str) -> Probe:
    folder = Path(path)
    index = _read_json(folder / "model_index.json") or {}
    class_name = str(index.get("_class_name", ""))
    probe = Probe(path=path, kind="diffusers_model", format="diffusers_folder")
    unet = _read_json(folder / "unet" / "config.json") or {}
    width = unet.get("cross_attention_dim")
    base = WIDTH_TO_BASE.get(width) if isinstance(width, int) else None
    if base is None:
        if "XL" in class_name:
            base = "sdxl"
        else:
            te = _read_json(folder / "text_encoder" / "config.json") or {}
            base = WIDTH_TO_BASE.get(te.get("hidden_size") if isinstance(te.get("hidden_size"), int) else -1, "unknown")
    if "text_encoder_2" in index or (folder / "text_encoder_2").is_dir():
        base = "sdxl"
    probe.base_model = base or "unknown"
    in_channels = unet.get("in_channels")
    if in_channels == 9 or "Inpaint" in class_name:
        probe.variant = "inpaint"
    scheduler = _read_json(folder / "scheduler" / "scheduler_config.json") or {}
    pred = scheduler.get("prediction_type")
    probe.prediction_type = {"epsilon": "epsilon", "v_prediction": "v"}.get(pred)
    probe.metadata = {"diffusers._class_name": class_name}
    return probe


# ---------------------------------------------------------------------------------------------
# the rules: names and shapes -> kind / base / format

_TE_SDXL_PREFIXES = ("lora_te1_", "lora_te2_", "text_encoder_2.", "conditioner.embedders.1.")


def classify(shapes: dict[str, list[int]], metadata: dict[str, str] | None = None,
             container: str = "safetensors") -> dict:
    """Pure rules: {tensor name: shape} (+ metadata) -> kind, base_model, variant, format, embedded_names."""
    metadata = metadata or {}
    names = list(shapes)
    out = {"kind": "unknown", "base_model": "unknown", "variant": "normal", "format": "", "embedded_names": []}
    if not names:
        return out

    kind, fmt = _kind_and_format(shapes, metadata, container)
    out["kind"], out["format"] = kind, fmt
    if kind == "textual_inversion":
        out["base_model"], out["embedded_names"] = _ti_base(shapes, fmt)
    else:
        out["base_model"] = _base_from_shapes(shapes)
        if kind == "checkpoint":
            out["variant"] = _checkpoint_variant(shapes)
    if out["base_model"] == "unknown":
        out["base_model"] = base_from_metadata(metadata)
    return out


_LORA_MARKERS = ("lora_down", "lora_up", "lora_A", "lora_B", ".lora.down.", ".lora.up.", "_lora.down.",
                 "_lora.up.", ".hada_w", ".lokr_w", ".oft_", ".dora_scale")


def _kind_and_format(shapes, metadata, container) -> tuple[str, str]:
    names = list(shapes)
    kohya_names = [n for n in names if n.startswith("lora_")]
    if any(m in n for n in kohya_names for m in _LORA_MARKERS):
        if any(".hada_w" in n for n in names):
            return "lora", "kohya_loha"
        if any(".lokr_w" in n for n in names):
            return "lora", "kohya_lokr"
        conv3 = any(n.endswith("lora_down.weight") and len(s) == 4 and s[2:] == [3, 3] for n, s in shapes.items())
        if conv3 or "lycoris" in metadata.get("ss_network_module", ""):
            return "lora", "kohya_locon"
        return "lora", "kohya"
    if any(n.startswith("base_model.model.") and ".lora_" in n for n in names):
        return "lora", "peft_adapter"
    if any(n.startswith("model.diffusion_model.") for n in names):
        return "checkpoint", "ckpt_pickle" if container == "pickle" else "ckpt_st"
    if any(("_lora.down." in n or "_lora.up." in n) for n in names):
        return "lora", "peft_legacy"
    if any(m in n for n in names for m in _LORA_MARKERS):
        return "lora", "peft"
    if "emb_params" in shapes:
        return "textual_inversion", "ti_st"
    if "clip_l" in shapes or "clip_g" in shapes:
        return "textual_inversion", "ti_xl"
    if any(n == "string_to_param" or n.startswith("string_to_param.") for n in names):
        return "textual_inversion", "ti_pt"
    if _looks_like_vae(names):
        return "vae", "vae"
    if len(shapes) == 1:
        (name, shape), = shapes.items()
        if "." not in name and len(shape) in (1, 2) and shape and shape[-1] in (768, 1024, 1280, 2048):
            return "textual_inversion", "ti_diffusers"
    return "unknown", ""


def _looks_like_vae(names) -> bool:
    stripped = [n.removeprefix("first_stage_model.") for n in names]
    has_coder = any(n.startswith(("encoder.", "decoder.")) for n in stripped)
    has_unet = any(n.startswith(("model.diffusion_model.", "down_blocks.", "up_blocks.", "mid_block.")) for n in names)
    return has_coder and not has_unet


def _ti_base(shapes, fmt) -> tuple[str, list[str]]:
    if fmt == "ti_xl":
        return "sdxl", []
    if fmt == "ti_st":
        width = shapes["emb_params"][-1] if shapes["emb_params"] else 0
        return WIDTH_TO_BASE.get(width, "unknown"), []
    if fmt == "ti_pt":
        params = [s for n, s in shapes.items() if n.startswith("string_to_param")]
        width = params[0][-1] if params and params[0] else 0
        tokens = [n.split(".", 1)[1] for n in shapes if n.startswith("string_to_param.")]
        return WIDTH_TO_BASE.get(width, "unknown"), tokens
    (name, shape), = shapes.items()
    return WIDTH_TO_BASE.get(shape[-1], "unknown"), [name]


_UP_TAGS = ("lora_up", "lora_b", "lora.up", "hada_w1_a", "hada_w2_a", ".alpha")


def context_widths(shapes: dict[str, list[int]]) -> list[int]:
    """The cross-attention context widths the tensors imply (attn2 to_k/to_v input dims)."""
    return [shape[1] for name, shape in shapes.items() if _is_context_input(name, shape)]


def _is_context_input(name: str, shape) -> bool:
    if "attn2" not in name or len(shape) < 2:
        return False
    low = name.lower()
    return ("to_k" in low or "to_v" in low) and not any(tag in low for tag in _UP_TAGS)


def _base_from_shapes(shapes) -> str:
    """One pass over the names: SDXL key families, cross-attention widths, text-encoder widths."""
    text_widths: list[int] = []
    sd2_clip = sd1_clip = False
    for name, shape in shapes.items():
        if name.startswith(_TE_SDXL_PREFIXES) or "label_emb." in name:
            return "sdxl"
        if "attn2" in name:
            if _is_context_input(name, shape) and shape[1] in WIDTH_TO_BASE:
                return WIDTH_TO_BASE[shape[1]]  # the context width decides; no need to read further
            continue
        if name.startswith("cond_stage_model."):
            sd2_clip |= name.startswith("cond_stage_model.model.")
            sd1_clip |= name.startswith("cond_stage_model.transformer.")
        elif "q_proj" in name and len(shape) >= 2:
            low = name.lower()
            if "lora_down" in low or "lora_a" in low or "lora.down" in low:
                text_widths.append(shape[1])
    if sd2_clip:
        return "sd21"
    if sd1_clip:
        return "sd15"
    for width in text_widths:
        if width in (768, 1024):
            return WIDTH_TO_BASE[width]
    return "unknown"


def _checkpoint_variant(shapes) -> str:
    conv_in = shapes.get("model.diffusion_model.input_blocks.0.0.weight")
    if conv_in and len(conv_in) == 4:
        if conv_in[1] == 9:
            return "inpaint"
        if conv_in[1] == 8:
            return "instruct_pix2pix"
    return "normal"


# ---------------------------------------------------------------------------------------------
# metadata hints (used only when the shapes say nothing)

_ARCH_BASE = (("stable-diffusion-xl", "sdxl"), ("stable-diffusion-v2", "sd21"), ("stable-diffusion-v1", "sd15"))


def base_from_metadata(metadata: dict[str, str]) -> str:
    """Base model from kohya/modelspec keys, for files whose tensors do not tell."""
    arch = metadata.get("modelspec.architecture", "").lower()
    for prefix, base in _ARCH_BASE:
        if arch.startswith(prefix):
            return base
    version = metadata.get("ss_base_model_version", "").lower()
    if version.startswith("sdxl"):
        return "sdxl"
    if version.startswith("sd_v2"):
        return "sd21"
    if version.startswith("sd_v1"):
        return "sd15"
    if metadata.get("ss_v2") == "True":
        return "sd21"
    return "unknown"


def prediction_type_from_metadata(metadata: dict[str, str]) -> str | None:
    """epsilon | v from modelspec.prediction_type, the architecture suffix or kohya keys."""
    pred = metadata.get("modelspec.prediction_type", "").lower()
    if pred in ("epsilon", "v"):
        return pred
    if pred in ("v_prediction", "v-prediction"):
        return "v"
    if metadata.get("modelspec.architecture", "").lower().split("/")[0].endswith("-v"):
        return "v"
    if metadata.get("ss_base_model_version", "") == "sd_v2_v" or metadata.get("ss_v_parameterization") == "True":
        return "v"
    return None


