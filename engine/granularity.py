"""Granularity of attn2 K/V activation quantization: per token row (dynamic, TAQ's default), per tensor
or per channel (static scales calibrated over all tokens, the paper's baselines: Q-Diffusion, DGQ).

With a static scale the trigger's K/V rows either set the scale for every token (calibrated with them)
or are clipped (calibrated without them); a per-row scale gives each row its own range, so it protects
the trigger by construction. This module lets the ablation (bench/taq_ablation.py) measure both.

    apply_granularity(pipe, "tensor", keep_start_token=False, calibration_prompts=[...], trigger="pqr")

The pure math (static_kv_scale, fake_quant_static) is tested with plain asserts; the processor only
overrides TAQCrossAttnProcessor.quantize_kv and which rows stay exact. Bench-only: the static scales
live on the processor, not in the UNet's state dict, so these variants are not artifact specs.
"""
from __future__ import annotations

from engine import quantizers as qz

GRANULARITIES = ("token", "tensor", "channel")


def _check(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; known: {', '.join(GRANULARITIES)}")


def static_kv_scale(x, bits: int, granularity: str, exclude=None):
    """Calibrated scale for K or V samples x (N, T, C): one scalar (tensor) or one per channel, shape (C,).

    exclude (N, T) bool marks rows left out of the statistics (rows kept exact at inference: the
    trigger under TAQ, the start token under DGQ). The scale maps the absmax of the rest to qmax.
    """
    import torch

    _check(granularity)
    if granularity == "token":
        raise ValueError("per-token scales are dynamic: nothing to calibrate")
    a = x.detach().float().abs()  # (N, T, C)
    if exclude is not None:
        a = a * (~exclude.to(torch.bool)).unsqueeze(-1)
    amax = a.amax() if granularity == "tensor" else a.amax(dim=(0, 1))  # () or (C,)
    return torch.clamp(amax, min=1e-8) / qz.qmax(bits)


def fake_quant_static(x, scale, bits: int, keep_rows=None):
    """Fake-quantize x (..., T, C) with a fixed scale (scalar or (C,)); values beyond the grid clip.

    Rows in keep_rows stay exact.
    """
    out = qz.fake_quant(x, scale.to(x.device), bits)
    if keep_rows:
        idx = list(keep_rows)
        out[..., idx, :] = x[..., idx, :]
    return out


def fake_quant_kv(x, bits: int, granularity: str, scale=None, keep_rows=None):
    """One K or V tensor (..., T, C) quantized at `granularity` (per-token: dynamic, no scale needed)."""
    _check(granularity)
    if granularity == "token":
        return qz.fake_quant_rows(x, bits, keep_rows)
    if scale is None:
        raise ValueError(f"{granularity} granularity needs a calibrated scale")
    return fake_quant_static(x, scale, bits, keep_rows)


def _processor_cls():
    from engine.taq import TAQCrossAttnProcessor

    class GranularCrossAttnProcessor(TAQCrossAttnProcessor):
        """TAQ's attn2 processor with static (tensor / channel) K/V scales and DGQ's start-token switch.

        keep_start_token keeps the start token's K/V row and probability column exact (DGQ), with or
        without trigger protection.
        """

        def __init__(self, granularity: str = "tensor", keep_start_token: bool = False, **kwargs):
            _check(granularity)
            super().__init__(**kwargs)
            self.granularity, self.keep_start_token = granularity, keep_start_token
            self.k_scale = self.v_scale = None

        def _kept(self, length: int) -> list[int]:
            kept = super()._kept(length)
            if self.keep_start_token and length > 0 and 0 not in kept:
                kept = [0] + kept
            return kept

        def quantize_kv(self, key, value, kept):
            if self.granularity == "token":
                return super().quantize_kv(key, value, kept)
            if self.k_scale is None:
                raise RuntimeError("static K/V scales are not calibrated: call calibrate_kv first")
            return (fake_quant_static(key, self.k_scale, self.kv_bits, kept),
                    fake_quant_static(value, self.v_scale, self.kv_bits, kept))

    return GranularCrossAttnProcessor


def install_processors(unet, granularity: str, keep_start_token: bool = False) -> list:
    """Replace the UNet's TAQ attn2 processors by granular ones with the same bits and switches."""
    from engine.taq import cross_attention_modules, taq_processors

    if not taq_processors(unet):
        raise ValueError("the UNet has no TAQ cross-attention processors: apply a taq spec first")
    cls = _processor_cls()
    out = []
    for attn in cross_attention_modules(unet).values():
        old = attn.processor
        new = cls(granularity=granularity, keep_start_token=keep_start_token, kv_bits=old.kv_bits,
                  prob_bits=old.prob_bits, prob_quantizer=old.prob_quantizer, protect=old.protect, cache_kv=old.cache_kv)
        new.trigger_positions = list(old.trigger_positions)
        attn.set_processor(new)
        out.append(new)
    return out


def calibrate_kv(unet, encoder_states, trigger_positions: list[list[int]] | None = None) -> None:
    """Fix each granular processor's static K/V scales from the calibration prompts' encoder states.

    Cross-attention K/V depend only on the prompt, so this needs no UNet forward. Rows the processor
    keeps exact at inference (trigger rows when it protects them, the start token when it keeps it)
    are left out of the statistics; otherwise the trigger and start rows count like any other.
    encoder_states: (N, 77, D); trigger_positions: per prompt, the trigger's token positions.
    """
    import torch

    from engine.taq import cross_attention_modules

    n, t = encoder_states.shape[:2]
    for attn in cross_attention_modules(unet).values():
        proc = attn.processor
        if not hasattr(proc, "granularity") or proc.granularity == "token" or not proc.kv_bits:
            continue
        exclude = torch.zeros(n, t, dtype=torch.bool)
        if proc.protect and trigger_positions:
            for i, pos in enumerate(trigger_positions):
                exclude[i, [p for p in pos if 0 <= p < t]] = True
        if proc.keep_start_token:
            exclude[:, 0] = True
        with torch.no_grad():
            ehs = attn.norm_encoder_hidden_states(encoder_states) if attn.norm_cross else encoder_states
            ehs = ehs.to(attn.to_k.weight.dtype)
            key, value = attn.to_k(ehs).float(), attn.to_v(ehs).float()  # (N, T, inner)
        proc.k_scale = static_kv_scale(key, proc.kv_bits, proc.granularity, exclude)
        proc.v_scale = static_kv_scale(value, proc.kv_bits, proc.granularity, exclude)
        proc.clear_cache()


def apply_granularity(pipe, granularity: str, keep_start_token: bool, calibration_prompts: list[str],
                      trigger: str | None = None) -> None:
    """On a pipeline already quantized with a taq spec: switch attn2 K/V to `granularity` and calibrate.

    Token granularity with the start token kept needs no calibration (the row scales are dynamic).
    """
    from engine.quantize import encode_prompts, trigger_token_positions

    install_processors(pipe.unet, granularity, keep_start_token)
    if granularity == "token":
        return
    states = encode_prompts(list(calibration_prompts), pipe.tokenizer, pipe.text_encoder)
    positions = [trigger_token_positions(pipe.tokenizer, p, trigger) if trigger else [] for p in calibration_prompts]
    calibrate_kv(pipe.unet, states, positions)
