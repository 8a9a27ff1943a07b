"""A memory-budgeted pool of ready pipelines, shared by every generation in the process.

Why: loading (and quantizing) a checkpoint costs seconds to minutes, switching between personal
concepts should not. Entries are base pipelines keyed by (base file, quant spec); a LoRA is an
unfused adapter (forward hooks, engine/loading.py) attached to / detached from its resident,
possibly quantized base, the last few kept read for a quick swap back; an embedding is a
few added token rows on it. Least-recently-used entries are dropped when the bytes of all
resident pipelines exceed the budget. One generation per device at a time, others wait in order.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAX_CACHED_ADAPTERS = 3  # LoRAs kept loaded (inactive) on one base so switching back is instant


@dataclass(frozen=True)
class ModelRef:
    """What to generate with: a catalog entry plus its base (for add-ons) and the quant spec."""

    path: str
    kind: str = "checkpoint"  # checkpoint | diffusers_model | lora | textual_inversion
    base_model: str = "unknown"
    base_path: str | None = None
    trigger: str | None = None  # token for a textual inversion (default: the file stem)
    quant_spec: str = "none"
    config_dir: str | None = None
    prediction_type: str | None = None
    weight: float = 1.0  # a LoRA's strength
    # more personalizations on the same base, applied with this one: (kind, path, weight or TI token)
    addons: tuple = ()

    def loras(self) -> list[tuple[str, float]]:
        """Every LoRA this ref runs with, (path, weight), its own first."""
        own = [(self.path, self.weight)] if self.kind == "lora" else []
        return own + [(path, float(extra)) for kind, path, extra in self.addons if kind == "lora"]

    def embeddings(self) -> list[tuple[str, str | None]]:
        """Every textual inversion this ref runs with, (path, token)."""
        own = [(self.path, self.trigger)] if self.kind == "textual_inversion" else []
        return own + [(path, extra or None) for kind, path, extra in self.addons if kind == "textual_inversion"]

    @property
    def is_addon(self) -> bool:
        return self.kind in ("lora", "textual_inversion")

    @property
    def base_key(self) -> tuple:
        """Identity of the resident pipeline this ref runs on."""
        from engine.loading import BaseModelMissing

        base = self.base_path if self.is_addon else self.path
        if base is None:
            raise BaseModelMissing(self.path, self.base_model)
        return (str(Path(base).resolve()), self.quant_spec)


@dataclass
class _Entry:
    pipe: object
    nbytes: int
    adapters: "OrderedDict[str, str]" = field(default_factory=OrderedDict)  # adapter name -> LoRA path, LRU order
    active: tuple | None = None  # the active LoRAs, ((adapter name, weight), ...)
    tokens: set = field(default_factory=set)  # textual-inversion tokens loaded
    users: int = 0  # generations running on it: never evicted while > 0
    warning: str | None = None  # from loading it (a full cache: quantized, not kept); told once, by take_warning


def pipeline_bytes(pipe) -> int:
    """Bytes of every parameter and buffer of the pipeline's torch modules (what residency costs)."""
    import torch

    total = 0
    seen = set()
    for component in getattr(pipe, "components", {}).values():
        if not isinstance(component, torch.nn.Module):
            continue
        for tensor in list(component.parameters()) + list(component.buffers()):
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


