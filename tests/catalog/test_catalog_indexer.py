"""Indexer on real files: the fixture library, hostile files, odd file systems, incremental rescans, kills."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from catalog.indexer import index_folders
from catalog.scan import FolderNotFound
from catalog.store import Store
from tests.catalog.fixtures import (
    hostile_markers,
    kohya_lora,
    kohya_metadata,
    safetensors_bytes,
    write_hostile_files,
    write_library,
    write_safetensors,
)

REPO = Path(__file__).resolve().parents[2]


def _index(folders, store, **kw):
    kw.setdefault("embed", False)
    return index_folders(folders if isinstance(folders, list) else [folders], store, **kw)


def _rel(root, path) -> str:
    return unicodedata.normalize("NFC", os.path.relpath(path, root))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db" / "catalog.sqlite")
    yield s
    s.close()


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "lib"
    expected = write_library(root)
    return root, expected


def test_fixture_library_indexes_every_format(library, store):
    root, expected = library
    report = _index(root, store)
    cards = {_rel(root, c.path): c for c in store.cards()}
    assert set(cards) == set(expected)
    for rel, exp in expected.items():
        card = cards[rel]
        got = {k: getattr(card, k) for k in ("kind", "base_model", "format", "name", "triggers")}
        assert got == {k: exp[k] for k in got}, rel
        assert card.error is None, rel
    assert report.added == len(expected) and report.errors == 0
    assert report.hashed == len(expected) - 1  # the diffusers folder is not hashed
    assert store.check_integrity() == []


def test_diffusers_folder_is_one_entry(library, store):
    root, _ = library
    _index(root, store)
    inside = [c.path for c in store.cards() if "owl-dreambooth" in c.path]
    assert inside == [str(root / "diffusers/models/owl-dreambooth")]


def test_hostile_and_broken_files_become_error_entries_and_the_rest_survives(library, store, tmp_path):
    root, expected = library
    hostile = write_hostile_files(root / "junk")
    report = _index(root, store)
    cards = {_rel(root, c.path): c for c in store.cards()}
    for rel, needle in hostile.items():
        card = cards["junk/" + rel]
        assert card.error, rel
        assert needle in card.error, (rel, card.error)
        assert card.kind == "unknown"
    for rel in expected:
        assert cards[rel].error is None
    assert report.errors == len(hostile)
    assert not any(m.exists() for m in hostile_markers(root / "junk"))
    assert store.check_integrity() == []
    assert store.fts_search("rxcorgi", 3)[0][0] == str(root / "Lora/pets/rex_corgi_v2.safetensors")


def test_special_files_are_never_opened(tmp_path, store):
    root = tmp_path / "lib"
    root.mkdir()
    os.mkfifo(root / "pipe.safetensors")  # open() would block forever
    os.symlink(root / "nowhere.safetensors", root / "dangling.safetensors")
    write_safetensors(root / "ok.safetensors", kohya_lora("sd15"), kohya_metadata("ok", "oktok"))
    report = _index(root, store)
    cards = {Path(c.path).name: c for c in store.cards()}
    assert "not a regular file (a named pipe)" in cards["pipe.safetensors"].error
    assert "symlink whose target is missing" in cards["dangling.safetensors"].error
    assert cards["ok.safetensors"].error is None
    assert report.errors == 2


def test_symlink_loops_terminate_and_linked_files_are_duplicates(tmp_path, store):
    root = tmp_path / "lib"
    (root / "a").mkdir(parents=True)
    write_safetensors(root / "a/orig.safetensors", kohya_lora("sd15"), kohya_metadata("orig", "origtok"))
    os.symlink(root, root / "a/loop")  # a -> lib -> a -> ...
    os.symlink(root / "a/orig.safetensors", root / "link.safetensors")
    _index(root, store)
    paths = sorted(_rel(root, c.path) for c in store.cards())
    assert paths == ["a/orig.safetensors", "link.safetensors"]
    link = store.get(str(root / "link.safetensors"))
    assert link.duplicate_of == str(root / "a/orig.safetensors")
    assert store.get(str(root / "a/orig.safetensors")).duplicate_of is None


def test_copies_point_at_the_original(tmp_path, store):
    root = tmp_path / "lib"
    write_safetensors(root / "Lora/charcoal.safetensors", kohya_lora("sd15"), kohya_metadata("charcoal", "chrcl"))
    (root / "Downloads").mkdir()
    shutil.copyfile(root / "Lora/charcoal.safetensors", root / "Downloads/charcoal (copy).safetensors")
    report = _index(root, store)
    dup = store.get(str(root / "Downloads/charcoal (copy).safetensors"))
    assert dup.duplicate_of == str(root / "Lora/charcoal.safetensors")
    assert dup.sha256 == store.get(str(root / "Lora/charcoal.safetensors")).sha256
    assert report.duplicates == 1
    os.remove(root / "Lora/charcoal.safetensors")
    _index(root, store)
    assert store.get(str(root / "Downloads/charcoal (copy).safetensors")).duplicate_of is None


def test_non_utf8_file_name_is_an_error_entry(tmp_path, store):
    root = tmp_path / "lib"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"caf\xe9.safetensors")
    with open(raw, "wb") as f:
        f.write(safetensors_bytes({"emb_params": ([2, 768], "F16")}))
    write_safetensors(root / "fine.safetensors", {"emb_params": ([2, 768], "F16")})
    report = _index(root, store)
    bad = [c for c in store.cards() if c.error]
    assert len(bad) == 1 and "not valid UTF-8" in bad[0].error
    assert bad[0].path.endswith("caf\\xe9.safetensors")
    assert report.seen == 2
    assert _index(root, store).unchanged == 2  # stable across rescans


def test_unlistable_folder_is_reported_and_skipped(tmp_path, store):
    """A folder whose full path is longer than PATH_MAX cannot be listed, even by root."""
    root = tmp_path / "lib"
    write_safetensors(root / "top.safetensors", {"emb_params": ([2, 768], "F16")})
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(25):  # 25 x 200 chars > 4096
            name = "d" * 200
            os.mkdir(name, dir_fd=fd)
            new = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        with open(os.open("deep.safetensors", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as f:
            f.write(safetensors_bytes({"emb_params": ([2, 768], "F16")}))
    finally:
        os.close(fd)
    report = _index(root, store)
    assert [Path(c.path).name for c in store.cards()] == ["top.safetensors"]
    assert any("cannot" in p for p in report.problems)


def test_incremental_rescan_reads_only_what_changed(library, store):
    root, expected = library
    _index(root, store)
    again = _index(root, store)
    assert (again.added, again.updated, again.removed, again.hashed) == (0, 0, 0, 0)
    assert again.unchanged == len(expected)
    target = root / "Lora/pets/rex_corgi_v2.safetensors"
    write_safetensors(target, kohya_lora("sd15"), kohya_metadata("rex_corgi_v3", "rxcorgi", "dog"))
    os.utime(target, (time.time() + 5, time.time() + 5))
    changed = _index(root, store)
    assert (changed.updated, changed.hashed) == (1, 1)
    assert store.get(str(target)).name == "rex_corgi_v3"


def test_sidecar_edit_updates_the_card_and_keeps_the_hash(library, store):
    root, _ = library
    _index(root, store)
    model = root / "Lora/people/nora.safetensors"
    sha = store.get(str(model)).sha256
    sidecar = root / "Lora/people/nora.json"
    sidecar.write_text('{"description": "Nora at the beach.", "activation text": "nrbeach"}', encoding="utf-8")
    os.utime(sidecar, (time.time() + 5, time.time() + 5))
    report = _index(root, store)
    card = store.get(str(model))
    assert report.updated == 1 and report.hashed == 0
    assert card.description == "Nora at the beach." and card.canonical_trigger == "nrbeach"
    assert card.sha256 == sha


def test_deleted_files_disappear_but_other_folders_are_left_alone(tmp_path, store):
    a, b = tmp_path / "a", tmp_path / "b"
    write_safetensors(a / "one.safetensors", {"emb_params": ([2, 768], "F16")})
    write_safetensors(a / "two.safetensors", {"emb_params": ([3, 768], "F16")})
    write_safetensors(b / "three.safetensors", {"emb_params": ([4, 768], "F16")})
    _index([a, b], store)
    os.remove(a / "two.safetensors")
    report = _index(a, store)
    assert report.removed == 1
    assert sorted(Path(c.path).name for c in store.cards()) == ["one.safetensors", "three.safetensors"]
    assert store.fts_search("two", 5) == []


def test_user_edits_survive_reindexing(library, store):
    root, _ = library
    _index(root, store)
    path = str(root / "Lora/pets/rex_corgi_v2.safetensors")
    store.set_user_edit(path, trigger="rexy", description="our corgi Rex", tags=["dog"])
    os.utime(path, (time.time() + 9, time.time() + 9))
    assert _index(root, store).updated == 1
    card = store.get(path)
    assert (card.canonical_trigger, card.description, card.tags) == ("rexy", "our corgi Rex", ["dog"])


def test_missing_folder_raises_a_clear_error(tmp_path, store):
    with pytest.raises(FolderNotFound, match="folder not found: .*nope"):
        _index(tmp_path / "nope", store)


def test_progress_reports_each_phase_and_cancel_stops(library, store):
    root, _ = library
    seen = []
    _index(root, store, progress=lambda phase, done, total: seen.append((phase, done, total)))
    phases = [p for p, _, _ in seen]
    assert phases.index("scan") < phases.index("index") < phases.index("hash")
    assert seen[-1][1] == seen[-1][2]  # finished
    other = Store(root.parent / "other.sqlite")
    report = _index(root, other, should_stop=lambda: True)
    assert report.cancelled and other.count() == 0
    other.close()


def test_single_model_file_can_be_indexed(library, store):
    root, _ = library
    report = _index(root / "embeddings/xl/prism.safetensors", store)
    assert report.paths == [str(root / "embeddings/xl/prism.safetensors")]


_KILL_CHILD = r"""
import sys
from catalog.indexer import index_folders
from catalog.store import Store
store = Store(sys.argv[2])
def progress(phase, done, total):
    print(phase, done, total, flush=True)
