"""“What do you want to make?”: the request box and what Check-in answered (choice + prompt, question, or none)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import theme
from desktop.clarify_panel import ClarifyPanel, FlowRow, option_buttons
from desktop.common_widgets import Badge, Banner, CardFrame, box, label, primary_button
from desktop.models import ThumbCache

EXAMPLES = ("my dog on the beach at sunset", "a castle in the watercolor style", "the latest version of my cat")


class ChosenCheckpoint(QWidget):
    """The checkpoint Check-in picked: thumbnail, name, badges, trigger."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbs = ThumbCache(48)
        row = box(QHBoxLayout, self, margins=(0, 0, 0, 0), spacing=12)
        self.thumb = QLabel()
        self.thumb.setFixedSize(48, 48)
        row.addWidget(self.thumb)
        col = box(QVBoxLayout, spacing=4)
        self.caption = label("Check-in chose", muted=True)
        self.name = label("", subheading=True)
        badges = box(QHBoxLayout, spacing=6)
        self.base = Badge()
        self.kind = Badge()
        self.trigger = label("", muted=True)
        badges.addWidget(self.base)
        badges.addWidget(self.kind)
        badges.addWidget(self.trigger)
        badges.addStretch(1)
        col.addWidget(self.caption)
        col.addWidget(self.name)
        col.addLayout(badges)
        row.addLayout(col, 1)

    def show_choice(self, name: str, preview: str | None, kind: str, base_model: str, trigger: str | None,
                    caption: str = "Check-in chose") -> None:
        self.caption.setText(caption)
        self.thumb.setPixmap(self.thumbs.get(preview, name))
        self.name.setText(name)
        self.base.set(theme.BASE_LABELS.get(base_model, base_model), theme.badge_color("base", base_model))
        self.kind.set(theme.KIND_LABELS.get(kind, kind), "#636e72")
        self.trigger.setText(f"trigger “{trigger}”" if trigger else "no trigger word")


