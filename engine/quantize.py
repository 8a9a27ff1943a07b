"""Apply a quant spec to a UNet (with calibration), and tell its TAQ processors the trigger positions.

    apply_quant_spec(pipe_or_unet, "taq-w4a8")          # quantize in place, calibrated
    set_trigger_positions(unet, trigger_token_positions(tokenizer, prompt, trigger))

Caching the result on disk (quantize on import) is engine/artifacts.py. torch/diffusers are
imported inside functions.
"""
from __future__ import annotations

import logging

from engine.quant_specs import QuantSpec, get_spec

log = logging.getLogger(__name__)

# Built-in calibration captions (COCO-like scenes, people, styles), one list per base family.
_GENERAL_PROMPTS = [
    "",  # classifier-free guidance always runs the empty prompt too
    "a photo of a dog sitting on a wooden bench in a park",
    "portrait of a woman with red hair, studio lighting, 85mm",
    "a watercolor painting of a lighthouse on a cliff at sunset",
    "a bowl of ramen on a table, close-up, food photography",
    "a futuristic city street at night with neon signs, cinematic",
    "an oil painting of a cat wearing a small crown",
    "a mountain lake surrounded by pine trees, morning fog",
]
CALIBRATION_PROMPTS = {"sd15": _GENERAL_PROMPTS, "sd21": _GENERAL_PROMPTS, "sdxl": _GENERAL_PROMPTS}


# --- small helpers ---------------------------------------------------------------------------------


def _unet_of(pipe_or_unet):
    return getattr(pipe_or_unet, "unet", pipe_or_unet)


def base_family(unet) -> str:
    """sd15 / sd21 / sdxl from the UNet's cross-attention width (768 / 1024 / 2048)."""
    dim = unet.config.cross_attention_dim
    dim = dim[0] if isinstance(dim, (list, tuple)) else dim
    return {1024: "sd21", 2048: "sdxl"}.get(int(dim), "sd15")


def calibration_prompts_for(family: str) -> list[str]:
    return list(CALIBRATION_PROMPTS.get(family, _GENERAL_PROMPTS))


def trigger_token_positions(tokenizer, prompt: str, trigger: str) -> list[int]:
    """Positions of the trigger's sub-word tokens in the padded 77-token sequence (BOS is position 0).

    Every occurrence counts; positions past the tokenizer's max length are dropped. A trigger that
    does not occur in the prompt gives [].
    """
    if not trigger or not trigger.strip():
        raise ValueError("trigger must be a non-empty string")
    max_len = getattr(tokenizer, "model_max_length", 77) or 77
    ids = tokenizer(prompt, padding="max_length", max_length=max_len, truncation=True).input_ids
    sub = tokenizer(trigger, add_special_tokens=False).input_ids
    if not sub:
        return []
    found: list[int] = []
    for start in range(1, len(ids) - len(sub) + 1):
        if ids[start : start + len(sub)] == sub:
            found.extend(range(start, start + len(sub)))
    return sorted(set(found))


def set_trigger_positions(unet_or_pipe, positions: list[int]) -> int:
    """Tell every TAQ cross-attention processor which token positions to keep unquantized.

    Returns how many processors were updated (0 for specs without TAQ processors).
    """
    from engine.taq import taq_processors

    procs = taq_processors(_unet_of(unet_or_pipe))
    clean = sorted({int(p) for p in positions})
    for proc in procs:
        proc.trigger_positions = list(clean)
    return len(procs)


def clear_kv_cache(unet_or_pipe) -> None:
    """Drop cached cross-attention K/V (after to_k/to_v weights change, e.g. a LoRA swap)."""
    from engine.taq import taq_processors

    for proc in taq_processors(_unet_of(unet_or_pipe)):
        proc.clear_cache()


def set_debug(unet_or_pipe, on: bool = True) -> None:
    """Keep the last K/V/probabilities of each TAQ processor in `processor.last` (tests, inspection)."""
    from engine.taq import taq_processors

    for proc in taq_processors(_unet_of(unet_or_pipe)):
        proc.debug = on
        if not on:
            proc.last = {}


def weight_bytes(module) -> int:
    """Bytes of everything the module stores (parameters + buffers, quantized codes and scales)."""
    seen, total = set(), 0
    for t in module.state_dict().values():
        key = (t.data_ptr(), t.numel(), t.dtype) if t.device.type != "meta" else id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def quant_spec_of(unet_or_pipe) -> str:
    """The name of the spec applied to this UNet ('none' when unquantized)."""
    return getattr(_unet_of(unet_or_pipe), "_personalq_quant", "none")


