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
