"""Look of the app: Fusion style with a palette that follows the system's dark/light setting, and icons.

Icons come from QStyle's standard set or are drawn here (placeholders, badges), so the app
ships no icon files. `PERSONALQ_THEME=dark|light` forces a scheme (screenshots use it).
"""
from __future__ import annotations

import hashlib
import os

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from common.families import BASE_MODEL_LABELS

ACCENT = QColor("#6c5ce7")
KIND_LABELS = {
    "lora": "LoRA",
    "textual_inversion": "Embedding",
    "checkpoint": "Checkpoint",
    "diffusers_model": "Diffusers",
    "vae": "VAE",
    "unknown": "Unknown",
}
BASE_LABELS = BASE_MODEL_LABELS
BASE_COLORS = {"sd15": "#0984e3", "sd21": "#00a884", "sdxl": "#d35400", "unknown": "#7f8c8d"}
QUANT_COLORS = {"ready": "#27ae60", "queued": "#7f8c8d", "running": "#f39c12", "failed": "#e74c3c", "none": "#95a5a6"}


def is_dark() -> bool:
    forced = os.environ.get("PERSONALQ_THEME", "").lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.Window).lightness() < 128


def build_palette(dark: bool) -> QPalette:
    pal = QPalette()
    if dark:
        colors = {
            QPalette.Window: "#1f2125", QPalette.WindowText: "#e6e6e6", QPalette.Base: "#17181b",
            QPalette.AlternateBase: "#25272c", QPalette.ToolTipBase: "#2b2d31", QPalette.ToolTipText: "#e6e6e6",
            QPalette.Text: "#e6e6e6", QPalette.Button: "#2b2d31", QPalette.ButtonText: "#e6e6e6",
            QPalette.BrightText: "#ff6b6b", QPalette.Highlight: ACCENT.name(), QPalette.HighlightedText: "#ffffff",
            QPalette.Link: "#a29bfe", QPalette.PlaceholderText: "#8a8d93", QPalette.Mid: "#3a3d42",
            QPalette.Midlight: "#34363b", QPalette.Dark: "#111214", QPalette.Light: "#3c3f45",
        }
    else:
        colors = {
            QPalette.Window: "#f4f5f7", QPalette.WindowText: "#1e1f22", QPalette.Base: "#ffffff",
            QPalette.AlternateBase: "#f0f1f4", QPalette.ToolTipBase: "#ffffff", QPalette.ToolTipText: "#1e1f22",
            QPalette.Text: "#1e1f22", QPalette.Button: "#ffffff", QPalette.ButtonText: "#1e1f22",
            QPalette.BrightText: "#c0392b", QPalette.Highlight: ACCENT.name(), QPalette.HighlightedText: "#ffffff",
            QPalette.Link: ACCENT.name(), QPalette.PlaceholderText: "#8a8d93", QPalette.Mid: "#d5d7dc",
            QPalette.Midlight: "#e4e6ea", QPalette.Dark: "#b8bbc2", QPalette.Light: "#ffffff",
        }
    for role, value in colors.items():
        pal.setColor(role, QColor(value))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor("#7d8086"))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#7d8086"))
    pal.setColor(QPalette.Disabled, QPalette.WindowText, QColor("#7d8086"))
    return pal


