"""The main window: first run, then Create / Library / History pages, all long work in workers.

The window holds the state (settings, the request flow, the current selection) and wires
widgets to the application core (`app.core.App`) through `WorkerPool`; widgets only emit what the user did.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from common.settings import Settings, load_settings, save_settings
from desktop import flow as F
from desktop import theme
from desktop.common_widgets import label
from desktop.gallery import GalleryPage
from desktop.generation_panel import GenerationPanel
from app.history import GenerationParams
from app.history import History, HistoryEntry
from desktop.library_view import LibraryPage
from desktop.models import HistoryModel, LibraryModel, card_display_name
from desktop.quant_queue import QuantizeQueue
from desktop.request_panel import RequestPanel
from app.core import App
from app.generation import GenerationJob, Selection
from desktop.images import to_qimage
from desktop.settings_dialog import SettingsDialog
from desktop.welcome import WelcomePage
from desktop.workers import Worker, WorkerPool

log = logging.getLogger(__name__)
PAGES = ("create", "library", "history")
RELOAD_DELAY_MS = 150
INDEX_PHASES = {"scan": "Looking for model files…", "index": "Reading checkpoints…",
                "hash": "Checking for duplicate files…", "embed": "Preparing search…",
                "gloss": "Reading cards with the local model…"}


class _Bridge(QObject):
    """Carries watcher callbacks (another thread) into the GUI thread."""

    changed = Signal()


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, core: App | None = None,
                 use_llm: bool | None = None, auto_quantize: bool = True, persist_settings: bool = True):
        super().__init__()
        self.settings = settings or load_settings()
        self.persist_settings = persist_settings
        self.core = core or App(self.settings, use_llm=use_llm)
        self.auto_quantize = auto_quantize
        self.workers = WorkerPool(self)
        self.flow = F.RequestFlow()
        self.checkin_result = None
        self.selection: Selection | None = None
        self.index_worker: Worker | None = None
        self.checkin_worker: Worker | None = None
        self.gen_worker: Worker | None = None
        self.refine_worker: Worker | None = None
        self.search_worker: Worker | None = None
        self.embed_worker: Worker | None = None
        self.gloss_worker: Worker | None = None
        self.embeddings_ready = False
        self._embed_again = False
        self._pending_checkin = None
        self.last_outcome = None
        self.history = History()
        self.library_model = LibraryModel(self)
        self.history_model = HistoryModel(self)
        self.quant_queue = QuantizeQueue(self.workers, self._quantize_fn, self)
        self.quant_queue.status_changed.connect(self._quant_status)
        self._bridge = _Bridge()
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload_library)
        self._bridge.changed.connect(self._reload_timer.start)
        self._reload_timer.timeout.connect(self.start_embedding)
        self._closing = False

        self.setWindowTitle("PersonalQ")
        self.setWindowIcon(theme.app_icon())
        self.resize(1280, 820)
        self._build()
        self.library_page.detail.quant_errors = self.quant_queue.errors
        self.history_model.set_entries(self.history.entries())
        if self.settings.first_run_done and (self.settings.folders or self.settings.use_demo_library):
            self.show_main()
            self.reload_library()
            self.start_index(self._library_folders(), first_run=False)
        else:
            self.root.setCurrentWidget(self.welcome)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.root = QStackedWidget()
        self.setCentralWidget(self.root)
        self.welcome = WelcomePage()
        self.welcome.start_requested.connect(self.first_run_folders)
        self.welcome.demo_requested.connect(self.first_run_demo)
        self.root.addWidget(self.welcome)

        main = QWidget()
        row = QHBoxLayout(main)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        side = QWidget()
        side.setFixedWidth(190)
        side.setObjectName("sidebar")
        side.setStyleSheet("QWidget#sidebar { background: palette(alternate-base); border-right: 1px solid palette(mid); }")
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 16, 0, 12)
        sl.setSpacing(8)
        brand = QHBoxLayout()
        brand.setContentsMargins(16, 0, 12, 8)
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(QSize(28, 28)))
        brand.addWidget(logo)
        brand.addWidget(label("PersonalQ", subheading=True))
        brand.addStretch(1)
        sl.addLayout(brand)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(20, 20))
        for key, text in (("create", "Create"), ("library", "Library"), ("history", "History")):
            item = QListWidgetItem(theme.drawn_icon(key, 40), text)
            item.setData(Qt.UserRole, key)
            self.nav.addItem(item)
        sl.addWidget(self.nav, 1)
        self.quant_box = QWidget()
        ql = QVBoxLayout(self.quant_box)
        ql.setContentsMargins(14, 0, 14, 0)
        ql.setSpacing(4)
        self.quant_label = label("", muted=True, wrap=True)
        self.quant_bar = QProgressBar()
        self.quant_bar.setRange(0, 0)
        self.quant_bar.setTextVisible(False)
        self.quant_bar.setFixedHeight(6)
        ql.addWidget(self.quant_label)
        ql.addWidget(self.quant_bar)
        self.quant_box.hide()
        sl.addWidget(self.quant_box)
        self.settings_button = QPushButton(theme.drawn_icon("settings", 32), "Settings")
        self.settings_button.setFlat(True)
        self.settings_button.setStyleSheet("QPushButton { text-align: left; padding: 8px 18px; border: none; }")
        self.settings_button.clicked.connect(self.open_settings)
        sl.addWidget(self.settings_button)
        row.addWidget(side)

        self.pages = QStackedWidget()
        row.addWidget(self.pages, 1)
        self.root.addWidget(main)
        self.main_area = main

        # Create
        create = QWidget()
        cl = QVBoxLayout(create)
        cl.setContentsMargins(24, 12, 24, 12)  # fits a 1024×640 screen without scrolling
        cl.setSpacing(10)
        self.request_panel = RequestPanel()
        self.request_panel.submitted.connect(self.submit_request)
        self.request_panel.answered.connect(self.answer_clarification)
        self.request_panel.use_base_requested.connect(self.use_base_model)
        self.request_panel.generate_requested.connect(self.start_generation)
        cl.addWidget(self.request_panel)
        self.generation_panel = GenerationPanel(self.settings)
        self.generation_panel.cancel_requested.connect(self.cancel_generation)
        self.generation_panel.open_folder_requested.connect(self.open_folder)
        cl.addWidget(self.generation_panel, 1)
        create_scroll = QScrollArea()  # small screens scroll instead of squeezing the panels
        create_scroll.setWidgetResizable(True)
        create_scroll.setFrameShape(QScrollArea.NoFrame)
        create_scroll.setWidget(create)
        self.pages.addWidget(create_scroll)

        # Library
        self.library_page = LibraryPage(self.library_model)
        self.library_page.search_changed.connect(self.run_search)
        self.library_page.add_folder_requested.connect(self.add_folder)
        self.library_page.detail.save_requested.connect(self.save_edits)
        self.library_page.detail.quantize_requested.connect(
            lambda path: self.quant_queue.retry(path, self.settings.quant_spec))
        self.library_page.detail.use_requested.connect(self.use_card)
        self.pages.addWidget(self.library_page)

        # History
        self.gallery = GalleryPage(self.history_model)
        self.gallery.rerun_requested.connect(self.rerun)
        self.gallery.open_folder_requested.connect(self.open_folder)
        self.pages.addWidget(self.gallery)

        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.nav.setCurrentRow(0)

        self.status_label = label("", muted=True)
        self.statusBar().addWidget(self.status_label, 1)
        self.watch_label = label("", muted=True)
        self.statusBar().addPermanentWidget(self.watch_label)
        self.statusBar().setSizeGripEnabled(False)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=lambda: (self.go("library"), self.library_page.search.setFocus()))
        QShortcut(QKeySequence("Ctrl+N"), self, activated=lambda: (self.go("create"), self.request_panel.input.setFocus()))

    def go(self, page: str) -> None:
        self.nav.setCurrentRow(PAGES.index(page))

    def show_main(self) -> None:
        self.root.setCurrentWidget(self.main_area)

    # ------------------------------------------------------------------ first run + indexing
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
            self.welcome.show_choose(f"Folder not found: {missing[0]}")
            return
        self.settings.folders = list(dict.fromkeys(self.settings.folders + folders))
        self.start_index(self._library_folders(), first_run=True)

    def first_run_demo(self) -> None:
        """Use the demo world shipped with the app: its library is indexed like any folder."""
        try:
            world = self.core.demo_world()
        except FileNotFoundError as exc:
            self.welcome.show_choose(str(exc))
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
            self.welcome.show_indexing()
        self.status_label.setText("Reading your checkpoint folders…")
        worker = self.workers.submit(
            "index", self.core.index, folders,
            on_progress=self._index_progress,
            on_finished=lambda report, fr=first_run, fo=folders: self._index_done(report, fr, fo),
            on_failed=lambda msg, fr=first_run: self._index_failed(msg, fr),
        )
        self.index_worker = worker

    def _index_progress(self, payload) -> None:
        if not isinstance(payload, tuple) or payload[0] != "index":
            return
        _, phase, done, total = payload
        text = INDEX_PHASES.get(phase, phase)
        self.welcome.set_progress(phase, done, total, text)
        self.status_label.setText(f"{text} {done} of {total}" if total else f"{text} {done}")

    def _index_done(self, report, first_run: bool, folders: list[str]) -> None:
        self.index_worker = None
        if first_run:
            self.settings.first_run_done = True
            self._save_settings()
            self.show_main()
            self.go("library")
        self.reload_library()
        n = self.library_model.total()
        self.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")
        self._start_watcher(folders)
        if self.auto_quantize:
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
        if self._embed_again and not self._closing:
            self.start_embedding()
            return
        if self._pending_checkin is not None:
            name, fn, args = self._pending_checkin
            self._start_checkin(name, fn, *args)
        self.embeddings_ready = error is None
        n = self.library_model.total()
        if error:
            self.library_page.banner.show_message(f"Search by meaning is off ({error}); word search still works.",
                                                  "error")
        self.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")
        if error is None:
            self.start_glossing()

    def start_glossing(self) -> None:
        """Once search works: the local LLM reads new cards in the background (seconds per card)."""
        if self.gloss_worker is not None or self._closing or not self.core.llm_enabled():
            return
        self.gloss_worker = self.workers.submit(
            "gloss", self.core.gloss, on_progress=self._index_progress,
            on_finished=lambda report: self._gloss_done(None), on_failed=self._gloss_done)

    def _gloss_done(self, error: str | None) -> None:
        self.gloss_worker = None
        if error:  # search works without glosses; say so quietly
            log.warning("cards not glossed: %s", error)
        n = self.library_model.total()
        self.status_label.setText(f"{n} checkpoint{'s' * (n != 1)} in your library")

    def _index_failed(self, message: str, first_run: bool) -> None:
        self.index_worker = None
        if first_run:
            self.welcome.show_choose(f"Indexing failed: {message}")
        else:
            self.library_page.banner.show_message(f"Indexing failed: {message}", "error")
        self.status_label.setText("Indexing failed")

    def _start_watcher(self, folders: list[str]) -> None:
        try:
            self.core.start_watcher(folders, lambda *args, **kw: self._bridge.changed.emit())
        except Exception as exc:
            self.library_page.banner.show_message(f"Cannot watch the folders for new files: {exc}", "error")
            self.watch_label.setText("")
            return
        n = len([f for f in folders if Path(f).is_dir()])
        self.watch_label.setText(f"Watching {n} folder{'s' * (n != 1)}" if n else "")

    def reload_library(self) -> None:
        """Re-read the cards from the store (after indexing or a watcher event), keeping search and selection."""
        before = {c.path for c in self.library_model.cards()}
        cards = self.core.cards()
        self.library_model.set_cards(cards)
        self.library_page.set_broken([c for c in cards if c.error])
        self.request_panel.set_examples(self.core.example_requests())
        text = self.library_page.search.text().strip()
        if text:
            self.run_search(text)
        self.library_page.refresh_state()
        new = [c for c in cards if not c.error and c.path not in before]
        if before and new and self.auto_quantize:
            self._queue_quantization(new)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a checkpoint folder")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        self.settings.folders = list(dict.fromkeys(self.settings.folders + folders))
        self._save_settings()
        self.start_index(self._library_folders())

    # ------------------------------------------------------------------ search + edits
    def run_search(self, text: str) -> None:
        if self.search_worker is not None:
            self.search_worker.cancel()
        if not text:
            self.library_model.set_filter(None)
            return
        self.search_worker = self.workers.submit(
            "search", self.core.search_paths, text,
            on_finished=lambda paths, t=text: self._search_done(t, paths),
            on_failed=lambda msg: self.library_page.banner.show_message(f"Search failed: {msg}", "error"),
        )

    def _search_done(self, text: str, paths: list[str]) -> None:
        if text != self.library_page.search.text().strip():
            return  # an older search finished after a newer one started
        self.library_model.set_filter(paths)

    def save_edits(self, path: str, triggers: list, description: str, tags: list) -> None:
        try:
            card = self.core.save_user_edit(path, triggers, description, tags)
        except Exception as exc:
            self.library_page.banner.show_message(f"Could not save your edits to {path}: {exc}", "error")
            return
        self.reload_library()
        if card is not None:
            self.library_page.detail.show_card(self.library_model.card(path) or card,
                                               self.library_model.quant_status(path))
        self.library_page.detail.mark_saved()

    # ------------------------------------------------------------------ request flow
    def submit_request(self, text: str) -> None:
        if self.flow.state == F.GENERATING:
            self.request_panel.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return
        if self.checkin_worker is not None:
            self.checkin_worker.cancel()
        if self.refine_worker is not None:
            self.refine_worker.cancel()
            self.refine_worker = None
        self.request_panel.refine_note.hide()
        self.flow.request = text
        self.flow.fire("submit")
        self.generation_panel.show_idle()  # the last image belongs to the last request, not to the next pick
        self.request_panel.banner.hide()
        self.request_panel.show_page("checking")
        self.request_panel.set_busy(True)
        # retrieval answers at once; the local LLM refines that answer in the background when it is on
        self._start_checkin("check-in", lambda ctx, t: self.core.check_in(ctx, t, use_llm=False), text)

    def answer_clarification(self, answer: str) -> None:
        if self.checkin_result is None or not self.flow.can("answer"):
            return
        self.flow.fire("answer")
        self.request_panel.show_page("checking")
        self.request_panel.set_busy(True)
        self._start_checkin("clarify", self.core.resolve, self.checkin_result, answer)

    def _start_checkin(self, name: str, fn, *args) -> None:
        """Run Check-in (or its clarification) in a worker; a newer request makes older answers stale.

        While the library's embeddings are still being computed, Check-in waits for them: without
        them it would judge on words alone and say "none" where the meaning fits.
        """
        if self.embed_worker is not None:
            self._pending_checkin = (name, fn, args)
            self.request_panel.checking_label.setText("Preparing search over your library (first time only)…")
            return
        self._pending_checkin = None
        self.request_panel.checking_label.setText("Reading your request and searching the library…")
        holder: list = []

        def current() -> bool:
            return bool(holder) and holder[0] is self.checkin_worker

        holder.append(self.workers.submit(
            name, fn, *args,
            on_finished=lambda result: current() and self._checkin_done(result, refine=name == "check-in"),
            on_failed=lambda message: current() and self._checkin_failed(message)))
        self.checkin_worker = holder[0]

    def _start_refine(self, request: str) -> None:
        """The local LLM reads the request (other languages, negations) while the retrieval answer is on screen."""
        if not self.core.llm_enabled():
            return
        self.request_panel.refine_note.setText("The local model is reading your request…")
        self.request_panel.refine_note.show()
        holder: list = []

        def current() -> bool:
            return bool(holder) and holder[0] is self.refine_worker and self.flow.request == request

        def finished(result) -> None:
            if current():
                self._refine_done(result)

        def failed(message: str) -> None:
            if current():
                self.refine_worker = None
                log.warning("LLM refinement failed: %s", message)
                self.request_panel.refine_note.setText("The local model gave up; this is the search's answer.")

        holder.append(self.workers.submit("check-in-llm", lambda ctx, t: self.core.check_in(ctx, t, use_llm=True),
                                          request, on_finished=finished, on_failed=failed))
        self.refine_worker = holder[0]

    def _refine_done(self, result) -> None:
        self.refine_worker = None
        self.request_panel.refine_note.hide()
        if self.flow.state not in ("selected", "clarify", "none") or not self.flow.can("refine"):
            return  # the user moved on (generating, answered): their step wins
        before = self.checkin_result
        if before is not None and _same_decision(before, result) and not result.restated:
            return
        self.flow.fire("refine", result.status)
        self._show_checkin(result)

    def _checkin_done(self, result, refine: bool = False) -> None:
        self.checkin_worker = None
        self.request_panel.set_busy(False)
        self.flow.fire("result", result.status)
        self._show_checkin(result)
        if refine:
            self._start_refine(self.flow.request)

    def _show_checkin(self, result) -> None:
        self.checkin_result = result
        status = result.status
        if status == "selected":
            card = result.card
            self.selection = Selection.from_card(card)
            if result.trigger:
                self.selection.trigger = result.trigger
            caption = f"Read as “{result.restated}”. Check-in chose" if result.restated else "Check-in chose"
            self._use_model_defaults()
            self.request_panel.show_selected(card_display_name(card), card.preview, card.kind, card.base_model,
                                             self.selection.trigger, result.prompt or self.flow.request, caption)
        elif status == "clarify":
            names = result.option_names or [_option_name(o) for o in result.options]
            options = [(name, card.path) for name, card in zip(names, result.options)]
            self.request_panel.show_clarify(result.question or "Which one did you mean?", options)
        else:
            family = self._likely_family()
            base = self.core.base_selection(family)
            read_as = f" (read as “{result.restated}”)" if result.restated else ""
            self.request_panel.show_none(f"Nothing in your library fits this request{read_as}.", base is not None,
                                         f"You can still make it with the {base.name}." if base else "")

    def _checkin_failed(self, message: str) -> None:
        self.checkin_worker = None
        self.request_panel.set_busy(False)
        self.flow.fire("fail", message)
        self.request_panel.show_page("hint")
        self.request_panel.banner.show_message(f"Check-in failed: {message}", "error")

    def _likely_family(self) -> str:
        counts: dict[str, int] = {}
        for card in self.library_model.cards():
            counts[card.base_model] = counts.get(card.base_model, 0) + 1
        known = {k: v for k, v in counts.items() if k in ("sd15", "sd21", "sdxl")}
        return max(known, key=known.get) if known else "sd15"

    def use_base_model(self) -> None:
        base = self.core.base_selection(self._likely_family())
        if base is None:
            self.request_panel.banner.show_message("No base model is set up. Choose one in Settings → Library.", "error")
            return
        self.flow.fire("use_base")
        self.selection = base
        self._use_model_defaults()
        self.request_panel.show_selected(base.name, base.preview, base.kind, base.base_model, None,
                                         self.flow.request, caption="Base model, no personalization")

    def use_card(self, path: str) -> None:
        """From the library: generate with this card directly (skips Check-in)."""
        card = self.library_model.card(path)
        if card is None:
            return
        if not self.flow.can("choose"):
            self.library_page.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return
        self.selection = Selection.from_card(card)
        self._use_model_defaults()
        self.flow.request = self.request_panel.input.text().strip()
        self.flow.fire("choose")
        prompt = self.flow.request or (self.selection.trigger or "")
        if self.flow.request:
            prompt = self.core.rewrite(self.flow.request, card).prompt
        self.request_panel.show_selected(card_display_name(card), card.preview, card.kind, card.base_model,
                                         self.selection.trigger, prompt, caption="You chose")
        self.go("create")

    # ------------------------------------------------------------------ generation
    def _use_model_defaults(self) -> None:
        """The size, steps and guidance the chosen model was made for (the demo's: 32×32)."""
        try:
            self.generation_panel.use_model_defaults(self.core.default_params(self.selection))
        except Exception as exc:  # a file that vanished: keep the panel as it is
            log.warning("no model defaults for %s: %s", self.selection.path if self.selection else None, exc)

    def start_generation(self, prompt: str, params: GenerationParams | None = None) -> None:
        if self.selection is None or not prompt:
            self.request_panel.banner.show_message("Type a request first.", "info")
            return
        if not self.flow.can("generate"):
            return
        params = params or self.generation_panel.params()
        job = GenerationJob(self.selection, prompt, params, request=self.flow.request)
        self.flow.fire("generate")
        self.request_panel.generate_button.setEnabled(False)
        self.request_panel.banner.hide()
        self.generation_panel.show_started()
        self.gen_worker = self.workers.submit(
            "generate", lambda ctx, j: self.core.generate(ctx, j, preview=to_qimage), job,
            on_progress=self._gen_progress, on_finished=self._gen_done,
            on_failed=self._gen_failed, on_cancelled=self._gen_cancelled)

    def cancel_generation(self) -> None:
        if self.gen_worker is not None:
            self.gen_worker.cancel()

    def _gen_progress(self, payload) -> None:
        if payload[0] == "stage":
            self.generation_panel.show_stage(payload[1])
        elif payload[0] == "step":
            _, step, total, preview = payload
            self.generation_panel.show_step(step, total, preview)

    def _gen_done(self, outcome) -> None:
        self.gen_worker = None
        self.last_outcome = outcome
        self.flow.fire("generated")
        self.request_panel.generate_button.setEnabled(True)
        job = outcome.job
        entry = HistoryEntry(prompt=job.prompt, params=job.params, image_path=outcome.image_path,
                             request=job.request, checkpoint=job.selection.path,
                             checkpoint_name=job.selection.name, trigger=job.selection.trigger,
                             seconds=outcome.seconds, extra={"kind": job.selection.kind,
                                                             "base_model": job.selection.base_model,
                                                             "is_base": job.selection.is_base, **outcome.extra})
        try:
            self.history.add(entry)
            self.history_model.prepend(entry)
        except Exception as exc:
            self.request_panel.banner.show_message(f"The image was saved but not added to the history: {exc}", "error")
        self.generation_panel.show_done(outcome.image_path, outcome.seconds)
        self.status_label.setText(f"Saved {outcome.image_path}")

    def _gen_failed(self, message: str) -> None:
        self.gen_worker = None
        self.flow.fire("fail", message)
        self.request_panel.generate_button.setEnabled(True)
        self.generation_panel.show_failed(message)
        self.request_panel.banner.show_message(f"Generation failed: {message}", "error")

    def _gen_cancelled(self) -> None:
        self.gen_worker = None
        self.flow.fire("cancelled")
        self.request_panel.generate_button.setEnabled(True)
        self.generation_panel.show_cancelled()

    def rerun(self, entry: HistoryEntry) -> None:
        if not self.flow.can("choose"):
            self.request_panel.banner.show_message("Wait for the current image, or cancel it first.", "info")
            return
        extra = entry.extra or {}
        if entry.checkpoint:
            card = self.library_model.card(entry.checkpoint)
            self.selection = Selection.from_card(card) if card else Selection(
                entry.checkpoint, extra.get("kind", "checkpoint"), extra.get("base_model", "sd15"),
                entry.checkpoint_name, entry.trigger, None, bool(extra.get("is_base")))
        params = entry.params
        self.generation_panel.set_params(params)
        self.flow.request = entry.request
        self.request_panel.input.setText(entry.request)
        self.flow.fire("choose")
        self.request_panel.show_selected(self.selection.name, self.selection.preview, self.selection.kind,
                                         self.selection.base_model, self.selection.trigger, entry.prompt,
                                         caption="Running again with")
        self.go("create")
        self.start_generation(entry.prompt, params)

    def open_folder(self, image_path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(image_path).parent)))

    # ------------------------------------------------------------------ quantize on import
    def _queue_quantization(self, cards=None) -> None:
        cards = cards if cards is not None else self.library_model.cards()
        for card in cards:
            if card.kind in ("checkpoint", "diffusers_model") and not card.error:
                self.quant_queue.enqueue(card.path, self.settings.quant_spec)

    def _quantize_fn(self, ctx, path: str, spec: str):
        return self.core.quantize(ctx, path, spec)

    def _quant_status(self, path: str, status: str, detail: str) -> None:
        self.library_model.set_quant_status(path, status, detail)
        counts = self.quant_queue.counts()
        active = counts.get("queued", 0) + counts.get("running", 0)
        failed = counts.get("failed", 0)
        if active:
            current = self.quant_queue.current_path
            name = Path(current).stem if current else ""
            self.quant_label.setText(f"Quantizing {name}… ({active} left)")
            self.quant_bar.show()
            self.quant_box.show()
        elif failed:
            self.quant_label.setText(f"{failed} quantization{'s' * (failed != 1)} failed — see Library")
            self.quant_bar.hide()
            self.quant_box.show()
        else:
            self.quant_box.hide()

    # ------------------------------------------------------------------ settings + close
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: Settings) -> None:
        folders_changed = (new.folders, new.use_demo_library) != (self.settings.folders, self.settings.use_demo_library)
        self.settings.__dict__.update(new.__dict__)
        self.core.settings = self.settings
        self._save_settings()
        self.generation_panel.apply_settings(self.settings)
        if self.selection is not None:  # the chosen model's own size and steps stay
            self._use_model_defaults()
        if folders_changed:
            self.start_index(self._library_folders())

    def _save_settings(self) -> None:
        if self.persist_settings:
            try:
                save_settings(self.settings)
            except OSError as exc:
                self.statusBar().showMessage(f"Settings not saved: {exc}", 8000)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel and wait for all workers, stop watching, close databases. Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self._reload_timer.stop()
        self.quant_queue.cancel_all()
        self.core.stop_watcher()
        if not self.workers.shutdown():
            log.warning("closing with workers still running; the catalog stays open for them")
            return
        try:
            self.core.close()
        except Exception as exc:
            log.warning("closing services: %s", exc)
        self.history.close()


def _same_decision(a, b) -> bool:
    """Two Check-in results that would show the same thing: same status, card and options."""
    card = lambda r: r.card.path if r.card is not None else None  # noqa: E731
    return (a.status, card(a), [o.path for o in a.options or []]) == (b.status, card(b), [o.path for o in b.options or []])


def _option_name(option) -> str:
    if isinstance(option, dict):
        return option.get("name") or Path(option.get("path", "?")).stem
    name = getattr(option, "name", None)
    if name:
        return name
    path = getattr(option, "path", None) or str(option)
    return Path(path).stem
