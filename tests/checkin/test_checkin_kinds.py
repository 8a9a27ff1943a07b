"""Everyday kinds (checkin/kinds.py): what a few words of a request are, with the real MiniLM."""
from checkin.kinds import KINDS, kind_phrases, nearest_kinds
from checkin.search import encode_words


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
