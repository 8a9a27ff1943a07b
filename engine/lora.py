"""LoRA as forward hooks on a pipeline's layers: read a LoRA file into per-module factors, attach and
detach them, several at once (a subject plus a style), each at its own weight.

Why hooks and not diffusers' load_lora_weights/peft: peft can only wrap nn.Linear/Conv, not the
int8/int4 layers of a quantized UNet, and with transformers 5.x diffusers 0.42 fails on kohya files
that carry text-encoder weights. A hooked LoRA adds `scale * up(down(x))` to a layer's output
whatever the layer is, keeps its factors in float (a few MB), and comes off by removing the hooks:
the (quantized) base stays shared and untouched. Tests check it gives the same images as
diffusers' peft path where that one works.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from engine.model_files import LoadError, safe_path


def adapter_name_for(path) -> str:
    """A stable adapter name for a LoRA file (peft names may not contain dots)."""
    path = Path(path)
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)[:40]
    return f"{stem}_{digest}"


_LORA_PATTERNS = [  # (regex on a diffusers-normalised key, group(1) = module path, group(2) = factor)
    (r"^(.*)\.lora_([AB])\.weight$", None),  # peft
    (r"^(.*)\.lora\.(down|up)\.weight$", None),  # older diffusers
    (r"^(.*)\.lora_linear_layer\.(down|up)\.weight$", None),  # diffusers text encoder
    (r"^(.*)\.processor\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$", "processor"),  # attn-processor LoRA
    (r"^(.*self_attn)\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$", "clip"),  # kohya text encoder, as converted
]
_CLIP_PROJ = {"to_q": "q_proj", "to_k": "k_proj", "to_v": "v_proj", "to_out": "out_proj"}


@dataclass
class HookedLora:
    """One LoRA's factors by target module; `handles` is non-empty while it is attached."""

    name: str
    path: str
    factors: dict = field(default_factory=dict)  # (component, module path) -> (down, up, scale)
    handles: list = field(default_factory=list)
    weight: float = 1.0  # the user's LoRA strength, times each module's alpha/rank


def _lora_target(key: str):
    """(module path, 'down'|'up') for a LoRA weight key, or None for keys that are not factors."""
    import re

    for pattern, kind in _LORA_PATTERNS:
        match = re.match(pattern, key)
        if not match:
            continue
        if kind == "processor":
            base, proj, factor = match.groups()
            return f"{base}.{'to_out.0' if proj == 'to_out' else proj}", factor
        if kind == "clip":
            base, proj, factor = match.groups()
            return f"{base}.{_CLIP_PROJ[proj]}", factor
        base, factor = match.groups()
        return base, {"A": "down", "B": "up"}.get(factor, factor)
    return None


def _find_module(component, path: str):
    """A submodule by dotted path; transformers 5.x CLIPTextModel has no `text_model.` level."""
    for candidate in (path, path.removeprefix("text_model.")):
        try:
            return component.get_submodule(candidate)
        except AttributeError:
            continue
    return None


def read_hooked_lora(pipe, path, name: str | None = None) -> HookedLora:
    """Read a LoRA file (kohya or diffusers layout, via diffusers' converter) into per-module factors."""
    path = safe_path(path)
    try:
        state, alphas, _meta = pipe.lora_state_dict(str(path), return_lora_metadata=True)
    except Exception as exc:
        raise LoadError(f"cannot read LoRA {path}: {exc}") from exc
    alphas = alphas or {}
    pairs: dict = {}
    for key, tensor in state.items():
        component_name, _, rest = key.partition(".")
        target = _lora_target(rest)
        if target is None:
            continue
        module_path, factor = target
        pairs.setdefault((component_name, module_path), {})[factor] = tensor
        alpha = alphas.get(key + ".alpha", alphas.get(key.replace(".weight", ".alpha")))
        if alpha is not None:
            pairs[(component_name, module_path)]["alpha"] = float(alpha)
    lora = HookedLora(name=name or adapter_name_for(path), path=str(path))
    for (component_name, module_path), parts in pairs.items():
        component = getattr(pipe, component_name, None)
        if component is None or "down" not in parts or "up" not in parts:
            raise LoadError(f"LoRA {path}: cannot place {component_name}.{module_path} (incomplete or unknown)")
        if _find_module(component, module_path) is None:
            raise LoadError(f"LoRA {path} targets {component_name}.{module_path}, which this model does not have")
        down, up = parts["down"].float(), parts["up"].float()
        rank = down.shape[0]
        scale = parts.get("alpha", rank) / rank
        lora.factors[(component_name, module_path)] = (down, up, scale)
    if not lora.factors:
        raise LoadError(f"{path} holds no LoRA factors this loader understands (LoHa/LoKr are not supported)")
    return lora


