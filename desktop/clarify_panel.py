"""The one short question Check-in asks when two different checkpoints fit: option buttons plus a free answer."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from desktop import theme
from desktop.common_widgets import box, label


class FlowLayout(QLayout):
    """Items left to right, wrapping to a new line when the width runs out (Qt's flow layout example):
    option and example buttons never force the page wider than the window."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 8):
        super().__init__(parent)
        self._items: list = []
        self._gap = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802 (Qt's name)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientations(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and line > 0:
                x, y, line = rect.x(), y + line + self._gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._gap
            line = max(line, hint.height())
        return y + line - rect.y()


class FlowRow(QWidget):
    """Buttons in a row that wraps to the width it is given; enough for 2–5 options."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.flow = FlowLayout(self)

    def set_widgets(self, widgets: list[QWidget]) -> None:
        while self.flow.count():
            item = self.flow.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for widget in widgets:
            self.flow.addWidget(widget)
        self.flow.invalidate()


def option_buttons(options: list[tuple[str, str]], choose) -> list[QPushButton]:
    """One pill button per (label shown, value) pair; a click calls choose(value)."""
    buttons = []
    for text, value in options:
        button = QPushButton(text)
        button.setProperty("option", True)
        button.setCursor(Qt.PointingHandCursor)
        button.clicked.connect(lambda _=False, v=value: choose(v))
        buttons.append(button)
    return buttons


class ClarifyPanel(QWidget):
    """Emits `answered(text)` with the option clicked (its label) or the words typed."""

    answered = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = box(QVBoxLayout, self, margins=(0, 0, 0, 0), spacing=10)
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
        self.option_buttons = option_buttons(options, self.answered.emit)
        self.options.set_widgets(self.option_buttons)
        self.free.clear()

    def _answer_free(self) -> None:
        text = self.free.text().strip()
        if text:
            self.answered.emit(text)
