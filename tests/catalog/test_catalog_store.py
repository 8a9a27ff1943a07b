"""Store: real SQLite files in a temp dir; FTS5, user edits, embeddings, migrations, threads."""
from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from catalog.card import Card
from catalog.embeddings import card_text, get_embedder, text_hash
from catalog.fts import fts_query
from catalog.store import Store


def _card(path, **kw) -> Card:
    base = dict(kind="lora", base_model="sd15", name=path.rsplit("/", 1)[-1].split(".")[0], size=10, mtime=1.0)
    base.update(kw)
    return Card(path=path, **base)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "cat.sqlite")
    yield s
    s.close()


def test_roundtrip_keeps_every_field(store):
    card = _card("/lib/a.safetensors", canonical_trigger="wffl", triggers=["wffl", "beagle"], tags=["dog"],
                 description="my beagle", version="v2", version_number=2.0, created="2024-03-01",
                 sidecars=["/lib/a.json"], metadata_sources=["kohya", "a1111"], is_negative_embedding=True,
                 prediction_type="epsilon", sha256="ab" * 32, preview="/lib/a.preview.png")
    store.upsert_card(card)
    assert store.get("/lib/a.safetensors") == card
    assert store.get("/lib/missing.safetensors") is None


MIGRATIONS = ["0001_create_tables", "0002_glosses", "0003_gloss_subjects", "0004_catalog_version"]


def _as_before(db, migration: str) -> None:
    """Make an open catalog look like one written before `migration` (and the ones after it)."""
    later = MIGRATIONS[MIGRATIONS.index(migration):]
    if "0004_catalog_version" in later:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'bump_%'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE catalog_version")
    db.execute(f"DELETE FROM migrations WHERE name IN ({', '.join('?' for _ in later)})", later)


def test_wal_mode_and_named_migrations(store, tmp_path):
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.applied_migrations() == MIGRATIONS
    store.close()
    again = Store(tmp_path / "cat.sqlite")  # reopening applies nothing twice
    assert again.applied_migrations() == MIGRATIONS
    again.close()


def test_a_catalog_from_before_glosses_is_upgraded_in_place(tmp_path):
    old = Store(tmp_path / "old.sqlite")
    old.upsert_card(_card("/lib/a.safetensors", description="my beagle"))
    with old.db.atomic():  # make it what a catalog written before the glosses table looks like
        _as_before(old.db, "0002_glosses")
        old.db.execute("DROP TABLE glosses")
    old.close()
    new = Store(tmp_path / "old.sqlite")
    assert new.applied_migrations() == MIGRATIONS
    assert new.get("/lib/a.safetensors").description == "my beagle" and new.gloss_models() == {}
    new.close()


def test_a_catalog_with_glosses_but_no_subjects_keeps_its_glosses(tmp_path):
    from catalog.card import gloss_source

    old = Store(tmp_path / "old.sqlite")
    card = _card("/lib/nainai.safetensors", description="我的奶奶")
    old.upsert_card(card)
    with old.db.atomic():  # a catalog written before subjects: the glosses table without the column
        _as_before(old.db, "0003_gloss_subjects")
        old.db.execute("DROP TABLE glosses")
        old.db.execute("CREATE TABLE glosses (path TEXT PRIMARY KEY, source TEXT, model TEXT, text TEXT, made_at FLOAT)")
        old.db.execute("INSERT INTO glosses VALUES (?, ?, 'm.gguf', 'grandmother: my grandma', 1.0)",
                       [card.path, gloss_source(card)])
    old.close()
    new = Store(tmp_path / "old.sqlite")
    assert new.applied_migrations() == MIGRATIONS
    kept = new.get(card.path)
    assert kept.gloss == "grandmother: my grandma" and kept.subject == ""
    assert new.gloss_models() == {}  # so the next gloss pass reads it again and names its subject
    assert new.put_gloss(card.path, gloss_source(card), "m.gguf", kept.gloss, "grandmother")
    assert new.get(card.path).subject == "grandmother"
    new.close()


