"""The pieces under the probes: value checks, text escaping, atomic writes, the store's lock wait."""
from __future__ import annotations

import errno
import math
import os
import sqlite3
import threading

import pytest

from common import paths
from common.text import clean_request, escape_controls, unsurrogate
from engine import limits


@pytest.mark.parametrize("value", [0, -1, 151, 100000, "abc", 2.5, math.inf, True])
def test_steps_out_of_range_name_the_value(value):
    with pytest.raises(ValueError, match="steps"):
        limits.check_steps(value)


@pytest.mark.parametrize("value", [1, 20, 150, "30", 12.0])
def test_steps_in_range(value):
    assert 1 <= limits.check_steps(value) <= 150


@pytest.mark.parametrize("value", [0, 4, 100, 2056, 100000, -64])
def test_sizes_out_of_range(value):
    with pytest.raises(ValueError, match="width"):
        limits.check_size("width", value)


def test_small_native_sizes_are_allowed_and_large_models_keep_64():
    assert limits.check_size("width", 32) == 32  # the demo base's own size
    assert limits.check_size("height", 2048) == 2048
    with pytest.raises(ValueError, match="between 64"):
        limits.check_size("width", 32, native=512)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", -1, 31, "x", math.nan])
def test_guidance_must_be_finite_and_in_range(value):
    with pytest.raises(ValueError, match="guidance"):
        limits.check_guidance(value)


def test_names_are_checked_against_what_exists():
    assert limits.check_quant_spec("taq-w8a8") == "taq-w8a8"
    assert limits.check_scheduler("ddim") == "ddim"
    assert limits.check_device("cuda:1") == "cuda:1"
    for check, bad in ((limits.check_quant_spec, "taq-w9a9"), (limits.check_scheduler, "fast"),
                       (limits.check_device, "gpu"), (limits.check_device, "cpu:1")):
        with pytest.raises(ValueError, match=bad):
            check(bad)
    with pytest.raises(ValueError, match="batch"):
        limits.check_batch(0)


def test_validate_request_uses_the_limits():
    from engine.generate import GenerationRequest, validate_request

    validate_request(GenerationRequest(prompt="x", steps=2, width=64, height=64))
    for bad in ({"guidance": math.inf}, {"steps": 0}, {"width": 100000}, {"quant_spec": "nope"}):
        with pytest.raises(ValueError):
            validate_request(GenerationRequest(prompt="x", **bad))


def test_settings_out_of_range_fall_back_to_defaults():
    from common.settings import Settings

    settings = Settings(steps=0, guidance=math.nan, width=100, device="gpu", quant_spec="x")
    problems = limits.clean_settings(settings)
    assert len(problems) == 5 and all(p.startswith("settings: ") for p in problems)
    assert (settings.steps, settings.guidance, settings.width, settings.device, settings.quant_spec) == \
        (20, 7.0, 512, "auto", "taq-w8a8")


def test_settings_of_the_wrong_type_are_ignored(personalq_home):
    from common.settings import load_settings, settings_path

    settings_path().write_text('{"steps": "many", "guidance": 5, "folders": "notalist", "use_demo_library": 1}')
    settings = load_settings()
    assert settings.steps == 20 and settings.guidance == 5.0 and settings.folders == []
    assert settings.use_demo_library is False


def test_text_is_escaped_for_one_line():
    name = os.fsdecode(b"a\xff") + "\nb\x1b[2J\t"
    assert escape_controls(name) == "a\\xff\\nb\\x1b[2J\\t"
    assert unsurrogate(os.fsdecode(b"x\xfe")) == "x\\xfe"
    assert clean_request("robot \udcff head") == "robot head"
    assert clean_request("\x1b[31mred\x1b[0m robot\x07") == "red robot"