class _FifoLock:
    """A lock that serves waiters in arrival order (a queue of generations per device)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0

    def __enter__(self):
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        return self

    def __exit__(self, *exc):
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._next - self._serving


class PipelinePool:
    """LRU-by-bytes pool of pipelines; thread-safe; `session(ref)` yields a pipeline ready for ref."""

    def __init__(self, budget_bytes: int, device: str = "cpu", dtype=None, loader=None, quantizer=None):
        self.budget_bytes = int(budget_bytes)
        self.device = device
        self.dtype = dtype
        self._loader = loader or _default_loader
        self._quantizer = quantizer or functools.partial(_default_quantizer, on_warning=self._loading_warning)
        self._pending_warning: str | None = None  # said while the entry being built loads (one build per device turn)
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self._device_locks: dict[str, _FifoLock] = {}
        self.loads = 0  # base pipelines built (tests and the UI read it)

    # --- bookkeeping ---------------------------------------------------------------------------

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def resident(self) -> list[tuple]:
        """Keys of resident pipelines, least recently used first."""
        with self._lock:
            return list(self._entries)

    def device_lock(self, device: str | None = None) -> _FifoLock:
        with self._lock:
            return self._device_locks.setdefault(device or self.device, _FifoLock())

    def _evict_for(self, incoming: int, keep: tuple | None = None) -> None:
        """Drop least-recently-used idle entries until `incoming` more bytes fit the budget."""
        for key in list(self._entries):
            if self.used_bytes + incoming <= self.budget_bytes:
                break
            entry = self._entries[key]
            if key == keep or entry.users:
                continue
            log.info("pool: evicting %s (%.1f MB)", key[0], entry.nbytes / 2**20)
            del self._entries[key]
            _release(entry.pipe)
        if self.used_bytes + incoming > self.budget_bytes:
            log.warning("pool: %.1f MB over the %.1f MB budget (nothing idle left to evict)",
                        (self.used_bytes + incoming - self.budget_bytes) / 2**20, self.budget_bytes / 2**20)

    # --- getting pipelines ---------------------------------------------------------------------

    def _base_entry(self, ref: ModelRef) -> _Entry:
        key = ref.base_key
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        base_path = ref.base_path if ref.is_addon else ref.path
        pipe = self._loader(base_path, ref, self.dtype)
        self._pending_warning = None
        pipe = self._quantizer(pipe, ref, self.device)
        pipe = pipe.to(self.device)
        entry = _Entry(pipe=pipe, nbytes=pipeline_bytes(pipe), warning=self._pending_warning)
        with self._lock:
            self.loads += 1
            self._evict_for(entry.nbytes)
            self._entries[key] = entry
        return entry

    def _prepare(self, entry: _Entry, ref: ModelRef) -> None:
        """Put the entry's pipeline in the state `ref` needs: its LoRA attached (or none), its embedding loaded."""
        from engine import loading, lora

        pipe = entry.pipe
        changed = False
        loras = ref.loras()
        if loras:
            names = [lora.adapter_name_for(path) for path, _ in loras]
            active = tuple(zip(names, (weight for _, weight in loras)))
            if entry.active != active:
                lora.apply_loras(pipe, loras, names)
                entry.active, changed = active, True
            for name, (path, _) in zip(names, loras):
                entry.adapters[name] = path
                entry.adapters.move_to_end(name)
            while len(entry.adapters) > max(MAX_CACHED_ADAPTERS, len(loras)):  # forget the least recently used
                old, _ = entry.adapters.popitem(last=False)
                lora.remove_lora(pipe, old)
        elif entry.active is not None:
            lora.deactivate_loras(pipe)
            entry.active, changed = None, True
        for path, token in ref.embeddings():
            token = loading.apply_textual_inversion(pipe, path, token)
            if token not in entry.tokens:
                entry.tokens.add(token)
                changed = True
        if changed:
            _clear_kv_caches(pipe)
            with self._lock:
                entry.nbytes = pipeline_bytes(pipe) + _lora_bytes(pipe)

    def _loading_warning(self, text: str) -> None:
        self._pending_warning = text

    def take_warning(self, ref: ModelRef) -> str | None:
        """What loading ref's pipeline warned about, once: the generation that loaded it tells the user."""
        with self._lock:
            entry = self._entries.get(ref.base_key)
            if entry is None:
                return None
            warning, entry.warning = entry.warning, None
            return warning

    def get(self, ref: ModelRef):
        """The pipeline for ref, ready now (no device lock: use session() when generating)."""
        with self.session(ref) as pipe:
            return pipe

    @contextlib.contextmanager
    def session(self, ref: ModelRef):
        """Hold this device's generation turn, and yield ref's pipeline ready to generate with."""
        with self.device_lock():
            entry = self._base_entry(ref)
            with self._lock:
                entry.users += 1
            try:
                self._prepare(entry, ref)
                yield entry.pipe
            finally:
                with self._lock:
                    entry.users -= 1

    def clear(self) -> None:
        """Drop every idle pipeline (e.g. when the budget setting shrinks or the app closes)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if not e.users]:
                _release(self._entries.pop(key).pipe)

    close = clear


def _lora_bytes(pipe) -> int:
    """LoRA factors held beside the pipeline (hooked adapters are not module parameters)."""
    total = 0
    for lora in pipe.__dict__.get("_pq_loras", {}).values():
        for down, up, _scale in lora.factors.values():
            total += down.numel() * down.element_size() + up.numel() * up.element_size()
    return total


def _default_loader(path, ref: ModelRef, dtype):
    from engine.loading import load_base

    return load_base(path, ref.base_model, dtype=dtype, config_dir=ref.config_dir, prediction_type=ref.prediction_type)


def _default_quantizer(pipe, ref: ModelRef, device: str = "cpu", on_warning=None):
    """Apply ref.quant_spec to the UNet via engine/artifacts.py: from the cached artifact of this compute
    dtype when one is valid (quantize-on-import), else quantize now on `device` (calibration runs there:
    an fp16 UNet cannot run on CPU) and save the artifact. 'none' leaves the pipeline as is."""
    if ref.quant_spec in (None, "", "none"):
        return pipe
    from engine.artifacts import quantize_on_import

    source = ref.base_path if ref.is_addon else ref.path
    result = quantize_on_import(source, ref.quant_spec, load_source=lambda: pipe.to(device),
                                dtype=pipe.unet.dtype, device=device)
    if result.unet is not pipe.unet:  # from the artifact: swap the float UNet for the quantized one
        pipe.unet = result.unet
    log.info("pool: %s %s (%.1f s, %s)", ref.quant_spec, source, result.seconds, result.reason)
    if getattr(result, "warning", None):  # e.g. a full cache: quantized in memory, not kept for next time
        log.warning("pool: %s", result.warning)
        if on_warning is not None:
            on_warning(result.warning)
    return pipe


def _clear_kv_caches(pipe) -> None:
    """TAQ caches attn2 K/V per prompt; a LoRA swap changes to_k/to_v, so the cache must go."""
    try:
        from engine.taq import taq_processors
    except ImportError:
        return
    for proc in taq_processors(pipe.unet):
        proc.clear_cache()


def _release(pipe) -> None:
    """Let go of a pipeline's memory now rather than at the next GC cycle."""
    del pipe
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass
