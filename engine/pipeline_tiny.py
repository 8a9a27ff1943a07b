"""A tiny SD-1.5-shaped pipeline with seeded random weights, and a writer for SD1.5 original-layout files.

Tests (engine, TAQ, demo, desktop) need a real `StableDiffusionPipeline` that runs in a fraction
of a second on CPU: same block layout as SD 1.5 (cross-attention down/up blocks, a mid block,
layers_per_block=2), but 32/64 channels, a 32-wide cross-attention, a 32-wide CLIP text encoder
with the real CLIP tokenizer (so trigger-token positions are the real ones).

`write_single_file_checkpoint` writes such a pipeline in the original CompVis/A1111 key layout
(`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.text_model.*`), the
layout of the .safetensors files users download; diffusers' `from_single_file` reads it back.
"""
from __future__ import annotations

import copy
from pathlib import Path

# Component configs. Shapes follow SD 1.5 (engine/configs/sd15) scaled down.
TINY_UNET = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": [32, 64],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
}
TINY_VAE = {
    "sample_size": 64,
    "in_channels": 3,
    "out_channels": 3,
    "block_out_channels": [32, 32, 64, 64],  # four levels: 8x downsampling like SD, 64x64 image -> 8x8 latents
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 32,
    "scaling_factor": 0.18215,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "projection_dim": 32,
    "vocab_size": 49408,  # the real CLIP vocabulary: trigger positions must be the real ones
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
SD15_SCHEDULER = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


def build_tiny_components(seed: int = 0) -> dict:
    """The seven components of a StableDiffusionPipeline, each built from its config with seeded weights."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from engine.clip_tokenizer import load_clip_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**copy.deepcopy(TINY_UNET))
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(**copy.deepcopy(TINY_VAE))
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TINY_TEXT))
    for module in (unet, vae, text_encoder):
        module.eval()
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": load_clip_tokenizer(),
        "scheduler": DDIMScheduler(**SD15_SCHEDULER),
        "safety_checker": None,
        "feature_extractor": None,
    }


def build_tiny_pipeline(seed: int = 0, device: str = "cpu"):
    """A tiny seeded StableDiffusionPipeline (64x64 images, 8x8 latents, ~0.5 s for 2 steps on a busy CPU)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(**build_tiny_components(seed), requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def write_tiny_config_dir(out_dir: str | Path) -> Path:
    """A diffusers config folder (no weights) for the tiny shapes, the `config=` of from_single_file."""
    from engine import configs

    return configs.copy_config_dir("sd15-tiny", Path(out_dir))


# --- diffusers -> original (CompVis/A1111) key layout ------------------------------------------

_UNET_RESNET = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
]
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def _unet_block_prefixes(config: dict) -> dict[str, str]:
    """diffusers module prefix -> original prefix, for a UNet laid out like SD (any depth/width)."""
    n = config["layers_per_block"]
    blocks = len(config["block_out_channels"])
    has_attn_down = ["CrossAttn" in t for t in config["down_block_types"]]
    has_attn_up = ["CrossAttn" in t for t in config["up_block_types"]]
    out = dict(_UNET_FIXED)
    for i in range(blocks):
        for j in range(n):
            slot = (n + 1) * i + j + 1
            out[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{slot}.0"
            if has_attn_down[i]:
                out[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{slot}.1"
        if i < blocks - 1:
            out[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{(n + 1) * (i + 1)}.0.op"
        for j in range(n + 1):
            slot = (n + 1) * i + j
            out[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{slot}.0"
            if has_attn_up[i]:
                out[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{slot}.1"
        if i < blocks - 1:
            last = (n + 1) * i + n
            out[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{last}.{2 if has_attn_up[i] else 1}.conv"
    out["mid_block.resnets.0"] = "middle_block.0"
    out["mid_block.attentions.0"] = "middle_block.1"
    out["mid_block.resnets.1"] = "middle_block.2"
    return out


def _rename(key: str, prefixes: dict[str, str]) -> str:
    """Replace the longest matching module prefix of a dotted key."""
    for old in sorted(prefixes, key=len, reverse=True):
        if key.startswith(old + "."):
            return prefixes[old] + key[len(old) :]
    raise KeyError(f"no original-layout name for {key}")


def unet_to_original(state: dict, config: dict) -> dict:
    """UNet state dict in diffusers names -> `model.diffusion_model.*` names."""
    prefixes = _unet_block_prefixes(config)
    out = {}
    for key, value in state.items():
        new = _rename(key, prefixes)
        if ".resnets." in key or key.startswith("mid_block.resnets"):
            for d, o in _UNET_RESNET:
                new = new.replace(f".{d}.", f".{o}.")
        out["model.diffusion_model." + new] = value
    return out


def vae_to_original(state: dict, config: dict) -> dict:
    """AutoencoderKL state dict in diffusers names -> `first_stage_model.*` names (attention as 1x1 convs)."""
    blocks = len(config["block_out_channels"])
    prefixes = {
        "encoder.conv_norm_out": "encoder.norm_out",
        "decoder.conv_norm_out": "decoder.norm_out",
        "encoder.mid_block.attentions.0": "encoder.mid.attn_1",
        "decoder.mid_block.attentions.0": "decoder.mid.attn_1",
    }
    for part in ("encoder", "decoder"):
        prefixes[f"{part}.mid_block.resnets.0"] = f"{part}.mid.block_1"
        prefixes[f"{part}.mid_block.resnets.1"] = f"{part}.mid.block_2"
    for i in range(blocks):
        prefixes[f"encoder.down_blocks.{i}.resnets"] = f"encoder.down.{i}.block"
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = f"encoder.down.{i}.downsample.conv"
        up = blocks - 1 - i  # the original decoder counts its levels from the bottom
        prefixes[f"decoder.up_blocks.{i}.resnets"] = f"decoder.up.{up}.block"
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = f"decoder.up.{up}.upsample.conv"
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out = {}
    for key, value in state.items():
        try:
            new = _rename(key, prefixes)
        except KeyError:
            new = key  # conv_in, conv_out, quant_conv, post_quant_conv keep their names
        if ".mid.attn_1." in new:
            for d, o in attn.items():
                new = new.replace(f".attn_1.{d}.", f".attn_1.{o}.")
            if value.ndim == 2:  # linear -> 1x1 conv, as the original VAE stores it
                value = value[:, :, None, None]
        new = new.replace("conv_shortcut", "nin_shortcut")
        out["first_stage_model." + new] = value
    return out


def text_encoder_to_original(state: dict) -> dict:
    """CLIPTextModel state -> `cond_stage_model.transformer.text_model.*` (transformers 5.x drops `text_model.`)."""
    out = {}
    for key, value in state.items():
        inner = key if key.startswith("text_model.") else "text_model." + key
        out["cond_stage_model.transformer." + inner] = value
    return out


def original_state_dict(pipe) -> dict:
    """The whole pipeline in the SD 1.x original single-file layout."""
    state = {}
    state.update(unet_to_original(pipe.unet.state_dict(), dict(pipe.unet.config)))
    state.update(vae_to_original(pipe.vae.state_dict(), dict(pipe.vae.config)))
    state.update(text_encoder_to_original(pipe.text_encoder.state_dict()))
    return state


TIN_ROBOT_METADATA = {"format": "pt", "modelspec.title": "Tin Robot", "modelspec.trigger_phrase": "zxrobot",
                      "modelspec.description": "A little tin toy robot with round eyes", "modelspec.tags": "robot, toy"}


def write_tin_robot(path: str | Path) -> Path:
    """The tiny pipeline (seed 0) as a single-file checkpoint with modelspec metadata and the trigger
    'zxrobot': the one personalized-looking checkpoint the tests, the self-test and the screenshots use."""
    return write_single_file_checkpoint(build_tiny_pipeline(seed=0), path, TIN_ROBOT_METADATA)


def write_single_file_checkpoint(pipe, path: str | Path, metadata: dict | None = None) -> Path:
    """Write `pipe` as one original-layout .safetensors (what A1111/Civitai checkpoints look like)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in original_state_dict(pipe).items()}
    # position_ids is a buffer, not a weight; original files do not carry it
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    save_file(state, str(path), metadata=metadata or {"format": "pt"})
    return path


# --- tiny add-ons: LoRA (diffusers/peft or kohya layout) and textual inversion -------------------

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def tiny_lora_state(pipe, seed: int = 0, rank: int = 4, scale: float = 0.5, full: bool = False) -> dict:
    """Random LoRA factors in peft names (`unet.…to_k.lora_A.weight`): every UNet attention projection;
    with full=True also the 1x1-conv proj_in/proj_out, the ResNets' 3x3 conv1 (kohya LoCon) and the
    text encoder's attention projections."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    targets = [("unet", pipe.unet, lambda n: (".attn1." in n or ".attn2." in n) and n.endswith(tuple("." + t for t in LORA_TARGETS)))]
    if full:
        targets[0] = ("unet", pipe.unet, lambda n: ((".attn1." in n or ".attn2." in n) and n.endswith(tuple("." + t for t in LORA_TARGETS)))
                      or n.endswith((".proj_in", ".proj_out", ".resnets.0.conv1")))
        targets.append(("text_encoder", pipe.text_encoder, lambda n: n.endswith(("self_attn.q_proj", "self_attn.v_proj"))))
    state = {}
    for prefix, model, wanted in targets:
        for name, module in model.named_modules():
            if not wanted(name) or not isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
                continue
            if isinstance(module, torch.nn.Linear):
                down = torch.randn(rank, module.in_features, generator=gen) * scale  # (rank, in)
                up = torch.randn(module.out_features, rank, generator=gen) * scale  # (out, rank)
            else:  # conv: (rank, in, k, k) and 1x1 (out, rank, 1, 1)
                down = torch.randn(rank, module.in_channels, *module.kernel_size, generator=gen) * scale / module.kernel_size[0]
                up = torch.randn(module.out_channels, rank, 1, 1, generator=gen) * scale
            state[f"{prefix}.{name}.lora_A.weight"] = down
            state[f"{prefix}.{name}.lora_B.weight"] = up
    return state


def write_tiny_lora(pipe, path: str | Path, fmt: str = "diffusers", seed: int = 0, rank: int = 4, full: bool = False) -> Path:
    """A random LoRA for the tiny pipeline as one .safetensors, in diffusers (peft) or kohya key layout."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = tiny_lora_state(pipe, seed=seed, rank=rank, full=full)
    if fmt == "diffusers":
        out = {k: v.contiguous() for k, v in state.items()}
        metadata = {"format": "pt"}
    elif fmt == "kohya":
        import torch

        out = {}
        for key, value in state.items():
            module, factor = key.rsplit(".lora_", 1)
            prefix, _, name = module.partition(".")
            # kohya names modules with underscores; the text encoder's keep transformers' `text_model` level
            kohya = "lora_unet_" + name.replace(".", "_") if prefix == "unet" else "lora_te_text_model_" + name.replace(".", "_")
            out[f"{kohya}.lora_{'down' if factor.startswith('A') else 'up'}.weight"] = value.contiguous()
            out[f"{kohya}.alpha"] = torch.tensor(float(rank))  # alpha == rank: scale 1, like the peft file
        metadata = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": str(rank)}
    else:
        raise ValueError(f"unknown LoRA format {fmt!r}; use diffusers or kohya")
    save_file(out, str(path), metadata=metadata)
    return path


def write_tiny_textual_inversion(path: str | Path, dim: int = 32, vectors: int = 1, seed: int = 0) -> Path:
    """A random embedding: .safetensors with `emb_params` or an A1111 .pt (`string_to_param`), by suffix."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    emb = torch.randn(vectors, dim, generator=torch.Generator().manual_seed(seed))  # (vectors, hidden)
    if path.suffix == ".pt":
        torch.save({"string_to_token": {"*": 265}, "string_to_param": {"*": emb}, "name": path.stem, "step": 100}, str(path))
    else:
        from safetensors.torch import save_file

        save_file({"emb_params": emb}, str(path))
    return path