def test_upsert_replaces_and_remove_forgets(store):
    store.upsert_card(_card("/lib/a.safetensors", name="Old"))
    store.upsert_card(_card("/lib/a.safetensors", name="New"))
    assert [c.name for c in store.cards()] == ["New"]
    assert store.fts_search("old", 5) == []
    assert store.remove("/lib/a.safetensors") is True
    assert store.get("/lib/a.safetensors") is None
    assert store.fts_search("new", 5) == []
    assert store.remove("/lib/a.safetensors") is False


def test_cards_can_leave_out_errors(store):
    store.upsert_card(_card("/lib/good.safetensors"))
    store.upsert_card(_card("/lib/bad.safetensors", kind="unknown", error="header length beyond file"))
    assert [c.path for c in store.cards()] == ["/lib/bad.safetensors", "/lib/good.safetensors"]
    assert [c.path for c in store.cards(include_errors=False)] == ["/lib/good.safetensors"]
    assert store.fts_search("bad", 5) == []  # an unreadable file is not a search result


def test_known_files_gives_size_and_mtime(store):
    store.upsert_card(_card("/lib/a.safetensors", size=123, mtime=456.5))
    assert store.known_files() == {"/lib/a.safetensors": (123, 456.5)}


def test_fts_ranks_trigger_and_name_matches_first(store):
    store.upsert_card(_card("/lib/Lora/waffles_beagle_v1.safetensors", name="Waffles the Beagle",
                            triggers=["wfflbeagle"], canonical_trigger="wfflbeagle", description="my beagle"))
    store.upsert_card(_card("/lib/Lora/charcoal.safetensors", name="Charcoal Sketch", triggers=["charcoalsk"],
                            description="smudgy drawing, not a beagle"))
    store.upsert_card(_card("/lib/Lora/teal.safetensors", name="Teal Typewriter", tags=["object", "vintage"]))
    hits = store.fts_search("a photo of waffles the beagle", 10)
    assert hits[0][0].endswith("waffles_beagle_v1.safetensors")
    assert all(s > 0 for _, s in hits)
    assert [p for p, _ in hits][:2] == ["/lib/Lora/waffles_beagle_v1.safetensors", "/lib/Lora/charcoal.safetensors"]
    assert store.fts_search("wfflbeagle", 3)[0][0].endswith("waffles_beagle_v1.safetensors")
    assert store.fts_search("vintage", 3) == [("/lib/Lora/teal.safetensors", pytest.approx(store.fts_search("vintage", 3)[0][1]))]


def test_fts_matches_file_name_words_and_prefixes(store):
    store.upsert_card(_card("/lib/Lora/graffiti_wall_xl.safetensors", name="Street Art"))
    assert store.fts_search("graffiti", 3)[0][0] == "/lib/Lora/graffiti_wall_xl.safetensors"
    assert store.fts_search("graff", 3)[0][0] == "/lib/Lora/graffiti_wall_xl.safetensors"


@pytest.mark.parametrize("text", ['"', "a*b", "NEAR(", "-dog", "name:x", "AND OR NOT", "(((", "'; DROP TABLE", "",
                                  "   ", "🐶🐶", "^", "x\x00y", "\"unterminated"])
def test_fts_never_raises_on_user_text(store, text):
    store.upsert_card(_card("/lib/dog.safetensors", name="dog and cat"))
    result = store.fts_search(text, 5)
    assert isinstance(result, list)


def test_fts_query_quotes_every_word():
    assert fts_query('my "dog" NEAR cat*') == '"dog"* OR "near"* OR "cat"*'
    assert fts_query("a the") == '"a" OR "the"*'
    assert fts_query("") == ""


def test_user_edits_survive_rescan_and_are_searchable(store):
    path = "/lib/Lora/x.safetensors"
    store.upsert_card(_card(path, name="X", canonical_trigger="filetok", triggers=["filetok"], description="from file"))
    store.set_user_edit(path, trigger="mytok", description="my grandmother's garden", tags=["garden", "family"])
    store.upsert_card(_card(path, name="X", canonical_trigger="filetok", triggers=["filetok"], description="rescanned"))
    card = store.get(path)
    assert card.canonical_trigger == "mytok"
    assert card.triggers == ["mytok", "filetok"]
    assert card.description == "my grandmother's garden"
    assert card.tags == ["garden", "family"]
    assert "user" in card.metadata_sources
    assert store.fts_search("grandmother", 3)[0][0] == path
    assert store.fts_search("mytok", 3)[0][0] == path
    assert store.fts_search("rescanned", 3) == []  # the user's description replaces the file's


