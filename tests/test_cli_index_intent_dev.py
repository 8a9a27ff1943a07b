"""`personalq index` reproduces kind, base model, trigger and name of every file in intent-dev (tests/worlds)."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import main
from catalog.store import Store


def test_index_matches_expected_index(bench_worlds, tmp_path, capsys):
    dev = bench_worlds / "bench" / "intent-dev"
    library = dev / "library"  # read-only: the indexer never writes into the folders it scans
    expected = json.loads((dev / "expected_index.json").read_text(encoding="utf-8"))["entries"]
    db = tmp_path / "catalog.sqlite"

    code = main.main(["index", str(library), "--db", str(db), "--json"])  # the default path: hashes + embeddings
    out = capsys.readouterr().out
    assert code == 0
    entries = {unicodedata.normalize("NFC", str(Path(e["path"]).relative_to(library))): e for e in json.loads(out)}
    assert set(entries) == {e["path"] for e in expected}

    store = Store(db)
    mismatches = []
    for exp in expected:
        got = entries[exp["path"]]
        card = store.get(got["path"])
        names = [exp["display_name"]] + exp["display_name_aliases"]
        checks = {
            "kind": (got["kind"], exp["kind"]),
            "base_model": (got["base_model"], exp["base_model"]),
            "canonical_trigger": (card.canonical_trigger, exp["canonical_trigger"]),
            "triggers[0]": ((got["triggers"] or [None])[0], exp["canonical_trigger"]),
            "error": (got["error"], None),
            "sha256": (card.sha256, exp["sha256"]),
            "duplicate_of": (card.duplicate_of and str(Path(card.duplicate_of).relative_to(library)), exp["duplicate_of"]),
        }
        for field, (have, want) in checks.items():
            if have != want:
                mismatches.append(f"{exp['path']}: {field} {have!r} != {want!r}")
        if got["name"] not in names:
            mismatches.append(f"{exp['path']}: name {got['name']!r} not in {names!r}")
    assert not mismatches, "\n".join(mismatches)

    paths, matrix = store.embedding_matrix()
    assert len(paths) == len(expected) and matrix.shape[0] == len(expected)
    top = [p for p, _ in store.fts_search("waffles the beagle", 3)]
    assert any("waffles_beagle" in p for p in top), top
    store.close()
