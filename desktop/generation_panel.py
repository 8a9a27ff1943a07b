"""Generation controls (steps, seed, size, guidance, quant spec), progress with a per-step preview, Cancel."""
from __future__ import annotations

import random

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from app.generation import DEFAULT_SCHEDULER
from app.history import GenerationParams
from common.settings import Settings
from desktop import theme
from desktop.common_widgets import CardFrame, box, label

QUANT_SPECS = ("taq-w8a8", "taq-w4a8", "quanto-w8", "quanto-w4", "naive-w8a8", "naive-w4a8", "none")
# concept accuracy and size from docs/bench/fidelity64 (8 demo models, 64 seeds, 2026-11-26; seed noise 0.033):
# taq-w4a8 is the best per byte; taq-w8a8 stays the default for its fidelity to full precision (38.5 vs 29.9 dB)
# at the same accuracy and no slower steps (docs/decisions.md)
QUANT_HELP = {
    "taq-w8a8": "8-bit weights and activations, trigger kept precise (recommended): concept shown 0.91 of the "
                "time vs 0.92 at full precision, 0.53× the memory of fp16",
    "taq-w4a8": "4-bit weights, trigger kept precise: concept 0.91, the least memory (0.31× fp16), "
                "less faithful detail",
    "quanto-w8": "8-bit weights only",
    "quanto-w4": "4-bit weights only",
    "naive-w8a8": "8-bit, no trigger protection (for comparison)",
    "naive-w4a8": "4-bit, no trigger protection (for comparison)",
    "none": "full precision",
}
PREVIEW = 224
# the samplers offered, by the engine's scheduler names (A1111's names shown); app's DEFAULT_SCHEDULER is preselected
SAMPLERS = (("dpm++", "DPM++ 2M"), ("dpm++_karras", "DPM++ 2M Karras"), ("euler_a", "Euler a"), ("euler", "Euler"),
            ("ddim", "DDIM"), ("unipc", "UniPC"), ("heun", "Heun"))