def stylesheet(dark: bool) -> str:
    border = "#3a3d42" if dark else "#d5d7dc"
    card = "#25272c" if dark else "#ffffff"
    muted = "#9a9da3" if dark else "#6b6e75"
    nav_hover = "#2b2d31" if dark else "#e8e9ee"
    return f"""
    QWidget {{ font-size: 10pt; }}
    QLineEdit, QPlainTextEdit, QTextEdit {{
        border: 1px solid {border}; border-radius: 6px; padding: 5px 8px; background: palette(base); }}
    QSpinBox, QDoubleSpinBox, QComboBox {{ min-height: 24px; }}
    QLineEdit:focus, QPlainTextEdit:focus, QTextEdit:focus {{ border: 1px solid {ACCENT.name()}; }}
    QPushButton {{ border: 1px solid {border}; border-radius: 6px; padding: 6px 14px; }}
    QPushButton:hover {{ border-color: {ACCENT.name()}; }}
    QPushButton:disabled {{ color: {muted}; }}
    QPushButton[primary="true"] {{ background: {ACCENT.name()}; color: white; border: none; font-weight: 600; }}
    QPushButton[primary="true"]:disabled {{ background: {"#4b4570" if dark else "#b9b3f0"}; }}
    QPushButton[option="true"] {{ padding: 8px 16px; border-radius: 16px; }}
    QProgressBar {{ border: 1px solid {border}; border-radius: 5px; text-align: center; height: 16px; }}
    QProgressBar::chunk {{ background: {ACCENT.name()}; border-radius: 4px; }}
    QFrame[card="true"] {{ background: {card}; border: 1px solid {border}; border-radius: 10px; }}
    QLabel[muted="true"] {{ color: {muted}; }}
    QLabel[heading="true"] {{ font-size: 15pt; font-weight: 600; }}
    QLabel[subheading="true"] {{ font-size: 11pt; font-weight: 600; }}
    QListWidget#nav {{ border: none; background: transparent; outline: none; }}
    QListWidget#nav::item {{ padding: 10px 12px; border-radius: 8px; margin: 2px 6px; }}
    QListWidget#nav::item:hover {{ background: {nav_hover}; }}
    QListWidget#nav::item:selected {{ background: {ACCENT.name()}; color: white; }}
    QListView {{ border: 1px solid {border}; border-radius: 8px; padding: 6px; }}
    QTabWidget::pane {{ border: none; }}
    QToolTip {{ border: 1px solid {border}; padding: 4px; }}
    """


def apply_theme(app: QApplication) -> None:
    """Fusion + palette for the current system scheme; re-applied when the system switches."""
    app.setStyle("Fusion")

    def refresh(*_):
        dark = is_dark()
        app.setPalette(build_palette(dark))
        app.setStyleSheet(stylesheet(dark))
        app.setProperty("personalq_dark", dark)

    refresh()
    try:
        app.styleHints().colorSchemeChanged.connect(refresh)
    except AttributeError:  # Qt < 6.5 has no colorScheme signal
        pass


def std_icon(name: str) -> QIcon:
    """A QStyle standard icon by short name, e.g. "SP_DialogOpenButton"."""
    style = QApplication.style()
    return style.standardIcon(getattr(QStyle.StandardPixmap, name))


def _muted_color() -> QColor:
    """A mid grey that reads on both light and dark backgrounds (icons are drawn once, not per scheme)."""
    return QColor("#7c8089")


