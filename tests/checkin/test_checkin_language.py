"""Which text the English-only embedder cannot read, so the local LLM restates or glosses it."""
import pytest

from checkin.language import looks_english, non_latin_share


@pytest.mark.parametrize("text", ["un gato naranja durmiendo", "mein Hund am Strand", "une cathédrale dans mon style",
                                  "我的奶奶：满头白发", "おじいちゃんのヒロシ", "Mi tío: barba negra, sombrero vaquero"])
def test_other_languages_and_scripts_are_not_english(text):
    assert not looks_english(text)


@pytest.mark.parametrize("text", ["my doggo in a Halloween costume", "a portrait of Tío Joaquín",
                                  "Hand-woven alpaca poncho from Cusco", "Dragon Boat Race 龙舟赛",
                                  "a hound, not Lou's basset", "Ziggy v2", ""])
def test_english_with_foreign_names_is_english(text):
    assert looks_english(text)


def test_non_latin_share_counts_letters_only():
    assert non_latin_share("奶奶 2!!") == 1.0 and non_latin_share("ab 奶奶") == 0.5 and non_latin_share("123") == 0.0
