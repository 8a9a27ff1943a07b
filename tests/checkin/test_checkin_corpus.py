"""The generated corpus: deterministic, every request labelled in intent-dev's schema, files the catalog reads."""
import json

from bench.corpus.generate import write_corpus


def test_the_corpus_is_deterministic_and_labelled(tmp_path):
    a = write_corpus(tmp_path / "a", n_libraries=2, n_concepts=20, requests_per_concept=3)
    b = write_corpus(tmp_path / "b", n_libraries=2, n_concepts=20, requests_per_concept=3)
    assert a["hash"] == b["hash"]
    rows = [json.loads(line) for line in (tmp_path / "a/lib0/requests.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["expect"] for r in rows} == {"select", "clarify", "none"}
    library = tmp_path / "a/lib0/library"
    for r in rows:
        assert r["id"] and r["request"] and r["tags"] and r["today"]
        if r["expect"] == "select":
            assert (library / r["checkpoint"]).exists() and r["expected_trigger"]
            assert all((library / p).exists() for p in r["equivalent"])
        if r["expect"] == "clarify":
            assert 2 <= len(r["candidate_concepts"]) <= 4 and all((library / p).exists() for p in r["candidates"])


def test_the_catalog_reads_every_generated_file(tmp_path):
    from catalog.indexer import index_folders
    from catalog.store import Store

    write_corpus(tmp_path / "c", n_libraries=1, n_concepts=25, requests_per_concept=1)
    concepts = json.loads((tmp_path / "c/lib0/concepts.json").read_text(encoding="utf-8"))
    store = Store(tmp_path / "db.sqlite")
    index_folders([str(tmp_path / "c/lib0/library")], store)
    cards = store.cards()
    assert len(cards) == sum(len(c["files"]) for c in concepts)
    assert not [c.path for c in cards if c.error]
    triggers = {t for c in cards for t in c.triggers}
    assert sum(c["trigger"] in triggers for c in concepts) >= 0.9 * len(concepts)
    store.close()


def test_some_cards_say_where_their_photos_were_taken_and_no_label_rests_on_it(tmp_path):
    from bench.corpus import pools as P

    write_corpus(tmp_path / "s", n_libraries=1, n_concepts=40, requests_per_concept=1)
    concepts = json.loads((tmp_path / "s/lib0/concepts.json").read_text(encoding="utf-8"))
    placed = [c for c in concepts if any(c["description"].endswith(s) for s in P.PHOTO_SETTINGS)]
    assert 0 < len(placed) < len(concepts) and all(c["domain"] in P.SETTING_DOMAINS for c in placed)
    setting_words = {w.strip(".").lower() for s in P.PHOTO_SETTINGS for w in s.split()[-1:]}  # "beach", "garden"
    assert not any(setting_words & set(c["facts"]) for c in placed)


def test_the_hand_writer_labels_the_sealed_library_only_and_every_label_resolves():
    import random

    from bench.corpus import hand_writer
    from bench.corpus.concepts import build_concepts, plan_files
    from bench.corpus.requests import select_row

    lib, seed = hand_writer.LIBRARY, hand_writer.SEED
    concepts, today = build_concepts(lib, 10, 90, seed)
    plan_files(concepts, random.Random(seed * 31 + lib), today)  # as write_corpus does
    rows = hand_writer.write_requests(concepts, select_row, hand_writer.LIBRARY, hand_writer.SEED, today)
    assert {r["expect"] for r in rows} == {"select", "clarify", "none"} and len(rows) >= 60
    assert all(r["writer"] == "hand" and r["request"] for r in rows)
    files = {f.rel for c in concepts for f in c.files}
    for r in rows:
        assert r.get("checkpoint", next(iter(files))) in files and set(r.get("candidates", [])) <= files
        assert 2 <= len(r.get("candidates", [1, 2])) <= 4
    assert hand_writer.write_requests(concepts, select_row, 8, hand_writer.SEED, today) == []
