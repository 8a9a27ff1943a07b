"""check_in on a small library the tests write (tests/checkin/library.py), indexed with the real indexer."""
import json
from pathlib import Path

import numpy as np
import pytest

from catalog.card import Card
from checkin.answer import resolve_clarification
from checkin.concepts import group_concepts, pick_version, version_order
from checkin.decide import check_in
from checkin.intent import read_intent
from checkin.search import Candidate, SearchIndex, fuse, rank
from tests.checkin.library import write_checkin_library

TODAY = "2026-11-24"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from catalog.indexer import index_folders
    from catalog.store import Store

    lib = write_checkin_library(tmp_path_factory.mktemp("checkin_lib"))
    st = Store(tmp_path_factory.mktemp("checkin_db") / "catalog.sqlite")
    index_folders([str(lib)], st)
    st.library = lib
    yield st
    st.close()


def _name(card):
    return Path(card.path).name


def test_direct_trigger_selects_and_rewrites(store):
    result = check_in("wfflbeagle sniffing through fallen leaves", store, use_llm=False, today=TODAY)
    assert result.status == "selected"
    assert _name(result.card) in ("waffles_beagle_v1.safetensors", "waffles_beagle_xl.safetensors")
    assert result.prompt == "wfflbeagle sniffing through fallen leaves"
    assert result.trigger == "wfflbeagle" and result.trigger_span == (0, 10)


def test_description_words_select(store):
    result = check_in("my orange tabby with the crooked tail", store, use_llm=False, today=TODAY)
    assert result.status == "selected" and _name(result.card) == "clementine_tabby.safetensors"
    assert result.prompt.startswith("clemtabby")


def test_negation_excludes_the_named_card(store):
    result = check_in("the puppet, not grandpa", store, use_llm=False, today=TODAY)
    assert result.status == "selected" and _name(result.card) == "hiroshi_the_sock_puppet.safetensors"
    assert all("grandpa" not in p for p, _ in result.candidates)


def test_two_concepts_ask_and_the_answer_resolves(store):
    result = check_in("a picture of Hiroshi", store, use_llm=False, today=TODAY)
    assert result.status == "clarify"
    names = {_name(c) for c in result.options}
    assert {"grandpa_hiroshi.safetensors", "hiroshi_the_sock_puppet.safetensors"} <= names
    assert result.question and all(n in result.question for n in result.option_names)
    assert "/" not in result.question
    picked = resolve_clarification(result, "the sock puppet", store)
    assert picked.status == "selected" and _name(picked.card) == "hiroshi_the_sock_puppet.safetensors"
    assert picked.prompt.startswith("hiroshisock") or "hiroshisock" in picked.prompt
    by_index = resolve_clarification(result, str(result.options.index(next(c for c in result.options if "grandpa" in c.path)) + 1), store)
    assert _name(by_index.card) == "grandpa_hiroshi.safetensors"


def test_nothing_fits_is_none(store):
    result = check_in("a medieval knight on horseback", store, use_llm=False, today=TODAY)
    assert result.status == "none" and result.card is None and result.prompt is None


def test_versions_are_not_ambiguity(store):
    newest = check_in("Ziggy the dachshund digging in the sand", store, use_llm=False, today=TODAY)
    assert newest.status == "selected" and _name(newest.card) == "ziggy_dachshund_xl_v8.safetensors"
    named = check_in("Ziggy v2 with a stick", store, use_llm=False, today=TODAY)
    assert named.status == "selected" and _name(named.card) == "ziggy_dachshund_v2.safetensors"
    first = check_in("the first Ziggy LoRA", store, use_llm=False, today=TODAY)
    assert _name(first.card) == "ziggy_dachshund_v1.safetensors"
    missing = check_in("Ziggy v11", store, use_llm=False, today=TODAY)
    assert missing.status == "none"


def test_base_model_word_narrows(store):
    result = check_in("Waffles on SDXL please", store, use_llm=False, today=TODAY)
    assert result.status == "selected" and result.card.base_model == "sdxl"


def test_to_json_follows_the_select_contract(store):
    data = check_in("a picture of Hiroshi", store, use_llm=False, today=TODAY).to_json()
    assert {"status", "checkpoint", "prompt", "question", "options", "candidates"} <= set(data)
    assert data["status"] == "clarify" and data["checkpoint"] is None
    assert all(set(o) == {"path", "name"} for o in data["options"])
    assert all(set(c) == {"path", "score"} for c in data["candidates"])
    json.dumps(data)
    sel = check_in("hiroshisock waving", store, use_llm=False, today=TODAY).to_json()
    assert set(sel["checkpoint"]) == {"path", "name", "trigger", "kind", "base_model"}


def test_empty_request_is_an_error(store):
    with pytest.raises(ValueError):
        check_in("   ", store, use_llm=False)


def test_cli_select_json(store, capsys):
    import main

    code = main.main(["select", "hiroshisock waving at the camera", "--db", str(store.db_path), "--json", "--no-llm",
                      "--today", TODAY])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "selected"
    assert out["checkpoint"]["trigger"] == "hiroshisock" and out["prompt"].startswith("hiroshisock")


