"""Everyday kinds (checkin/kinds.py): what a few words of a request are, and each concept's closeness to
the thing a request is of (checkin/features.py), with the real MiniLM."""

from checkin.concepts import candidate_concepts
from checkin.features import part_matrix, subject_closeness
from checkin.intent import read_intent
from checkin.kinds import KINDS, kind_phrases, nearest_kinds, subject_parts
from checkin.search import TOP_K, encode_words, get_index, search


def test_every_kind_is_listed_once_under_its_category():
    phrases = kind_phrases()
    assert len(phrases) == len(set(phrases)) > 400
    assert {"dog", "giraffe", "submarine", "beach", "watercolor painting", "sitting"} <= set(phrases)
    assert set(KINDS) >= {"animal", "person", "food", "vehicle", "place", "object", "style", "pose"}


def test_phrases_land_on_the_category_of_their_nearest_kind():
    got = nearest_kinds(["stained glass", "a crab", "the beach", "pencil sketch", "sunset", "rusty submarine"],
                        encode_words)
    assert [category for category, _ in got] == ["style", "animal", "place", "style", "setting", "vehicle"]
    assert got[0][1] > 0.99 and all(0 < cosine <= 1.0001 for _, cosine in got)
    assert nearest_kinds([], encode_words) == []


def test_a_request_part_is_a_thing_or_what_surrounds_it():
    parts = ["a crab", "golden penguin", "rusty submarine", "the beach", "forest clearing", "watercolor style",
             "sunset", "dancing pose"]
    assert subject_parts(parts, encode_words).tolist() == [True] * 3 + [False] * 5
    assert subject_parts([], encode_words).tolist() == []


def _closeness(store, request):
    intent = read_intent(request)
    concepts = candidate_concepts(search(store, request, intent=intent, k=TOP_K), intent)
    index = get_index(store)
    parts, sims = part_matrix(intent, index, encode_words)
    return concepts, subject_closeness(concepts, parts, sims, index, encode_words)


def test_the_concept_of_the_asked_thing_is_closest_and_a_missing_thing_is_close_to_none(pets):
    concepts, close = _closeness(pets, "a basset hound lying on a wooden floor")
    assert concepts[int(close.argmax())].chosen.path.endswith("pretzel_basset.safetensors")
    _, missing = _closeness(pets, "a hermit crab lying on a wooden floor")
    assert missing.max() < close.max() - 0.1
    assert _closeness(pets, "in charcoal style at sunset")[1] is None  # no thing asked for
