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


def _between(name: str, number, bounds, fmt: str = "", shown: tuple[str, str] | None = None):
    """`number` if it lies in `bounds`, else one ValueError naming it (bounds written with `fmt`, or as `shown`)."""
    if not bounds[0] <= number <= bounds[1]:
        low, high = shown or (format(bounds[0], fmt), format(bounds[1], fmt))
        raise ValueError(f"{name} must be between {low} and {high}, got {number:{fmt}}")
    return number


def _known_name(what: str, value, known) -> str:
    name = str(value)
    if name not in known:
        raise ValueError(f"unknown {what} {name!r}; known: {', '.join(known)}")
    return name


def check_steps(value) -> int:
    return _between("steps", _integer("steps", value), STEPS)


def check_size(name: str, value, native: int | None = None) -> int:
    """width/height: a multiple of 8 in 64..2048, or down to 8 when it is the model's own (`native`) size
    or below; `native=None` (unknown model) allows the small sizes too, the upper bound always holds."""
    size = _integer(name, value)
    low = SIZE[0] if native is not None and native >= SIZE[0] else SIZE_MIN_NATIVE
    if size % 8 or not low <= size <= SIZE[1]:
        raise ValueError(f"{name} must be a multiple of 8 between {low} and {SIZE[1]}, got {size}")
    return size


def check_guidance(value) -> float:
    return _between("guidance", _number("guidance", value), GUIDANCE, "g")


def check_batch(value) -> int:
    return _between("batch", _integer("batch", value), BATCH)


def check_seed(value) -> int:
    return _between("seed", _integer("seed", value), SEED, shown=("0", "2^63-1"))


def check_quant_spec(value) -> str:
    from engine.quant_specs import SPECS

    return _known_name("quant spec", value, SPECS)


def check_scheduler(value) -> str:
    from engine.schedulers import SCHEDULERS

    return _known_name("scheduler", value, SCHEDULERS)


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
    checks = ((steps, check_steps), (width, lambda v: check_size("width", v, native_width)),
              (height, lambda v: check_size("height", v, native_height)), (guidance, check_guidance),
              (batch, check_batch), (seed, check_seed), (quant_spec, check_quant_spec), (scheduler, check_scheduler),
              (device, check_device))
    for value, check in checks:
        if value is not None:
            check(value)


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