def test_user_edit_fields_are_independent_and_clearable(store):
    path = "/lib/y.safetensors"
    store.upsert_card(_card(path, description="file text", tags=["a"]))
    store.set_user_edit(path, description="mine")
    store.set_user_edit(path, tags=["b"])
    assert (store.get(path).description, store.get(path).tags) == ("mine", ["b"])
    store.set_user_edit(path, description="")
    assert store.get(path).description == "file text"
    assert store.get(path).tags == ["b"]


def test_user_edit_kept_when_file_disappears_and_returns(store):
    path = "/lib/z.safetensors"
    store.upsert_card(_card(path))
    store.set_user_edit(path, trigger="zz")
    store.remove(path)
    store.upsert_card(_card(path))
    assert store.get(path).canonical_trigger == "zz"


def test_set_hash_and_duplicate(store):
    store.upsert_card(_card("/lib/a.safetensors"))
    store.upsert_card(_card("/lib/b.safetensors"))
    store.set_hash("/lib/b.safetensors", "f" * 64, duplicate_of="/lib/a.safetensors")
    card = store.get("/lib/b.safetensors")
    assert (card.sha256, card.duplicate_of) == ("f" * 64, "/lib/a.safetensors")
    store.remove("/lib/a.safetensors")
    assert store.get("/lib/b.safetensors").duplicate_of is None


def test_each_thread_gets_its_own_connection(store):
    seen, errors = [], []

    def work(i):
        try:
            store.upsert_card(_card(f"/lib/t{i}.safetensors"))
            seen.append(id(store.db.conn))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(seen)) == 4
    assert store.count() == 4
    assert store.check_integrity() == []


def test_closed_store_refuses_use(tmp_path):
    s = Store(tmp_path / "c.sqlite")
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.cards()


def test_embedding_matrix_stores_float32_blobs(store):
    store.upsert_card(_card("/lib/a.safetensors", name="alpha"))
    store.upsert_card(_card("/lib/b.safetensors", name="beta"))
    store.upsert_card(_card("/lib/e.safetensors", error="broken"))
    stale = store.stale_embeddings("toy")
    assert [p for p, _, _ in stale] == ["/lib/a.safetensors", "/lib/b.safetensors"]
    vecs = np.eye(2, 3, dtype=np.float32)
    store.put_embeddings([(p, t, h, v) for (p, t, h), v in zip(stale, vecs)], "toy")
    paths, matrix = store.embedding_matrix()
    assert paths == ["/lib/a.safetensors", "/lib/b.safetensors"]
    assert matrix.dtype == np.float32 and matrix.shape == (2, 3)
    np.testing.assert_array_equal(matrix, vecs)
    assert store.stale_embeddings("toy") == []
    store.set_user_edit("/lib/a.safetensors", description="now different")
    assert [p for p, _, _ in store.stale_embeddings("toy")] == ["/lib/a.safetensors"]


def test_empty_embedding_matrix(store):
    paths, matrix = store.embedding_matrix()
    assert paths == [] and matrix.dtype == np.float32 and matrix.shape[0] == 0


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.mark.slow  # loads MiniLM (~14 s on 2 cores)
def test_real_embedder_refresh_only_recomputes_changed_text(store, embedder):
    store.upsert_card(_card("/lib/dog.safetensors", name="Waffles", description="a lemon and white beagle dog"))
    store.upsert_card(_card("/lib/art.safetensors", name="Charcoal Sketch", description="smudgy charcoal drawing"))
    assert store.refresh_embeddings(embedder) == 2
    assert store.refresh_embeddings(embedder) == 0
    paths, matrix = store.embedding_matrix(embedder.model_id)
    assert matrix.shape == (2, embedder.dim) and matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    query = embedder.encode(["a puppy"])[0]
    assert paths[int(np.argmax(matrix @ query))] == "/lib/dog.safetensors"
    store.upsert_card(_card("/lib/art.safetensors", name="Charcoal Sketch", description="now watercolor"))
    assert store.refresh_embeddings(embedder) == 1


