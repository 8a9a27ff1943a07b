"""FolderWatcher on a real folder with real inotify events: drop, delete, half-copied, sidecars."""
from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from catalog.scan import FolderNotFound
from catalog.store import Store
from catalog.watcher import FolderWatcher, _targets
from tests.catalog.fixtures import kohya_lora, kohya_metadata, safetensors_bytes, write_library


def _wait_for(check, timeout: float = 2.0):
    """Poll `check()` until truthy; return (value, seconds waited) or (None, timeout)."""
    start = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None, timeout
        time.sleep(0.02)


@pytest.fixture
def watched(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    store = Store(tmp_path / "c.sqlite")
    changes = []
    watcher = FolderWatcher([root], store, on_change=changes.append, embed=False).start()
    yield root, store, changes
    watcher.stop()
    store.close()


def _lora_bytes(name: str, token: str) -> bytes:
    return safetensors_bytes(kohya_lora("sd15"), kohya_metadata(name, token))


def test_dropped_file_is_searchable_within_two_seconds(watched):
    root, store, changes = watched
    (root / "new_dog.safetensors").write_bytes(_lora_bytes("new_dog", "nwdog"))
    hits, waited = _wait_for(lambda: store.fts_search("nwdog", 3))
    assert hits and hits[0][0] == str(root / "new_dog.safetensors"), waited
    assert changes and changes[0].added == 1


def test_deleted_file_disappears(watched):
    root, store, _ = watched
    path = root / "gone.safetensors"
    path.write_bytes(_lora_bytes("gone", "gonetok"))
    assert _wait_for(lambda: store.get(str(path)))[0]
    path.unlink()
    _, waited = _wait_for(lambda: store.get(str(path)) is None)
    assert store.get(str(path)) is None and waited < 2.0


def test_half_copied_file_waits_until_its_size_is_stable(watched):
    root, store, _ = watched
    data = _lora_bytes("slow_copy", "slowtok")
    path = root / "slow.safetensors"
    seen_while_growing = []
    with open(path, "wb") as f:
        for start in range(0, len(data), max(1, len(data) // 10)):
            f.write(data[start:start + max(1, len(data) // 10)])
            f.flush()
            time.sleep(0.12)
            seen_while_growing.append(store.get(str(path)))
    assert seen_while_growing and all(c is None for c in seen_while_growing)  # never indexed half-written
    card, _ = _wait_for(lambda: store.get(str(path)))
    assert card is not None and card.error is None and card.canonical_trigger == "slowtok"


def test_sidecar_added_later_updates_the_card(watched):
    root, store, _ = watched
    model = root / "pet.safetensors"
    model.write_bytes(_lora_bytes("pet", "pettok"))
    assert _wait_for(lambda: store.get(str(model)))[0]
    (root / "pet.json").write_text(json.dumps({"activation text": "mypet", "description": "Our cat Miso."}))
    card, _ = _wait_for(lambda: (c := store.get(str(model))) and c.canonical_trigger == "mypet" and c)
    assert card and card.description == "Our cat Miso."


def test_new_subfolders_and_diffusers_folders(watched, tmp_path):
    root, store, _ = watched
    staging = tmp_path / "staging"
    write_library(staging)
    shutil.copytree(staging / "diffusers/models/owl-dreambooth", root / "owl-dreambooth")
    shutil.copytree(staging / "Lora", root / "Lora")
    owl, _ = _wait_for(lambda: store.get(str(root / "owl-dreambooth")))
    assert owl and owl.kind == "diffusers_model"
    corgi, _ = _wait_for(lambda: store.get(str(root / "Lora/pets/rex_corgi_v2.safetensors")))
    assert corgi and corgi.canonical_trigger == "rxcorgi"
    assert not [c for c in store.cards() if "owl-dreambooth/" in c.path]  # components are not entries


def test_hashes_follow_the_fast_pass(watched):
    root, store, _ = watched
    path = root / "hashme.safetensors"
    path.write_bytes(_lora_bytes("hashme", "hashtok"))
    card, _ = _wait_for(lambda: (c := store.get(str(path))) and c.sha256 and c, timeout=4.0)
    assert card and len(card.sha256) == 64


def test_stop_ends_watching(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    store = Store(tmp_path / "c.sqlite")
    before = threading.active_count()
    watcher = FolderWatcher([root], store).start()
    assert watcher.running
    watcher.stop()
    assert not watcher.running and threading.active_count() <= before
    (root / "late.safetensors").write_bytes(_lora_bytes("late", "latetok"))
    time.sleep(0.8)
    assert store.get(str(root / "late.safetensors")) is None
    store.close()


def test_missing_folder_is_refused(tmp_path):
    store = Store(tmp_path / "c.sqlite")
    with pytest.raises(FolderNotFound, match="cannot watch"):
        FolderWatcher([tmp_path / "nope"], store)
    store.close()


def test_targets_pick_the_enclosing_diffusers_folder(tmp_path):
    root = tmp_path / "lib"
    (root / "m/unet").mkdir(parents=True)
    (root / "m/model_index.json").write_text("{}")
    (root / "a/b").mkdir(parents=True)
    got = _targets([str(root / "m/unet/config.json"), str(root / "a/b/x.safetensors"),
                    str(root / "a/gone/y.safetensors"), "/elsewhere/z.safetensors"], [str(root)])
    assert got == [str(root / "a"), str(root / "m")]
