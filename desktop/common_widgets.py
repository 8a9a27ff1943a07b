"""Small reusable widgets: message banner, empty state, badge, elided label, card frame, helpers for buttons."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import theme


def box(kind: type[QBoxLayout], parent: QWidget | None = None, *, margins: tuple[int, int, int, int] | None = None,
        spacing: int | None = None) -> QBoxLayout:
    """A QVBoxLayout or QHBoxLayout (`kind`) on `parent`, with its margins (left, top, right, bottom) and
    spacing where given (Qt's defaults otherwise)."""
    layout = kind() if parent is None else kind(parent)
    if margins is not None:
        layout.setContentsMargins(*margins)
    if spacing is not None:
        layout.setSpacing(spacing)
    return layout


def primary_button(text: str, icon: QIcon | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setProperty("primary", True)
    button.setCursor(Qt.PointingHandCursor)
    if icon is not None:
        button.setIcon(icon)
    return button


def label(text: str = "", *, muted=False, heading=False, subheading=False, wrap=False) -> QLabel:
    widget = QLabel(text)
    if muted:
        widget.setProperty("muted", True)
    if heading:
        widget.setProperty("heading", True)
    if subheading:
        widget.setProperty("subheading", True)
    widget.setWordWrap(wrap)
    return widget


def page_header(page: QWidget, title: str) -> tuple[QVBoxLayout, QHBoxLayout, QLabel]:
    """A page's outer layout with its header row (title, muted count, stretch) already in it.

    Returns (outer, header, count): pages add their own controls to the right of the header
    and their content below it.
    """
    outer = box(QVBoxLayout, page, margins=(20, 16, 20, 16), spacing=12)
    header = box(QHBoxLayout, spacing=8)
    header.addWidget(label(title, heading=True))
    count = label("", muted=True)
    header.addWidget(count)
    header.addStretch(1)
    outer.addLayout(header)
    return outer, header, count


class ElidedLabel(QLabel):
    """One line that never widens its panel: too long, it shows "…" where it cuts (the middle by default,
    where a file path keeps its folder start and file name); the full text is its tooltip and `full_text()`."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.ElideMiddle, parent: QWidget | None = None):
        super().__init__(parent)
        self._full, self._mode = "", mode
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text or ""
        self.setToolTip(self._full)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, self._mode, width) if width > 0 else self._full
        super().setText(shown)


class CardFrame(QFrame):
    """A rounded panel that groups related controls."""

    def __init__(self, parent: QWidget | None = None, margins: int = 14, spacing: int = 10):
        super().__init__(parent)
        self.setProperty("card", True)
        self.body = box(QVBoxLayout, self, margins=(margins, margins, margins, margins), spacing=spacing)


class Badge(QLabel):
    """A small coloured pill: base model, kind, quantization status."""

    def __init__(self, text: str = "", color: QColor | str = "#7f8c8d", parent: QWidget | None = None):
        super().__init__(parent)
        self.set(text, color)

    def set(self, text: str, color: QColor | str) -> None:
        color = QColor(color)
        self.setText(text)
        self.setStyleSheet(
            f"QLabel {{ background: {color.name()}; color: white; border-radius: 8px; padding: 1px 8px;"
            f" font-size: 8.5pt; font-weight: 600; }}"
        )
        self.setVisible(bool(text))


class Banner(QFrame):
    """An inline message (info or error) with a close button; errors stay until dismissed."""

    closed = Signal()

    COLORS = {"error": ("#fdecea", "#8a1c12", "#e74c3c"), "info": ("#eaf2fd", "#123c69", "#3498db"),
              "success": ("#e9f7ef", "#145a32", "#27ae60")}
    DARK = {"error": ("#3b1f1f", "#ffb4ab", "#e74c3c"), "info": ("#1c2a3b", "#b3d4ff", "#3498db"),
            "success": ("#1d3326", "#a9e5bf", "#27ae60")}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = box(QHBoxLayout, self, margins=(12, 8, 8, 8), spacing=10)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setIcon(theme.std_icon("SP_TitleBarCloseButton"))
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismiss)
        layout.addWidget(self.icon, 0, Qt.AlignTop)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignTop)
        self.kind = "info"
        self.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        dark = theme.is_dark()
        bg, fg, edge = (self.DARK if dark else self.COLORS)[kind]
        self.setStyleSheet(
            f"Banner {{ background: {bg}; border: 1px solid {edge}; border-radius: 8px; }}"
            f" QLabel {{ color: {fg}; }}"
        )
        icon = {"error": "SP_MessageBoxCritical", "info": "SP_MessageBoxInformation",
                "success": "SP_DialogApplyButton"}[kind]
        self.icon.setPixmap(theme.std_icon(icon).pixmap(QSize(18, 18)))
        self.text.setText(text)
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.closed.emit()


class EmptyState(QWidget):
    """What a list shows when it has nothing: an icon, a title and one line saying what to do."""

    def __init__(self, icon: QIcon, title: str, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignCenter)
        layout.setSpacing(8)
        self.icon_label = QLabel()
        self.icon_label.setPixmap(icon.pixmap(QSize(56, 56)))
        self.icon_label.setAlignment(Qt.AlignCenter)
        self.title = label(title, subheading=True)
        self.title.setAlignment(Qt.AlignCenter)
        self.text = label(text, muted=True, wrap=True)
        self.text.setAlignment(Qt.AlignCenter)
        self.text.setMaximumWidth(420)
        layout.addWidget(self.icon_label)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 0, Qt.AlignHCenter)
        self.action_row = QHBoxLayout()
        self.action_row.setAlignment(Qt.AlignCenter)
        layout.addLayout(self.action_row)

    def add_action(self, button: QPushButton) -> QPushButton:
        self.action_row.addWidget(button)
        return button

    def set_text(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)


def hline() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.HLine)
    line.setFrameShadow(QFrame.Plain)
    line.setStyleSheet("color: palette(mid);")
    return line


def expanding() -> QWidget:
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return spacer
