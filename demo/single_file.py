"""Write a pipeline as one original-layout (CompVis/A1111) Stable Diffusion .safetensors file.

The inverse of diffusers' `convert_ldm_*_checkpoint`: UNet under `model.diffusion_model.`
(input_blocks/middle_block/output_blocks), VAE under `first_stage_model.` (encoder.down.N.block.M,
1x1-conv attention), CLIP under `cond_stage_model.transformer.text_model.`. This is the layout
creators' full checkpoints come in; `StableDiffusionPipeline.from_single_file(path, config=base)`
reads it back.
"""
from __future__ import annotations

UNET_RESNET = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection"))
UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def _unet_prefix_map(config) -> list[tuple[str, str]]:
    """(diffusers prefix, ldm prefix) pairs for a UNet2DConditionModel config."""
    per = config["layers_per_block"] + 1
    n = len(config["block_out_channels"])
    pairs = list(UNET_TOP.items())
    for b in range(n):
        for j in range(config["layers_per_block"]):
            pairs.append((f"down_blocks.{b}.resnets.{j}", f"input_blocks.{per * b + j + 1}.0"))
            pairs.append((f"down_blocks.{b}.attentions.{j}", f"input_blocks.{per * b + j + 1}.1"))
        pairs.append((f"down_blocks.{b}.downsamplers.0.conv", f"input_blocks.{per * (b + 1)}.0.op"))
    pairs += [("mid_block.resnets.0", "middle_block.0"), ("mid_block.attentions.0", "middle_block.1"), ("mid_block.resnets.1", "middle_block.2")]
    for b in range(n):
        has_attn = "CrossAttn" in config["up_block_types"][b]
        for j in range(per):
            pairs.append((f"up_blocks.{b}.resnets.{j}", f"output_blocks.{per * b + j}.0"))
            pairs.append((f"up_blocks.{b}.attentions.{j}", f"output_blocks.{per * b + j}.1"))
        pairs.append((f"up_blocks.{b}.upsamplers.0.conv", f"output_blocks.{per * b + per - 1}.{2 if has_attn else 1}.conv"))
    return pairs


def unet_to_ldm(state: dict, config) -> dict:
    pairs = _unet_prefix_map(config)
    out = {}
    for key, value in state.items():
        for d_prefix, l_prefix in pairs:
            if key.startswith(d_prefix + "."):
                rest = key[len(d_prefix) + 1 :]
                if ".resnets." in d_prefix:
                    for d_name, l_name in UNET_RESNET:
                        if rest.startswith(d_name + "."):
                            rest = l_name + rest[len(d_name) :]
                            break
                out["model.diffusion_model." + l_prefix + "." + rest] = value
                break
        else:
            raise KeyError(f"no original-layout name for UNet key {key!r}")
    return out


VAE_ATTN = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def vae_to_ldm(state: dict, config) -> dict:
    n = len(config["block_out_channels"])
    out = {}
    for key, value in state.items():
        new = key
        for part in ("encoder", "decoder"):
            new = new.replace(f"{part}.conv_norm_out.", f"{part}.norm_out.")
        if ".down_blocks." in new:
            new = new.replace("encoder.down_blocks.", "encoder.down.").replace(".resnets.", ".block.").replace(".downsamplers.0.", ".downsample.")
        elif ".up_blocks." in new:
            head, rest = new.split("up_blocks.", 1)
            i, rest = rest.split(".", 1)
            new = f"{head}up.{n - 1 - int(i)}.{rest}".replace(".resnets.", ".block.").replace(".upsamplers.0.", ".upsample.")
        elif ".mid_block.resnets." in new:
            head, rest = new.split("mid_block.resnets.", 1)
            i, rest = rest.split(".", 1)
            new = f"{head}mid.block_{int(i) + 1}.{rest}"
        elif ".mid_block.attentions.0." in new:
            head, rest = new.split("mid_block.attentions.0.", 1)
            for d_name, l_name in VAE_ATTN:
                if rest.startswith(d_name + "."):
                    rest = l_name + rest[len(d_name) :]
                    break
            new = f"{head}mid.attn_1.{rest}"
            if value.ndim == 2:  # original VAE attention uses 1x1 convolutions
                value = value[:, :, None, None]
        new = new.replace("conv_shortcut", "nin_shortcut")
        out["first_stage_model." + new] = value
    return out


def text_encoder_to_ldm(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        name = key if key.startswith("text_model.") else "text_model." + key
        out["cond_stage_model.transformer." + name] = value
    return out


def pipeline_to_ldm(pipe, dtype=None) -> dict:
    """All three models' weights in one original-layout dict (fp16 by default, as shipped)."""
    import torch

    dtype = dtype or torch.float16
    merged = {}
    merged.update(unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config))
    merged.update(vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config))
    merged.update(text_encoder_to_ldm(pipe.text_encoder.state_dict()))
    return {k: v.detach().to(dtype).contiguous() for k, v in merged.items()}


def save_single_file(pipe, path, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    save_file(pipeline_to_ldm(pipe), str(path), metadata={k: str(v) for k, v in (metadata or {}).items()})


def load_single_file(path, base_folder):
    """Read an original-layout file back with diffusers, configs from the base folder (no hub)."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_single_file(str(path), config=str(base_folder), local_files_only=True, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe
