"""A packaged app's GGUF (named by PERSONALQ_BUNDLED_LLM) is used when its hash is right and refused when not."""
from __future__ import annotations

import pytest

from local_llm import models


def test_bundled_model_is_used_after_its_hash_checks(tmp_path, monkeypatch):
    path = models.default_model_path()  # the assembled, verified file from the installed packages
    bundled = tmp_path / path.name
    bundled.symlink_to(path)
    monkeypatch.setenv("PERSONALQ_BUNDLED_LLM", str(bundled))
    assert models.default_model_path() == bundled
    assert models.default_model_path() == bundled  # second time from the stamp


def test_damaged_bundled_model_is_refused(tmp_path, monkeypatch):
    bundled = tmp_path / models.DEFAULT_MODEL.filename
    bundled.write_bytes(b"not a gguf")
    monkeypatch.setenv("PERSONALQ_BUNDLED_LLM", str(bundled))
    with pytest.raises(models.ModelHashMismatch, match="reinstall"):
        models.default_model_path()
