"""The developer libraries' ground truth: probe + build_card reproduce intent-dev and intent-versions-dev.

Every entry of both expected_index.json files is checked for kind, base model, format,
canonical trigger, all trigger words and display name (or an accepted alias); intent-versions-dev
also for the stated version number, the training date, and that the newest version of each
concept is the one `version_sort_key` ranks first.
"""
from __future__ import annotations

import json
import os
import shutil
import unicodedata
from pathlib import Path

import pytest

from catalog.metadata import build_card
from catalog.probe import is_diffusers_folder, probe_path
from catalog.versions import version_sort_key
from common.hashing import sha256_file
from tests.worlds import build_world


def _load_root(root: Path):
    expected = json.loads((root / "expected_index.json").read_text(encoding="utf-8"))
    library = root / expected["library_root"]
    on_disk = {}  # NFC relative path -> real path (names on disk may be NFD)
    for dirpath, dirnames, filenames in os.walk(library):
        for entry in dirnames + filenames:
            full = Path(dirpath) / entry
            on_disk[unicodedata.normalize("NFC", str(full.relative_to(library)))] = full
    cards = {}
    for entry in expected["entries"]:
        path = on_disk[entry["path"]]
        cards[entry["path"]] = build_card(probe_path(path))
    return library, expected["entries"], cards


@pytest.fixture(scope="module", params=["as-shipped", "reseeded"])
def intent_dev(request, bench_worlds, tmp_path_factory):
    if request.param == "as-shipped":
        return _load_root(bench_worlds / "bench" / "intent-dev")
    # same rules, another seed: different ranks, tags, dates and text-encoder choices
    return _load_root(build_world("intent-dev", tmp_path_factory.mktemp("reseed"), seed=4242))


@pytest.fixture(scope="module", params=["as-shipped", "reseeded", "copied"])
def versions_dev(request, bench_worlds, tmp_path_factory):
    """(library, entries, cards, mtimes_intact); 'copied' is a plain copy, which resets every mtime."""
    shipped = bench_worlds / "bench" / "intent-versions-dev"
    if request.param == "as-shipped":
        return (*_load_root(shipped), True)
    if request.param == "reseeded":
        return (*_load_root(build_world("intent-versions-dev", tmp_path_factory.mktemp("reseed"), seed=4242)), True)
    copy = tmp_path_factory.mktemp("copied") / "intent-versions-dev"
    shutil.copytree(shipped, copy, copy_function=shutil.copyfile)
    return (*_load_root(copy), False)


def _check_identity(entry, card):
    where = entry["path"]
    assert card.error is None, (where, card.error)
    assert (card.kind, card.base_model, card.format) == (entry["kind"], entry["base_model"], entry["format"]), where
    assert card.canonical_trigger == entry["canonical_trigger"], where
    assert card.triggers == entry["trigger_words"], where
    names = [entry["display_name"], *entry["display_name_aliases"]]
    assert card.name in names, (where, card.name, names)


def test_intent_dev_every_entry(intent_dev):
    _, entries, cards = intent_dev
    assert len(entries) == 54
    for entry in entries:
        _check_identity(entry, cards[entry["path"]])


def test_intent_dev_sources_sidecars_previews(intent_dev):
    library, entries, cards = intent_dev
    rel = lambda p: unicodedata.normalize("NFC", str(Path(p).relative_to(library))) if p else None  # noqa: E731
    for entry in entries:
        card = cards[entry["path"]]
        assert card.metadata_sources == entry["metadata_sources"], entry["path"]
        assert [rel(s) for s in card.sidecars] == entry["sidecars"], entry["path"]
        assert rel(card.preview) == entry["preview"], entry["path"]
        assert card.is_negative_embedding == entry["is_negative_embedding"], entry["path"]
        if entry.get("inpainting"):
            assert card.variant == "inpaint", entry["path"]
        if entry.get("prediction_type"):
            assert card.prediction_type == entry["prediction_type"], entry["path"]
        if entry["description_source"] in ("a1111", "civitai", "modelspec", "readme"):
            assert card.description == entry["description"], entry["path"]


def test_intent_dev_diffusers_folder_is_one_entry(intent_dev):
    library, entries, _ = intent_dev
    folders = [e for e in entries if e["kind"] == "diffusers_model"]
    assert folders and all(is_diffusers_folder(library / e["path"]) for e in folders)
    inside = [e for e in entries for f in folders if e["path"].startswith(f["path"] + "/")]
    assert inside == []


def test_intent_dev_sha256(intent_dev):
    library, entries, _ = intent_dev
    for entry in entries:
        if entry["sha256"]:
            assert sha256_file(library / entry["path"]) == entry["sha256"], entry["path"]


def test_versions_dev_every_entry(versions_dev):
    _, entries, cards, _ = versions_dev
    assert len(entries) == 32
    for entry in entries:
        _check_identity(entry, cards[entry["path"]])


def test_versions_dev_stated_numbers_and_dates(versions_dev):
    library, entries, cards, mtimes_intact = versions_dev
    for entry in entries:
        card = cards[entry["path"]]
        if not entry["version_evidence"][0].startswith("none stated"):
            assert card.version_number == entry["version"], (entry["path"], card.version)
        in_metadata = any(d.startswith(("ss_training", "modelspec.date", "civitai")) for d in entry["date_evidence"])
        if in_metadata or mtimes_intact:  # else only a copied mtime + "retrained in February": unknown
            assert (card.created or "")[:10] == entry["created"], entry["path"]


def test_versions_dev_newest_version_of_each_concept(versions_dev):
    _, entries, cards, _ = versions_dev
    concepts: dict[str, list] = {}
    for entry in entries:
        concepts.setdefault(entry["concept_id"], []).append(entry)
    assert len(concepts) == 6
    for concept, group in concepts.items():
        newest = max(group, key=lambda e: version_sort_key(cards[e["path"]]))
        assert newest["is_newest"], (concept, newest["path"])
        # and every version with a stated number or date sits in its place (copies beside their original);
        # lior_better carries neither (only "retrained in February" and a copied mtime), so it has no place.
        known = [e for e in group if cards[e["path"]].created or cards[e["path"]].version_number is not None]
        assert len(known) >= len(group) - 1, concept
        ranked = sorted(known, key=lambda e: version_sort_key(cards[e["path"]]))
        assert [e["version"] for e in ranked] == sorted(e["version"] for e in known), concept
