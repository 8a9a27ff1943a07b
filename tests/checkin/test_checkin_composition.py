"""A subject and a style named in one request are one selection, on the real demo library."""
from __future__ import annotations

import pytest

from catalog.indexer import index_folders
from catalog.store import Store
from checkin.composition import asked_style
from checkin.decide import check_in
from checkin.roles import role_of
from checkin.search import encode_words
from demo.build import ASSETS


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    if not (ASSETS / "manifest.json").is_file():
        pytest.skip("the demo world is not built in this checkout")
    store = Store(tmp_path_factory.mktemp("demo") / "catalog.sqlite")
    index_folders([str(ASSETS / "library")], store)
    yield store
    store.close()


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].split(".")[0]


@pytest.mark.parametrize("request_text, subject, style", [
    ("my cactus with a pink frame", "dfr_cactus", "tvy_pink_frame_style"),
    ("a checker ball in outline style", "vwk_checker_ball", "mlk_outline_style"),
    ("the checker ball outline style", "vwk_checker_ball", "mlk_outline_style"),  # one run of words, cut by meaning
    # the style is the likelier concept here: the subject that names the other part joins it
    ("the cactus in my outline style", "dfr_cactus", "mlk_outline_style"),
    ("my robot with a pink frame", "pqr_robot_v2", "tvy_pink_frame_style"),  # the newest robot
])
def test_a_subject_and_a_style_are_both_selected_with_both_triggers(demo_store, request_text, subject, style):
    result = check_in(request_text, demo_store, use_llm=False)
    assert result.status == "selected", (result.status, result.question)
    assert _stem(result.card.path) == subject
    assert [_stem(c.path) for c in result.extras] == [style]
    for trigger in [result.trigger, *result.extra_triggers]:
        assert trigger and trigger in result.prompt
    out = result.to_json()
    assert [e["path"] for e in out["extras"]] == [c.path for c in result.extras]


def test_one_concept_stays_one(demo_store):
    result = check_in("the checker ball on a table", demo_store, use_llm=False)
    assert result.status == "selected" and _stem(result.card.path) == "vwk_checker_ball"
    assert result.extras == []


def test_a_style_asked_for_something_the_library_lacks_stays_alone(demo_store):
    result = check_in("a fox in the outline style", demo_store, use_llm=False)
    assert result.status == "selected" and _stem(result.card.path) == "mlk_outline_style"
    assert result.extras == []


def test_a_style_the_library_lacks_is_said_not_dropped_silently(demo_store):
    result = check_in("the checker ball in charcoal style", demo_store, use_llm=False)
    assert result.status == "selected" and _stem(result.card.path) == "vwk_checker_ball"
    assert result.note and "charcoal" in result.note


@pytest.mark.parametrize("request_text, style", [("the checker ball as stained glass", "stained glass"),
                                                 ("the cactus as a mosaic, please", "mosaic")])
def test_a_missing_style_named_without_the_word_style_is_said_too(demo_store, request_text, style):
    result = check_in(request_text, demo_store, use_llm=False)
    assert result.status == "selected" and not result.extras
    assert result.note == f"no {style} style in your library: generating without it"


def test_no_missing_style_is_said_where_the_library_has_one_of_its_words(demo_store):
    from checkin.composition import missing_style_note
    from checkin.intent import read_intent
    from checkin.search import encode_words, get_index

    ball = next(c for c in demo_store.cards() if _stem(c.path) == "vwk_checker_ball")
    library = get_index(demo_store)
    assert missing_style_note(read_intent("the ball in outline style"), ball, [], library, encode_words) is None
    assert "charcoal" in missing_style_note(read_intent("the ball in charcoal style"), ball, [], library, encode_words)


def test_roles_and_asked_styles_are_read_from_words(demo_store):
    roles = {_stem(c.path): role_of(c) for c in demo_store.cards()}
    assert roles["mlk_outline_style"] == roles["tvy_pink_frame_style"] == "style"
    assert roles["vwk_checker_ball"] == roles["dfr_cactus"] == "subject"
    assert asked_style("a fox in charcoal style") == "charcoal"
    assert asked_style("my cat as a watercolor look, please") == "watercolor"
    assert asked_style("a cat on the stylish sofa") is None
    assert asked_style("a teacup as stained glass, please", encode_words) == "stained glass"
    assert asked_style("my dog as a pencil sketch", encode_words) == "pencil sketch"
    assert asked_style("grandma in the garden", encode_words) is None
    assert asked_style("my cat as a gift", encode_words) is None
