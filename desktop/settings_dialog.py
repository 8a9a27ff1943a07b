"""Settings: folders, device, default quantization, LLM file, memory budget, base models, locations, clear cache."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common import paths
from common.families import BASE_MODEL_LABELS
from common.settings import Settings
from desktop import theme
from desktop.common_widgets import box, label
from desktop.generation_panel import QUANT_HELP, QUANT_SPECS

DEVICES = (("auto", "Automatic (best available)"), ("cuda", "NVIDIA GPU (CUDA)"), ("mps", "Apple GPU (MPS)"),
           ("cpu", "CPU"))
BASE_FAMILIES = tuple((family, f"{BASE_MODEL_LABELS[family]} base") for family in ("sd15", "sd21", "sdxl"))


def folder_size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            pass
    return total


def clear_cache_dir(cache: Path) -> int:
    """Delete everything under the cache folder (rebuildable files only); returns bytes freed."""
    freed = folder_size(cache)
    for child in cache.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return freed


class PathField(QWidget):
    """A line edit with a Browse button, for a file or a folder."""

    def __init__(self, placeholder: str, pick_folder: bool = False, filter_: str = "", parent=None):
        super().__init__(parent)
        row = box(QHBoxLayout, self, margins=(0, 0, 0, 0))
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        browse = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)
        self.pick_folder = pick_folder
        self.filter = filter_

    def _browse(self) -> None:
        if self.pick_folder:
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder")
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", "", self.filter)
        if chosen:
            self.edit.setText(chosen)

    def value(self) -> str | None:
        return self.edit.text().strip() or None


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` after Accept gives the new ones."""

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(620)
        self.settings = copy.deepcopy(settings)
        outer = box(QVBoxLayout, self, spacing=12)
        tabs = QTabWidget()
        outer.addWidget(tabs)

        # Library
        lib = QWidget()
        ll = QVBoxLayout(lib)
        ll.addWidget(label("Checkpoint folders (watched for new files)", subheading=True))
        self.folders = QListWidget()
        for folder in self.settings.folders:
            self.folders.addItem(folder)
            self.folders.item(self.folders.count() - 1).setIcon(theme.std_icon("SP_DirIcon"))
        ll.addWidget(self.folders)
        # the demo library is watched too once chosen on the welcome page: say so here, and let it go
        self.demo_library = QCheckBox("Include the demo library (8 small example checkpoints)")
        self.demo_library.setChecked(bool(self.settings.use_demo_library))
        ll.addWidget(self.demo_library)
        row = QHBoxLayout()
        add = QPushButton(theme.std_icon("SP_DirOpenIcon"), "Add folder…")
        add.clicked.connect(self._add_folder)
        remove = QPushButton(theme.std_icon("SP_TrashIcon"), "Remove")
        remove.clicked.connect(lambda: [self.folders.takeItem(self.folders.row(i)) for i in self.folders.selectedItems()])
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        ll.addLayout(row)
        ll.addWidget(label("Base models, used for LoRAs and embeddings and when nothing in the library fits",
                           subheading=True, wrap=True))
        base_form = QFormLayout()
        self.base_fields: dict[str, PathField] = {}
        for family, text in BASE_FAMILIES:
            field = PathField("a checkpoint file or diffusers folder", filter_="Models (*.safetensors *.ckpt)")
            field.edit.setText(self.settings.base_models.get(family, ""))
            self.base_fields[family] = field
            base_form.addRow(text, field)
        ll.addLayout(base_form)
        tabs.addTab(lib, theme.drawn_icon("library", 18), "Library")

        # Generation
        gen = QWidget()
        form = QFormLayout(gen)
        form.setSpacing(10)
        self.device = QComboBox()
        for key, text in DEVICES:
            self.device.addItem(text, key)
        self.device.setCurrentIndex(max(self.device.findData(self.settings.device), 0))
        self.quant = QComboBox()
        for spec in QUANT_SPECS:
            self.quant.addItem(spec, spec)
            self.quant.setItemData(self.quant.count() - 1, QUANT_HELP[spec], Qt.ToolTipRole)
        self.quant.setCurrentIndex(max(self.quant.findData(self.settings.quant_spec), 0))
        self.quant_help = label(QUANT_HELP.get(self.quant.currentData(), ""), muted=True, wrap=True)
        self.quant.currentIndexChanged.connect(lambda _: self.quant_help.setText(QUANT_HELP.get(self.quant.currentData(), "")))
        self.budget = QSpinBox()
        self.budget.setRange(256, 262_144)
        self.budget.setSingleStep(256)
        self.budget.setSuffix(" MB")
        self.budget.setValue(int(self.settings.memory_budget_mb))
        self.steps = QSpinBox()
        self.steps.setRange(1, 150)
        self.steps.setValue(self.settings.steps)
        self.llm = PathField("bundled model (Qwen2.5 0.5B)", filter_="GGUF models (*.gguf)")
        self.llm.edit.setText(self.settings.llm_model or "")
        form.addRow("Device", self.device)
        form.addRow("Default quantization", self.quant)
        form.addRow("", self.quant_help)
        form.addRow("Memory budget", self.budget)
        form.addRow("Default steps", self.steps)
        form.addRow("Language model file", self.llm)
        form.addRow("", label("Used to rank candidates and word the question. Leave empty for the bundled one.",
                              muted=True, wrap=True))
        tabs.addTab(gen, theme.drawn_icon("create", 18), "Generation")

        # Storage
        store = QWidget()
        sform = QFormLayout(store)
        sform.setSpacing(10)
        self.data_label = label(str(paths.data_dir()), muted=True, wrap=True)
        self.data_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.cache_label = label(str(paths.cache_dir()), muted=True, wrap=True)
        self.cache_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        sform.addRow("Data (catalog, history, images)", self.data_label)
        sform.addRow("Cache (quantized models)", self.cache_label)
        sform.addRow("", label("Set PERSONALQ_HOME to move both.", muted=True))
        self.cache_size = label("", muted=True)
        clear = QPushButton(theme.std_icon("SP_TrashIcon"), "Clear cache")
        clear.clicked.connect(self._clear_cache)
        crow = QHBoxLayout()
        crow.addWidget(clear)
        crow.addWidget(self.cache_size, 1)
        sform.addRow("", crow)
        self._update_cache_size()
        tabs.addTab(store, theme.std_icon("SP_DriveHDIcon"), "Storage")

        buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a checkpoint folder")
        if folder and folder not in [self.folders.item(i).text() for i in range(self.folders.count())]:
            self.folders.addItem(folder)

    def _update_cache_size(self) -> None:
        self.cache_size.setText(f"{folder_size(paths.cache_dir()) / 1e6:.1f} MB in use")

    def _clear_cache(self) -> None:
        answer = QMessageBox.question(self, "Clear cache",
                                      "Delete the quantized models and other rebuildable files? "
                                      "They are made again when needed.")
        if answer == QMessageBox.Yes:
            freed = clear_cache_dir(paths.cache_dir())
            self._update_cache_size()
            self.cache_size.setText(f"Freed {freed / 1e6:.1f} MB")

    def result_settings(self) -> Settings:
        out = copy.deepcopy(self.settings)
        out.folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        out.use_demo_library = self.demo_library.isChecked()
        out.device = self.device.currentData()
        out.quant_spec = self.quant.currentData()
        out.memory_budget_mb = self.budget.value()
        out.steps = self.steps.value()
        out.llm_model = self.llm.value()
        bases = dict(out.base_models)
        for family, field in self.base_fields.items():
            value = field.value()
            if value:
                bases[family] = value
            else:
                bases.pop(family, None)
        out.base_models = bases
        return out