class Chip(QFrame):
    """One personalization in the image: thumbnail, name, its weight (LoRAs), and × to take it out."""

    def __init__(self, path: str, name: str, preview: str | None, weight: float | None, removable: bool,
                 on_weight, on_remove, thumbs: ThumbCache):
        super().__init__()
        self.path = path
        self.setObjectName("chip")
        self.setStyleSheet("QFrame#chip { border: 1px solid palette(mid); border-radius: 14px; }")
        row = box(QHBoxLayout, self, margins=(6, 2, 6, 2), spacing=6)
        thumb = QLabel()
        thumb.setPixmap(thumbs.get(preview, name).scaled(22, 22, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        row.addWidget(thumb)
        row.addWidget(QLabel(name))
        self.weight = None
        if weight is not None:
            self.weight = QDoubleSpinBox()
            self.weight.setRange(0.0, 2.0)
            self.weight.setSingleStep(0.1)
            self.weight.setValue(weight)
            self.weight.setToolTip("How strongly this LoRA applies")
            self.weight.valueChanged.connect(lambda value: on_weight(path, float(value)))
            row.addWidget(self.weight)
        if removable:
            self.remove = QToolButton()
            self.remove.setText("×")
            self.remove.setAutoRaise(True)
            self.remove.setToolTip(f"Take {name} out of this image")
            self.remove.clicked.connect(lambda: on_remove(path))
            row.addWidget(self.remove)


class RequestPanel(QWidget):
    """Pages: hint, checking, selected, clarify, none. The window decides which one shows."""

    submitted = Signal(str)
    generate_requested = Signal(str)
    answered = Signal(str)
    use_base_requested = Signal()
    suggestion_chosen = Signal(str)  # the path of a closest card the user picked after "nothing fits"
    weight_changed = Signal(str, float)  # a chip's LoRA weight
    extra_removed = Signal(str)  # a chip's ×
    PAGES = ("hint", "checking", "selected", "clarify", "none")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = box(QVBoxLayout, self, margins=(0, 0, 0, 0), spacing=10)
        outer.addWidget(label("What do you want to make?", heading=True))
        row = box(QHBoxLayout, spacing=8)
        self.input = QLineEdit()
        self.input.setPlaceholderText("e.g. " + EXAMPLES[0])
        self.input.setMinimumHeight(40)
        self.input.setStyleSheet("font-size: 12pt;")
        self.input.returnPressed.connect(self._submit)
        self.go_button = primary_button("Find checkpoint", theme.drawn_icon("search", 18, QColor("white")))
        self.go_button.setMinimumHeight(40)
        self.go_button.clicked.connect(self._submit)
        row.addWidget(self.input, 1)
        row.addWidget(self.go_button)
        outer.addLayout(row)
        self.banner = Banner()
        outer.addWidget(self.banner)
        self.refine_note = label("", muted=True, wrap=True)  # the local LLM's second reading, while it runs
        outer.addWidget(self.refine_note)
        self.refine_note.hide()

        self.frame = CardFrame()
        outer.addWidget(self.frame)
        self.stack = QStackedWidget()
        self.frame.body.addWidget(self.stack)

        hint = QWidget()
        hl = box(QVBoxLayout, hint, margins=(0, 0, 0, 0))
        hl.addWidget(label("Describe the picture in plain words. PersonalQ finds the checkpoint that fits, adds its "
                           "trigger word, and asks you only when two different ones could be meant.", muted=True, wrap=True))
        self.examples = FlowRow()
        self.set_examples(list(EXAMPLES))
        hl.addWidget(self.examples)
        hl.addStretch(1)
        self.stack.addWidget(hint)

        checking = QWidget()
        cl = box(QVBoxLayout, checking, margins=(0, 0, 0, 0))
        self.checking_label = label("Reading your request and searching the library…", muted=True)
        cl.addWidget(self.checking_label)
        busy = QProgressBar()
        busy.setRange(0, 0)
        busy.setTextVisible(False)
        busy.setFixedHeight(8)
        cl.addWidget(busy)
        cl.addStretch(1)
        self.stack.addWidget(checking)

        selected = QWidget()
        sl = box(QVBoxLayout, selected, margins=(0, 0, 0, 0), spacing=10)
        self.chosen = ChosenCheckpoint()
        sl.addWidget(self.chosen)
        self.chips = FlowRow()  # every personalization in this image, with its weight
        sl.addWidget(self.chips)
        sl.addWidget(label("Prompt (edit it if you like)", muted=True))
        self.prompt = QPlainTextEdit()
        self.prompt.setFixedHeight(56)
        grow = QHBoxLayout()  # Generate beside the prompt: the page fits a 1024×640 screen without scrolling
        grow.addWidget(self.prompt, 1)
        self.generate_button = primary_button("Generate", theme.drawn_icon("create", 18, QColor("white")))
        self.generate_button.setIconSize(QSize(18, 18))
        self.generate_button.clicked.connect(lambda: self.generate_requested.emit(self.prompt.toPlainText().strip()))
        grow.addWidget(self.generate_button, 0, Qt.AlignBottom)
        sl.addLayout(grow)
        self.stack.addWidget(selected)

        self.clarify = ClarifyPanel()
        self.clarify.answered.connect(self.answered)
        self.stack.addWidget(self.clarify)

        none = QWidget()
        nl = box(QVBoxLayout, none, margins=(0, 0, 0, 0))
        self.none_label = label("", subheading=True, wrap=True)
        nl.addWidget(self.none_label)
        self.none_detail = label("", muted=True, wrap=True)
        nl.addWidget(self.none_detail)
        self.suggestions_label = label("Closest in your library, if one will do:", muted=True)
        nl.addWidget(self.suggestions_label)
        self.suggestions = FlowRow()
        nl.addWidget(self.suggestions)
        self.suggestion_buttons: list = []
        nrow = QHBoxLayout()
        nrow.addStretch(1)
        self.base_button = primary_button("Use the base model", theme.std_icon("SP_ArrowRight"))
        self.base_button.clicked.connect(self.use_base_requested)
        nrow.addWidget(self.base_button)
        nl.addLayout(nrow)
        nl.addStretch(1)
        self.stack.addWidget(none)
        self.show_page("hint")

    def _submit(self) -> None:
        text = self.input.text().strip()
        if text:
            self.submitted.emit(text)

    def show_page(self, name: str) -> None:
        """Show one page; the card takes that page's height, not the tallest page's."""
        index = self.PAGES.index(name)
        for i in range(self.stack.count()):
            policy = QSizePolicy.Preferred if i == index else QSizePolicy.Ignored
            self.stack.widget(i).setSizePolicy(QSizePolicy.Preferred, policy)
        self.stack.setCurrentIndex(index)
        self.stack.adjustSize()
        self.frame.setVisible(True)

    def page(self) -> str:
        return self.PAGES[self.stack.currentIndex()]

    def set_examples(self, texts: list[str]) -> None:
        """Example requests as buttons: ones this library can answer, once it is known."""
        buttons = []
        for text in texts or EXAMPLES:
            button = QPushButton(text)
            button.setProperty("option", True)
            button.setCursor(Qt.PointingHandCursor)
            button.clicked.connect(lambda _=False, t=text: (self.input.setText(t), self._submit()))
            buttons.append(button)
        self.examples.set_widgets(buttons)
        self.input.setPlaceholderText("e.g. " + (texts or EXAMPLES)[0])

    def set_busy(self, busy: bool) -> None:
        self.go_button.setEnabled(not busy)
        self.input.setReadOnly(busy)

    def show_selected(self, name: str, preview: str | None, kind: str, base_model: str, trigger: str | None,
                      prompt: str, caption: str = "Check-in chose") -> None:
        self.chosen.show_choice(name, preview, kind, base_model, trigger, caption)
        self.prompt.setPlainText(prompt)
        self.show_page("selected")

    def show_set(self, items: list[tuple[str, str, str | None, float | None, bool]]) -> None:
        """The personalizations of this image as chips: (path, name, preview, LoRA weight or None, removable).
        A single checkpoint shows no chips: the card above says it all."""
        chips = [Chip(path, name, preview, weight, removable, self.weight_changed.emit, self.extra_removed.emit,
                      self.chosen.thumbs) for path, name, preview, weight, removable in items] if len(items) > 1 else []
        self.chips.set_widgets(chips)
        self.chips.setVisible(bool(chips))

    def show_clarify(self, question: str, options: list[tuple[str, str]]) -> None:
        self.clarify.ask(question, options)
        self.show_page("clarify")

    def show_none(self, message: str, base_available: bool, detail: str = "",
                  suggestions: list[tuple[str, str]] = ()) -> None:
        """suggestions: (name shown, path) of the closest cards: offered as buttons, never picked for the user."""
        self.none_label.setText(message)
        self.none_detail.setText(detail if base_available else (detail + " " if detail else "") +
                                 "No base model is set up yet: choose one in Settings.")
        self.base_button.setEnabled(base_available)
        self.suggestion_buttons = option_buttons(list(suggestions), self.suggestion_chosen.emit)
        self.suggestions.set_widgets(self.suggestion_buttons)
        self.suggestions_label.setVisible(bool(self.suggestion_buttons))
        self.suggestions.setVisible(bool(self.suggestion_buttons))
        self.show_page("none")
