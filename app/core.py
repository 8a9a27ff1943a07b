"""The application core: every user action (index, Check-in, answer, quantize, generate) as one method
that the window's workers and the CLI both call. Qt-free.

Each method that takes `ctx` (an app.jobs.JobContext) may run on a worker thread and checks
`ctx.check()` between steps. The catalog store keeps one SQLite connection per thread, so one
`Store` serves them all. Heavy modules (torch, diffusers, llama_cpp) load lazily.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from app.generation import (
    FAMILY_LABEL,
    GenerationJob,
    GenerationOutcome,
    NoBaseModel,
    Selection,
    base_selection,
    config_dir_for,
    default_params,
    family_of,
    run_generation,
)
from app.jobs import Counted, Stage
from catalog.card import Card
from common import paths
from common.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["App", "FAMILY_LABEL", "GenerationJob", "GenerationOutcome", "NoBaseModel", "Selection", "family_of"]


class CannotQuantize(ValueError):
    """The path is not something quantize can load (a LoRA, an unreadable file); the message says why."""


# what the CLI says before a Check-in with the LLM on: it joins only for some requests, and it is not quick
LLM_WAIT_NOTICE = ("Checking your library… (the local model joins only for a request not in English or to word a "
                   "question, which can take a minute on a busy CPU; --no-llm skips it)")
SEARCH_MIN_DENSE = 0.30  # MiniLM cosine below this is "unrelated" for a search box (nonsense scores ~0.25)
SEARCH_KEEP_FRACTION = 0.45


class App:
    """Owns the catalog store, the folder watcher and the engine's pipeline pool for one window or command."""

    def __init__(self, settings: Settings, db_path: str | Path | None = None, use_llm: bool | None = None):
        from catalog.store import Store
        from engine.limits import clean_settings

        self.settings = settings
        self.settings_warnings = clean_settings(settings)  # a hand-edited settings.json: one line per value reset
        for line in self.settings_warnings:
            log.warning(line)
        self.db_path = Path(db_path) if db_path else paths.default_db_path()
        self.store = Store(self.db_path)
        self.use_llm = use_llm
        self.watcher = None
        self.device_name = None

    # -- catalog ---------------------------------------------------------------------------
    def cards(self, include_errors: bool = True) -> list[Card]:
        return self.store.cards(include_errors=include_errors)

    def index(self, ctx, folders: list[str], embed: bool = False, compute_hashes: bool = True):
        """Probe new/changed files into the catalog, telling Counted(phase, done, total) progress.

        The window leaves embeddings (torch and the sentence model) to `embed`, run after the library is
        on screen, so the first run shows results in about a second; the CLI embeds in the same pass.
        """
        from catalog.indexer import IndexAborted, index_folders

        def progress(phase, done, total):
            ctx.progress(Counted(phase, int(done), int(total)))

        try:
            report = index_folders([str(f) for f in folders], self.store, progress=progress, embed=embed,
                                   compute_hashes=compute_hashes, should_stop=lambda: ctx.cancelled)
        except IndexAborted as exc:  # disk full, read-only: what was stored stays; the message says why
            log.error("indexing stopped: %s (not stored: %s)", exc, exc.report.not_stored)
            raise
        ctx.check()
        return report

    def embed(self, ctx) -> int:
        """Sentence embeddings of cards whose text changed (dense search); returns how many were encoded."""
        def progress(done, total):
            ctx.check()
            ctx.progress(Counted("embed", int(done), int(total)))

        return self.store.refresh_embeddings(progress=progress)

    def gloss(self, ctx) -> dict:
        """The local LLM reads each new or changed card (seconds per card): its subject, and a plain-English
        line, embedded, when it is not in English; Check-in works meanwhile and asks better once it is done."""
        from checkin.gloss import gloss_library

        def progress(done, total):
            ctx.check()
            ctx.progress(Counted("gloss", int(done), int(total)))

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
            return sig.get("bm25", 0) > 0 or sig.get("dense", c.score) >= SEARCH_MIN_DENSE
        return [c.card.path for c in found if fits(c) and c.score >= SEARCH_KEEP_FRACTION * top]

    def check_in(self, ctx, request: str, today=None, use_llm: bool | None = None):
        """Select / ask / none for a request, with the LLM when it is installed and enabled (or as `use_llm` says)."""
        from checkin.decide import check_in

        llm = self.llm_enabled() if use_llm is None else use_llm and self.llm_enabled()
        return check_in(request, self.store, use_llm=llm, today=today, llm_model=self.settings.llm_model)

    def companions(self, result) -> list[Card]:
        """Add-ons beside a selected result's card: those Check-in read from the request (a style on a
        subject), then any other the request names by trigger."""
        from app.composition import named_companions

        extras = list(getattr(result, "extras", []))
        named = named_companions(result.request, result.card, self.store.cards(include_errors=False))
        return extras + [c for c in named if c.path not in {e.path for e in extras}]

    def selection_for(self, result) -> Selection:
        """What a "selected" Check-in result generates with: its card, the trigger Check-in chose, and its
        companions ("… in tvy style": both go in). The one result -> selection rule of the window, CLI and demo."""
        from app.composition import add_extra

        selection = Selection.from_card(result.card)
        selection.trigger = result.trigger or selection.trigger
        for companion in self.companions(result):
            add_extra(selection, Selection.from_card(companion))
        return selection

    def rewrite(self, request: str, card: Card):
        """The request with this card's trigger inserted (a card chosen by hand rather than by Check-in)."""
        from checkin.rewrite import rewrite_prompt

        return rewrite_prompt(request, card)

    def example_requests(self, n: int = 3) -> list[str]:
        """Requests that fit this library, for the Create page's example buttons ([] for an empty library)."""
        from app.examples import example_requests

        return example_requests(self.store.cards(include_errors=False), n)

    def likely_family(self) -> str:
        """The base family most of the library is for: where a 'nothing fits' request is generated."""
        counts: dict[str, int] = {}
        for card in self.store.cards(include_errors=False):
            counts[card.base_model] = counts.get(card.base_model, 0) + 1
        known = {k: v for k, v in counts.items() if k in FAMILY_LABEL}
        return max(known, key=known.get) if known else "sd15"

    def resolve(self, ctx, result, answer: str):
        from checkin.answer import resolve_clarification

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
        from app.demo_world import demo_world

        return demo_world()

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
        return base_selection(self.settings, self.store, family)

    def default_params(self, selection: Selection, seed: int | None = None, base: str | None = None):
        """Size, steps and guidance the selection's model was made for; a fresh seed unless one is given."""
        return default_params(selection, self.settings, self.store, seed, base)

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
        from engine.artifacts import ArtifactInvalid, artifact_dir, check_artifact

        info = self._device()
        folder = artifact_dir(path, spec, info.dtype)
        if folder.exists():  # at every start: a valid artifact is "ready" without loading its weights
            try:
                check_artifact(folder, spec, path, verify_hash=False, dtype=info.dtype)
                return f"ready · {spec}"
            except ArtifactInvalid as exc:
                ctx.progress(Stage(f"rebuilding: {exc}"))
        ctx.check()
        result, _ = self.quantize_model(ctx, path, spec)
        ctx.check()
        line = ("ready (cached)" if result.from_cache else f"quantized in {result.seconds:.1f} s") + f" · {spec}"
        return f"{line} · {result.warning}" if getattr(result, "warning", None) else line

    def quantize_model(self, ctx, path: str, spec: str, base: str | None = None, force: bool = False):
        """Quantize-on-import of a checkpoint file or diffusers folder, loaded exactly as generate loads it
        (its family's diffusers base gives a single file its configs, or `base`); (ImportResult, DeviceInfo).
        CannotQuantize names a path that is not a model this can load."""
        from app.generation import card_for_path
        from engine.artifacts import quantize_on_import
        from engine.loading import load_base

        card = self.store.get(str(Path(path).resolve())) or card_for_path(path, self.store)
        if card.error:
            raise CannotQuantize(f"cannot read {path}: {card.error}")
        if card.kind not in ("checkpoint", "diffusers_model"):
            raise CannotQuantize(f"{path} is a {card.kind}, not a checkpoint: quantize its base model instead")
        if base is not None and not (Path(base) / "model_index.json").is_file():
            raise CannotQuantize(f"--base {base} is not a diffusers folder (no model_index.json)")
        config_dir = base or config_dir_for(Selection.from_card(card), self.settings, self.store)
        info = self._device()  # the artifact the pool of this device will load: its dtype, calibrated there
        result = quantize_on_import(
            path, spec, force=force, dtype=info.dtype, device=info.device, progress=lambda msg: ctx.progress(Stage(str(msg))),
            load_source=lambda: load_base(path, card.base_model, dtype=info.torch_dtype, config_dir=config_dir,
                                          prediction_type=card.prediction_type).to(info.device))
        return result, info

    def generate(self, ctx, job: GenerationJob, base: str | None = None, preview=None) -> GenerationOutcome:
        """Get the pipeline from the pool, generate with per-step progress, save the PNG with its parameters."""
        return run_generation(ctx, job, self.settings, self.store, self.pool(), base=base, preview=preview)

    def close(self) -> None:
        self.stop_watcher()
        self.store.close()  # the pipeline pool is the process's; it goes with the process

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_POOLS: dict = {}
_POOL_LOCK = threading.Lock()