def _lora_hook(down, up, scale):
    import torch.nn.functional as F

    def hook(module, args, output):
        x = args[0]
        if down.ndim == 2:  # Linear: (..., in) -> (..., rank) -> (..., out)
            delta = F.linear(F.linear(x.to(down.dtype), down), up)
        else:  # Conv2d: down has the layer's kernel, up is 1x1
            stride, padding = getattr(module, "stride", 1), getattr(module, "padding", 0)
            delta = F.conv2d(F.conv2d(x.to(down.dtype), down, stride=stride, padding=padding), up)
        return output + (scale * delta).to(output.dtype)

    return hook


def attach_hooked_lora(pipe, lora: HookedLora, weight: float = 1.0) -> None:
    """Install the LoRA's hooks (moving its factors to the layers' device); idempotent."""
    if lora.handles:
        return
    for (component_name, module_path), (down, up, scale) in list(lora.factors.items()):
        module = _find_module(getattr(pipe, component_name), module_path)
        device = next(iter(module.parameters()), next(iter(module.buffers()), down)).device
        down, up = down.to(device), up.to(device)
        lora.factors[(component_name, module_path)] = (down, up, scale)
        lora.handles.append(module.register_forward_hook(_lora_hook(down, up, scale * weight)))


def detach_hooked_lora(lora: HookedLora) -> None:
    """Remove the LoRA's hooks: the layers compute exactly what they did before."""
    for handle in lora.handles:
        handle.remove()
    lora.handles.clear()


def apply_lora(pipe, path, adapter_name: str | None = None, scale: float = 1.0) -> str:
    """Make the LoRA at `path` the one active adapter (read once per pipeline, then swapped by hooks)."""
    return apply_loras(pipe, [(path, scale)], [adapter_name or adapter_name_for(path)])[0]


def apply_loras(pipe, loras: list[tuple[str, float]], names: list[str] | None = None) -> list[str]:
    """Make exactly these LoRAs active, each at its own weight (a subject plus a style): their hooks add up
    on the same layers; every other LoRA read on this pipeline is detached. Returns their adapter names."""
    known = pipe.__dict__.setdefault("_pq_loras", {})
    names = names or [adapter_name_for(path) for path, _ in loras]
    for (path, _), name in zip(loras, names):
        if name not in known:
            known[name] = read_hooked_lora(pipe, path, name)
    wanted = dict(zip(names, (weight for _, weight in loras)))
    for lora in known.values():
        if lora.name not in wanted or lora.weight != wanted[lora.name]:
            detach_hooked_lora(lora)
    for name, weight in wanted.items():
        attach_hooked_lora(pipe, known[name], weight)
        known[name].weight = weight
    return names


def deactivate_loras(pipe) -> None:
    """Detach every LoRA: the pipeline is its plain base again (LoRAs stay read for a quick swap back)."""
    for lora in pipe.__dict__.get("_pq_loras", {}).values():
        detach_hooked_lora(lora)


def remove_lora(pipe, adapter_name: str) -> None:
    """Detach and forget one LoRA (its factors are freed)."""
    lora = pipe.__dict__.get("_pq_loras", {}).pop(adapter_name, None)
    if lora is not None:
        detach_hooked_lora(lora)


def loaded_loras(pipe) -> list[str]:
    """Names of LoRAs read on this pipeline; the attached one is `active_lora(pipe)`."""
    return list(pipe.__dict__.get("_pq_loras", {}))


def active_lora(pipe) -> str | None:
    return next((n for n, lora in pipe.__dict__.get("_pq_loras", {}).items() if lora.handles), None)