def _canvas(size: int) -> tuple[QPixmap, QPainter]:
    """A transparent square pixmap and an antialiased painter on it (the caller ends the painter)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    return pix, p


def _rounded_square(size: int, radius: float) -> QPainterPath:
    """A square of `size` with corners of radius * size."""
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, size, size), size * radius, size * radius)
    return path


def drawn_icon(kind: str, size: int = 32, color: QColor | None = None) -> QIcon:
    """Simple line icons drawn with QPainter: create, library, history, search, grid, list, dice, sparkle."""
    pix, p = _canvas(size)
    pen = QPen(color or _muted_color(), max(1.5, size / 14))
    pen.setCapStyle(Qt.RoundCap)
    pen.setJoinStyle(Qt.RoundJoin)
    p.setPen(pen)
    s = size
    m = s * 0.16
    if kind == "create":  # a four-point sparkle
        path = QPainterPath()
        c = s / 2
        path.moveTo(c, m)
        path.quadTo(c, c, s - m, c)
        path.quadTo(c, c, c, s - m)
        path.quadTo(c, c, m, c)
        path.quadTo(c, c, c, m)
        p.drawPath(path)
    elif kind == "library":  # three books
        w = (s - 2 * m) / 3.4
        for i in range(3):
            x = m + i * w * 1.2
            p.drawRoundedRect(QRectF(x, m + (i % 2) * s * 0.06, w, s - 2 * m - (i % 2) * s * 0.06), 2, 2)
    elif kind == "history":  # a clock
        p.drawEllipse(QRectF(m, m, s - 2 * m, s - 2 * m))
        p.drawLine(int(s / 2), int(s / 2), int(s / 2), int(m + s * 0.12))
        p.drawLine(int(s / 2), int(s / 2), int(s * 0.68), int(s * 0.6))
    elif kind == "search":
        r = s * 0.26
        p.drawEllipse(QRectF(m, m, 2 * r, 2 * r))
        p.drawLine(int(m + 2 * r * 0.85), int(m + 2 * r * 0.85), int(s - m), int(s - m))
    elif kind == "grid":
        w = (s - 2 * m) / 2 - s * 0.05
        for i in range(2):
            for j in range(2):
                p.drawRoundedRect(QRectF(m + i * (w + s * 0.1), m + j * (w + s * 0.1), w, w), 2, 2)
    elif kind == "list":
        for i in range(3):
            y = m + i * (s - 2 * m) / 2
            p.drawLine(int(m), int(y), int(s - m), int(y))
    elif kind == "dice":
        p.drawRoundedRect(QRectF(m, m, s - 2 * m, s - 2 * m), s * 0.12, s * 0.12)
        p.setBrush(QBrush(color or _muted_color()))
        for fx, fy in ((0.35, 0.35), (0.65, 0.65), (0.5, 0.5)):
            p.drawEllipse(QRectF(s * fx - s * 0.04, s * fy - s * 0.04, s * 0.08, s * 0.08))
    elif kind == "settings":  # sliders
        for i, frac in enumerate((0.3, 0.65, 0.45)):
            y = m + i * (s - 2 * m) / 2
            p.drawLine(int(m), int(y), int(s - m), int(y))
            p.drawEllipse(QRectF(m + frac * (s - 2 * m) - s * 0.07, y - s * 0.07, s * 0.14, s * 0.14))
    elif kind == "warning":
        path = QPainterPath()
        path.moveTo(s / 2, m)
        path.lineTo(s - m, s - m)
        path.lineTo(m, s - m)
        path.closeSubpath()
        p.drawPath(path)
        p.drawLine(int(s / 2), int(s * 0.42), int(s / 2), int(s * 0.62))
        p.drawPoint(int(s / 2), int(s * 0.73))
    p.end()
    return QIcon(pix)


def _hue_for(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:4], 16) % 360


def placeholder_pixmap(name: str, size: int) -> QPixmap:
    """A tile for checkpoints without a preview: a soft gradient in a colour of the name, its initial."""
    pix, p = _canvas(size)
    hue = _hue_for(name or "?")
    c1 = QColor.fromHsl(hue, 120, 150)
    c2 = QColor.fromHsl((hue + 40) % 360, 110, 110)
    from PySide6.QtGui import QLinearGradient

    grad = QLinearGradient(0, 0, size, size)
    grad.setColorAt(0, c1)
    grad.setColorAt(1, c2)
    p.fillPath(_rounded_square(size, 0.08), QBrush(grad))
    font = QFont()
    font.setPixelSize(int(size * 0.42))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor(255, 255, 255, 230))
    initial = (name.strip()[:1] or "?").upper()
    p.drawText(QRect(0, 0, size, size), Qt.AlignCenter, initial)
    p.end()
    return pix


def rounded_pixmap(source: QPixmap, size: int) -> QPixmap:
    """Scale-and-crop `source` to a rounded square of `size` pixels."""
    scaled = source.scaled(size, size, Qt.KeepAspectRatioByExpanding, Qt.SmoothTransformation)
    x = (scaled.width() - size) // 2
    y = (scaled.height() - size) // 2
    scaled = scaled.copy(x, y, size, size)
    out, p = _canvas(size)
    p.setClipPath(_rounded_square(size, 0.08))
    p.drawPixmap(0, 0, scaled)
    p.end()
    return out


def app_icon() -> QIcon:
    """The window icon: the sparkle on an accent square."""
    icon = QIcon()
    for size in (16, 32, 64, 128, 256):
        pix, p = _canvas(size)
        p.fillPath(_rounded_square(size, 0.22), ACCENT)
        p.drawPixmap(0, 0, drawn_icon("create", size, QColor("white")).pixmap(QSize(size, size)))
        p.end()
        icon.addPixmap(pix)
    return icon


def badge_color(kind: str, value: str) -> QColor:
    table = BASE_COLORS if kind == "base" else QUANT_COLORS
    return QColor(table.get(value, "#7f8c8d"))
