"""Issue #29 items 7 and 8 in the window: badges stay inside their tile, a long path is elided with "…",
and a new Check-in clears the previous image's status line."""
from __future__ import annotations

from catalog.card import Card


def test_badges_never_paint_past_their_tile(qtbot):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QListView, QStyleOptionViewItem

    from desktop.card_delegate import GRID_SIZE, CardDelegate
    from desktop.models import CardRole, QuantRole

    view = QListView()
    qtbot.addWidget(view)
    card = Card(path="/m/embeddings/kxj.safetensors", kind="textual_inversion", base_model="unknown", name="kxj")

    class Index:
        def data(self, role):
            return {CardRole: card, QuantRole: ("none", "")}.get(role)

    delegate = CardDelegate(view)
    image = QImage(GRID_SIZE.width() + 60, GRID_SIZE.height(), QImage.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    option = QStyleOptionViewItem()
    option.initFrom(view)
    font = option.font
    font.setPointSizeF(13)  # a large system font: "Unknown base" and "Embedding" no longer fit side by side
    option.font = font
    option.rect = QRect(0, 0, GRID_SIZE.width(), GRID_SIZE.height())
    painter = QPainter(image)
    delegate.paint(painter, option, Index())
    painter.end()
    spilled = [(x, y) for x in range(GRID_SIZE.width(), image.width()) for y in range(image.height())
               if image.pixelColor(x, y).alpha()]
    assert not spilled


def test_detail_panel_elides_a_long_path_with_an_ellipsis(qtbot):
    from desktop.detail_panel import DetailPanel

    panel = DetailPanel()
    qtbot.addWidget(panel)
    path = "/home/someone/models/" + "very_long_folder_name/" * 8 + "a_checkpoint_file_name.safetensors"
    panel.show_card(Card(path=path, kind="lora", base_model="sd15", name="A"))
    panel.resize(320, 700)
    panel.show()
    qtbot.waitExposed(panel)
    shown = panel.path.text()
    assert "…" in shown and shown.endswith(".safetensors") and shown.startswith("/home")
    assert panel.path.full_text() == path and panel.path.toolTip() == path


def test_a_new_request_clears_the_last_images_status(qtbot, tmp_path):
    from PIL import Image

    from common.settings import Settings
    from desktop.generation_panel import GenerationPanel

    image = tmp_path / "last.png"
    Image.new("RGB", (32, 32), "red").save(image)
    panel = GenerationPanel(Settings())
    qtbot.addWidget(panel)
    panel.show_done(str(image), 0.5)
    assert panel.status.text().startswith("Done in 0.5 s") and panel.open_button.isEnabled()
    panel.show_idle()  # what submit_request calls for a new Check-in
    assert panel.status.text() == "" and not panel.open_button.isEnabled() and panel.last_image is None
