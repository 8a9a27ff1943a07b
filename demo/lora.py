"""Minimal LoRA for training the demo's personalizations, exported in kohya's file format.

kohya sd-scripts names a LoRA module after the diffusers/transformers module path with dots
turned into underscores (`lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k`,
`lora_te_text_model_encoder_layers_0_self_attn_q_proj`), with `.lora_down.weight`,
`.lora_up.weight` and `.alpha` tensors. diffusers' `load_lora_weights` reads that format.
Convolutions (kohya's LoCon, `conv_dim`) have a down factor with the layer's kernel and a 1x1
up factor: `lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight` is (rank, in, 3, 3).
"""
from __future__ import annotations

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")  # the attention projections
# LoCon: the convolutions too (proj_in/proj_out are 1x1 convs in SD 1.x). Attention alone could not draw a
# new texture (see personalize).
UNET_CONV_TARGETS = ("proj_in", "proj_out", "conv1", "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv")
TE_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def _lora_classes():
    """(LoRALinear, LoRAConv2d), defined here so torch is imported only when training."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LoRA(nn.Module):
        """The wrapped layer plus a low-rank update scaled by alpha / rank; up starts at zero, so training
        starts at the base."""

        def __init__(self, base: nn.Module, rank: int, alpha: float, down: torch.Tensor, up_shape: tuple[int, ...]):
            super().__init__()
            self.base = base
            self.rank, self.alpha = rank, alpha
            self.down = nn.Parameter(down)
            self.up = nn.Parameter(torch.zeros(*up_shape))

    class LoRALinear(LoRA):
        """y = W x + (alpha / rank) * up(down(x))."""

        def __init__(self, base: nn.Linear, rank: int, alpha: float, gen):
            super().__init__(base, rank, alpha, torch.randn(rank, base.in_features, generator=gen) / rank,
                             (base.out_features, rank))

        def forward(self, x):
            return self.base(x) + (x @ self.down.t() @ self.up.t()) * (self.alpha / self.rank)

    class LoRAConv2d(LoRA):
        """y = conv(x) + (alpha / rank) * up_1x1(down_kxk(x)), down with the layer's kernel, stride and padding."""

        def __init__(self, base: nn.Conv2d, rank: int, alpha: float, gen):
            fan_in = base.in_channels * base.kernel_size[0] * base.kernel_size[1]
            down = torch.randn(rank, base.in_channels, *base.kernel_size, generator=gen) / max(rank, fan_in**0.5)
            super().__init__(base, rank, alpha, down, (base.out_channels, rank, 1, 1))

        def forward(self, x):
            low = F.conv2d(x, self.down, stride=self.base.stride, padding=self.base.padding)
            return self.base(x) + F.conv2d(low, self.up) * (self.alpha / self.rank)

    return LoRALinear, LoRAConv2d


def _targets(model, suffixes) -> list[tuple[str, object]]:
    """(name, module) of the Linear and Conv2d layers whose name ends with one of `suffixes`."""
    import torch.nn as nn

    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv2d)) and any(name == s or name.endswith("." + s) for s in suffixes)
    ]


def inject(model, suffixes, rank: int, alpha: float, seed: int) -> dict[str, object]:
    """Wrap target Linear and Conv2d layers in place; returns {module_name: LoRA module}."""
    import torch
    import torch.nn as nn

    linear_cls, conv_cls = _lora_classes()
    gen = torch.Generator().manual_seed(seed)
    wrapped = {}
    for name, module in _targets(model, suffixes):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        lora = (conv_cls if isinstance(module, nn.Conv2d) else linear_cls)(module, rank, alpha, gen)
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
