"""The fitted decision: features per concept, tree and status models saved as JSON, select / clarify / none."""
import json
from pathlib import Path

import numpy as np
import pytest

from catalog.card import Card
from checkin.concepts import Concept
from checkin.decide import check_in, decide
from checkin.decision import STATUSES, WEIGHTS_PATH, DecisionModel, StatusModel, Tree, choose, load_model
from checkin.features import FEATURES, concept_features, contradicts, covered, noun_phrases
from checkin.intent import read_intent

TODAY = "2026-11-24"


def _concept(name, score, dense, trigger=0.0, description=""):
    from checkin.search import Candidate

    card = Card(path=f"/l/{name}.safetensors", kind="lora", name=name, description=description)
    signals = {"dense": dense, "trigger": trigger, "name": 0.0, "tag": 0.0, "bm25": 0.0}
    return Concept(members=[Candidate(card, score, signals)], score=score, chosen=card)


def _stump(feature: int, threshold: float, low: float, high: float) -> Tree:
    return Tree(np.array([feature, 0, 0]), np.array([threshold, 0.0, 0.0]), np.array([1, 0, 0]), np.array([2, 0, 0]),
                np.array([False, True, True]), np.array([0.0, low, high]))


def test_the_saved_weights_match_the_features_and_record_the_corpus():
    data = json.loads(WEIGHTS_PATH.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == FEATURES
    assert data["corpus_hash"] and data["fitted_on"] and "sealed" not in " ".join(data["fitted_on"])
    model = load_model()
    assert model.kind == "trees" and model.trees and model.status is not None


def test_choose_reads_the_probabilities():
    th = {"min_p": 0.5, "ratio": 0.5}
    assert choose(np.array([0.2, 0.1]), th) == ("none", [])
    assert choose(np.array([0.9, 0.3]), th) == ("selected", [0])
    assert choose(np.array([0.6, 0.9, 0.1]), th) == ("clarify", [1, 0])
    assert choose(np.zeros(0), th) == ("none", [])


def test_choose_with_a_status_model_follows_its_bias_and_offers_at_least_two():
    th = {"ratio": 0.5, "bias": [0.0, 0.0, 0.0]}
    asks = np.array([0.1, 0.8, 0.1])
    assert choose(np.array([0.9, 0.2, 0.6]), th, status_probs=asks) == ("clarify", [0, 2])
    assert choose(np.array([0.9, 0.1]), th, status_probs=asks) == ("clarify", [0, 1])
    assert choose(np.array([0.9]), th, status_probs=asks) == ("selected", [0])
    assert choose(np.array([0.9, 0.1]), {**th, "bias": [3.0, 0.0, 0.0]}, status_probs=asks) == ("selected", [0])
    assert choose(np.array([0.9, 0.1]), th, status_probs=np.array([0.1, 0.1, 0.8])) == ("none", [])


def test_tree_models_round_trip_through_json():
    model = DecisionModel(["a", "b"], "trees", [_stump(0, 0.5, -2.0, 2.0), _stump(1, 0.0, 0.0, 1.0)], baseline=0.1,
                          status=StatusModel([[_stump(0, 0.5, 0.0, 1.0)], [], [_stump(1, 0.5, 1.0, 0.0)]], np.zeros(3)))
    x = np.array([[0.2, 1.0], [0.9, -1.0]])
    again = DecisionModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(again.probabilities(x), model.probabilities(x))
    assert np.allclose(again.probabilities(x), 1 / (1 + np.exp(-np.array([0.1 - 2 + 1, 0.1 + 2]))))
    assert np.isclose(again.status.probabilities(x[0]).sum(), 1.0) and len(STATUSES) == 3


def test_the_trees_reproduce_scikit_learn():
    sklearn = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.random((300, 3))
    y = (x[:, 0] + 0.5 * x[:, 2] > 0.8).astype(float)
    clf = sklearn.HistGradientBoostingClassifier(max_iter=20, max_depth=3).fit(x, y)
    model = DecisionModel.from_json(json.loads(json.dumps(DecisionModel.from_sklearn(clf, list("abc")).to_json())))
    assert np.allclose(model.probabilities(x), clf.predict_proba(x)[:, 1], atol=1e-6)


def test_word_coverage_takes_typos_and_noun_phrase_heads():
    card_words = frozenset({"beagle", "floppy", "ear", "waffles"})
    assert covered(["beagle", "beagel", "ears", "cat"], card_words).tolist() == [True, True, False, False]
    assert noun_phrases("a photo of a golden penguin in a forest clearing") == [["golden", "penguin"], ["forest", "clearing"]]


def test_contradictions_are_closed_classes_and_gender():
    assert contradicts("woman", frozenset({"uncle", "glasses"}))
    assert contradicts("black", frozenset({"orange", "cat"}))
    assert not contradicts("orange", frozenset({"orange", "cat"}))
    assert not contradicts("woman", frozenset({"portrait"}))


def test_features_have_one_row_per_concept_and_see_the_better_explanation():
    intent = read_intent("my orange cat with a crooked tail")
    a = _concept("clementine", 0.9, 0.5, description="my orange tabby cat with a crooked tail")
    b = _concept("marmalade", 0.8, 0.45, description="a huge ginger maine coon")
    x = concept_features([a, b], intent)
    assert x.shape == (2, len(FEATURES))
    col = {name: i for i, name in enumerate(FEATURES)}
    assert x[0, col["idf_cover"]] > x[1, col["idf_cover"]] and x[0, col["idf_gap"]] > 0 > x[1, col["idf_gap"]]
    assert x[0, col["log_rank"]] == 0 < x[1, col["log_rank"]]


def test_decide_returns_a_status_the_kept_concepts_and_every_probability():
    intent = read_intent("wfflbeagle in the snow")
    top = _concept("waffles", 1.5, 0.6, trigger=1.0, description="waffles our beagle")
    status, kept, p = decide([top, _concept("pretzel", 0.4, 0.3, description="a basset hound")], intent)
    assert status == "selected" and kept == [top] and len(p) == 2 and p[0] > p[1]


def test_a_named_concept_is_picked(pets):
    named = check_in("prtzlbasset lying on a cool wooden floor", pets, use_llm=False, today=TODAY)
    assert named.status == "selected" and Path(named.card.path).name == "pretzel_basset.safetensors"


def test_a_question_offers_each_base_model_of_a_concept_with_distinct_names(pets):
    asked = check_in("a picture of Hiroshi", pets, use_llm=False, today=TODAY)
    assert asked.status == "clarify"
    assert len(set(asked.option_names)) == len(asked.option_names)