index_folders([sys.argv[1]], store, progress=progress, embed=False)
print("finished", flush=True)
"""


def _many_files(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    tensors = kohya_lora("sd15", te=False)
    for i in range(n):
        sub = root / f"d{i % 20:02d}"
        sub.mkdir(exist_ok=True)
        write_safetensors(sub / f"lora_{i:05d}.safetensors", tensors, kohya_metadata(f"run_{i}", f"tok{i}x"))


def test_killing_the_indexer_leaves_a_consistent_database(tmp_path):
    root, db = tmp_path / "many", tmp_path / "kill.sqlite"
    _many_files(root, 1500)
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(root), str(db)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed_at = None
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] == "index" and int(parts[1]) >= 150:
            proc.send_signal(signal.SIGKILL)
            killed_at = int(parts[1])
            break
    proc.wait(timeout=60)
    assert killed_at is not None, proc.stderr.read()
    store = Store(db)
    partial = store.count()
    assert killed_at <= partial < 1500
    assert store.check_integrity() == []
    for card in store.cards():  # every committed row is whole
        assert card.kind == "lora" and card.triggers and card.name.startswith("run_")
    report = _index(root, store)
    assert report.added == 1500 - partial and report.unchanged == partial
    assert store.count() == 1500 and store.check_integrity() == []
    assert store.fts_search("tok1499x", 1)[0][0].endswith("lora_01499.safetensors")
    store.close()
