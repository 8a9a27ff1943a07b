"""Prompt rewrite: the trigger goes where the subject is named; the rest of the request stays."""
from catalog.card import Card
from checkin.rewrite import rewrite_prompt

CORGI = Card(path="/lib/Lora/pets/biscuit_corgi_v2.safetensors", name="Biscuit the Corgi", canonical_trigger="sks",
             triggers=["sks"], description="my corgi Biscuit with a fluffy tail", kind="lora")


def _check_span(rw):
    assert rw.prompt[rw.start:rw.end] == rw.trigger


def test_trigger_replaces_the_possessive_before_the_subject():
    rw = rewrite_prompt("my corgi at the beach, watercolor", CORGI)
    assert rw.prompt == "sks corgi at the beach, watercolor"
    _check_span(rw)


def test_a_trigger_already_written_is_kept_once():
    rw = rewrite_prompt("sks corgi in the snow", CORGI)
    assert rw.prompt == "sks corgi in the snow"
    assert rw.prompt.count("sks") == 1
    _check_span(rw)


def test_other_casing_becomes_the_canonical_trigger():
    rw = rewrite_prompt("SKS corgi in the snow", CORGI)
    assert rw.prompt.startswith("sks ")


def test_selection_cues_are_dropped_from_the_prompt():
    rw = rewrite_prompt("Biscuit v2 running on grass, not the cat", CORGI)
    assert "v2" not in rw.prompt and "cat" not in rw.prompt
    assert "running on grass" in rw.prompt
    _check_span(rw)


def test_no_subject_word_leads_with_the_trigger():
    rw = rewrite_prompt("a birthday card with balloons", CORGI)
    assert rw.prompt == "sks, a birthday card with balloons"
    assert (rw.start, rw.end) == (0, 3)


def test_textual_inversion_token_is_used_as_written():
    ti = Card(path="/lib/embeddings/honeycomb_wax/learned_embeds.safetensors", name="honeycomb_wax",
              canonical_trigger="<honeycomb-wax>", triggers=["<honeycomb-wax>"], kind="textual_inversion")
    rw = rewrite_prompt("golden honeycomb wax texture", ti)
    assert "<honeycomb-wax>" in rw.prompt
    _check_span(rw)
    assert rewrite_prompt("<honeycomb-wax> wall behind a jar", ti).prompt == "<honeycomb-wax> wall behind a jar"


def test_multi_word_activation_text_is_inserted_whole():
    card = Card(path="/lib/Stable-diffusion/priya_dreambooth.safetensors", name="priya_dreambooth",
                canonical_trigger="priyak woman", triggers=["priyak woman"], kind="checkpoint")
    rw = rewrite_prompt("Priya walking on a beach", card)
    assert rw.prompt == "priyak woman Priya walking on a beach"
    _check_span(rw)


def test_card_without_trigger_leaves_the_prompt():
    card = Card(path="/lib/Lora/origami_fold.safetensors", name="origami_fold")
    rw = rewrite_prompt("origami paper-fold style frog", card)
    assert rw.trigger is None and rw.prompt == "origami paper-fold style frog" and rw.span is None


def test_a_short_typo_of_the_subject_still_takes_the_trigger_not_a_description_word():
    ball = Card(path="/lib/Lora/vwk_checker_ball.safetensors", name="Vwk Checker Ball", canonical_trigger="vwk",
                triggers=["vwk"], description="An orange ball with a cyan checkerboard pattern.", kind="lora")
    rw = rewrite_prompt("a bal with orange checkers", ball)
    assert rw.prompt == "vwk ball with orange checkers"  # was "a bal with vwk orange checkers" (issue #29 item 11)
    _check_span(rw)
