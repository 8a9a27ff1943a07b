"""The one short question Check-in asks when two different checkpoints fit: option buttons plus a free answer."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop import theme
from desktop.common_widgets import label


class FlowRow(QWidget):
    """Buttons laid out in a row that wraps at a fixed count; enough for 2–5 options."""

    def __init__(self, per_row: int = 3, parent: QWidget | None = None):
        super().__init__(parent)
        self.per_row = per_row
        self.col = QVBoxLayout(self)
        self.col.setContentsMargins(0, 0, 0, 0)
        self.col.setSpacing(8)

    def set_widgets(self, widgets: list[QWidget]) -> None:
        while self.col.count():
            item = self.col.takeAt(0)
            layout = item.layout()
            if layout is not None:
                while layout.count():
                    child = layout.takeAt(0).widget()
                    if child is not None:
                        child.deleteLater()
        for start in range(0, len(widgets), self.per_row):
            row = QHBoxLayout()
            row.setSpacing(8)
            for widget in widgets[start:start + self.per_row]:
                row.addWidget(widget)
            row.addStretch(1)
            self.col.addLayout(row)


class ClarifyPanel(QWidget):
    """Emits `answered(text)` with the option clicked (its label) or the words typed."""

    answered = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.question = label("", subheading=True, wrap=True)
        layout.addWidget(self.question)
        self.options = FlowRow()
        layout.addWidget(self.options)
        row = QHBoxLayout()
        self.free = QLineEdit()
        self.free.setPlaceholderText("Or answer in your own words…")
        self.free.returnPressed.connect(self._answer_free)
        self.free_button = QPushButton(theme.std_icon("SP_ArrowRight"), "Answer")
        self.free_button.clicked.connect(self._answer_free)
        row.addWidget(self.free, 1)
        row.addWidget(self.free_button)
        layout.addLayout(row)
        layout.addStretch(1)
        self.option_buttons: list[QPushButton] = []

    def ask(self, question: str, options: list[tuple[str, str]]) -> None:
        """options: (label shown, answer sent) pairs — never internal ids on the buttons."""
        self.question.setText(question)
        self.option_buttons = []
        for text, answer in options:
            button = QPushButton(text)
            button.setProperty("option", True)
            button.setCursor(Qt.PointingHandCursor)
            button.clicked.connect(lambda _=False, a=answer: self.answered.emit(a))
            self.option_buttons.append(button)
        self.options.set_widgets(self.option_buttons)
        self.free.clear()

    def _answer_free(self) -> None:
        text = self.free.text().strip()
        if text:
            self.answered.emit(text)