def test_embedder_is_cached_and_card_text_is_stable(embedder):
    assert get_embedder() is embedder
    card = _card("/lib/Lora/waffles_beagle_v1.safetensors", name="Waffles", triggers=["wffl"], tags=["dog"])
    text = card_text(card)
    assert "Waffles" in text and "wffl" in text and "dog" in text and "waffles beagle v1" in text
    assert text_hash(text, "m") == text_hash(card_text(card), "m") != text_hash(text, "other")


def test_database_file_is_plain_sqlite(store, tmp_path):
    store.upsert_card(_card("/lib/a.safetensors"))
    conn = sqlite3.connect(tmp_path / "cat.sqlite")
    assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 1
    conn.close()


def test_up_to_date_embeddings_do_not_load_the_model(tmp_path, embedder):
    import subprocess
    import sys
    from pathlib import Path

    db = tmp_path / "emb.sqlite"
    s = Store(db)
    s.upsert_card(_card("/lib/dog.safetensors", name="Waffles"))
    assert s.refresh_embeddings(embedder) == 1
    s.close()
    code = ("import sys; from catalog.store import Store; s = Store(sys.argv[1]); n = s.refresh_embeddings(); "
            "print(n, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(db)], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "False"], out.stderr


def test_a_gloss_is_searchable_embedded_and_dropped_when_its_facts_change(store):
    from catalog.card import gloss_source

    card = _card("/lib/marmalade.safetensors", description="my sister's ginger Maine Coon", tags=["fluffy"])
    store.upsert_card(card)
    assert store.fts_search("cat") == []
    assert store.put_gloss(card.path, gloss_source(card), "m.gguf", "cat: a big ginger cat", "cat")
    assert [p for p, _ in store.fts_search("cat")] == [card.path]
    assert store.get(card.path).gloss == "cat: a big ginger cat" and store.get(card.path).subject == "cat"
    assert "a big ginger cat" in card_text(store.get(card.path))
    store.upsert_card(card)  # re-indexing the same facts keeps the gloss
    assert [p for p, _ in store.fts_search("cat")] == [card.path]
    store.set_user_edit(card.path, description="my sister's tabby")  # new facts: the old gloss is stale
    assert store.get(card.path).gloss == store.get(card.path).subject == "" and store.fts_search("cat") == []
    assert store.gloss_models() == {card.path: (gloss_source(card), "m.gguf")}
    assert not store.put_gloss("/lib/gone.safetensors", "x", "m.gguf", "cat")
    english = _card("/lib/clementine.safetensors", description="my orange tabby")
    store.upsert_card(english)  # an English card gets a subject and no gloss: its searchable words stay its own
    assert store.put_gloss(english.path, gloss_source(english), "m.gguf", "", "cat")
    assert store.get(english.path).subject == "cat" and card_text(store.get(english.path)) == card_text(english)
    assert [p for p, _ in store.fts_search("cat")] == []
    store.remove(card.path)
    store.remove(english.path)
    assert store.gloss_models() == {}


def test_the_catalog_version_moves_on_every_change_search_reads_from_any_connection(store, tmp_path):
    from catalog.card import gloss_source

    seen = [store.catalog_version()]

    def moved():
        now = store.catalog_version()
        assert now != seen[-1]
        seen.append(now)

    card = _card("/lib/a.safetensors", description="my beagle")
    store.upsert_card(card)
    moved()
    store.set_user_edit(card.path, description="my beagle Waffles")
    moved()
    assert store.put_gloss(card.path, gloss_source(store.get(card.path)), "m.gguf", "", "dog")
    moved()
    store.put_embeddings([(card.path, "text", "hash", np.ones(4, dtype=np.float32))], "test-model")
    moved()
    other = Store(store.db_path)  # another connection (the watcher, the CLI) writes
    other.remove(card.path)
    other.close()
    moved()
    assert store.catalog_version() == seen[-1]  # reading changes nothing
    again = Store(tmp_path / "other.sqlite")  # another catalog never shares a version with this one
    assert again.catalog_version()[0] != store.catalog_version()[0]
    again.close()
