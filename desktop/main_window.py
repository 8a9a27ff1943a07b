"""The main window: the layout (welcome, then Create / Library / History pages), navigation, settings, close.

What happens on each side lives in its controller: `LibraryController` (first run, indexing, search,
edits, quantize-on-import) and `CreateController` (the request flow and generation). Both call the
application core (`app.core.App`) through `WorkerPool`; widgets only emit what the user did.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
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

from app.core import App
from app.history import History
from common.settings import Settings, load_settings, save_settings
from desktop import theme
from desktop.common_widgets import box, label
from desktop.create_controller import CreateController
from desktop.gallery import GalleryPage
from desktop.generation_panel import GenerationPanel
from desktop.library_controller import LibraryController
from desktop.library_view import LibraryPage
from desktop.models import HistoryModel, LibraryModel
from desktop.request_panel import RequestPanel
from desktop.settings_dialog import SettingsDialog
from desktop.welcome import WelcomePage
from desktop.workers import WorkerPool

log = logging.getLogger(__name__)
PAGES = ("create", "library", "history")


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, core: App | None = None,
                 use_llm: bool | None = None, auto_quantize: bool = True, persist_settings: bool = True):
        super().__init__()
        self.settings = settings or load_settings()
        self.persist_settings = persist_settings
        self.core = core or App(self.settings, use_llm=use_llm)
        self.auto_quantize = auto_quantize
        self.workers = WorkerPool(self)
        self.history = History()
        self.library_model = LibraryModel(self)
        self.history_model = HistoryModel(self)
        self.library = LibraryController(self)  # first run, indexing, search, edits, quantize-on-import
        self.create = CreateController(self)  # the request flow and generation
        self._closing = False

        self.setAcceptDrops(True)
        self.setWindowTitle("PersonalQ")
        self.setWindowIcon(theme.app_icon())
        self.resize(1280, 820)
        self._build()
        if self.core.settings_warnings:  # a hand-edited settings file: say what was reset
            self.statusBar().showMessage("; ".join(self.core.settings_warnings), 15000)
        self.library_page.detail.quant_errors = self.library.quant_queue.errors
        self.history_model.set_entries(self.history.entries())
        if self.settings.first_run_done and (self.settings.folders or self.settings.use_demo_library):
            self.show_main()
            self.library.reload_library()
            self.library.start_index(self.library._library_folders(), first_run=False)
        else:
            self.root.setCurrentWidget(self.welcome)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.root = QStackedWidget()
        self.setCentralWidget(self.root)
        self.welcome = WelcomePage()
        self.welcome.start_requested.connect(self.library.first_run_folders)
        self.welcome.demo_requested.connect(self.library.first_run_demo)
        self.root.addWidget(self.welcome)

        main = QWidget()
        row = box(QHBoxLayout, main, margins=(0, 0, 0, 0), spacing=0)
        side = QWidget()
        side.setFixedWidth(190)
        side.setObjectName("sidebar")
        side.setStyleSheet("QWidget#sidebar { background: palette(alternate-base); border-right: 1px solid palette(mid); }")
        sl = box(QVBoxLayout, side, margins=(0, 16, 0, 12), spacing=8)
        brand = box(QHBoxLayout, margins=(16, 0, 12, 8))
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
        ql = box(QVBoxLayout, self.quant_box, margins=(14, 0, 14, 0), spacing=4)
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
        cl = box(QVBoxLayout, create, margins=(24, 8, 24, 6), spacing=8)  # fits a 1024×640 screen without scrolling
        self.request_panel = RequestPanel()
        self.request_panel.submitted.connect(self.create.submit_request)
        self.request_panel.answered.connect(self.create.answer_clarification)
        self.request_panel.use_base_requested.connect(self.create.use_base_model)
        self.request_panel.suggestion_chosen.connect(self.create.use_card)
        self.request_panel.generate_requested.connect(self.create.start_generation)
        self.request_panel.weight_changed.connect(self.create.set_weight)
        self.request_panel.extra_removed.connect(self.create.remove_extra)
        cl.addWidget(self.request_panel)
        self.generation_panel = GenerationPanel(self.settings)
        self.generation_panel.cancel_requested.connect(self.create.cancel_generation)
        self.generation_panel.open_folder_requested.connect(self.create.open_folder)
        cl.addWidget(self.generation_panel, 1)
        create_scroll = QScrollArea()  # small screens scroll instead of squeezing the panels
        create_scroll.setWidgetResizable(True)
        create_scroll.setFrameShape(QScrollArea.NoFrame)
        create_scroll.setWidget(create)
        self.pages.addWidget(create_scroll)

        # Library
        self.library_page = LibraryPage(self.library_model)
        self.library_page.search_changed.connect(self.library.run_search)
        self.library_page.add_folder_requested.connect(self.library.add_folder)
        self.library_page.detail.save_requested.connect(self.library.save_edits)
        self.library_page.detail.quantize_requested.connect(
            lambda path: self.library.quant_queue.retry(path, self.settings.quant_spec))
        self.library_page.detail.use_requested.connect(self.create.use_card)
        self.library_page.detail.add_requested.connect(self.create.add_extra)
        self.pages.addWidget(self.library_page)

        # History
        self.gallery = GalleryPage(self.history_model)
        self.gallery.rerun_requested.connect(self.create.rerun)
        self.gallery.send_requested.connect(self.create.send_to_create)
        self.gallery.open_folder_requested.connect(self.create.open_folder)
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

    # a PNG dropped anywhere on the window brings its prompt and settings back (ours or A1111's)
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if any(u.toLocalFile().lower().endswith(".png") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        pngs = [u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().lower().endswith(".png")]
        if pngs and self.create.restore_png(pngs[0]):
            event.acceptProposedAction()

    def go(self, page: str) -> None:
        self.nav.setCurrentRow(PAGES.index(page))

    def show_main(self) -> None:
        self.root.setCurrentWidget(self.main_area)











































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
        if self.create.selection is not None:  # the chosen model's own size and steps stay
            self.create._use_model_defaults()
        if folders_changed:
            self.library.start_index(self.library._library_folders())

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
        self.library.stop()
        if not self.workers.shutdown():
            log.warning("closing with workers still running; the catalog stays open for them")
            return
        try:
            self.core.close()
        except Exception as exc:
            log.warning("closing services: %s", exc)
        self.history.close()