def test_cli_select_says_nothing_fits_and_names_the_closest_without_picking(store, capsys):
    import main

    code = main.main(["select", "a red submarine under the arctic ice", "--db", str(store.db_path), "--no-llm",
                      "--today", TODAY])
    out = capsys.readouterr().out
    assert code == 0 and "None of your checkpoints fits" in out and "closest" in out
    code = main.main(["select", "a red submarine under the arctic ice", "--db", str(store.db_path), "--json",
                      "--no-llm", "--today", TODAY])
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "none" and data["checkpoint"] is None and 1 <= len(data["suggestions"]) <= 3


# --- pure parts -------------------------------------------------------------------------------

def _card(path, **kw):
    return Card(path=path, kind="lora", **kw)


def test_version_order_uses_numbers_then_dates_and_skips_undated():
    a = _card("/l/a_v1.safetensors", version_number=1.0, created="2024-01-01")
    b = _card("/l/a_v2.safetensors", version_number=2.0, created="2023-01-01")
    assert version_order([b, a]) == [a, b]
    c = _card("/l/lior.safetensors", created="2024-05-11")
    d = _card("/l/lior_new.safetensors", created="2024-10-05")
    e = _card("/l/lior_better.safetensors")
    assert version_order([d, e, c]) == [c, d]


def test_pick_version_by_window_and_missing_version():
    cards = [_card(f"/l/t_{m}.safetensors", created=f"2025-{m:02d}-10", triggers=["t"]) for m in (1, 6, 12)]
    intent = read_intent("Tank the June 2025 one", "2026-11-24")
    assert pick_version(cards, intent).path == "/l/t_6.safetensors"
    assert pick_version(cards, read_intent("Tank v9", "2026-11-24")) is None
    assert pick_version(cards, read_intent("Tank", "2026-11-24")).path == "/l/t_12.safetensors"


def test_concepts_group_versions_but_not_different_subjects():
    z1 = _card("/l/ziggy_v1.safetensors", name="ziggy_v1", triggers=["zgydox"], canonical_trigger="zgydox")
    z8 = _card("/l/xl/ziggy_xl_v8.safetensors", name="Ziggy XL v8", triggers=["zgydox"], canonical_trigger="zgydox")
    t = _card("/l/tank.safetensors", name="Tank", triggers=["tnkbully"], canonical_trigger="tnkbully")
    sks1 = _card("/l/dog.safetensors", name="Rex the dog", triggers=["sks"])
    sks2 = _card("/l/cat.safetensors", name="Mimi the cat", triggers=["sks"])
    concepts = group_concepts([Candidate(z1, 0.9), Candidate(t, 0.8), Candidate(z8, 0.7), Candidate(sks1, 0.5), Candidate(sks2, 0.4)])
    groups = [{Path(m.card.path).name for m in c.members} for c in concepts]
    assert {"ziggy_v1.safetensors", "ziggy_xl_v8.safetensors"} in groups
    assert {"tank.safetensors"} in groups and {"dog.safetensors"} in groups and {"cat.safetensors"} in groups


def test_scoring_10000_cards_ranks_the_named_card_and_drops_the_negated_ones():
    # speed at this size is measured by `personalq bench catalog` (phase=search), not asserted here
    rng = np.random.default_rng(0)
    cards = [_card(f"/l/concept_{i}_v{i % 5}.safetensors", name=f"Concept {i} thing{i % 97}",
                   triggers=[f"trg{i}x"], tags=["dog" if i % 3 else "style"]) for i in range(10_000)]
    matrix = rng.standard_normal((10_000, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = SearchIndex(cards, [c.path for c in cards], matrix)
    intent = read_intent("trg4243x my dog at the beach, not the style")
    trigger, name = index.lexical(intent.query)
    signals = {"dense": np.clip(index.matrix @ matrix[4243], 0, 1), "bm25_raw": np.zeros(10_000, np.float32),
               "trigger": trigger, "name": name, "tag": index.tag_hits(intent.query)}
    top = rank(index, fuse(signals), signals, intent, k=12)
    assert top[0].card.path == "/l/concept_4243_v3.safetensors"
    assert all("style" not in c.card.tags for c in top)


def test_missing_llm_falls_back_to_retrieval_with_a_note(store, tmp_path):
    plain = check_in("a picture of Hiroshi", store, use_llm=False, today=TODAY)
    bad = tmp_path / "not_a_model.gguf"
    bad.write_bytes(b"this is not a gguf file")
    result = check_in("a picture of Hiroshi", store, use_llm=True, today=TODAY, llm_model=str(bad))
    assert result.status == plain.status == "clarify"
    assert [c.path for c in result.options] == [c.path for c in plain.options]
    assert result.question == plain.question and not result.llm_used
    assert "retrieval only" in result.note and "not_a_model.gguf" in result.note
    assert set(result.to_json()) == set(plain.to_json())
    rerank = check_in("a picture of Hiroshi", store, use_llm=True, today=TODAY, llm_model=str(tmp_path / "gone.gguf"),
                      llm_rerank=True)
    assert rerank.status == "clarify" and "retrieval only" in rerank.note
