"""One display-name rule (issue #29 items 9 and 15): what `personalq list` and the window show, and names
shown side by side that always differ in what they show."""
from __future__ import annotations

from catalog.card import Card, display_name, distinct_names


def test_a_file_stem_reads_as_words_and_a_version_is_shown():
    assert display_name(Card(path="/m/Lora/tvy_pink_frame_style.safetensors")) == "Tvy Pink Frame Style"
    assert display_name(Card(path="/m/x.safetensors", name="PQR Robot", version="v2")) == "PQR Robot v2"


def test_versions_tell_options_apart_first():
    cards = [Card(path="/m/a.safetensors", name="PQR Robot", version="v1"),
             Card(path="/m/b.safetensors", name="PQR Robot", version="v2")]
    assert distinct_names(cards) == ["PQR Robot (v1)", "PQR Robot (v2)"]


def test_same_name_same_base_differ_by_file_name():
    """Several files with one kohya ss_output_name: the file names tell them apart, not "(Unknown base)" x3."""
    cards = [Card(path=f"/m/Lora/fz_e{i}.safetensors", name="Fz") for i in (1, 2, 3)] + \
        [Card(path="/m/Lora/other.safetensors", name="Zq")]
    names = distinct_names(cards)
    assert names == ["Fz (fz_e1.safetensors)", "Fz (fz_e2.safetensors)", "Fz (fz_e3.safetensors)", "Zq"]


def test_copies_in_different_folders_differ_by_folder():
    cards = [Card(path="/m/a/fz.safetensors", name="Fz"), Card(path="/m/b/fz.safetensors", name="Fz")]
    assert distinct_names(cards) == ["Fz (a)", "Fz (b)"]
    deep = [Card(path="/m/x/a/fz.safetensors", name="Fz"), Card(path="/m/y/a/fz.safetensors", name="Fz")]
    assert len(set(distinct_names(deep))) == 2


def test_list_shows_the_windows_names(tmp_path, capsys):
    """`personalq list` names each entry as the library page does (catalog.card.display_name)."""
    import main
    from tests.catalog.fixtures import kohya_lora, kohya_metadata, write_safetensors

    lib = tmp_path / "lib"
    write_safetensors(lib / "tvy_pink_frame_style.safetensors", kohya_lora("sd15"),
                      kohya_metadata("tvy_pink_frame_style", "tvy"))
    db = str(tmp_path / "c.sqlite")
    assert main.main(["index", str(lib), "--db", db, "--no-embed", "-q"]) == 0
    capsys.readouterr()
    assert main.main(["list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Tvy Pink Frame Style" in out and "tvy_pink_frame_style  " not in out
