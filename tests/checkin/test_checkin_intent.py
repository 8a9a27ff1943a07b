"""Request reading: negations, version/order/time cues (against a fixed today), base-model words."""
from datetime import date

from checkin.intent import read_intent

TODAY = "2026-11-24"


def test_negation_is_cut_from_the_query_and_kept_as_a_cue():
    intent = read_intent("Hiroshi, not the puppet", TODAY)
    assert intent.negations == [["puppet"]]
    assert "puppet" not in intent.query.lower()
    assert intent.query == "Hiroshi"


def test_but_not_phrase_with_two_words():
    intent = read_intent("an orange cat, but not the Maine Coon", TODAY)
    assert intent.negations == [["maine", "coon"]]
    assert intent.query == "an orange cat"


def test_version_number():
    intent = read_intent("Ziggy v2 with a stick in his mouth", TODAY)
    assert intent.version == "2"
    assert "v2" not in intent.query


def test_order_words():
    assert read_intent("the first Ziggy LoRA", TODAY).order == 1
    assert read_intent("the previous Tank LoRA", TODAY).order == -2
    assert read_intent("me, penultimate model", TODAY).order == -2
    assert read_intent("most recent gouache version", TODAY).order == -1
    assert read_intent("the one before the latest", TODAY).order == -2


def test_scene_words_are_not_order_or_time_cues():
    assert read_intent("my daughter's first day at school", TODAY).order is None
    assert read_intent("my doggo in a Halloween costume", TODAY).window is None
    assert read_intent("an older man reading", TODAY).order is None


def test_relative_month_and_season_against_today():
    assert read_intent("Tank from last December", TODAY).window == (date(2025, 12, 1), date(2025, 12, 31))
    assert read_intent("gouache landscapes as of last spring", TODAY).window == (date(2026, 3, 1), date(2026, 5, 31))
    assert read_intent("my biro style as retrained last month", TODAY).window == (date(2026, 10, 1), date(2026, 10, 31))
    assert read_intent("Tank from last December", TODAY).order is None  # "last" belonged to the time cue


def test_absolute_windows():
    assert read_intent("the Ziggy model made in summer '24", TODAY).window == (date(2024, 6, 1), date(2024, 8, 31))
    assert read_intent("Tank the Frenchie, the June 2025 one", TODAY).window == (date(2025, 6, 1), date(2025, 6, 30))
    assert read_intent("Lior from early 2025", TODAY).window == (date(2025, 1, 1), date(2025, 4, 30))
    assert read_intent("the red canoe from 2023", TODAY).window == (date(2023, 1, 1), date(2023, 12, 31))


def test_before_a_holiday_is_an_open_window():
    intent = read_intent("the one I trained before Christmas 2024", TODAY)
    assert intent.window == (None, date(2024, 12, 24))


def test_holiday_next_to_a_model_word_is_a_time_cue():
    lo, hi = read_intent("Ziggy - the Valentine's Day training", TODAY).window
    assert lo <= date(2026, 2, 14) <= hi


def test_base_model_words():
    assert read_intent("Waffles on SDXL please", TODAY).base_model == "sdxl"
    assert read_intent("the SD1.5 Waffles LoRA, wearing a party hat", TODAY).base_model == "sd15"
    assert read_intent("Gouache Hills v4 XL", TODAY).base_model == "sdxl"
    assert read_intent("a red barn", TODAY).base_model is None


def test_self_reference_and_style_words():
    assert read_intent("a selfie of me on a rooftop", TODAY).self_reference
    assert "watercolor" in read_intent("my corgi at the beach, watercolor", TODAY).style_words


def test_today_defaults_to_the_clock():
    assert read_intent("anything").today == date.today()
