"""Several personalizations in one request: a trigger spelled out brings its file in beside Check-in's pick."""
from __future__ import annotations

import pytest

from app.composition import CannotCompose, add_extra, named_companions
from app.generation import Selection
from catalog.card import Card


def card(name, kind="lora", triggers=(), base="sd15"):
    return Card(path=f"/lib/{name}.safetensors", kind=kind, base_model=base, name=name, triggers=list(triggers))


CACTUS = card("dfr_cactus", "checkpoint", ["dfr"])
PINK = card("pink_frame", triggers=["tvy style"])
INK = card("ink", triggers=["mlk"])
XL_STYLE = card("xl_style", triggers=["qzz"], base="sdxl")
LIBRARY = [CACTUS, PINK, INK, XL_STYLE]


def test_a_spelled_out_trigger_joins_the_pick():
    assert named_companions("a dfr cactus in tvy style", CACTUS, LIBRARY) == [PINK]
    assert named_companions("dfr cactus, tvy style and mlk lines", CACTUS, LIBRARY) == [PINK, INK]


def test_description_words_alone_and_other_families_do_not():
    assert named_companions("a dfr cactus with a pink frame", CACTUS, LIBRARY) == []
    assert named_companions("a dfr cactus in qzz", CACTUS, LIBRARY) == []  # an SDXL style on an SD 1.5 subject
    assert named_companions("a dfr cactus, mlkx", CACTUS, LIBRARY) == []  # a word that only contains a trigger


def test_a_full_checkpoint_or_another_family_cannot_be_added():
    subject = Selection.from_card(CACTUS)
    add_extra(subject, Selection.from_card(PINK))
    add_extra(subject, Selection.from_card(PINK))  # once only
    assert [e.name for e in subject.extras] == ["Pink Frame"]
    with pytest.raises(CannotCompose, match="full checkpoint"):
        add_extra(subject, Selection.from_card(card("other", "checkpoint")))
    with pytest.raises(CannotCompose, match="SDXL"):
        add_extra(subject, Selection.from_card(XL_STYLE))


def test_a_selected_result_becomes_one_selection_for_the_window_the_cli_and_the_demo(tmp_path):
    """App.selection_for is the one result -> selection rule: the card, Check-in's trigger, the named add-ons."""
    from types import SimpleNamespace

    from app.core import App
    from common.settings import Settings

    with App(Settings(), db_path=tmp_path / "c.sqlite", use_llm=False) as core:
        for c in LIBRARY:
            core.store.upsert_card(c)
        chosen = core.selection_for(SimpleNamespace(request="a dfr cactus in tvy style", card=CACTUS, trigger="dfr plant"))
        plain = core.selection_for(SimpleNamespace(request="a cactus", card=CACTUS, trigger=None))
        assert core.likely_family() == "sd15"  # three of the four cards
    assert (chosen.path, chosen.trigger, [e.name for e in chosen.extras]) == (CACTUS.path, "dfr plant", ["Pink Frame"])
    assert (plain.trigger, plain.extras) == ("dfr", [])
    assert core.store._closed  # App is a context manager: the store closes with the block
