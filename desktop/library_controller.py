"""The Library side of the window: first run, indexing, embeddings, glosses, the folder watcher,
search, user edits and quantize-on-import. A QObject that drives the window's library widgets
and runs every long step in a worker through the application core."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from app.jobs import Counted
from catalog.store import StoreError
from desktop.quant_queue import QuantizeQueue
from desktop.workers import WindowController

log = logging.getLogger(__name__)
RELOAD_DELAY_MS = 150
INDEX_PHASES = {"scan": "Looking for model files…", "index": "Reading checkpoints…",
                "hash": "Checking for duplicate files…", "embed": "Preparing search…",
                "gloss": "Reading cards with the local model…"}


class _Bridge(QObject):
    """Carries watcher callbacks (another thread) into the GUI thread."""

    changed = Signal()


class LibraryController(WindowController):
    def __init__(self, window):
        super().__init__(window)
        self.index_worker = None
        self.embed_worker = None
        self.gloss_worker = None
        self.search_worker = None
        self.embeddings_ready = False
        self._embed_again = False
        self._embed_retried = False
        self.quant_queue = QuantizeQueue(self.workers, self._quantize_fn, self)
        self.quant_queue.status_changed.connect(self._quant_status)
        self._bridge = _Bridge()
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload_library)
        self._bridge.changed.connect(self._reload_timer.start)
        self._reload_timer.timeout.connect(self.start_embedding)

    def stop(self) -> None:
        """Before closing: no more reloads, no more quantization."""
        self._reload_timer.stop()
        self.quant_queue.cancel_all()
        self.core.stop_watcher()


    def _library_folders(self) -> list[str]:
        folders = list(self.settings.folders)
        if self.settings.use_demo_library:
            demo = self._demo_folder()
            if demo and demo not in folders:
                folders.append(demo)
        return folders

    def _demo_folder(self) -> str | None:
        try:
            return str(self.core.demo_world()["library"])
        except FileNotFoundError:
            return None

    def first_run_folders(self, folders: list[str]) -> None:
        missing = [f for f in folders if not Path(f).is_dir()]
        if missing:
            self.w.welcome.show_choose(f"Folder not found: {missing[0]}")
            return
        self.settings.folders = list(dict.fromkeys(self.settings.folders + folders))
        self.start_index(self._library_folders(), first_run=True)

    def first_run_demo(self) -> None:
        """Use the demo world shipped with the app: its library is indexed like any folder."""
        try:
            world = self.core.demo_world()
        except FileNotFoundError as exc:
            self.w.welcome.show_choose(str(exc))
            return
        self.settings.use_demo_library = True
        base = world.get("base")
        if base and not self.settings.base_models.get(world.get("family", "sd15")):
            self.settings.base_models[world.get("family", "sd15")] = str(base)
        self.start_index(self._library_folders(), first_run=True)

    def start_index(self, folders: list[str], first_run: bool = False) -> None:
        """Index in a worker; the first run shows the welcome progress, later runs the status bar."""
        if self.index_worker is not None:
            self.index_worker.cancel()
        if first_run:
            self.w.welcome.show_indexing()
        self.w.status_label.setText("Reading your checkpoint folders…")
        worker = self.workers.submit(
            "index", self.core.index, folders,
            on_progress=self._index_progress,
            on_finished=lambda report, fr=first_run, fo=folders: self._index_done(report, fr, fo),
            on_failed=lambda msg, fr=first_run: self._index_failed(msg, fr),
        )
        self.index_worker = worker

    def _index_progress(self, event) -> None:
        if not isinstance(event, Counted):
            return
        phase, done, total = event.phase, event.done, event.total
        text = INDEX_PHASES.get(phase, phase)
        self.w.welcome.set_progress(phase, done, total, text)
        self.w.status_label.setText(f"{text} {done} of {total}" if total else f"{text} {done}")

    def _index_done(self, report, first_run: bool, folders: list[str]) -> None:
        self.index_worker = None
        if first_run:
            self.settings.first_run_done = True
            self.w._save_settings()
            self.w.show_main()
            self.w.go("library")
        self.reload_library()
        n = self.w.library_model.total()
        self.w.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")
        self._start_watcher(folders)
        if self.w.auto_quantize:
            self._queue_quantization()
        self.start_embedding()

    def start_embedding(self) -> None:
        """Dense-search embeddings after the fast index, so the library shows before torch loads."""
        if self.embed_worker is not None:
            self._embed_again = True
            return
        self._embed_again = False
        self.embed_worker = self.workers.submit(
            "embed", self.core.embed, on_progress=self._index_progress,
            on_finished=lambda n: self._embed_done(n, None), on_failed=lambda msg: self._embed_done(0, msg))

    def _embed_done(self, count: int, error: str | None) -> None:
        self.embed_worker = None
        if self._embed_again and not self.w._closing:
            self.start_embedding()
            return
        if error and not self._embed_retried and not self.w._closing:  # a busy machine or a load race: once more
            self._embed_retried = True
            log.warning("embedding failed, retrying once: %s", error)
            self.start_embedding()
            return
        self.w.create.resume_pending_checkin()
        self.embeddings_ready = error is None
        n = self.w.library_model.total()
        if error:  # one plain sentence; the cause is in the log
            log.error("search by meaning is off: %s", error)
            self.w.library_page.banner.show_message("Search by meaning is off; word search still works. "
                                                    "Details are in the log file.", "error")
        self.w.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")
        if error is None:
            self.start_glossing()

    def start_glossing(self) -> None:
        """Once search works: the local LLM reads new cards in the background (seconds per card)."""
        if self.gloss_worker is not None or self.w._closing or not self.core.llm_enabled():
            return
        self.gloss_worker = self.workers.submit(
            "gloss", self.core.gloss, on_progress=self._index_progress,
            on_finished=lambda report: self._gloss_done(None), on_failed=self._gloss_done)

    def _gloss_done(self, error: str | None) -> None:
        self.gloss_worker = None
        if error:  # search works without glosses; say so quietly
            log.warning("cards not glossed: %s", error)
        n = self.w.library_model.total()
        self.w.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")

    def _index_failed(self, message: str, first_run: bool) -> None:
        self.index_worker = None
        if first_run:
            self.w.welcome.show_choose(f"Indexing failed: {message}")
        else:
            self.w.library_page.banner.show_message(f"Indexing failed: {message}", "error")
        self.w.status_label.setText("Indexing failed")

    def _start_watcher(self, folders: list[str]) -> None:
        try:
            self.core.start_watcher(folders, lambda *args, **kw: self._bridge.changed.emit())
        except OSError as exc:  # the system's limit on watched folders (inotify), a folder gone meanwhile
            self.w.library_page.banner.show_message(f"Cannot watch the folders for new files: {exc}", "error")
            self.w.watch_label.setText("")
            return
        n = len([f for f in folders if Path(f).is_dir()])
        self.w.watch_label.setText(f"Watching {n} folder{'s' * (n != 1)}" if n else "")

    def reload_library(self) -> None:
        """Re-read the cards from the store (after indexing or a watcher event), keeping search and selection."""
        before = {c.path for c in self.w.library_model.cards()}
        cards = self.core.cards()
        self.w.library_model.set_cards(cards)
        self.w.library_page.set_broken([c for c in cards if c.error])
        self.w.request_panel.set_examples(self.core.example_requests())
        text = self.w.library_page.search.text().strip()
        if text:
            self.run_search(text)
        self.w.library_page.refresh_state()
        new = [c for c in cards if not c.error and c.path not in before]
        if before and new and self.w.auto_quantize:
            self._queue_quantization(new)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Add a checkpoint folder")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        self.settings.folders = list(dict.fromkeys(self.settings.folders + folders))
        self.w._save_settings()
        self.start_index(self._library_folders())

    def run_search(self, text: str) -> None:
        if self.search_worker is not None:
            self.search_worker.cancel()
        if not text:
            self.w.library_model.set_filter(None)
            return
        self.search_worker = self.workers.submit(
            "search", self.core.search_paths, text,
            on_finished=lambda paths, t=text: self._search_done(t, paths),
            on_failed=lambda msg: self.w.library_page.banner.show_message(f"Search failed: {msg}", "error"),
        )

    def _search_done(self, text: str, paths: list[str]) -> None:
        if text != self.w.library_page.search.text().strip():
            return  # an older search finished after a newer one started
        self.w.library_model.set_filter(paths)

    def save_edits(self, path: str, triggers: list, description: str, tags: list) -> None:
        try:
            card = self.core.save_user_edit(path, triggers, description, tags)
        except (StoreError, sqlite3.Error) as exc:  # a full disk, a read-only or locked catalog
            self.w.library_page.banner.show_message(f"Could not save your edits to {path}: {exc}", "error")
            return
        self.reload_library()
        if card is not None:
            self.w.library_page.detail.show_card(self.w.library_model.card(path) or card,
                                               self.w.library_model.quant_status(path))
        self.w.library_page.detail.mark_saved()

    def _queue_quantization(self, cards=None) -> None:
        cards = cards if cards is not None else self.w.library_model.cards()
        for card in cards:
            if card.kind in ("checkpoint", "diffusers_model") and not card.error:
                self.quant_queue.enqueue(card.path, self.settings.quant_spec)

    def _quantize_fn(self, ctx, path: str, spec: str):
        return self.core.quantize(ctx, path, spec)

    def _quant_status(self, path: str, status: str, detail: str) -> None:
        self.w.library_model.set_quant_status(path, status, detail)
        counts = self.quant_queue.counts()
        active = counts.get("queued", 0) + counts.get("running", 0)
        failed = counts.get("failed", 0)
        if active:
            current = self.quant_queue.current_path
            name = Path(current).stem if current else ""
            self.w.quant_label.setText(f"Quantizing {name}… ({active} left)")
            self.w.quant_bar.show()
            self.w.quant_box.show()
        elif failed:
            self.w.quant_label.setText(f"{failed} quantization{'s' * (failed != 1)} failed — see Library")
            self.w.quant_bar.hide()
            self.w.quant_box.show()
        else:
            self.w.quant_box.hide()
