"""The right-hand panel of the library: one checkpoint's facts, and its editable trigger words, description, tags."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from catalog.card import Card
from desktop import theme
from desktop.card_delegate import QUANT_TEXT
from desktop.clarify_panel import FlowRow
from desktop.common_widgets import Badge, ElidedLabel, EmptyState, box, label, primary_button
from desktop.models import ThumbCache, card_display_name

ADAPTER_KINDS = ("lora", "textual_inversion")


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def split_words(text: str) -> list[str]:
    """"a, b ,, c" -> ["a", "b", "c"]: how the trigger and tag fields are read."""
    return [part.strip() for part in text.split(",") if part.strip()]


class DetailPanel(QWidget):
    """Shows the selected card; Save emits the user's edits, the library stores them."""

    save_requested = Signal(str, list, str, list)  # path, triggers, description, tags
    quantize_requested = Signal(str)
    use_requested = Signal(str)
    add_requested = Signal(str)  # put this LoRA/embedding on the image being made

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.card: Card | None = None
        self.thumbs = ThumbCache(220)
        self.setMinimumWidth(300)
        self.stack = QStackedWidget()
        outer = box(QVBoxLayout, self, margins=(0, 0, 0, 0))
        outer.addWidget(self.stack)

        self.empty = EmptyState(theme.drawn_icon("library", 64), "No checkpoint selected",
                                "Pick one in the library to see its details and edit its trigger words.")
        self.stack.addWidget(self.empty)

        page = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(page)
        self.stack.addWidget(scroll)
        body = box(QVBoxLayout, page, margins=(16, 8, 16, 16), spacing=10)

        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        body.addWidget(self.preview)
        self.name = label("", heading=True, wrap=True)
        body.addWidget(self.name)
        badges = box(QHBoxLayout, spacing=6)
        self.base_badge = Badge()
        self.kind_badge = Badge()
        self.quant_badge = Badge()
        for badge in (self.base_badge, self.kind_badge, self.quant_badge):
            badges.addWidget(badge)
        badges.addStretch(1)
        body.addLayout(badges)
        self.quant_detail = label("", muted=True, wrap=True)
        body.addWidget(self.quant_detail)
        # a failure reads as one sentence; what went wrong is one click away, never in the main view
        self.quant_errors: dict[str, str] = {}  # path -> full error, kept by the quantize queue
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setFlat(True)
        self.error_text = label("", muted=True, wrap=True)
        self.error_text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details_button.toggled.connect(self.error_text.setVisible)
        body.addWidget(self.details_button, 0, Qt.AlignLeft)
        body.addWidget(self.error_text)
        self.details_button.hide()
        self.error_text.hide()
        self.path = ElidedLabel()  # a long path is cut in the middle with "…", never widens the panel
        self.path.setProperty("muted", True)
        body.addWidget(self.path)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignLeft)
        form.setSpacing(8)
        self.triggers = QLineEdit()
        self.triggers.setPlaceholderText("e.g. sks dog, my dog")
        self.triggers.setToolTip("Comma-separated; the first is the one inserted into prompts")
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText("What this checkpoint makes")
        self.description.setFixedHeight(90)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("e.g. dog, pet, photo")
        form.addRow("Trigger words", self.triggers)
        form.addRow("Description", self.description)
        form.addRow("Tags", self.tags)
        body.addLayout(form)
        self.facts = label("", muted=True, wrap=True)
        body.addWidget(self.facts)

        buttons = FlowRow()
        self.quantize_button = QPushButton(theme.std_icon("SP_BrowserReload"), "Quantize now")
        self.quantize_button.clicked.connect(lambda: self.card and self.quantize_requested.emit(self.card.path))
        self.use_button = QPushButton(theme.drawn_icon("create"), "Use in a request")
        self.use_button.clicked.connect(lambda: self.card and self.use_requested.emit(self.card.path))
        self.save_button = primary_button("Save edits", theme.std_icon("SP_DialogSaveButton"))
        self.save_button.clicked.connect(self._save)
        self.add_button = QPushButton(theme.drawn_icon("create"), "Add to this image")
        self.add_button.setToolTip("Put this style or subject on the checkpoint already chosen in Create")
        self.add_button.clicked.connect(lambda: self.card and self.add_requested.emit(self.card.path))
        buttons.set_widgets([self.save_button, self.use_button, self.add_button, self.quantize_button])
        body.addWidget(buttons)  # wraps in a narrow panel instead of widening it past the window
        self.saved_note = label("", muted=True)
        body.addWidget(self.saved_note)
        body.addStretch(1)
        self.show_card(None)

    def show_card(self, card: Card | None, quant: tuple[str, str] = ("none", "")) -> None:
        self.card = card
        if card is None:
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        name = card_display_name(card)
        self.preview.setPixmap(self.thumbs.get(card.preview, name))
        self.name.setText(name)
        self.base_badge.set(theme.BASE_LABELS.get(card.base_model, card.base_model),
                            theme.badge_color("base", card.base_model))
        self.kind_badge.set(theme.KIND_LABELS.get(card.kind, card.kind), "#636e72")
        self.set_quant(quant)
        self.path.setText(card.path)
        self.triggers.setText(", ".join(card.triggers))
        self.description.setPlainText(card.description or "")
        self.tags.setText(", ".join(card.tags))
        facts = []
        if card.version:
            facts.append(f"Version {card.version}")
        if card.created:
            facts.append(f"created {card.created[:10]}")
        if card.size:
            facts.append(human_size(card.size))
        if card.metadata_sources:
            facts.append("metadata: " + ", ".join(card.metadata_sources))
        self.facts.setText(" · ".join(facts))
        self.saved_note.setText("")

    def set_quant(self, quant: tuple[str, str]) -> None:
        status, detail = quant
        adapter = self.card is not None and self.card.kind in ADAPTER_KINDS
        self.quant_badge.setVisible(not adapter)
        self.quantize_button.setVisible(not adapter)
        self.add_button.setVisible(adapter)  # only LoRAs and embeddings go on top of another checkpoint
        if adapter:  # a LoRA or embedding is applied on its base model, which is what gets quantized
            self.quant_detail.setText("Runs on its quantized base model.")
            self.quant_detail.show()
            return
        self.quant_badge.set(QUANT_TEXT.get(status, status), theme.badge_color("quant", status))
        self.quant_detail.setText(detail)
        self.quant_detail.setVisible(bool(detail))
        error = self.quant_errors.get(self.card.path, "") if self.card is not None and status == "failed" else ""
        self.error_text.setText(error)
        self.details_button.setVisible(bool(error))
        self.details_button.setChecked(False)
        self.error_text.hide()
        self.quantize_button.setEnabled(status not in ("queued", "running"))

    def _save(self) -> None:
        if self.card is None:
            return
        self.save_requested.emit(self.card.path, split_words(self.triggers.text()),
                                 self.description.toPlainText().strip(), split_words(self.tags.text()))

    def mark_saved(self) -> None:
        self.saved_note.setText("Saved. Your edits are kept apart from the file's own metadata.")
