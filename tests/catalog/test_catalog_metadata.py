"""Cards: name, triggers, description, version and date from headers and sidecars; hashes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from catalog.card import Probe
from catalog.metadata import base_from_words, build_card, strip_html
from catalog.probe import probe_path
from catalog.triggers import kohya_triggers, rare_token, triggers_from_free_text
from catalog.versions import iso_from_text, iso_from_unix, version_from_filename, version_from_text
from common.hashing import autov2, sha256_file
from tests.catalog.fixtures import kohya_lora, write_library, write_safetensors


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    return root, write_library(root)


def _rel(root: Path, value):
    return str(Path(value).relative_to(root)) if value else value


def test_every_fixture_card(library):
    root, expected = library
    for rel, exp in expected.items():
        card = build_card(probe_path(root / rel))
        assert card.error is None, (rel, card.error)
        assert card.name == exp["name"], rel
        assert card.triggers == exp["triggers"], rel
        assert card.canonical_trigger == (exp["triggers"][0] if exp["triggers"] else None), rel
        assert (card.kind, card.base_model, card.format) == (exp["kind"], exp["base_model"], exp["format"]), rel
        if "version_number" in exp:
            assert card.version_number == exp["version_number"], rel
        if "created" in exp:
            assert (card.created or "")[:10] == exp["created"], rel
        if "description" in exp:
            assert card.description == exp["description"], rel
        if "preview" in exp:
            assert _rel(root, card.preview) == exp["preview"], rel
        if "sidecars" in exp:
            assert [_rel(root, s) for s in card.sidecars] == exp["sidecars"], rel
        if "tags" in exp:
            assert set(exp["tags"]) <= set(card.tags), rel
        assert card.is_negative_embedding == exp.get("is_negative_embedding", False), rel


def test_sources_are_recorded(library):
    root, _ = library
    card = build_card(probe_path(root / "Lora/xl/harbor_lights_xl.safetensors"))
    assert card.metadata_sources == ["kohya", "modelspec"]
    assert card.description == "Night harbor lights."
    assert "night" in card.tags and "smile" in card.tags  # modelspec tags, then kohya's frequent tags
    bare = build_card(probe_path(root / "Lora/lyco/sparks_locon.safetensors"))
    assert bare.metadata_sources == ["none"] and bare.triggers == [] and bare.canonical_trigger is None


def test_a1111_activation_text_beats_kohya_dataset_token(library):
    root, _ = library
    card = build_card(probe_path(root / "Lora/people/nora.safetensors"))
    assert card.triggers == ["nrgirl", "red scarf"]
    assert card.version == "v3" and card.version_number == 3.0  # from the A1111 notes


def test_broken_sidecars_are_ignored(tmp_path):
    model = write_safetensors(tmp_path / "kite.safetensors", kohya_lora("sd15"), {})
    (tmp_path / "kite.civitai.info").write_text("{not json", encoding="utf-8")
    (tmp_path / "kite.json").write_bytes(b"\xff\xfe garbage")
    card = build_card(probe_path(model))
    assert card.error is None and card.name == "kite" and card.base_model == "sd15"


def test_errored_probe_still_gets_a_named_card(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00")
    card = build_card(probe_path(path))
    assert card.kind == "unknown" and card.error and card.name == "broken"


def test_card_base_falls_back_to_sidecar_words(tmp_path):
    model = write_safetensors(tmp_path / "mystery.safetensors", {"something.weight": ([4, 4], "F16")}, {})
    (tmp_path / "mystery.civitai.info").write_text(json.dumps({"name": "v1", "baseModel": "Pony",
                                                               "model": {"name": "Mystery"}}), encoding="utf-8")
    card = build_card(probe_path(model))
    assert card.base_model == "sdxl" and card.name == "Mystery"


def test_version_rules():
    assert version_from_filename("gouacheHills_v50XL") == ("v50XL", 5.0)
    assert version_from_filename("gouacheHills_v10") == ("v10", 1.0)
    assert version_from_filename("realisticVisionV51_v51VAE")[1] == 5.1
    assert version_from_filename("ziggy_dachshund_v12") == ("v12", 12.0)
    assert version_from_filename("奶奶_v1")[1] == 1.0
    assert version_from_filename("tank-frenchie-2025-01") is None
    assert version_from_filename("red_canoe_summer24") is None
    assert version_from_filename("sd15_inkv") is None
    assert version_from_text("Ziggy XL v6") == ("v6", 6.0)
    assert version_from_text("Model version 3")[1] == 3.0
    assert version_from_text("trained on sd v1.5 base", anywhere=False) is None
    assert version_from_text("v2: cleaned captions", anywhere=False) == ("v2", 2.0)


def test_dates_are_utc_iso():
    assert iso_from_unix("1705743255.690303") == "2024-01-20T09:34:15Z"
    assert iso_from_unix("None") is None and iso_from_unix("12") is None
    assert iso_from_text("2024-02-24T12:27:36.445Z") == "2024-02-24T12:27:36Z"
    assert iso_from_text("2025-03-29T10:34:16") == "2025-03-29T10:34:16Z"
    assert iso_from_text("2025-03-29T10:34:16+02:00") == "2025-03-29T08:34:16Z"
    assert iso_from_text("2025-03-29") == "2025-03-29"
    assert iso_from_text("yesterday") is None


def test_trigger_rules():
    assert rare_token("a photo of clintdough jar") == "clintdough"
    assert rare_token("seaglass pebbles") == "seaglass"
    assert triggers_from_free_text("token: desertbloom") == ["desertbloom"]
    assert triggers_from_free_text("instance prompt: priyak woman") == ["priyak", "priyak woman"]
    assert triggers_from_free_text("Red Hollow canyon campsite. trigger redhollow") == ["redhollow"]
    assert triggers_from_free_text("We trigger happy memories here, nothing else") == []
    meta = {"ss_tag_frequency": json.dumps({"5_wfflbeagle dog": {"wfflbeagle": 34, "dog": 34, "grass": 3}})}
    assert kohya_triggers(meta) == ["wfflbeagle"]
    assert kohya_triggers({"ss_tag_frequency": json.dumps({"img": {"ohwx": 9, "1girl": 9, "smile": 4}})}) == ["ohwx"]
    assert kohya_triggers({"ss_tag_frequency": "not json"}) == []


def test_small_helpers():
    assert strip_html("<p>Sumi-e <b>ink</b> &amp; wash.</p>") == "Sumi-e ink & wash."
    assert base_from_words("SD 1.5") == "sd15" and base_from_words("SDXL 1.0") == "sdxl"
    assert base_from_words("SD 2.1 768") == "sd21" and base_from_words("Pony") == "sdxl"
    assert base_from_words("stabilityai/stable-diffusion-2-1") == "sd21"
    assert base_from_words("Flux.1 D") is None


def test_build_card_on_a_bare_probe(tmp_path):
    card = build_card(Probe(path=str(tmp_path / "nothing_here.safetensors"), error="gone"))
    assert card.error == "gone" and card.name == "nothing_here" and card.metadata_sources == ["none"]


def test_sha256_and_autov2(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == digest
    assert sha256_file(path, chunk=7) == digest
    assert autov2(digest) == digest[:10]
    assert autov2(digest.upper()) == digest[:10]
    with pytest.raises(ValueError):
        autov2("xyz")
    with pytest.raises(ValueError):
        sha256_file(path, chunk=0)


def test_embedding_token_is_the_file_stem_unless_the_stem_is_generic(tmp_path):
    star = write_safetensors(tmp_path / "velvet.safetensors", {"*": ([768], "F32")})
    assert build_card(probe_path(star)).triggers == ["velvet"]
    keyed = write_safetensors(tmp_path / "glass/learned_embeds.safetensors", {"<glass-bead>": ([1024], "F32")})
    card = build_card(probe_path(keyed))
    assert (card.triggers, card.name, card.base_model) == (["<glass-bead>"], "glass", "sd21")


def test_kohya_without_a_rare_token_has_no_trigger():
    anime = {"ss_tag_frequency": json.dumps({"img": {"1girl": 40, "solo": 40, "long hair": 30}})}
    assert kohya_triggers(anime) == []
    no_captions = {"ss_dataset_dirs": json.dumps({"20_zxqchar woman": {}, "train": {}})}
    assert kohya_triggers(no_captions) == ["zxqchar"]


def test_mtime_counts_as_creation_date_only_when_notes_agree(tmp_path):
    import calendar
    import os

    feb = calendar.timegm((2025, 2, 1, 11, 37, 14, 0, 0, 0))
    nov = calendar.timegm((2026, 11, 25, 16, 0, 0, 0, 0, 0))
    for stem, stamp, expected in (("agree", feb, "2025-02-01"), ("copied", nov, None)):
        model = write_safetensors(tmp_path / f"{stem}.safetensors", kohya_lora("sd15"), {})
        (tmp_path / f"{stem}.json").write_text(json.dumps({"notes": "retrained in February, fixed the freckles"}))
        os.utime(model, (stamp, stamp))
        created = build_card(probe_path(model)).created
        assert (created[:10] if created else None) == expected, stem
    from catalog.versions import month_from_text

    assert month_from_text("it may need a retrain") is None and month_from_text("trained in May") == 5


def test_stated_triggers_beat_ones_written_in_notes(tmp_path):
    model = write_safetensors(tmp_path / "dune.safetensors", kohya_lora("sd15"), {})
    (tmp_path / "dune.json").write_text(json.dumps({"description": "", "notes": "token: oldword"}))
    (tmp_path / "dune.civitai.info").write_text(json.dumps({"name": "v1", "trainedWords": ["dunewrd, sand"],
                                                            "model": {"name": "Dune"}}))
    card = build_card(probe_path(model))
    assert card.triggers == ["dunewrd", "sand"] and card.metadata_sources == ["civitai", "a1111"]


def test_json_of_another_tool_is_not_an_a1111_sidecar(tmp_path):
    model = write_safetensors(tmp_path / "comfy.safetensors", kohya_lora("sdxl"), {})
    (tmp_path / "comfy.json").write_text(json.dumps({"workflow": {"nodes": []}}))
    card = build_card(probe_path(model))
    assert card.metadata_sources == ["none"] and card.sidecars == []


def test_readme_front_matter_is_read_as_yaml(tmp_path):
    from catalog.metadata import read_readme
    from catalog.triggers import rare_token

    readme = tmp_path / "README.md"
    readme.write_text('---\nbase_model: "runwayml/stable-diffusion-v1-5"\ninstance_prompt: a photo of sks dog\n'
                      "tags:\n- text-to-image\n- dogs\nlicense: openrail\n---\n\n# Title\n\nA corgi named Biscuit.\n",
                      encoding="utf-8")
    facts = read_readme(str(readme))
    assert facts.triggers == [rare_token("a photo of sks dog")] and facts.tags == ["dogs"] and facts.base_model == "sd15"
    assert facts.description == "A corgi named Biscuit."
    readme.write_text("---\ninstance_prompt: [unclosed\n---\nJust a body.\n", encoding="utf-8")
    facts = read_readme(str(readme))
    assert facts.triggers == [] and facts.description == "Just a body."


def test_file_stem_is_one_rule_for_names_words_and_embeddings(tmp_path):
    from catalog.embeddings import card_text
    from catalog.fts import _filename_words
    from catalog.names import file_stem

    assert file_stem("/m/rex_corgi.v2.safetensors") == "rex_corgi.v2"
    assert file_stem("/m/Rex/pytorch_lora_weights.safetensors") == "Rex"  # generic: the folder names it
    assert file_stem("/m/Rex/Model.ckpt") == "Rex"  # generic stems are matched case-insensitively
    assert file_stem("/m/sd-v1.5", is_folder=True) == "sd-v1.5"
    assert file_stem("/m/Cafe\u0301.safetensors") == "Caf\u00e9"  # NFC, as the card's name
    assert _filename_words("/m/Rex/pytorch_lora_weights.safetensors") == "Rex"
    card = build_card(Probe(path=str(tmp_path / "waffles_beagle-v1.safetensors"), kind="lora"))
    assert card.name == "waffles_beagle-v1" and "waffles beagle v1" in card_text(card)
