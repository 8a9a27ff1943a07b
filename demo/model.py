"""The demo world's tiny Stable Diffusion: component configs, assembly, sampling.

Same layout as SD 1.x (CLIP text encoder with the real CLIP BPE tokenizer, AutoencoderKL,
UNet2DConditionModel with cross-attention transformer blocks, DDIM), scaled down so that it
trains from scratch on two CPU cores: 32x32 RGB images, 4x VAE downsampling -> 8x8x4 latents.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

RESOLUTION = 32
TEXT_DIM = 32  # CLIP hidden size == UNet cross_attention_dim (SD1 has 768)


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    text_layers: int = 2
    text_heads: int = 4
    unet_channels: tuple[int, ...] = (32, 64)
    vae_channels: tuple[int, ...] = (16, 32, 32)
    latent_channels: int = 4


def text_encoder_config(cfg: WorldConfig = WorldConfig()):
    from transformers import CLIPTextConfig

    from engine.clip_tokenizer import VOCAB_SIZE

    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=TEXT_DIM,
        intermediate_size=TEXT_DIM * 2,
        projection_dim=TEXT_DIM,
        num_hidden_layers=cfg.text_layers,
        num_attention_heads=cfg.text_heads,
        max_position_embeddings=77,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )


def make_text_encoder(cfg: WorldConfig = WorldConfig()):
    from transformers import CLIPTextModel

    return CLIPTextModel(text_encoder_config(cfg))


def make_vae(cfg: WorldConfig = WorldConfig()):
    from diffusers import AutoencoderKL

    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=cfg.vae_channels,
        layers_per_block=1,
        latent_channels=cfg.latent_channels,
        norm_num_groups=8,
        sample_size=RESOLUTION,
    )


def make_unet(cfg: WorldConfig = WorldConfig()):
    from diffusers import UNet2DConditionModel

    latent = RESOLUTION // 2 ** (len(cfg.vae_channels) - 1)
    return UNet2DConditionModel(
        sample_size=latent,
        in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels,
        block_out_channels=cfg.unet_channels,
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def make_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def make_tokenizer():
    from engine.clip_tokenizer import load_clip_tokenizer

    return load_clip_tokenizer()


def assemble(text_encoder, vae, unet, tokenizer=None, scheduler=None):
    """A StableDiffusionPipeline from the parts (no safety checker: the world is shapes)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer or make_tokenizer(),
        unet=unet,
        scheduler=scheduler or make_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def load_base(folder: Path, dtype=None):
    """Load the committed base diffusers folder in float32 (tiny model: fp32 on CPU is fastest)."""
    import torch
    from diffusers import StableDiffusionPipeline

    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(f"demo base model not found: {folder / 'model_index.json'}")
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=dtype or torch.float32, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tokenize(tokenizer, prompts: list[str]):
    """(N, 77) input ids padded like the pipeline pads them."""
    return tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids


@dataclasses.dataclass(frozen=True)
class SampleSettings:
    steps: int = 20
    guidance: float = 4.0


def sample(pipe, prompts: list[str], seeds: list[int], settings: SampleSettings = SampleSettings(), batch: int = 32) -> np.ndarray:
    """Generate one image per (prompt, seed) through the pipeline itself -> (N, 32, 32, 3) uint8."""
    import torch

    if len(prompts) != len(seeds):
        raise ValueError(f"prompts ({len(prompts)}) and seeds ({len(seeds)}) differ in length")
    out = []
    for i in range(0, len(prompts), batch):
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds[i : i + batch]]
        with torch.no_grad():
            images = pipe(
                prompt=prompts[i : i + batch],
                num_inference_steps=settings.steps,
                guidance_scale=settings.guidance,
                generator=gens,
                height=RESOLUTION,
                width=RESOLUTION,
                output_type="np",
            ).images
        out.append((np.clip(images, 0, 1) * 255).round().astype(np.uint8))
    return np.concatenate(out) if out else np.zeros((0, RESOLUTION, RESOLUTION, 3), np.uint8)
