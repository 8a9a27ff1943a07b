"""The Library page: search, grid/list of checkpoints, detail panel, and the files that could not be read."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHeaderView,
    QLineEdit,
    QListView,
    QPushButton,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from catalog.card import Card
from desktop import theme
from desktop.card_delegate import GRID_SIZE, CardDelegate
from desktop.common_widgets import Banner, EmptyState, box
from desktop.detail_panel import DetailPanel
from desktop.list_page import ListPage
from desktop.models import CardRole, LibraryModel

SEARCH_DELAY_MS = 250


class LibraryPage(ListPage):
    """Emits `search_changed` (debounced) and `add_folder_requested`; the window does the work."""

    search_changed = Signal(str)
    add_folder_requested = Signal()
    card_selected = Signal(object)

    def __init__(self, model: LibraryModel, parent: QWidget | None = None):
        super().__init__("Library", model, parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by subject, style or trigger")
        self.search.addAction(theme.drawn_icon("search", 20), QLineEdit.LeadingPosition)
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(320)
        self.header.addWidget(self.search)
        self.grid_button = self._toggle(theme.drawn_icon("grid", 20), "Grid")
        self.list_button = self._toggle(theme.drawn_icon("list", 20), "List")
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.grid_button)
        group.addButton(self.list_button)
        self.grid_button.setChecked(True)
        self.header.addWidget(self.grid_button)
        self.header.addWidget(self.list_button)
        self.add_button = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Add folder…")
        self.add_button.clicked.connect(self.add_folder_requested)
        self.header.addWidget(self.add_button)

        self.banner = Banner()
        self.outer.addWidget(self.banner)

        splitter = QSplitter(Qt.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.outer.addWidget(splitter, 1)

        left = QWidget()
        left_layout = box(QVBoxLayout, left, margins=(0, 0, 0, 0), spacing=8)
        self.delegate = CardDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setMouseTracking(True)
        self.view.setSpacing(4)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.stack.addWidget(self.view)
        self.empty = EmptyState(theme.drawn_icon("library", 64), "No checkpoints yet",
                                "Add the folder where you keep your .safetensors checkpoints, LoRAs and embeddings.")
        self.empty_add = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Add folder…")
        self.empty_add.clicked.connect(self.add_folder_requested)
        self.empty.add_action(self.empty_add)
        self.stack.addWidget(self.empty)
        left_layout.addWidget(self.stack, 1)

        self.broken_toggle = QToolButton()
        self.broken_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.broken_toggle.setIcon(theme.drawn_icon("warning", 18, QColor("#e67e22")))
        self.broken_toggle.setCheckable(True)
        self.broken_toggle.setAutoRaise(True)
        self.broken_toggle.toggled.connect(self._toggle_broken)
        left_layout.addWidget(self.broken_toggle)
        self.broken = QTreeWidget()
        self.broken.setHeaderLabels(["File", "Why it could not be read"])
        self.broken.setRootIsDecorated(False)
        self.broken.header().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.broken.header().setStretchLastSection(True)
        self.broken.setMaximumHeight(160)
        self.broken.hide()
        left_layout.addWidget(self.broken)
        splitter.addWidget(left)

        self.detail = DetailPanel()
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 340])

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.search_changed.emit(self.search.text().strip()))
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.grid_button.toggled.connect(self.set_grid)
        model.dataChanged.connect(self._data_changed)
        self.set_grid(True)
        self.set_broken([])
        self.follow_model()

    def _toggle(self, icon, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)
        button.setIconSize(QSize(18, 18))
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setAutoRaise(True)
        return button

    def set_grid(self, grid: bool) -> None:
        self.delegate.grid = grid
        if grid:
            self.view.setViewMode(QListView.IconMode)
            self.view.setFlow(QListView.LeftToRight)
            self.view.setWrapping(True)
            self.view.setGridSize(GRID_SIZE + QSize(8, 8))
            self.view.setMovement(QListView.Static)
        else:
            self.view.setViewMode(QListView.ListMode)
            self.view.setFlow(QListView.TopToBottom)
            self.view.setWrapping(False)
            self.view.setGridSize(QSize())
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded if grid else Qt.ScrollBarAlwaysOff)
        self.list_button.setChecked(not grid)
        self.view.doItemsLayout()

    def refresh_state(self, *_) -> None:
        shown = self.model.rowCount()
        total = self.model.total()
        if total == 0:
            self.empty.set_text("No checkpoints yet",
                                "Add the folder where you keep your .safetensors checkpoints, LoRAs and embeddings.")
            self.empty_add.show()
            self.stack.setCurrentWidget(self.empty)
        elif shown == 0:
            self.empty.set_text("Nothing matches", f"No checkpoint matches “{self.search.text().strip()}”. "
                                "Try other words, or clear the search.")
            self.empty_add.hide()
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.view)
        self.count.setText(f"{shown} of {total}" if self.model.is_filtered() else f"{total} checkpoint{'s' * (total != 1)}")
        card = self.detail.card
        if card is not None:
            fresh = self.model.card(card.path)
            if fresh is None:
                self.detail.show_card(None)
            elif fresh is not card:
                self.detail.show_card(fresh, self.model.quant_status(fresh.path))

    def _data_changed(self, *_):
        card = self.detail.card
        if card is not None:
            self.detail.set_quant(self.model.quant_status(card.path))

    def set_broken(self, cards: list[Card]) -> None:
        self.broken.clear()
        for card in cards:
            error = card.error or ""
            if error.startswith(card.path):  # the probe names the path; the first column already shows it
                error = error[len(card.path):].lstrip(" :")
            item = QTreeWidgetItem([Path(card.path).name, error])
            item.setToolTip(0, card.path)
            item.setToolTip(1, card.error or "")
            item.setIcon(0, theme.std_icon("SP_MessageBoxWarning"))
            self.broken.addTopLevelItem(item)
        self._broken_count = n = len(cards)
        self._toggle_broken(self.broken_toggle.isChecked())
        self.broken_toggle.setVisible(bool(n))
        if not n:
            self.broken.hide()
            self.broken_toggle.setChecked(False)

    def _toggle_broken(self, on: bool) -> None:
        n = getattr(self, "_broken_count", 0)
        self.broken.setVisible(on and bool(n))
        self.broken_toggle.setText(f"{n} file{'s' * (n != 1)} could not be read — {'hide' if on else 'show'}"
                                   if n else "")

    def select_path(self, path: str) -> None:
        row = self.model.row_of(path)
        if row >= 0:
            self.view.scrollTo(self.select_row(row))

    def _current_changed(self, current, _previous) -> None:
        card = current.data(CardRole) if current.isValid() else None
        self.detail.show_card(card, self.model.quant_status(card.path) if card else ("none", ""))
        self.card_selected.emit(card)

    def visible_names(self) -> list[str]:
        return [self.model.index(r).data() for r in range(self.model.rowCount())]
