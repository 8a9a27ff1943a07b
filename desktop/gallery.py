"""The History page: every generated image, with re-run, open folder and copy prompt."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QListView, QPushButton, QSplitter, QVBoxLayout, QWidget

from app.history import HistoryEntry
from desktop import theme
from desktop.common_widgets import EmptyState, box, label, primary_button
from desktop.list_page import ListPage
from desktop.models import EntryRole, HistoryModel


class GalleryPage(ListPage):
    """Emits `rerun_requested(entry)` and `open_folder_requested(path)`; copying the prompt is local."""

    rerun_requested = Signal(object)
    send_requested = Signal(object)  # back to the Create page, to change before running
    open_folder_requested = Signal(str)

    def __init__(self, model: HistoryModel, parent: QWidget | None = None):
        super().__init__("History", model, parent)
        self.outer.addWidget(self.stack, 1)
        self.empty = EmptyState(theme.drawn_icon("history", 64), "No images yet",
                                "Images you generate are kept here with their settings, ready to run again.")
        self.stack.addWidget(self.empty)

        splitter = QSplitter(Qt.Horizontal)
        self.view.setViewMode(QListView.IconMode)
        self.view.setIconSize(QSize(148, 148))
        self.view.setGridSize(QSize(172, 196))
        self.view.setMovement(QListView.Static)
        self.view.setSpacing(6)
        self.view.setWordWrap(True)
        self.view.setTextElideMode(Qt.ElideRight)
        splitter.addWidget(self.view)

        side = QWidget()
        side.setMinimumWidth(380)
        sl = box(QVBoxLayout, side, margins=(12, 0, 0, 0), spacing=10)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setFixedSize(280, 280)
        sl.addWidget(self.image, 0, Qt.AlignHCenter)
        self.prompt = label("", wrap=True)
        self.prompt.setTextInteractionFlags(Qt.TextSelectableByMouse)
        sl.addWidget(self.prompt)
        self.params = label("", muted=True, wrap=True)
        sl.addWidget(self.params)
        row = QGridLayout()
        row.setHorizontalSpacing(8)
        row.setVerticalSpacing(8)
        self.rerun_button = primary_button("Run again", theme.std_icon("SP_BrowserReload"))
        self.rerun_button.clicked.connect(lambda: self.current and self.rerun_requested.emit(self.current))
        self.folder_button = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Open folder")
        self.folder_button.clicked.connect(lambda: self.current and self.open_folder_requested.emit(self.current.image_path))
        self.copy_button = QPushButton(theme.std_icon("SP_FileDialogContentsView"), "Copy prompt")
        self.copy_button.clicked.connect(self.copy_prompt)
        self.send_button = QPushButton(theme.drawn_icon("create"), "Edit in Create")
        self.send_button.clicked.connect(lambda: self.current and self.send_requested.emit(self.current))
        row.addWidget(self.rerun_button, 0, 0)
        row.addWidget(self.send_button, 0, 1)
        row.addWidget(self.folder_button, 1, 0)
        row.addWidget(self.copy_button, 1, 1)
        sl.addLayout(row)
        self.copied = label("", muted=True)
        sl.addWidget(self.copied)
        sl.addStretch(1)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self.stack.addWidget(splitter)
        self.current: HistoryEntry | None = None
        self.follow_model()

    def refresh_state(self, *_) -> None:
        n = self.model.rowCount()
        self.count.setText(f"{n} image{'s' * (n != 1)}" if n else "")
        self.stack.setCurrentIndex(1 if n else 0)
        if n and self.current is None:
            self.select_row(0)

    def _current_changed(self, current, _previous) -> None:
        entry = current.data(EntryRole) if current.isValid() else None
        self.current = entry
        self.copied.setText("")
        if entry is None:
            self.image.clear()
            self.prompt.setText("")
            self.params.setText("")
            return
        pix = QPixmap(entry.image_path)
        if pix.isNull():
            self.image.setText("Image file is missing:\n" + entry.image_path)
        else:
            self.image.setPixmap(pix.scaled(276, 276, Qt.KeepAspectRatio,
                                            Qt.SmoothTransformation if pix.width() > 128 else Qt.FastTransformation))
        self.prompt.setText(entry.prompt)
        who = entry.checkpoint_name or "base model"
        took = f" · {entry.seconds:.1f} s" if entry.seconds else ""
        p = entry.params
        self.params.setText(f"{who} · {p.summary()} · guidance {p.guidance:g} · {p.quant_spec}{took}")

    def copy_prompt(self) -> None:
        if self.current is not None:
            QGuiApplication.clipboard().setText(self.current.prompt)
            self.copied.setText("Prompt copied.")
