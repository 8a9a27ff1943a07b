"""The real Qwen2.5-Coder-0.5B GGUF through llama.cpp: chat template, constrained JSON, yes/no scoring.

Loads the model once for the module and keeps the number of calls small (each costs seconds on CPU).
"""
import math

import pytest

from local_llm.models import DEFAULT_MODEL, assemble
from local_llm.rerank import QUESTION_SCHEMA, fit_messages, fit_scores, write_question
from local_llm.runtime import LLMError, LocalLLM, load_llm


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    path = assemble(DEFAULT_MODEL, tmp_path_factory.mktemp("llm") / DEFAULT_MODEL.filename)
    model = load_llm(path)
    yield model
    model.close()


def test_prompt_uses_the_models_own_chat_template(llm: LocalLLM):
    text = llm.format_chat([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert "<|im_start|>user\nU<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_json_schema_constrains_the_output(llm: LocalLLM):
    schema = {"type": "object", "properties": {"fits": {"type": "string", "enum": ["yes", "no"]}}, "required": ["fits"]}
    messages = [{"role": "user", "content": "Is a tabby a kind of cat? Answer in JSON."}]
    value = llm.chat_json(messages, schema, max_tokens=16)
    assert set(value) == {"fits"} and value["fits"] in ("yes", "no")


def test_an_answer_past_its_time_budget_stops_with_an_error(llm: LocalLLM):
    messages = [{"role": "user", "content": "Write a long story about a cat. Answer in JSON."}]
    with pytest.raises(LLMError, match="longer than"):
        llm.chat_json(messages, QUESTION_SCHEMA, max_tokens=64, timeout_s=0.0)
    with pytest.raises(LLMError, match="longer than"):
        fit_scores(llm, "my cat", [{"name": "A"}, {"name": "B"}], timeout_s=0.0)
    # the instance stays usable after a stopped answer
    assert set(llm.chat_json([{"role": "user", "content": "Say hi in JSON."}], QUESTION_SCHEMA, max_tokens=24)) == {"question"}


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