def mark_quantized(unet, spec: QuantSpec) -> None:
    """Record the spec on the UNet (quantized now or loaded from an artifact): its name, and the spec itself."""
    unet._personalq_quant = spec.name
    unet._personalq_spec = spec


def protected_positions(pipe, prompt: str, triggers: list[str | None]) -> list[int]:
    """The token positions of `prompt` that the UNet's TAQ keeps: those of the triggers its spec protects
    (every one, or only the first, the subject's), each sub-word of every occurrence; [] for no trigger."""
    triggers = [t for t in triggers if t and t.strip()]
    spec = getattr(_unet_of(pipe), "_personalq_spec", None)
    if spec is not None:
        triggers = spec.protected(triggers)
    if triggers and hasattr(pipe, "maybe_convert_prompt"):  # a multi-vector embedding's token expands first
        prompt = pipe.maybe_convert_prompt(prompt, pipe.tokenizer)
    positions: set[int] = set()
    for trigger in triggers:
        positions.update(trigger_token_positions(pipe.tokenizer, prompt, trigger))
    return sorted(positions)


# --- applying a spec -------------------------------------------------------------------------------


def convert_unet(unet, spec: QuantSpec, shell: bool = False) -> int:
    """Swap Linear/Conv2d layers for int8/int4 layers and install TAQ processors, per spec.

    shell=True builds empty quantized layers of the right shapes (on the UNet's device, e.g. meta)
    for loading an artifact; otherwise weights are quantized from the float layers.
    Returns the number of layers swapped.
    """
    import torch
    from torch import nn

    from engine.taq import QuantConv2d, QuantLinear, TAQCrossAttnProcessor, cross_attention_modules

    kv_dtype = getattr(torch, spec.kv_weights_dtype)
    targets = []
    for name, module in unet.named_modules():
        if type(module) not in (nn.Linear, nn.Conv2d):
            continue
        if spec.kv_weights_high_precision and name.endswith((".attn2.to_k", ".attn2.to_v")):
            module.to(kv_dtype)
            continue
        targets.append((name, module))
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = unet.get_submodule(parent_name) if parent_name else unet
        act_bits = None if name in spec.float_inputs else spec.act_bits
        if shell:
            device, dtype = module.weight.device, module.weight.dtype
            if isinstance(module, nn.Linear):
                q = QuantLinear(module.in_features, module.out_features, module.bias is not None, spec.weight_bits,
                                act_bits, spec.group_size, device=device, dtype=dtype)
            else:
                q = QuantConv2d(tuple(module.weight.shape), module.bias is not None, module.stride, module.padding,
                                module.dilation, module.groups, spec.weight_bits, act_bits, spec.group_size,
                                device=device, dtype=dtype)
        else:
            cls = QuantLinear if isinstance(module, nn.Linear) else QuantConv2d
            q = cls.from_float(module, spec.weight_bits, act_bits, spec.group_size)
        setattr(parent, child, q)
    if spec.kv_bits or spec.prob_bits or spec.cache_kv or spec.kv_weights_high_precision:
        for attn in cross_attention_modules(unet).values():
            attn.set_processor(TAQCrossAttnProcessor(
                kv_bits=spec.kv_bits, prob_bits=spec.prob_bits, prob_quantizer=spec.prob_quantizer,
                protect=spec.protect_trigger, cache_kv=spec.cache_kv))
    return len(targets)


def encode_prompts(prompts: list[str], tokenizer, text_encoder):
    """(len(prompts), 77, dim) CLIP hidden states, as SD pipelines feed the UNet."""
    import torch

    device = next(text_encoder.parameters()).device
    ids = tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(device)
    with torch.no_grad():
        return text_encoder(ids)[0]


def _added_cond(unet, batch: int, device, dtype):
    """Zero SDXL micro-conditioning for calibration forwards (None for SD1/SD2 UNets)."""
    import torch

    if getattr(unet.config, "addition_embed_type", None) != "text_time":
        return None
    n_time = 6
    text_dim = unet.config.projection_class_embeddings_input_dim - n_time * unet.config.addition_time_embed_dim
    return {"text_embeds": torch.zeros(batch, text_dim, device=device, dtype=dtype),
            "time_ids": torch.zeros(batch, n_time, device=device, dtype=dtype)}


