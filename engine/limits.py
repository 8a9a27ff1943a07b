"""The values a generation accepts, checked before any work: each bad value is one ValueError naming it.

Used at every boundary: argparse `type=` checks in the CLI, settings read from disk, and
engine.generate.validate_request (which the app calls before it loads a model). No torch here.
"""
from __future__ import annotations

import math

STEPS = (1, 150)
SIZE = (64, 2048)  # width/height, multiples of 8
SIZE_MIN_NATIVE = 8  # a base model's own small size (the demo base is 32x32) is allowed below SIZE[0]
GUIDANCE = (0.0, 30.0)
BATCH = (1, 16)
SEED = (0, 2**63 - 1)


def _integer(name: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


def _number(name: str, value) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def check_steps(value) -> int:
    steps = _integer("steps", value)
    if not STEPS[0] <= steps <= STEPS[1]:
        raise ValueError(f"steps must be between {STEPS[0]} and {STEPS[1]}, got {steps}")
    return steps


def check_size(name: str, value, native: int | None = None) -> int:
    """width/height: a multiple of 8 in 64..2048, or down to 8 when it is the model's own (`native`) size
    or below; `native=None` (unknown model) allows the small sizes too, the upper bound always holds."""
    size = _integer(name, value)
    low = SIZE[0] if native is not None and native >= SIZE[0] else SIZE_MIN_NATIVE
    if size % 8 or not low <= size <= SIZE[1]:
        raise ValueError(f"{name} must be a multiple of 8 between {low} and {SIZE[1]}, got {size}")
    return size


def check_guidance(value) -> float:
    guidance = _number("guidance", value)
    if not GUIDANCE[0] <= guidance <= GUIDANCE[1]:
        raise ValueError(f"guidance must be between {GUIDANCE[0]:g} and {GUIDANCE[1]:g}, got {guidance:g}")
    return guidance


def check_batch(value) -> int:
    batch = _integer("batch", value)
    if not BATCH[0] <= batch <= BATCH[1]:
        raise ValueError(f"batch must be between {BATCH[0]} and {BATCH[1]}, got {batch}")
    return batch


def check_seed(value) -> int:
    seed = _integer("seed", value)
    if not SEED[0] <= seed <= SEED[1]:
        raise ValueError(f"seed must be between 0 and 2^63-1, got {seed}")
    return seed


def check_quant_spec(value) -> str:
    from engine.quant_specs import SPECS

    name = str(value)
    if name not in SPECS:
        raise ValueError(f"unknown quant spec {name!r}; known: {', '.join(SPECS)}")
    return name


def check_scheduler(value) -> str:
    from engine.schedulers import SCHEDULERS

    name = str(value)
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}")
    return name


def check_device(value) -> str:
    """auto, cpu, mps, cuda or cuda:N (the name only; whether it is present here is pick_device's call)."""
    from engine.devices import DEVICES

    name = str(value).lower()
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"unknown device {value!r}; use one of {', '.join(DEVICES)} (or cuda:N)")
    return name


def check_generation(steps=None, width=None, height=None, guidance=None, batch=None, seed=None, quant_spec=None,
                     scheduler=None, device=None, native_width: int | None = None,
                     native_height: int | None = None) -> None:
    """Check every value given (None: not given); raises the first ValueError, naming the value."""
    if steps is not None:
        check_steps(steps)
    if width is not None:
        check_size("width", width, native_width)
    if height is not None:
        check_size("height", height, native_height)
    if guidance is not None:
        check_guidance(guidance)
    if batch is not None:
        check_batch(batch)
    if seed is not None:
        check_seed(seed)
    if quant_spec is not None:
        check_quant_spec(quant_spec)
    if scheduler is not None:
        check_scheduler(scheduler)
    if device is not None:
        check_device(device)


def clean_settings(settings) -> list[str]:
    """Reset out-of-range or unknown generation settings (a hand-edited settings.json) to their defaults,
    in place; returns one line per value reset, naming it (the app shows or logs them)."""
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(settings) if f.default is not f.default_factory}
    checks = {"steps": check_steps, "guidance": check_guidance, "width": lambda v: check_size("width", v),
              "height": lambda v: check_size("height", v), "quant_spec": check_quant_spec, "device": check_device}
    problems = []
    for name, check in checks.items():
        if not hasattr(settings, name):
            continue
        try:
            check(getattr(settings, name))
        except ValueError as exc:
            setattr(settings, name, defaults[name])
            problems.append(f"settings: {exc}; using {defaults[name]!r}")
    if getattr(settings, "memory_budget_mb", 1) <= 0:
        problems.append(f"settings: memory_budget_mb must be positive, got {settings.memory_budget_mb}; "
                        f"using {defaults['memory_budget_mb']}")
        settings.memory_budget_mb = defaults["memory_budget_mb"]
    return problems


def argparse_type(check):
    """An argparse `type=` from a check: a bad value ends the parse with the check's own message."""
    import argparse

    def parse(text: str):
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = getattr(check, "__name__", "value").replace("check_", "")
    return parse
