"""The settings dialog edits a copy of the settings; Save persists them; Clear cache empties the cache folder."""
from __future__ import annotations

from common import paths
from common.settings import Settings, load_settings


def test_settings_dialog_round_trip(qtbot, tmp_path):
    from desktop.app import create_app
    from desktop.settings_dialog import SettingsDialog

    create_app([])
    original = Settings(folders=[str(tmp_path)], quant_spec="taq-w8a8", memory_budget_mb=4096)
    dialog = SettingsDialog(original)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.quant.setCurrentIndex(dialog.quant.findData("taq-w4a8"))
    dialog.budget.setValue(2048)
    dialog.llm.edit.setText(str(tmp_path / "my-model.gguf"))
    dialog.base_fields["sd15"].edit.setText(str(tmp_path / "base.safetensors"))
    dialog.folders.addItem(str(tmp_path / "more"))
    new = dialog.result_settings()
    assert new.device == "cpu" and new.quant_spec == "taq-w4a8" and new.memory_budget_mb == 2048
    assert new.llm_model == str(tmp_path / "my-model.gguf")
    assert new.base_models == {"sd15": str(tmp_path / "base.safetensors")}
    assert new.folders == [str(tmp_path), str(tmp_path / "more")]
    assert original.quant_spec == "taq-w8a8"  # the dialog never edits the live settings in place
    dialog.llm.edit.clear()
    assert dialog.result_settings().llm_model is None  # empty = the bundled model


def test_applied_settings_are_saved_and_reach_the_controls(make_window):
    window = make_window()
    new = Settings(**{**window.settings.__dict__, "steps": 9, "quant_spec": "quanto-w4"})
    window.apply_settings(new)
    assert load_settings().steps == 9
    assert window.generation_panel.steps.value() == 9
    assert window.generation_panel.quant.currentData() == "quanto-w4"


def test_clear_cache_removes_rebuildable_files():
    from desktop.settings_dialog import clear_cache_dir

    cache = paths.cache_dir()
    (cache / "quantized" / "abc").mkdir(parents=True)
    (cache / "quantized" / "abc" / "unet.safetensors").write_bytes(b"x" * 1000)
    (cache / "llm.gguf").write_bytes(b"y" * 500)
    assert clear_cache_dir(cache) == 1500
    assert list(cache.iterdir()) == []
