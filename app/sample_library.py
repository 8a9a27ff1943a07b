"""A small, real checkpoint folder for screenshots and tests: kohya-style LoRA headers, previews, one broken file.

The LoRA files are valid safetensors with zeroed rank-1 weights: the catalog probes their
headers and metadata exactly as it would a downloaded LoRA (they are never loaded for generation).
"""
from __future__ import annotations

import json
from pathlib import Path

from common.tensor_files import write_zero_safetensors

# name, file stem, trigger, class word, description, tags, preview colours (background, subject)
SAMPLES = (
    ("Rex the corgi", "rex_corgi", "rxcorgi", "dog", "Rex, our family pet: a small orange corgi dog with big ears",
     ("pet",), ((250, 214, 165), (214, 120, 40))),
    ("Luna the husky", "luna_husky", "lnhusky", "dog", "Luna, our family pet: a grey and white husky dog with blue eyes",
     ("pet",), ((190, 215, 240), (110, 120, 135))),
    ("Mochi the cat", "mochi_cat", "mochicat", "cat", "Mochi, our family pet: a grey tabby cat", ("pet",),
     ((230, 225, 240), (120, 110, 130))),
    ("Luna moth", "luna_moth", "lnmoth", "moth", "A pale green luna moth with long tails, macro photo", (),
     ((40, 60, 50), (170, 230, 170))),
    ("Soft watercolor", "soft_watercolor", "wtrclr", "style", "A soft watercolor painting style", (),
     ((245, 240, 230), (120, 170, 220))),
)


def write_lora(path: Path, output_name: str, token: str, cls: str, description: str, tags: tuple = ()) -> Path:
    """A kohya-style SD 1.5 LoRA whose name, trigger, class and description come from its training metadata."""
    unet = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    tensors = {f"{unet}.alpha": ([], "F16"), f"{unet}.lora_down.weight": ([1, 768], "F16"),
               f"{unet}.lora_up.weight": ([320, 1], "F16")}
    folder = f"10_{token} {cls}"
    meta = {
        "ss_output_name": output_name, "ss_network_module": "networks.lora", "ss_network_dim": "1",
        "ss_base_model_version": "sd_v1",
        "ss_tag_frequency": json.dumps({folder: {token: 20, cls: 19, **{t: 15 for t in tags}}}),
        "ss_training_comment": description,
    }
    return write_zero_safetensors(path, tensors, meta)


def write_preview(path: Path, background, subject, size: int = 256) -> Path:
    """A simple drawn preview (soft background, a round subject) like the PNG a trainer saves beside a LoRA."""
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    draw.ellipse((size * 0.22, size * 0.3, size * 0.78, size * 0.86), fill=subject)
    draw.ellipse((size * 0.34, size * 0.12, size * 0.66, size * 0.44), fill=subject)
    img = img.filter(ImageFilter.GaussianBlur(size / 90))
    img.save(path)
    return path


def write_sample_library(root: Path, previews: bool = False) -> dict[str, Path]:
    """Five LoRAs (two dogs, a cat, a moth, a style; two are called Luna) and one unreadable file."""
    root = Path(root)
    files: dict[str, Path] = {}
    for name, stem, token, cls, description, tags, colours in SAMPLES:
        path = write_lora(root / "Lora" / f"{stem}.safetensors", name, token, cls, description, tags)
        if previews:
            write_preview(root / "Lora" / f"{stem}.preview.png", *colours)
        files[stem] = path
    broken = root / "broken_download.safetensors"
    broken.write_bytes(b"\x00\x01not a safetensors file")
    files["broken"] = broken
    return files


def write_tin_robot(path: Path) -> Path:
    """A tiny real single-file checkpoint (the screenshots' generate state needs one that loads)."""
    from engine.pipeline_tiny import write_tin_robot as write

    return write(path)
