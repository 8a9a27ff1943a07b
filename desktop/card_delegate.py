"""Paints one checkpoint of the library: preview tile, name, kind and base-model badges, triggers, quant dot."""
from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop import theme
from desktop.models import CardRole, QuantRole, card_display_name

GRID_SIZE = QSize(188, 262)
LIST_HEIGHT = 76
QUANT_TEXT = {"ready": "Quantized", "queued": "Queued", "running": "Quantizing…", "failed": "Quantize failed",
              "none": "Not quantized"}


def _badge(p: QPainter, x: int, y: int, text: str, color: QColor, font: QFont, max_width: int | None = None) -> int:
    """Draw a pill at (x, y), at most `max_width` wide (its text elided to fit); returns its width (0: no room)."""
    fm = QFontMetrics(font)
    if max_width is not None:
        if max_width < 24:
            return 0
        text = fm.elidedText(text, Qt.ElideRight, max_width - 12)
    w = fm.horizontalAdvance(text) + 12
    h = fm.height() + 2
    path = QPainterPath()
    path.addRoundedRect(QRectF(x, y, w, h), h / 2, h / 2)
    p.fillPath(path, color)
    p.setPen(QColor("white"))
    p.setFont(font)
    p.drawText(QRect(x, y, w, h), Qt.AlignCenter, text)
    return w


class CardDelegate(QStyledItemDelegate):
    """Grid tiles or list rows, chosen by `grid`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = True

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        if self.grid:
            return GRID_SIZE
        view = option.widget  # a row is as wide as the list's viewport, never wider (no sideways scrolling)
        width = view.viewport().width() - 4 if view is not None and hasattr(view, "viewport") else option.rect.width()
        return QSize(max(width, 240), LIST_HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        card = index.data(CardRole)
        if card is None:
            return
        status, _ = index.data(QuantRole) or ("none", "")
        pix = index.data(Qt.DecorationRole)
        pal = option.palette
        p.save()
        p.setRenderHint(QPainter.Antialiasing)
        rect = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.State_Selected)
        hover = bool(option.state & QStyle.State_MouseOver)
        bg = pal.color(QPalette.Base)
        frame = QPainterPath()
        frame.addRoundedRect(QRectF(rect), 10, 10)
        p.fillPath(frame, bg)
        edge = pal.color(QPalette.Highlight) if selected else pal.color(QPalette.Mid)
        if hover and not selected:
            edge = edge.darker(115) if not theme.is_dark() else edge.lighter(140)
        p.setPen(QColor(edge))
        p.drawPath(frame)
        if selected:
            p.setPen(pal.color(QPalette.Highlight))
            p.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 9, 9)

        base_font = QFont(option.font)
        name_font = QFont(base_font)
        name_font.setBold(True)
        small = QFont(base_font)
        small.setPointSizeF(max(7.0, base_font.pointSizeF() * 0.82))
        badge_font = QFont(small)
        badge_font.setBold(True)
        text_color = pal.color(QPalette.Text)
        muted = pal.color(QPalette.PlaceholderText)
        kind = theme.KIND_LABELS.get(card.kind, card.kind)
        base = theme.BASE_LABELS.get(card.base_model, card.base_model)
        triggers = ", ".join(card.triggers) if card.triggers else "no trigger word"

        if self.grid:
            size = rect.width() - 16
            if pix is not None:
                p.drawPixmap(rect.x() + 8, rect.y() + 8, pix.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation))
            y = rect.y() + 8 + size + 6
            p.setFont(name_font)
            p.setPen(text_color)
            fm = QFontMetrics(name_font)
            p.drawText(QRect(rect.x() + 8, y, size, fm.height()), Qt.AlignLeft | Qt.AlignVCenter,
                       fm.elidedText(card_display_name(card), Qt.ElideRight, size))
            y += fm.height() + 4
            x, right = rect.x() + 8, rect.x() + 8 + size  # both badges stay inside the tile
            x += _badge(p, x, y, base, theme.badge_color("base", card.base_model), badge_font, right - x) + 4
            _badge(p, x, y, kind, QColor("#636e72"), badge_font, right - x)
            y += QFontMetrics(badge_font).height() + 6
            p.setFont(small)
            p.setPen(muted)
            sfm = QFontMetrics(small)
            p.drawText(QRect(rect.x() + 8, y, size - 14, sfm.height()), Qt.AlignLeft | Qt.AlignVCenter,
                       sfm.elidedText(triggers, Qt.ElideRight, size - 14))
            if card.kind not in ("lora", "textual_inversion"):
                self._quant_dot(p, rect.right() - 14, y + sfm.height() // 2, status)
        else:
            size = rect.height() - 12
            if pix is not None:
                p.drawPixmap(rect.x() + 6, rect.y() + 6, pix.scaled(size, size, Qt.KeepAspectRatio, Qt.SmoothTransformation))
            x0 = rect.x() + 6 + size + 12
            width = rect.right() - x0 - 150
            fm = QFontMetrics(name_font)
            p.setFont(name_font)
            p.setPen(text_color)
            p.drawText(QRect(x0, rect.y() + 8, width, fm.height()), Qt.AlignLeft | Qt.AlignVCenter,
                       fm.elidedText(card_display_name(card), Qt.ElideRight, width))
            sfm = QFontMetrics(small)
            p.setFont(small)
            p.setPen(muted)
            p.drawText(QRect(x0, rect.y() + 10 + fm.height(), width, sfm.height()), Qt.AlignLeft | Qt.AlignVCenter,
                       sfm.elidedText("Triggers: " + triggers, Qt.ElideRight, width))
            p.drawText(QRect(x0, rect.y() + 12 + fm.height() + sfm.height(), width, sfm.height()),
                       Qt.AlignLeft | Qt.AlignVCenter, sfm.elidedText(card.path, Qt.ElideMiddle, width))
            x, right = rect.right() - 140, rect.right() - 6
            y = rect.y() + 10
            x += _badge(p, x, y, base, theme.badge_color("base", card.base_model), badge_font, right - x) + 4
            _badge(p, x, y, kind, QColor("#636e72"), badge_font, right - x)
            if card.kind not in ("lora", "textual_inversion"):
                self._quant_dot(p, rect.right() - 136, rect.bottom() - 16, status, label=True, font=small, color=muted)
        p.restore()

    @staticmethod
    def _quant_dot(p: QPainter, x: int, y: int, status: str, label=False, font=None, color=None) -> None:
        p.setPen(Qt.NoPen)
        p.setBrush(theme.badge_color("quant", status))
        p.drawEllipse(QRectF(x - 4, y - 4, 8, 8))
        if label:
            p.setPen(color)
            p.setFont(font)
            p.drawText(QRect(x + 8, y - 8, 130, 16), Qt.AlignLeft | Qt.AlignVCenter, QUANT_TEXT.get(status, status))
