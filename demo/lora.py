"""Minimal LoRA for training the demo's personalizations, exported in kohya's file format.

kohya sd-scripts names a LoRA module after the diffusers/transformers module path with dots
turned into underscores (`lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k`,
`lora_te_text_model_encoder_layers_0_self_attn_q_proj`), with `.lora_down.weight`,
`.lora_up.weight` and `.alpha` tensors. diffusers' `load_lora_weights` reads that format.
"""
from __future__ import annotations

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out")
TE_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def _lora_linear_cls():
    import torch
    import torch.nn as nn

    class LoRALinear(nn.Module):
        """y = W x + (alpha / rank) * up(down(x)); up starts at zero so training starts at the base."""

        def __init__(self, base: nn.Linear, rank: int, alpha: float, gen):
            super().__init__()
            self.base = base
            self.rank, self.alpha = rank, alpha
            self.down = nn.Parameter(torch.randn(rank, base.in_features, generator=gen) / rank)
            self.up = nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x):
            return self.base(x) + (x @ self.down.t() @ self.up.t()) * (self.alpha / self.rank)

    return LoRALinear


def _targets(model, suffixes) -> list[str]:
    import torch.nn as nn

    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and any(name == s or name.endswith("." + s) for s in suffixes)]


def inject(model, suffixes, rank: int, alpha: float, seed: int) -> dict[str, object]:
    """Wrap target Linear layers in place; returns {module_name: LoRALinear}."""
    import torch

    cls = _lora_linear_cls()
    gen = torch.Generator().manual_seed(seed)
    wrapped = {}
    for name in _targets(model, suffixes):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        lora = cls(getattr(parent, child), rank, alpha, gen)
        setattr(parent, child, lora)
        wrapped[name] = lora
    return wrapped


def remove(model, wrapped: dict[str, object]) -> None:
    """Put the original Linear layers back (the LoRA weights stay in `wrapped`)."""
    for name, lora in wrapped.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, lora.base)


def te_module_prefix(text_encoder) -> str:
    """kohya names start at `text_model.`; transformers 5 may or may not nest it."""
    names = [n for n, _ in text_encoder.named_modules()]
    return "" if any(n.startswith("text_model.") for n in names) else "text_model."


def kohya_state_dict(unet_loras: dict, te_loras: dict, te_prefix: str, dtype=None) -> dict:
    """Tensors named the kohya way, in `dtype` (fp16 for the files we ship)."""
    import torch

    dtype = dtype or torch.float16
    out = {}
    for prefix, loras, extra in (("lora_unet_", unet_loras, ""), ("lora_te_", te_loras, te_prefix)):
        for name, lora in loras.items():
            key = prefix + (extra + name).replace(".", "_")
            out[f"{key}.lora_down.weight"] = lora.down.detach().to(dtype).contiguous()
            out[f"{key}.lora_up.weight"] = lora.up.detach().to(dtype).contiguous()
            out[f"{key}.alpha"] = torch.tensor(float(lora.alpha), dtype=dtype)
    return out
