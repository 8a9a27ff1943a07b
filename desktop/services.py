"""The app's one doorway to catalog and engine: plain functions the workers run, no widgets.

Every method that takes `ctx` runs on a worker thread and checks `ctx.check()` between steps.
The catalog store keeps one SQLite connection per thread, so one `Store` serves them all.
Heavy modules (torch, diffusers, llama_cpp) load lazily inside the engine/catalog calls.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from catalog.card import Card
from common import paths
from common.settings import Settings
from desktop.history import GenerationParams

log = logging.getLogger(__name__)

GENERATE_KINDS = ("checkpoint", "diffusers_model", "lora", "textual_inversion")
BASE_KINDS = ("checkpoint", "diffusers_model")
SEARCH_MIN_DENSE = 0.30  # MiniLM cosine below this is "unrelated" for a search box (nonsense scores ~0.25)
SEARCH_KEEP_FRACTION = 0.45


@dataclass
class Selection:
    """What the next generation runs on: a catalog card, or the base model of a family."""

    path: str
    kind: str
    base_model: str
    name: str
    trigger: str | None = None
    preview: str | None = None
    is_base: bool = False

    @classmethod
    def from_card(cls, card: Card) -> "Selection":
        return cls(card.path, card.kind, card.base_model, card.name or Path(card.path).stem,
                   card.canonical_trigger or (card.triggers[0] if card.triggers else None), card.preview)


@dataclass
class GenerationJob:
    selection: Selection
    prompt: str
    params: GenerationParams
    request: str = ""
    negative_prompt: str = ""


@dataclass
class GenerationOutcome:
    image_path: str
    seconds: float
    job: GenerationJob
    extra: dict = field(default_factory=dict)


class NoBaseModel(RuntimeError):
    """A LoRA/embedding or the 'none fits' path needs a base model and none is known for the family."""


def family_of(base_model: str) -> str:
    return base_model if base_model in ("sd15", "sd21", "sdxl") else "sd15"


class Services:
    """Owns the catalog store, the folder watcher and the engine's pipeline cache for one window."""

    def __init__(self, settings: Settings, db_path: str | Path | None = None, use_llm: bool | None = None):
        from catalog.store import Store

        self.settings = settings
        self.db_path = Path(db_path) if db_path else paths.default_db_path()
        self.store = Store(self.db_path)
        self.use_llm = use_llm
        self.watcher = None
        self.device_name = None

    # -- catalog ---------------------------------------------------------------------------
    def cards(self) -> list[Card]:
        return self.store.cards(include_errors=True)

    def index(self, ctx, folders: list[str]):
        """Fast pass: probe new/changed files so the library can show them; (phase, done, total) progress.

        Embeddings (which load torch and the sentence model) are left to `embed`, run after the
        library is on screen, so the first run shows results in about a second.
        """
        from catalog.indexer import index_folders

        def progress(phase, done, total):
            ctx.progress(("index", phase, int(done), int(total)))

        report = index_folders([str(f) for f in folders], self.store, progress=progress, embed=False,
                               should_stop=lambda: ctx.cancelled)
        ctx.check()
        return report

    def embed(self, ctx) -> int:
        """Sentence embeddings of cards whose text changed (dense search); returns how many were encoded."""
        def progress(done, total):
            ctx.check()
            ctx.progress(("index", "embed", int(done), int(total)))

        return self.store.refresh_embeddings(progress=progress)

    def gloss(self, ctx) -> dict:
        """The local LLM reads each new or changed card (seconds per card): its subject, and a plain-English
        line, embedded, when it is not in English; Check-in works meanwhile and asks better once it is done."""
        from checkin.gloss import gloss_library

        def progress(done, total):
            ctx.check()
            ctx.progress(("index", "gloss", int(done), int(total)))

        return gloss_library(self.store, self.settings.llm_model, progress=progress, should_stop=lambda: ctx.cancelled)

    def search_paths(self, ctx, text: str, k: int = 60) -> list[str]:
        """Paths the library should show for a search box text, best first (the catalog's hybrid search)."""
        from checkin.search import search

        found = search(self.store, text, method="hybrid", k=k)
        if not found:
            return []
        top = found[0].score
        # A search box shows what fits, not the whole library re-ordered: a word hit (BM25, name or
        # trigger) or a clearly similar description, and not far below the best one.
        def fits(c) -> bool:
            sig = c.signals
            return sig.get("bm25", 0) > 0 or sig.get("lexical", 0) > 0 or sig.get("dense", c.score) >= SEARCH_MIN_DENSE
        return [c.card.path for c in found if fits(c) and c.score >= SEARCH_KEEP_FRACTION * top]

    def check_in(self, ctx, request: str):
        from checkin.decide import check_in

        return check_in(request, self.store, use_llm=self.llm_enabled(), llm_model=self.settings.llm_model)

    def resolve(self, ctx, result, answer: str):
        from checkin.decide import resolve_clarification

        return resolve_clarification(result, answer, self.store)

    def llm_enabled(self) -> bool:
        if self.use_llm is not None:
            return self.use_llm
        try:
            import importlib.util

            return importlib.util.find_spec("llama_cpp") is not None
        except (ImportError, ValueError):
            return False

    def save_user_edit(self, path: str, triggers: list[str], description: str, tags: list[str]) -> Card | None:
        """Store the user's trigger (first word is canonical), description and tags; returns the merged card."""
        self.store.set_user_edit(path, trigger=triggers[0] if triggers else "", description=description, tags=tags)
        return self.store.get(path)

    def demo_world(self) -> dict:
        """Paths of the demo world (library folder, base model); FileNotFoundError says how to build it."""
        try:
            from demo.build import ASSETS
            from demo.library import world_paths
        except ImportError as exc:
            raise FileNotFoundError(f"the demo package is not available: {exc}") from exc
        world = world_paths(ASSETS)
        if not Path(world["library"]).is_dir():
            raise FileNotFoundError(f"the demo library is not built yet ({world['library']} is missing); "
                                    "build it with `python -m demo.build`")
        out = {k: Path(v) for k, v in world.items()}
        out["family"] = "sd15"
        from demo.world import SIZE

        out["image_size"] = SIZE  # the demo models are trained at this size; bigger images are just slower noise
        if not out["base"].exists():
            out.pop("base")
        return out

    # -- watching --------------------------------------------------------------------------
    def start_watcher(self, folders: list[str], on_change: Callable[..., None]) -> None:
        from catalog.watcher import FolderWatcher

        self.stop_watcher()
        existing = [f for f in folders if Path(f).is_dir()]
        if not existing:
            return
        self.watcher = FolderWatcher(existing, self.store, on_change=on_change)
        self.watcher.start()

    def stop_watcher(self) -> None:
        if self.watcher is not None:
            try:
                self.watcher.stop()
            finally:
                self.watcher = None

    # -- generation ------------------------------------------------------------------------
    def base_selection(self, family: str) -> Selection | None:
        """The base model for a family: from Settings, else a base checkpoint of that family in the library."""
        path = self.settings.base_models.get(family)
        if path:
            card = self.store.get(path)
            kind = card.kind if card else ("diffusers_model" if Path(path).is_dir() else "checkpoint")
            return Selection(path, kind, family, f"{FAMILY_LABEL.get(family, family)} base", None,
                             card.preview if card else None, is_base=True)
        for card in self.store.cards(include_errors=False):
            if card.kind in BASE_KINDS and card.base_model == family and not card.triggers:
                return Selection(card.path, card.kind, family, card.name or Path(card.path).stem, None,
                                 card.preview, is_base=True)
        return None

    def _base_path_for(self, selection: Selection) -> str | None:
        if selection.kind in BASE_KINDS:
            return None
        base = self.base_selection(family_of(selection.base_model))
        if base is None:
            raise NoBaseModel(f"{selection.name} is a {selection.kind} for {selection.base_model}; set its base "
                              "model in Settings → Library → Base models")
        return base.path

    def _config_dir_for(self, selection: Selection) -> str | None:
        """A single-file checkpoint takes its component configs from its family's base when that is a
        diffusers folder (the demo world's DreamBooth files are not SD1.5-sized, so the shipped config won't fit)."""
        if selection.kind != "checkpoint" or selection.is_base:
            return None
        base = self.base_selection(family_of(selection.base_model))
        if base is None or base.path == selection.path or not Path(base.path).is_dir():
            return None
        return base.path

    def _device(self):
        from engine.devices import pick_device

        return pick_device(self.settings.device, self.settings.dtype)

    def pool(self):
        """The process's pipeline pool (one per device, shared by every window; sized by the budget setting)."""
        info = self._device()
        self.device_name = info.device
        with _POOL_LOCK:
            key = (info.device, str(info.dtype))
            pool = _POOLS.get(key)
            if pool is None:
                from engine.pool import PipelinePool

                pool = PipelinePool(int(self.settings.memory_budget_mb) * 2**20, device=info.device,
                                    dtype=info.dtype)
                _POOLS[key] = pool
            pool.budget_bytes = int(self.settings.memory_budget_mb) * 2**20
            return pool

    def quantize(self, ctx, path: str, spec: str) -> str:
        """Quantize-on-import for one checkpoint: builds (or checks) its artifact; returns a status line."""
        from engine.loading import load_base
        from engine.quantize import ArtifactInvalid, artifact_dir, check_artifact, quantize_on_import

        card = self.store.get(path)
        base_model = card.base_model if card else "unknown"
        info = self._device()  # the artifact the pool of this device will load: its dtype, calibrated there
        folder = artifact_dir(path, spec, info.dtype)
        if folder.exists():  # at every start: a valid artifact is "ready" without loading its weights
            try:
                check_artifact(folder, spec, path, verify_hash=False, dtype=info.dtype)
                return f"ready · {spec}"
            except ArtifactInvalid as exc:
                ctx.progress(f"rebuilding: {exc}")
        ctx.check()
        result = quantize_on_import(path, spec,
                                    load_source=lambda: load_base(path, base_model, dtype=info.torch_dtype).to(info.device),
                                    progress=lambda msg: ctx.progress(str(msg)), dtype=info.dtype, device=info.device)
        ctx.check()
        return ("ready (cached)" if result.from_cache else f"quantized in {result.seconds:.1f} s") + f" · {spec}"

    def generate(self, ctx, job: GenerationJob) -> GenerationOutcome:
        """Get the pipeline from the pool, generate with per-step progress (step, total, QImage), save the PNG."""
        from engine.generate import GenerationRequest, generate
        from engine.pool import ModelRef

        sel = job.selection
        ctx.check()
        start = time.perf_counter()
        ref = ModelRef(path=sel.path, kind=sel.kind, base_model=sel.base_model, base_path=self._base_path_for(sel),
                       trigger=sel.trigger if sel.kind == "textual_inversion" else None, quant_spec=job.params.quant_spec,
                       config_dir=self._config_dir_for(sel))
        pool = self.pool()
        ctx.progress(("stage", f"Loading {sel.name}" + (f" ({job.params.quant_spec})" if job.params.quant_spec != "none" else "")
                      + "…"))
        out_dir = paths.outputs_dir() / time.strftime("%Y-%m-%d")
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = unused_path(out_dir / f"{time.strftime('%H%M%S')}-{job.params.seed}-{_slug(sel.name)}.png")
        request = GenerationRequest(
            prompt=job.prompt, negative_prompt=job.negative_prompt, seed=job.params.seed, steps=job.params.steps,
            guidance=job.params.guidance, width=job.params.width, height=job.params.height, trigger=sel.trigger,
            quant_spec=job.params.quant_spec, checkpoint=sel.path, base_model=sel.base_model,
        )

        def on_step(step, total, preview=None):
            ctx.last_step = int(step)
            ctx.progress(("step", int(step), int(total), to_qimage(preview)))

        with pool.session(ref) as pipe:
            ctx.check()
            ctx.progress(("stage", "Generating…"))
            result = generate(pipe, request, on_step=on_step, cancel=ctx.cancel_event, out_path=out_path)
        if result.cancelled:
            ctx.check()
        return GenerationOutcome(str(result.path), time.perf_counter() - start, job,
                                 extra={"steps_done": result.steps_done, "generate_seconds": result.seconds})

    def close(self) -> None:
        self.stop_watcher()
        self.store.close()  # the pipeline pool is the process's; it goes with the process


FAMILY_LABEL = {"sd15": "SD 1.5", "sd21": "SD 2.x", "sdxl": "SDXL"}


_POOLS: dict = {}
_POOL_LOCK = threading.Lock()


def unused_path(path: Path) -> Path:
    """`path`, or `stem-2.png`, `stem-3.png`… if it exists: two images in one second never overwrite each other."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "image"


def to_qimage(preview):
    """A PIL image or HxWx3 uint8 array -> QImage (safe off the GUI thread; QPixmap is not)."""
    if preview is None:
        return None
    from PySide6.QtGui import QImage

    try:
        import numpy as np

        if hasattr(preview, "convert"):  # PIL
            preview = np.asarray(preview.convert("RGB"))
        arr = np.ascontiguousarray(preview)
        if arr.ndim != 3 or arr.shape[2] != 3:
            return None
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).astype(np.uint8) if arr.dtype.kind == "f" else arr.astype(np.uint8)
        h, w, _ = arr.shape
        return QImage(arr.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    except Exception as exc:  # a bad preview must not stop a generation
        log.debug("preview not shown: %s", exc)
        return None
