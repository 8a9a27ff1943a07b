"""Write tiny model files in the layouts the catalog reads (no torch): safetensors headers with real
identifying shapes, kohya / modelspec metadata, A1111 / Civitai / model-card sidecars.

Every tensor is zero-filled and rank 1-2, so a library of a hundred cards is a few MB.
"""
from __future__ import annotations

import calendar
import json
import time
from pathlib import Path

from common.tensor_files import write_zero_safetensors

CTX = {"sd15": 768, "sd21": 1024, "sdxl": 2048}
PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1d9b90000000049454e44ae426082")


def write_safetensors(path: Path, tensors, metadata=None) -> Path:
    """A zero-filled safetensors file salted by its last three path parts: two trained files never share bytes."""
    return write_zero_safetensors(path, tensors, metadata, salt="/".join(Path(path).parts[-3:]))


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def unix(iso_day: str) -> float:
    return float(calendar.timegm(time.strptime(iso_day + "T10:00:00", "%Y-%m-%dT%H:%M:%S")))


def kohya_lora(base: str, algo: str = "lora", te: bool = True) -> dict:
    ctx = CTX[base]
    unet = ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k" if base == "sdxl"
            else "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k")
    out = 640 if base == "sdxl" else 320
    t: dict = {f"{unet}.alpha": ([], "F16")}
    if algo == "loha":
        t.update({f"{unet}.hada_w1_a": ([out, 1], "F16"), f"{unet}.hada_w1_b": ([1, ctx], "F16"),
                  f"{unet}.hada_w2_a": ([out, 1], "F16"), f"{unet}.hada_w2_b": ([1, ctx], "F16")})
    else:
        t.update({f"{unet}.lora_down.weight": ([1, ctx], "F16"), f"{unet}.lora_up.weight": ([out, 1], "F16")})
    if algo == "locon":
        conv = "lora_unet_down_blocks_0_resnets_0_conv1" if base != "sdxl" else "lora_unet_input_blocks_1_0_in_layers_2"
        t.update({f"{conv}.lora_down.weight": ([1, 320, 3, 3], "F16"), f"{conv}.lora_up.weight": ([320, 1, 1, 1], "F16"),
                  f"{conv}.alpha": ([], "F16")})
    if te:
        if base == "sdxl":
            for prefix, width in (("lora_te1", 768), ("lora_te2", 1280)):
                key = f"{prefix}_text_model_encoder_layers_0_self_attn_q_proj"
                t.update({f"{key}.lora_down.weight": ([1, width], "F16"), f"{key}.lora_up.weight": ([width, 1], "F16")})
        else:
            width = 768 if base == "sd15" else 1024
            key = "lora_te_text_model_encoder_layers_0_self_attn_q_proj"
            t.update({f"{key}.lora_down.weight": ([1, width], "F16"), f"{key}.lora_up.weight": ([width, 1], "F16")})
    return t


def peft_lora(base: str, prefix: str = "unet.") -> dict:
    block = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
    return {f"{prefix}{block}.lora_A.weight": ([1, CTX[base]], "F16"), f"{prefix}{block}.lora_B.weight": ([640, 1], "F16")}


def checkpoint_tensors(base: str, in_channels: int = 4) -> dict:
    """The tensors that identify a full checkpoint of `base` (9 input channels: an inpainting one)."""
    t = {"model.diffusion_model.input_blocks.0.0.weight": ([320, in_channels, 3, 3], "F16"),
         "first_stage_model.encoder.conv_in.weight": ([128, 3, 3, 3], "F16")}
    if base == "sd15":
        t["cond_stage_model.transformer.text_model.final_layer_norm.weight"] = ([768], "F16")
    elif base == "sd21":
        t["cond_stage_model.model.ln_final.weight"] = ([1024], "F16")
    else:
        t["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = ([768], "F16")
        t["conditioner.embedders.1.model.ln_final.weight"] = ([1280], "F16")
        t["model.diffusion_model.label_emb.0.0.weight"] = ([1280, 2816], "F16")
    return t


def ti_tensors(base: str) -> dict:
    if base == "sdxl":
        return {"clip_l": ([2, 768], "F32"), "clip_g": ([2, 1280], "F32")}
    return {"emb_params": ([2, CTX[base] if base != "sdxl" else 768], "F32")}


def kohya_metadata(output_name: str, token: str, cls: str, base: str, tags: list[str], day: str | None,
                   comment: str = "None") -> dict[str, str]:
    folder = f"10_{token} {cls}".strip()
    freq = {token: 30, **({cls: 29} if cls else {})}
    for i, tag in enumerate(tags):
        freq.setdefault(tag, 20 - i)
    meta = {
        "ss_output_name": output_name, "ss_network_module": "networks.lora", "ss_network_dim": "2",
        "ss_network_alpha": "1.0", "ss_training_comment": comment,
        "ss_base_model_version": {"sd15": "sd_v1", "sd21": "sd_v2", "sdxl": "sdxl_base_v1-0"}[base],
        "ss_tag_frequency": json.dumps({folder: freq}), "ss_resolution": "(512, 512)",
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 10, "img_count": 20}}),
    }
    if day:
        meta["ss_training_started_at"] = str(unix(day))
        meta["ss_training_finished_at"] = str(unix(day) + 3600)
    return meta


ARCH = {"sd15": "stable-diffusion-v1", "sd21": "stable-diffusion-v2-512", "sdxl": "stable-diffusion-xl-v1-base"}
CIVITAI_BASE = {"sd15": "SD 1.5", "sd21": "SD 2.1", "sdxl": "SDXL 1.0"}
A1111_BASE = {"sd15": "SD1", "sd21": "SD2", "sdxl": "SDXL"}
HF_BASE = {"sd15": "runwayml/stable-diffusion-v1-5", "sd21": "stabilityai/stable-diffusion-2-1",
           "sdxl": "stabilityai/stable-diffusion-xl-base-1.0"}
