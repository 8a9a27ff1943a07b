"""Qt item models kept apart from the widgets: the library (cards) and the generation history."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QPixmap

from app.history import HistoryEntry
from catalog.card import Card, display_name
from desktop import theme

CardRole = Qt.UserRole + 1
QuantRole = Qt.UserRole + 2
PathRole = Qt.UserRole + 3
EntryRole = Qt.UserRole + 4
THUMB = 160


def card_display_name(card: Card) -> str:
    return display_name(card)


class ThumbCache:
    """Scaled previews by (path, mtime), so scrolling never re-reads files."""

    def __init__(self, size: int = THUMB):
        self.size = size
        self._cache: dict[tuple[str, float, str], QPixmap] = {}

    def get(self, image_path: str | None, fallback_name: str) -> QPixmap:
        mtime = 0.0
        if image_path:
            try:
                mtime = Path(image_path).stat().st_mtime
            except OSError:
                image_path = None
        key = (image_path or "", mtime, fallback_name)
        pix = self._cache.get(key)
        if pix is None:
            source = QPixmap(image_path) if image_path else QPixmap()
            if source.isNull():
                pix = theme.placeholder_pixmap(fallback_name, self.size)
            else:
                pix = theme.rounded_pixmap(source, self.size)
            self._cache[key] = pix
        return pix


class LibraryModel(QAbstractListModel):
    """All cards of the catalog; a search narrows and orders what is shown without reloading."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cards: dict[str, Card] = {}
        self._rows: list[str] = []
        self._filter: list[str] | None = None
        self._quant: dict[str, tuple[str, str]] = {}  # path -> (status, detail)
        self.thumbs = ThumbCache()

    # -- data in
    def set_cards(self, cards: list[Card]) -> None:
        """Replace the cards (readable ones only; broken files are listed apart)."""
        self.beginResetModel()
        self._cards = {c.path: c for c in cards if not c.error}
        self._rebuild()
        self.endResetModel()

    def set_filter(self, paths: list[str] | None) -> None:
        """Show only `paths`, in that order (a search result); None shows everything by name."""
        self.beginResetModel()
        self._filter = list(paths) if paths is not None else None
        self._rebuild()
        self.endResetModel()

    def set_quant_status(self, path: str, status: str, detail: str = "") -> None:
        self._quant[path] = (status, detail)
        if path in self._rows:
            row = self._rows.index(path)
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [QuantRole, Qt.ToolTipRole])

    def quant_status(self, path: str) -> tuple[str, str]:
        return self._quant.get(path, ("none", ""))

    def _rebuild(self) -> None:
        if self._filter is None:
            self._rows = sorted(self._cards, key=lambda p: card_display_name(self._cards[p]).lower())
        else:
            self._rows = [p for p in self._filter if p in self._cards]

    # -- access
    def card(self, row_or_path) -> Card | None:
        if isinstance(row_or_path, int):
            return self._cards.get(self._rows[row_or_path]) if 0 <= row_or_path < len(self._rows) else None
        return self._cards.get(row_or_path)

    def cards(self) -> list[Card]:
        return list(self._cards.values())

    def row_of(self, path: str) -> int:
        return self._rows.index(path) if path in self._rows else -1

    def total(self) -> int:
        return len(self._cards)

    def is_filtered(self) -> bool:
        return self._filter is not None

    # -- Qt model API
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        card = self._cards[self._rows[index.row()]]
        if role == Qt.DisplayRole:
            return card_display_name(card)
        if role == Qt.DecorationRole:
            return self.thumbs.get(card.preview, card_display_name(card))
        if role == Qt.ToolTipRole:
            status, detail = self.quant_status(card.path)
            lines = [card_display_name(card), card.path]
            if card.triggers:
                lines.append("Triggers: " + ", ".join(card.triggers))
            lines.append(f"Quantized: {status}" + (f" — {detail}" if detail else ""))
            return "\n".join(lines)
        if role == CardRole:
            return card
        if role == QuantRole:
            return self.quant_status(card.path)
        if role == PathRole:
            return card.path
        return None


class HistoryModel(QAbstractListModel):
    """Past generations, newest first, with thumbnails of their PNGs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._entries: list[HistoryEntry] = []
        self.thumbs = ThumbCache()

    def set_entries(self, entries: list[HistoryEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def prepend(self, entry: HistoryEntry) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._entries.insert(0, entry)
        self.endInsertRows()

    def entry(self, row: int) -> HistoryEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role == Qt.DisplayRole:
            return entry.checkpoint_name or "Base model"
        if role == Qt.DecorationRole:
            return self.thumbs.get(entry.image_path, entry.prompt)
        if role == Qt.ToolTipRole:
            return f"{entry.prompt}\n{entry.params.summary()} · {entry.params.quant_spec}\n{entry.image_path}"
        if role == EntryRole:
            return entry
        return None
