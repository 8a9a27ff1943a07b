"""Generation parameters inside the PNG, in the A1111 `parameters` text-chunk format other tools read.

Layout (A1111 `create_infotext`):
    <prompt>
    Negative prompt: <negative prompt>
    Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 0123456789, Model: name, ...
Values holding a comma, colon or quote are JSON-quoted, as A1111 does. PersonalQ adds its own
keys (checkpoint path, full hash, quant spec, trigger) to that line and keeps a JSON copy of all
parameters in a second chunk (`personalq`) so its own reader round-trips exactly.
A .jpg/.jpeg or .webp output carries the same text where A1111 puts it for those formats: the
EXIF UserComment, UTF-16 with the "UNICODE" prefix (piexif's `UserComment.dump(..., "unicode")`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

PARAMS_KEY = "parameters"
JSON_KEY = "personalq"
# A1111's parse_generation_parameters pattern: `Key: value` or `Key: "json string"`, comma separated
_PAIR = re.compile(r"""\s*([\w][\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)""")


def _quote(value) -> str:
    text = str(value)
    if any(c in text for c in ",:\"\n"):
        return json.dumps(text, ensure_ascii=False)
    return text


def _model_name(path) -> str | None:
    return Path(path).stem if path else None


def _hash_list(hashes) -> str:
    """{"name": "hash"} as A1111 writes `Lora hashes` / `TI hashes`: "name: hash, name2: hash2"."""
    return ", ".join(f"{name}: {short}" for name, short in (hashes or {}).items() if short)


def format_parameters(params: dict, full_paths: bool = False) -> str:
    """A1111 infotext from our params dict (prompt, negative_prompt, steps, sampler, ...).

    As A1111 writes it: "Model"/"Model hash" name the checkpoint the UNet came from (a LoRA's base),
    LoRAs are `<lora:name:weight>` tags in the prompt. File paths stay out unless `full_paths`:
    a shared image should not carry the user's name and folders.
    """
    loras = list(params.get("loras") or [])
    on_base = bool(loras) or bool(params.get("base_checkpoint"))
    model = params.get("base_checkpoint") if on_base else params.get("checkpoint")
    model_hash = params.get("base_hash") if on_base else params.get("checkpoint_hash")
    fields = {
        "Steps": params.get("steps"),
        "Sampler": params.get("sampler"),
        "CFG scale": params.get("guidance"),
        "Seed": params.get("seed"),
        "Size": f"{params['width']}x{params['height']}" if params.get("width") else None,
        "Model hash": (model_hash or "")[:10] or None,  # A1111 "AutoV2" short hash
        "Model": _model_name(model),
        "Lora hashes": _hash_list(params.get("lora_hashes")) or ", ".join(
            f"{_model_name(params.get('checkpoint'))}: {(params.get('checkpoint_hash') or '')[:10]}"
            for _ in loras[:1] if params.get("checkpoint_hash")) or None,
        "TI hashes": _hash_list(params.get("ti_hashes")) or None,
        "Trigger": params.get("trigger"),
        "Quant": params.get("quant_spec"),
        "Personalization": _model_name(params.get("checkpoint")) if on_base else None,
        "Base model": params.get("base_model"),
        "Checkpoint": params.get("checkpoint") if full_paths else None,
        "Checkpoint hash": params.get("checkpoint_hash"),
        "Base checkpoint": params.get("base_checkpoint") if full_paths else None,
        "Cancelled": "true" if params.get("cancelled") else None,
    }
    line = ", ".join(f"{k}: {_quote(v)}" for k, v in fields.items() if v not in (None, ""))
    text = " ".join([str(params.get("prompt", ""))] + loras).strip()
    if params.get("negative_prompt"):
        text += f"\nNegative prompt: {params['negative_prompt']}"
    return f"{text}\n{line}"


def parse_parameters(text: str) -> dict:
    """A1111 infotext -> {"Prompt", "Negative prompt", key: value...} (strings, as A1111 parses them)."""
    lines = text.strip().split("\n")
    last = lines[-1] if lines else ""
    pairs = _PAIR.findall(last)
    if len(pairs) < 3:  # A1111 rule: a last line with fewer than 3 pairs is still prompt text
        pairs, body = [], lines
    else:
        body = lines[:-1]
    prompt, negative, in_negative = [], [], False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative if in_negative else prompt).append(line)
    out = {"Prompt": "\n".join(prompt), "Negative prompt": "\n".join(negative)}
    for key, value in pairs:
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = json.loads(value)
        out[key.strip()] = value
    return out


PATH_KEYS = ("checkpoint", "base_checkpoint")


def shareable(params: dict, full_paths: bool = False) -> dict:
    """The parameters as written into a PNG: model files by name only unless the user asked for full paths."""
    if full_paths:
        return dict(params)
    return {k: (Path(v).name if k in PATH_KEYS and v else v) for k, v in params.items()}


def _text_safe(value):
    """Strings with undecodable bytes (a non-UTF-8 file name) written as `\\xff` escapes: a PNG text chunk is UTF-8."""
    from common.text import unsurrogate

    if isinstance(value, str):
        return unsurrogate(value)
    if isinstance(value, dict):
        return {_text_safe(k): _text_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_text_safe(v) for v in value]
    return value


def png_text_chunks(params: dict, full_paths: bool = False):
    """A PngInfo holding the A1111 `parameters` chunk and our JSON copy."""
    from PIL.PngImagePlugin import PngInfo

    params = _text_safe(params)
    info = PngInfo()
    info.add_text(PARAMS_KEY, format_parameters(params, full_paths))
    info.add_text(JSON_KEY, json.dumps(shareable(params, full_paths), ensure_ascii=False, sort_keys=True))
    return info


# the file suffixes an image can be written as, and the PIL format each names (no suffix: PNG)
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", "": "PNG"}
EXIF_IFD, USER_COMMENT = 0x8769, 0x9286  # the Exif sub-IFD and its UserComment tag, where A1111 writes parameters
_UNICODE_PREFIX = b"UNICODE\0"  # EXIF character code of a UTF-16 UserComment (piexif.helper.UserComment)
JPEG_QUALITY = 95


def image_format(path) -> str:
    """The PIL format the file name asks for ("PNG", "JPEG", "WEBP"); ValueError naming the suffix otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        from common.text import escape_controls

        raise ValueError(f"cannot write a {escape_controls(suffix)} image; name the file .png, .jpg or .webp")
    return IMAGE_FORMATS[suffix]


def exif_parameters(params: dict, full_paths: bool = False) -> bytes:
    """EXIF bytes holding the A1111 infotext as a UTF-16 UserComment, as A1111 saves a JPEG or WebP."""
    from PIL import Image

    text = format_parameters(_text_safe(params), full_paths)
    exif = Image.Exif()
    exif[EXIF_IFD] = {USER_COMMENT: _UNICODE_PREFIX + text.encode("utf-16-be")}
    return exif.tobytes()


def encode_image(image, params: dict, fmt: str = "PNG", full_paths: bool = False) -> bytes:
    """The image file's bytes in `fmt` with the parameters embedded (PNG text chunks, or EXIF)."""
    import io

    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, format="PNG", pnginfo=png_text_chunks(params, full_paths))
    else:  # JPEG and WebP have no alpha here: the pipeline's images are RGB
        image.convert("RGB").save(buffer, format=fmt, quality=JPEG_QUALITY, exif=exif_parameters(params, full_paths))
    return buffer.getvalue()


def save_image(image, path, params: dict, full_paths: bool = False) -> Path:
    """Save a PIL image in the format its suffix names (.png, .jpg/.jpeg, .webp) with its generation
    parameters embedded, atomically: encoded in memory, written to a temp file beside `path` and renamed,
    so a full disk leaves no 0-byte or half image (it raises)."""
    from common.paths import atomic_write_bytes, sweep_stale_tmp

    path = Path(path)
    data = encode_image(image, params, image_format(path), full_paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_tmp(path.parent)
    atomic_write_bytes(path, data)
    return path


save_png = save_image  # the name callers knew when every image was a PNG


def _exif_comment(image) -> str | None:
    """The A1111 UserComment of a JPEG/WebP, decoded as piexif does; None when there is none."""
    try:
        raw = image.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
    except Exception:  # noqa: BLE001 - a damaged EXIF block is an image without parameters
        return None
    if not raw:
        return None
    if isinstance(raw, str):
        return raw
    raw = bytes(raw)
    if raw.startswith(_UNICODE_PREFIX):
        return raw[8:].decode("utf-16-be", errors="replace")
    if raw[:8] in (b"ASCII\0\0\0", b"\0" * 8):  # the other character codes piexif writes
        raw = raw[8:]
    return raw.decode("utf-8", errors="replace").rstrip("\0")


def read_png_parameters(path) -> dict:
    """Parameters of an image: a PNG's JSON chunk when present, else the parsed A1111 text (PNG chunk or
    JPEG/WebP EXIF UserComment); {} for none."""
    from PIL import Image

    with Image.open(path) as image:
        text = dict(getattr(image, "text", {}) or {})
        comment = _exif_comment(image) if image.format in ("JPEG", "WEBP") else None
    if JSON_KEY in text:
        try:
            return json.loads(text[JSON_KEY])
        except ValueError:
            pass
    if PARAMS_KEY in text:
        return parse_parameters(text[PARAMS_KEY])
    if comment:
        return parse_parameters(comment)
    return {}