def test_sweep_removes_only_dead_writers(tmp_path):
    dead = tmp_path / "a.png.tmp-999999"
    live = tmp_path / f"b.png.tmp-{os.getpid()}"
    folder = tmp_path / "key.tmp-999998"
    for p in (dead, live):
        p.write_text("x")
    folder.mkdir()
    (tmp_path / "plain.tmp-notapid").write_text("x")
    removed = paths.sweep_stale_tmp(tmp_path)
    assert sorted(p.name for p in removed) == ["a.png.tmp-999999", "key.tmp-999998"]
    assert live.exists() and (tmp_path / "plain.tmp-notapid").exists()


def test_atomic_write_keeps_the_old_file_on_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    paths.atomic_write_text(target, "old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths.os, "fsync", full)
    with pytest.raises(OSError):
        paths.atomic_write_text(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_check_output_path(tmp_path):
    from engine.generate import OutputPathError, check_output_path

    assert check_output_path(tmp_path / "new" / "x.png") == tmp_path / "new" / "x.png"
    assert not list((tmp_path / "new").iterdir())  # the probe file is gone
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="file"):
        check_output_path(tmp_path / "file" / "x.png")


def test_store_waits_out_a_short_lock_and_gives_up_on_a_long_one(tmp_path):
    from catalog.card import Card
    from catalog.store import Store, StoreBusy

    db = tmp_path / "c.sqlite"
    Store(db).close()
    holder = sqlite3.connect(str(db), check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    store = Store(db, write_wait=0.5)
    with pytest.raises(StoreBusy, match="locked"):
        with store.transaction():
            store.upsert_card(Card(path="/x/a.safetensors", name="a"))
    store.write_wait = 30
    timer = threading.Timer(0.5, holder.rollback)
    timer.start()
    with store.transaction():
        store.upsert_card(Card(path="/x/a.safetensors", name="a"))
    timer.join()
    holder.close()
    assert store.count() == 1
    store.close()


def test_unthreaded_index_stops_on_a_full_disk(tmp_path, monkeypatch):
    """Under the writer thread's threshold the same failure stops the run the same way."""
    from bench.robustness.harness import write_loras
    from catalog import indexer
    from catalog import store as store_mod

    write_loras(tmp_path / "lib", 5)
    store = store_mod.Store(tmp_path / "c.sqlite")
    real = store_mod.Store.upsert_card
    calls = {"n": 0}

    def failing(self, card, signature=None):
        calls["n"] += 1
        if calls["n"] > 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, card, signature)

    monkeypatch.setattr(store_mod.Store, "upsert_card", failing)
    with pytest.raises(indexer.IndexAborted, match="full") as info:
        indexer.index_folders([tmp_path / "lib"], store, embed=False)
    assert info.value.report.added == 2 and store.count() == 2
    store.close()


def test_start_sweeps_what_killed_processes_left(personalq_home, capsys):
    import main

    leftovers = [personalq_home / "config" / "settings.json.tmp-999999",
                 personalq_home / "data" / "outputs" / "2026-01-01" / "x.png.tmp-999999",
                 personalq_home / "cache" / "quantized" / "k-taq-w8a8.old-999999" / "unet.safetensors"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    kept = personalq_home / "data" / "outputs" / "2026-01-01" / "image.png"
    kept.write_text("png")
    assert main.main(["list"]) == 1  # no catalog yet; the sweep ran anyway
    assert not any(p.exists() for p in leftovers[:2]) and not leftovers[2].parent.exists()
    assert kept.exists()


def test_watcher_says_when_the_catalog_is_full(tmp_path, monkeypatch):
    """A re-index that hits a full disk reaches on_change with the cause instead of dying in the log."""
    import time

    from bench.robustness.harness import write_loras
    from catalog import store as store_mod
    from catalog.watcher import FolderWatcher

    root = tmp_path / "lib"
    root.mkdir()
    store = store_mod.Store(tmp_path / "c.sqlite")

    def full(self, card, signature=None):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_mod.Store, "upsert_card", full)
    changes = []
    watcher = FolderWatcher([root], store, on_change=changes.append, embed=False, compute_hashes=False).start()
    try:
        write_loras(root, 1)
        deadline = time.monotonic() + 10
        while not changes and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
        store.close()
    assert changes and any("catalog not updated" in p and "full" in p for p in changes[0].problems)
