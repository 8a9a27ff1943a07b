"""Save and read the demo's full DreamBooth checkpoints as original-layout (CompVis/A1111) single files.

The conversion itself is the engine's (`engine.pipeline_tiny.original_state_dict`): UNet under
`model.diffusion_model.`, VAE under `first_stage_model.`, CLIP under
`cond_stage_model.transformer.text_model.` — the layout creators' full checkpoints come in.
This module only adds the demo's conventions: fp16 on disk, string metadata, configs from the base folder.
"""
from __future__ import annotations


def pipeline_to_ldm(pipe, dtype=None) -> dict:
    """All three models' weights in one original-layout dict (fp16 by default, as shipped)."""
    import torch

    from engine.pipeline_tiny import original_state_dict

    dtype = dtype or torch.float16
    state = original_state_dict(pipe)
    # position_ids is a buffer, not a weight; original files do not carry it
    return {k: v.detach().to(dtype).contiguous() for k, v in state.items() if not k.endswith("position_ids")}


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
