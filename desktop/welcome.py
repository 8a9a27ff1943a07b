"""First run: choose checkpoint folder(s) or the demo library, then watch the index fill with a progress bar."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import theme
from desktop.common_widgets import Banner, CardFrame, box, label, primary_button


class WelcomePage(QWidget):
    """Emits `start_requested(folders)` or `demo_requested()`; shows indexing progress until told it is done."""

    start_requested = Signal(list)
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setAlignment(Qt.AlignCenter)
        self.card = CardFrame(margins=28, spacing=14)
        self.card.setFixedWidth(560)
        outer.addWidget(self.card, 0, Qt.AlignCenter)
        body = self.card.body

        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(QSize(56, 56)))
        head.addWidget(logo)
        titles = box(QVBoxLayout, spacing=2)
        titles.addWidget(label("Welcome to PersonalQ", heading=True))
        titles.addWidget(label("Say what you want to make; PersonalQ picks the right checkpoint.", muted=True, wrap=True))
        head.addLayout(titles, 1)
        body.addLayout(head)

        self.stack = QStackedWidget()
        body.addWidget(self.stack)

        # page 0: choose
        choose = QWidget()
        col = box(QVBoxLayout, choose, margins=(0, 8, 0, 0), spacing=10)
        col.addWidget(label("Where do you keep your checkpoints?", subheading=True))
        col.addWidget(label("LoRAs, embeddings and full checkpoints (.safetensors, .ckpt), any nesting — the "
                            "A1111 and ComfyUI folder layouts work as they are. You can add more folders later.",
                            muted=True, wrap=True))
        self.folder_list = QListWidget()
        self.folder_list.setFixedHeight(92)
        self.folder_list.setAlternatingRowColors(True)
        col.addWidget(self.folder_list)
        row = QHBoxLayout()
        self.add_button = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Add folder…")
        self.add_button.clicked.connect(self._pick_folder)
        self.remove_button = QPushButton(theme.std_icon("SP_TrashIcon"), "Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        self.start_button = primary_button("Index and start", theme.std_icon("SP_ArrowRight"))
        self.start_button.clicked.connect(lambda: self.start_requested.emit(self.folders()))
        row.addWidget(self.start_button)
        col.addLayout(row)
        divider = label("— or —", muted=True)
        divider.setAlignment(Qt.AlignCenter)
        col.addWidget(divider)
        self.demo_button = QPushButton(theme.drawn_icon("create", 20), "Use the demo library")
        self.demo_button.setToolTip("A small built-in library of personalized checkpoints to try the app with")
        self.demo_button.clicked.connect(self.demo_requested)
        col.addWidget(self.demo_button)
        self.stack.addWidget(choose)

        # page 1: indexing
        indexing = QWidget()
        icol = box(QVBoxLayout, indexing, margins=(0, 8, 0, 0), spacing=10)
        icol.addWidget(label("Reading your checkpoints…", subheading=True))
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        icol.addWidget(self.progress)
        self.progress_label = label("Looking for model files", muted=True, wrap=True)
        icol.addWidget(self.progress_label)
        icol.addWidget(label("Only the file headers are read, so this is quick. Nothing leaves this computer.",
                             muted=True, wrap=True))
        self.stack.addWidget(indexing)

        self.banner = Banner()
        body.addWidget(self.banner)
        self.folder_list.model().rowsInserted.connect(self._update_buttons)
        self.folder_list.model().rowsRemoved.connect(self._update_buttons)
        self._update_buttons()

    def folders(self) -> list[str]:
        return [self.folder_list.item(i).text() for i in range(self.folder_list.count())]

    def add_folder(self, folder: str) -> None:
        if folder and folder not in self.folders():
            self.folder_list.addItem(folder)
            self.folder_list.item(self.folder_list.count() - 1).setIcon(theme.std_icon("SP_DirIcon"))

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a checkpoint folder")
        if folder:
            self.add_folder(folder)

    def _remove_selected(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))

    def _update_buttons(self, *_) -> None:
        has = self.folder_list.count() > 0
        self.start_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def show_indexing(self, text: str = "Looking for model files") -> None:
        self.banner.hide()
        self.stack.setCurrentIndex(1)
        self.progress.setRange(0, 0)
        self.progress_label.setText(text)

    def set_progress(self, phase: str, done: int, total: int, text: str) -> None:
        """One indexing phase: a determinate bar when the total is known, else a busy bar."""
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress_label.setText(f"{text} {done} of {total}")
        else:
            self.progress.setRange(0, 0)
            self.progress_label.setText(f"{text} {done} found" if done else text)

    def show_choose(self, error: str | None = None) -> None:
        self.stack.setCurrentIndex(0)
        if error:
            self.banner.show_message(error, "error")