def calibrate(unet, encoder_states, timesteps=(900, 500, 100), latent_size: int | None = None, seed: int = 0,
              alphas_cumprod=None) -> None:
    """Fix every layer's activation scale from the ranges seen along a short denoising trajectory.

    The UNet is run at `timesteps` (high to low) with DDIM steps between them, so it sees the partly
    denoised latents it meets when sampling. Fresh random latents at every timestep (the first
    version) set the scales for noise, not for images near the end of sampling.
    """
    import torch

    from engine.taq import QuantConv2d, QuantLinear

    layers = [m for m in unet.modules() if isinstance(m, (QuantLinear, QuantConv2d)) and m.act_bits]
    if not layers:
        return
    param = next(p for p in unet.parameters() if p.is_floating_point())
    device, dtype = param.device, param.dtype
    size = latent_size or int(unet.config.sample_size)
    gen = torch.Generator().manual_seed(seed)
    ehs = encoder_states.to(device=device, dtype=dtype)
    if alphas_cumprod is None:  # a bare UNet: the schedule every SD 1.x/2.x/XL checkpoint was trained with
        from diffusers import DDIMScheduler

        from engine.pipeline_tiny import SD15_SCHEDULER

        alphas_cumprod = DDIMScheduler(**SD15_SCHEDULER).alphas_cumprod
    alphas = torch.as_tensor(alphas_cumprod).double().cpu()
    steps = sorted(timesteps, reverse=True)
    for m in layers:
        m.observing = True
    try:
        with torch.no_grad():
            latents = torch.randn(ehs.shape[0], unet.config.in_channels, size, size, generator=gen).to(device, dtype)
            for i, t in enumerate(steps):
                eps = unet(latents, t, ehs, added_cond_kwargs=_added_cond(unet, ehs.shape[0], device, dtype)).sample
                a_t = float(alphas[t])
                a_next = float(alphas[steps[i + 1]]) if i + 1 < len(steps) else 1.0
                x0 = (latents - (1 - a_t) ** 0.5 * eps) / a_t**0.5
                latents = a_next**0.5 * x0 + (1 - a_next) ** 0.5 * eps
    finally:
        for m in layers:
            m.finish_calibration()
        from engine.taq import taq_processors

        for proc in taq_processors(unet):
            proc.clear_cache()


def apply_quant_spec(pipe_or_unet, spec, calibration_prompts=None, tokenizer=None, text_encoder=None,
                     calibration_timesteps=(900, 500, 100), calibration_latent_size: int | None = None, seed: int = 0):
    """Quantize the UNet (of a pipeline, or a bare UNet) in place by spec name; returns the UNet.

    Specs with activation quantization are calibrated on `calibration_prompts` (default: the
    built-in set for the UNet's base family) encoded with the pipeline's tokenizer/text encoder.
    Without a text encoder, seeded random encoder states stand in (random-weight tests/benches only).
    """
    import torch

    from engine.lora import active_lora

    spec = get_spec(spec)
    unet = _unet_of(pipe_or_unet)
    if quant_spec_of(unet) != "none":
        raise ValueError(f"UNet is already quantized with {quant_spec_of(unet)!r}; load a fresh one to apply {spec.name!r}")
    attached = active_lora(pipe_or_unet)
    if attached and spec.method != "none":
        # the hooks sit on the float layers that quantization replaces: the LoRA would silently vanish
        raise ValueError(f"detach LoRA {attached} before quantizing; attach it to the quantized UNet after")
    unet.eval()
    if spec.method == "none":
        pass
    elif spec.method == "quanto":
        from optimum.quanto import freeze, qint4, qint8, quantize

        quantize(unet, weights={8: qint8, 4: qint4}[spec.weight_bits])
        freeze(unet)
    elif spec.method == "taq":
        convert_unet(unet, spec)
        if spec.calibrated:
            tokenizer = tokenizer or getattr(pipe_or_unet, "tokenizer", None)
            text_encoder = text_encoder or getattr(pipe_or_unet, "text_encoder", None)
            prompts = list(calibration_prompts) if calibration_prompts else calibration_prompts_for(base_family(unet))
            if tokenizer is not None and text_encoder is not None:
                states = encode_prompts(prompts, tokenizer, text_encoder)
            else:
                dim = unet.config.cross_attention_dim
                gen = torch.Generator().manual_seed(seed + 1)
                states = torch.randn(len(prompts), 77, int(dim), generator=gen)
            size = calibration_latent_size or min(int(unet.config.sample_size), 16)  # 128 px: ranges, not images
            scheduler = getattr(pipe_or_unet, "scheduler", None)
            calibrate(unet, states, calibration_timesteps, size, seed, getattr(scheduler, "alphas_cumprod", None))
    else:
        raise ValueError(f"spec {spec.name!r} has unknown method {spec.method!r}")
    mark_quantized(unet, spec)
    return unet