class GenerationPanel(QWidget):
    """Reads its defaults from Settings; `params()` is what the next generation uses."""

    cancel_requested = Signal()
    open_folder_requested = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        outer = box(QHBoxLayout, self, margins=(0, 0, 0, 0), spacing=14)

        controls = CardFrame()
        controls.setFixedWidth(300)
        controls.body.addWidget(label("Settings for this image", subheading=True))
        form = QFormLayout()
        form.setSpacing(8)
        self.steps = QSpinBox()
        self.steps.setRange(1, 150)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.random_seed = QCheckBox("new each time")
        self.random_seed.setChecked(True)  # creators expect a new image per click unless they fix a seed
        self.dice = QToolButton()
        self.dice.setIcon(theme.drawn_icon("dice", 18))
        self.dice.setToolTip("Pick a random seed")
        self.dice.setAutoRaise(True)
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randint(0, 2**31 - 1)))
        seed_row = box(QHBoxLayout, spacing=4)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        self.width_box = QSpinBox()
        self.height_box = QSpinBox()
        for spin in (self.width_box, self.height_box):
            spin.setRange(32, 2048)  # 32: the demo world's models
            spin.setSingleStep(64)
        size_row = box(QHBoxLayout, spacing=4)
        size_row.addWidget(self.width_box, 1)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_box, 1)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(1.0, 20.0)
        self.guidance.setSingleStep(0.5)
        self.quant = QComboBox()
        for spec in QUANT_SPECS:
            self.quant.addItem(spec, spec)
            self.quant.setItemData(self.quant.count() - 1, QUANT_HELP[spec], Qt.ToolTipRole)
        self.quant_help = label("", muted=True, wrap=True)
        self.quant.currentIndexChanged.connect(lambda _: self.quant_help.setText(QUANT_HELP.get(self.quant.currentData(), "")))
        form.addRow("Steps", self.steps)
        form.addRow("Seed", seed_row)
        form.addRow("", self.random_seed)
        form.addRow("Size", size_row)
        form.addRow("Guidance", self.guidance)
        form.addRow("Quantization", self.quant)
        controls.body.addLayout(form)
        controls.body.addWidget(self.quant_help)
        # less used, folded away so the page fits a small screen: sampler, negative prompt, batch
        self.more_button = QToolButton()
        self.more_button.setText("More settings")
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.RightArrow)
        controls.body.addWidget(self.more_button)
        self.more = QWidget()
        more_form = QFormLayout(self.more)
        more_form.setContentsMargins(0, 0, 0, 0)
        more_form.setSpacing(8)
        self.sampler = QComboBox()
        for name, text in SAMPLERS:
            self.sampler.addItem(text, name)
        self.sampler.setCurrentIndex(self.sampler.findData(DEFAULT_SCHEDULER))
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("what to leave out, e.g. blurry")
        self.batch = QSpinBox()
        self.batch.setRange(1, 8)
        self.batch.setToolTip("Images per click, each with the next seed")
        more_form.addRow("Sampler", self.sampler)
        more_form.addRow("Negative", self.negative)
        more_form.addRow("Batch", self.batch)
        controls.body.addWidget(self.more)
        self.more.hide()
        self.more_button.toggled.connect(self._toggle_more)
        controls.body.addStretch(1)
        outer.addWidget(controls)

        progress = CardFrame()
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(PREVIEW, PREVIEW))
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setStyleSheet("QLabel { border: 1px dashed palette(mid); border-radius: 8px; }")
        progress.body.addWidget(self.preview, 0, Qt.AlignHCenter)
        self.status = label("Your image appears here.", muted=True, wrap=True)
        self.status.setAlignment(Qt.AlignCenter)
        progress.body.addWidget(self.status)
        progress.body.addStretch(1)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("step %v of %m")
        progress.body.addWidget(self.bar)
        self.batch_strip = QListWidget()  # the images of a batch, newest first; a click shows it large
        self.batch_strip.setViewMode(QListWidget.IconMode)
        self.batch_strip.setFlow(QListWidget.LeftToRight)
        self.batch_strip.setWrapping(False)
        self.batch_strip.setIconSize(QSize(48, 48))
        self.batch_strip.setFixedHeight(66)
        self.batch_strip.itemClicked.connect(lambda item: self._set_image(QPixmap(item.data(Qt.UserRole))))
        self.batch_strip.hide()
        progress.body.addWidget(self.batch_strip)
        row = QHBoxLayout()
        self.open_button = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Open folder")
        self.open_button.clicked.connect(lambda: self.last_image and self.open_folder_requested.emit(self.last_image))
        self.open_button.setEnabled(False)
        self.cancel_button = QPushButton(theme.std_icon("SP_BrowserStop"), "Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.setEnabled(False)
        row.addWidget(self.open_button)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        progress.body.addLayout(row)
        outer.addWidget(progress, 1)
        self.last_image: str | None = None
        self.apply_settings(settings)
        self.show_idle()

    def apply_settings(self, settings: Settings) -> None:
        self.steps.setValue(settings.steps)
        self.width_box.setValue(settings.width)
        self.height_box.setValue(settings.height)
        self.guidance.setValue(settings.guidance)
        index = self.quant.findData(settings.quant_spec)
        self.quant.setCurrentIndex(max(index, 0))
        self.quant_help.setText(QUANT_HELP.get(self.quant.currentData(), ""))

    def params(self) -> GenerationParams:
        if self.random_seed.isChecked():
            self.seed.setValue(random.randint(0, 2**31 - 1))
        return GenerationParams(self.steps.value(), self.seed.value(), self.width_box.value(),
                                self.height_box.value(), float(self.guidance.value()), self.quant.currentData())

    def _toggle_more(self, shown: bool) -> None:
        self.more.setVisible(shown)
        self.more_button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    def extras(self) -> dict:
        """Sampler, negative prompt and batch size for the next generation."""
        return {"scheduler": self.sampler.currentData(), "negative_prompt": self.negative.text().strip(),
                "batch": self.batch.value()}

    def set_extras(self, scheduler: str | None = None, negative_prompt: str | None = None) -> None:
        if scheduler is not None and self.sampler.findData(scheduler) >= 0:
            self.sampler.setCurrentIndex(self.sampler.findData(scheduler))
        if negative_prompt is not None:
            self.negative.setText(negative_prompt)
        if negative_prompt or (scheduler and scheduler != DEFAULT_SCHEDULER):
            self.more_button.setChecked(True)

    def start_batch(self) -> None:
        self.batch_strip.clear()
        self.batch_strip.setVisible(self.batch.value() > 1)

    def add_to_batch(self, image_path: str) -> None:
        if self.batch_strip.isHidden():
            return
        item = QListWidgetItem(QIcon(QPixmap(image_path).scaled(48, 48, Qt.KeepAspectRatio)), "")
        item.setData(Qt.UserRole, image_path)
        item.setToolTip(image_path)
        self.batch_strip.insertItem(0, item)

    def use_model_defaults(self, params: GenerationParams) -> None:
        """The chosen model's own size, steps and guidance; the seed and quant choice stay the user's."""
        self.steps.setValue(params.steps)
        self.width_box.setValue(params.width)
        self.height_box.setValue(params.height)
        self.guidance.setValue(params.guidance)

    def set_params(self, params: GenerationParams) -> None:
        self.steps.setValue(params.steps)
        self.seed.setValue(params.seed)
        self.random_seed.setChecked(False)
        self.width_box.setValue(params.width)
        self.height_box.setValue(params.height)
        self.guidance.setValue(params.guidance)
        index = self.quant.findData(params.quant_spec)
        if index >= 0:
            self.quant.setCurrentIndex(index)

    # -- states
    def show_idle(self) -> None:
        """The empty preview of a new request: no image, no status line or folder of the previous one."""
        pix = theme.drawn_icon("create", 72).pixmap(QSize(72, 72))
        self.preview.setPixmap(pix)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.status.setText("")
        self.last_image = None
        self.open_button.setEnabled(False)
        self.batch_strip.clear()
        self.batch_strip.hide()

    def show_started(self, stage: str = "Loading the checkpoint…") -> None:
        self.status.setText(stage)
        self.bar.setRange(0, 0)
        self.bar.setFormat("")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.open_button.setEnabled(False)

    def show_stage(self, text: str) -> None:
        self.status.setText(text)

    def show_step(self, step: int, total: int, preview: QImage | None) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(step)
        self.bar.setFormat("step %v of %m")
        self.status.setText(f"Generating… step {step} of {total}")
        if preview is not None and not preview.isNull():
            self._set_image(QPixmap.fromImage(preview))

    def show_done(self, image_path: str, seconds: float | None) -> None:
        self.last_image = image_path
        self._set_image(QPixmap(image_path))
        self.bar.setValue(self.bar.maximum())
        took = f" in {seconds:.1f} s" if seconds else ""
        self.status.setText(f"Done{took}. Saved to the gallery.")
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(True)

    def show_cancelled(self) -> None:
        self.status.setText("Cancelled.")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.cancel_button.setEnabled(False)

    def show_failed(self, message: str) -> None:
        self.status.setText("Generation failed — see the message above.")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.cancel_button.setEnabled(False)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.cancel_requested.emit()

    def _set_image(self, pix: QPixmap) -> None:
        if pix.isNull():
            return
        self.preview.setPixmap(pix.scaled(PREVIEW - 4, PREVIEW - 4, Qt.KeepAspectRatio,
                                          Qt.SmoothTransformation if pix.width() > 128 else Qt.FastTransformation))
