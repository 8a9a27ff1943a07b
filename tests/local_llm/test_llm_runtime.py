"""The real Qwen2.5-Coder-0.5B GGUF through llama.cpp: chat template, constrained JSON, yes/no scoring.

Loads the model once for the module and keeps the number of calls small (each costs seconds on CPU).
"""
import math

import pytest

from local_llm.models import DEFAULT_MODEL, assemble
from local_llm.rerank import QUESTION_SCHEMA, fit_messages, fit_scores, write_question
from local_llm.runtime import LLMError, LocalLLM, load_llm


@pytest.fixture(scope="module")  # the tests that load a model are marked slow: 20-150 s each on 2 cores
def llm(tmp_path_factory):
    path = assemble(DEFAULT_MODEL, tmp_path_factory.mktemp("llm") / DEFAULT_MODEL.filename)
    model = load_llm(path)
    yield model
    model.close()


@pytest.mark.slow
def test_prompt_uses_the_models_own_chat_template(llm: LocalLLM):
    text = llm.format_chat([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert "<|im_start|>user\nU<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_json_schema_constrains_the_output(llm: LocalLLM):
    schema = {"type": "object", "properties": {"fits": {"type": "string", "enum": ["yes", "no"]}}, "required": ["fits"]}
    messages = [{"role": "user", "content": "Is a tabby a kind of cat? Answer in JSON."}]
    value = llm.chat_json(messages, schema, max_tokens=16)
    assert set(value) == {"fits"} and value["fits"] in ("yes", "no")


@pytest.mark.slow
def test_an_answer_past_its_time_budget_stops_with_an_error(llm: LocalLLM):
    messages = [{"role": "user", "content": "Write a long story about a cat. Answer in JSON."}]
    with pytest.raises(LLMError, match="longer than"):
        llm.chat_json(messages, QUESTION_SCHEMA, max_tokens=64, timeout_s=0.0)
    with pytest.raises(LLMError, match="longer than"):
        fit_scores(llm, "my cat", [{"name": "A"}, {"name": "B"}], timeout_s=0.0)
    # the instance stays usable after a stopped answer
    assert set(llm.chat_json([{"role": "user", "content": "Say hi in JSON."}], QUESTION_SCHEMA, max_tokens=24)) == {"question"}


@pytest.mark.slow
def test_yes_no_scoring_is_a_finite_log_odds(llm: LocalLLM):
    facts = {"name": "Clementine", "description": "my orange tabby cat", "tags": ["cat"], "kind": "lora"}
    score = llm.yes_logodds(fit_messages("my orange cat on a windowsill", facts))
    assert math.isfinite(score)


def test_question_needs_two_options():
    with pytest.raises(ValueError):
        write_question(None, "x", ["only one"])


def test_a_file_that_is_not_a_model_fails_with_its_path(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(LLMError, match="broken.gguf"):
        load_llm(bad)


def _catalog(tmp_path):
    from catalog.card import Card
    from catalog.store import Store

    store = Store(tmp_path / "catalog.sqlite")
    for name, trigger, description in (
        ("Tío Joaquín", "tiojoaquin", "Mi tío Joaquín: barba negra espesa, sombrero vaquero, camisa de cuadros."),
        ("奶奶 Nainai", "nainai_cn", "我的奶奶：满头白发，穿蓝色棉袄。"),
        ("Waffles", "wfflbeagle", "My lemon-and-white beagle with a white-tipped tail."),
    ):
        store.upsert_card(Card(path=f"/lib/{trigger}.safetensors", kind="lora", base_model="sd15", name=name,
                               canonical_trigger=trigger, triggers=[trigger], description=description,
                               size=1, mtime=1.0))
    store.refresh_embeddings()
    return store


@pytest.mark.slow
def test_cards_not_in_english_are_glossed_once_and_embedded_with_their_gloss(llm: LocalLLM, tmp_path):
    from catalog.embeddings import card_text
    from checkin.gloss import gloss_cards

    store = _catalog(tmp_path)
    english = card_text(store.get("/lib/wfflbeagle.safetensors"))
    first = gloss_cards(store, llm, timeout_s=None)  # no time budget: a loaded test machine must not fail it
    assert first["glossed"] == 2 and first["embedded"] == 2 and not first["failed"]
    glossed = {c.path: c for c in store.cards() if c.gloss}
    assert set(glossed) == {"/lib/tiojoaquin.safetensors", "/lib/nainai_cn.safetensors"}  # not the English one
    assert all(c.gloss in card_text(c) for c in glossed.values())
    # every card gets a subject (one short constrained answer); the English card's searchable text stays its own
    assert first["subjects"] == 3 and all(0 < len(c.subject) <= 30 for c in store.cards())
    assert all(c.gloss.startswith(c.subject) for c in glossed.values())
    assert card_text(store.get("/lib/wfflbeagle.safetensors")) == english
    again = gloss_cards(store, llm, timeout_s=None)
    assert again["glossed"] == again["subjects"] == again["embedded"] == 0  # same facts, same model: nothing to do
    store.close()


@pytest.mark.slow
def test_the_bundled_small_model_is_not_trusted_to_gloss_or_restate(llm: LocalLLM, tmp_path):
    from checkin.decide import check_in
    from checkin.gloss import gloss_library

    store = _catalog(tmp_path)
    report = gloss_library(store, str(llm.path))
    assert report["glossed"] == 0 and "does not read other languages" in report["skipped"]
    result = check_in("un gato naranja durmiendo", store, use_llm=True, llm_model=str(llm.path))
    assert result.restated is None
    store.close()


@pytest.mark.slow
def test_a_request_not_in_english_is_restated_before_retrieval(llm: LocalLLM, tmp_path, monkeypatch):
    from checkin import llm_stage as checkin
    from checkin.decide import check_in

    monkeypatch.setattr(checkin, "LLM_STEP_TIMEOUT_S", None)  # behaviour, not speed: no time budget here
    store = _catalog(tmp_path)
    own = tmp_path / "my-own-model.gguf"  # a model the user chose is trusted to restate
    own.symlink_to(llm.path)
    request = "un gato naranja durmiendo"
    result = check_in(request, store, use_llm=True, llm_model=str(own))
    assert result.llm_used and result.restated and result.restated != request
    assert result.to_json()["restated"] == result.restated
    plain = check_in(request, store, use_llm=False)
    assert plain.restated is None and not plain.llm_used
    named = check_in("wfflbeagle asleep on the sofa", store, use_llm=True, llm_model=str(own))
    assert named.status == "selected" and named.restated is None and not named.llm_used  # English, a clear fit
    store.close()


@pytest.mark.slow
def test_time_budgets_follow_the_speed_measured_at_load():
    """A slow machine gets proportionally more time (bounded), a fast one at least the caller's floor."""
    from local_llm.runtime import get_llm

    llm = get_llm()
    assert llm.prompt_tps > 0 and llm.gen_tps > 0
    messages = [{"role": "user", "content": "x" * 700}]
    measured = llm.budget_s(messages, 64, 1.0)
    assert 1.0 <= measured <= 6.0
    llm_speeds = (llm.prompt_tps, llm.gen_tps)
    try:
        llm.prompt_tps, llm.gen_tps = llm_speeds[0] / 100, llm_speeds[1] / 100  # a machine 100x slower
        assert llm.budget_s(messages, 64, 10.0) == 60.0  # capped: a stalled model still gives up
        llm.prompt_tps, llm.gen_tps = 1e9, 1e9
        assert llm.budget_s(messages, 64, 10.0) == 10.0
    finally:
        llm.prompt_tps, llm.gen_tps = llm_speeds
