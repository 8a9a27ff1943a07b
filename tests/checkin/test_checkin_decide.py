"""The clarify/select/none decision: a different concept close to the top one on scale-free terms means a question."""
import shutil
from pathlib import Path

import pytest

from catalog.card import Card
from checkin.decide import THRESHOLDS, Concept, check_in, decide

TODAY = "2026-11-24"
PETS = ["Lora/pets/waffles_beagle_v1.safetensors", "Lora/SDXL/waffles_beagle_xl.safetensors",
        "Lora/pets/pretzel_basset.safetensors", "Lora/pets/clementine_tabby.safetensors",
        "Lora/styles/charcoal_sketch.safetensors", "Lora/styles/charcoal_sketch.civitai.info"]


def _concept(name, score, dense, trigger=0.0):
    from checkin.search import Candidate

    card = Card(path=f"/l/{name}.safetensors", kind="lora", name=name)
    return Concept(members=[Candidate(card, score, {"dense": dense, "trigger": trigger})], score=score, chosen=card)


def _names(chosen):
    return [c.chosen.name for c in chosen]


def test_runner_up_close_in_meaning_is_asked_about_although_lexical_bonuses_split_the_scores():
    # fused scores 1.16 vs 0.75 (a name/tag bonus apart), dense cosines 0.50 vs 0.40: two readings
    status, chosen = decide([_concept("basset", 1.16, 0.50), _concept("beagle", 0.75, 0.40)], "hybrid")
    assert status == "clarify" and _names(chosen) == ["basset", "beagle"]


def test_named_trigger_of_the_top_concept_means_no_question():
    status, chosen = decide([_concept("basset", 1.16, 0.50, trigger=1.0), _concept("beagle", 0.75, 0.40)], "hybrid")
    assert status == "selected" and _names(chosen) == ["basset"]


def test_far_in_meaning_or_weak_runner_up_is_not_asked_about():
    th = THRESHOLDS["hybrid"]
    far = _concept("beagle", 0.75, 0.50 - th["dense_gap"] - 0.05)
    assert decide([_concept("basset", 1.16, 0.50), far], "hybrid")[0] == "selected"
    weak = _concept("beagle", 0.75, th["dense_floor"] - 0.05)
    assert decide([_concept("basset", 1.16, th["dense_floor"] + 0.05), weak], "hybrid")[0] == "selected"
    low_ratio = _concept("beagle", 1.16 * (th["ratio"] - 0.1), 0.48)
    assert decide([_concept("basset", 1.16, 0.50), low_ratio], "hybrid")[0] == "selected"


def test_a_concept_closer_in_meaning_than_the_word_winner_is_asked_about():
    # "a boat on the water at dawn": a card named "boat" wins on words (0.88, cosine 0.29), a sailboat
    # card means more like the request (0.39, cosine 0.39) although its fused score is under the ratio
    th = THRESHOLDS["hybrid"]
    status, chosen = decide([_concept("dragon boat", 0.88, 0.29), _concept("sailboat", 0.39, 0.39)], "hybrid")
    assert status == "clarify" and _names(chosen) == ["dragon boat", "sailboat"]
    below_floor = _concept("sailboat", 0.29, th["dense_floor"] - 0.01)
    assert decide([_concept("dragon boat", 0.88, 0.20), below_floor], "hybrid")[0] == "selected"
    named = _concept("dragon boat", 1.6, 0.29, trigger=1.0)
    assert decide([named, _concept("sailboat", 0.39, 0.39)], "hybrid")[0] == "selected"


def test_nothing_above_the_floor_is_none_and_other_methods_keep_the_plain_margin():
    assert decide([_concept("a", THRESHOLDS["hybrid"]["none"] - 0.01, 0.3)], "hybrid") == ("none", [])
    top, other = _concept("a", 0.9, 0.5), _concept("b", 0.6, 0.49)
    assert decide([top, other], "dense")[0] == "selected"


@pytest.fixture(scope="module")
def pets(tmp_path_factory, shared_dir):
    from catalog.indexer import index_folders
    from catalog.store import Store

    lib = tmp_path_factory.mktemp("decide_lib")
    for name in PETS:
        src = shared_dir / "bench/intent-dev/library" / name
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, lib / name)
    st = Store(tmp_path_factory.mktemp("decide_db") / "catalog.sqlite")
    index_folders([str(lib)], st)
    yield st
    st.close()


def test_a_hound_asks_between_the_two_hounds_but_a_named_one_is_picked(pets):
    asked = check_in("droopy eared houn dog sleeping", pets, use_llm=False, today=TODAY)
    assert asked.status == "clarify"
    concepts = {Path(c.path).name.split("_")[0] for c in asked.options}
    assert concepts == {"waffles", "pretzel"}, asked.options
    named = check_in("prtzlbasset lying on a cool wooden floor", pets, use_llm=False, today=TODAY)
    assert named.status == "selected" and Path(named.card.path).name == "pretzel_basset.safetensors"
    by_name = check_in("Lou's basset hound with the super long ears", pets, use_llm=False, today=TODAY)
    assert by_name.status == "selected" and Path(by_name.card.path).name == "pretzel_basset.safetensors"


def test_a_question_offers_each_base_model_of_a_concept_unless_the_request_names_one(pets):
    asked = check_in("droopy eared houn dog sleeping", pets, use_llm=False, today=TODAY)
    offered = {Path(c.path).name for c in asked.options}
    assert {"waffles_beagle_v1.safetensors", "waffles_beagle_xl.safetensors", "pretzel_basset.safetensors"} <= offered
    assert len(set(asked.option_names)) == len(asked.option_names)  # SD 1.5 / SDXL variants are told apart
    pinned = check_in("droopy eared houn dog sleeping, sdxl", pets, use_llm=False, today=TODAY)
    if pinned.status == "clarify":
        assert all(c.base_model == "sdxl" for c in pinned.options), pinned.options
    else:
        assert pinned.card.base_model == "sdxl"


def test_a_question_also_offers_fitting_concepts_that_mean_about_as_much():
    th = THRESHOLDS["hybrid"]
    asked = [_concept("poster", 0.98, 0.41), _concept("glow", 0.50, 0.42)]
    near = _concept("aurora", 0.40, 0.42 - th["fill_gap"] + 0.01)
    far = _concept("thumbs", 0.44, 0.42 - th["fill_gap"] - 0.05)
    status, chosen = decide(asked + [far, near], "hybrid")
    assert status == "clarify" and _names(chosen) == ["poster", "glow", "aurora"]


def test_filling_never_turns_a_single_match_into_a_question():
    th = THRESHOLDS["hybrid"]
    status, chosen = decide([_concept("basset", 1.16, 0.50, trigger=1.0), _concept("beagle", 0.50, 0.50)], "hybrid")
    assert status == "selected" and _names(chosen) == ["basset"]
    assert th["fill_floor"] <= th["dense_floor"]
