"""ListPage: what the Library and History pages share, a header with a count over a list of one model."""
from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, QModelIndex
from PySide6.QtWidgets import QAbstractItemView, QListView, QStackedWidget, QWidget

from desktop.common_widgets import page_header


class ListPage(QWidget):
    """A page that lists one item model: its title and a count in the header (`outer`, `header`, `count`), a
    single-selection list view of the model (`view`), and a `stack` for the view's part of the page and an
    EmptyState.

    Subclasses lay out `view`, `stack` and their EmptyState, define `_current_changed(current, previous)` (the
    view's current item moved) and `refresh_state()` (the count, and which part of the stack shows), and call
    `follow_model()` last in their __init__: `refresh_state` then runs now, on every reset of the model and
    on every row inserted.
    """

    def __init__(self, title: str, model: QAbstractItemModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.outer, self.header, self.count = page_header(self, title)
        self.stack = QStackedWidget()
        self.view = QListView()
        self.view.setModel(model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setUniformItemSizes(True)
        self.view.setResizeMode(QListView.Adjust)  # an explicit mode, kept when a subclass sets the view mode
        self.view.selectionModel().currentChanged.connect(self._current_changed)

    def follow_model(self) -> None:
        self.model.modelReset.connect(self.refresh_state)
        self.model.rowsInserted.connect(self.refresh_state)
        self.refresh_state()

    def select_row(self, row: int) -> QModelIndex:
        """Make `row` the view's current and only selected item; returns its index."""
        idx = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.ClearAndSelect)
        return idx

    def refresh_state(self, *_) -> None:
        raise NotImplementedError

    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        raise NotImplementedError
