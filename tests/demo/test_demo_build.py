"""The smoke build runs end to end and writes a complete, hashed world (tiny settings, CI-sized)."""
from __future__ import annotations

import hashlib
import json

import pytest
from safetensors import safe_open

from demo import build, personalize, train, world


@pytest.fixture(scope="module")
def smoke_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    assert build.main(["--smoke", "--out", str(out), "--work", str(out.parent / (out.name + "-work")), "--threads", "1"]) == 0
    return out


def test_manifest_lists_every_file_with_its_sha256(smoke_world):
    manifest = json.loads((smoke_world / "manifest.json").read_text())
    files = {p.relative_to(smoke_world).as_posix() for p in smoke_world.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == files
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((smoke_world / rel).read_bytes()).hexdigest() == info["sha256"]
    assert manifest["total_bytes"] <= 25 * 2**20


def test_every_entry_has_its_file_preview_and_sidecars(smoke_world):
    manifest = json.loads((smoke_world / "manifest.json").read_text())
    assert [e["file"] for e in manifest["entries"]] == [e.file for e in personalize.LIBRARY]
    for e in personalize.LIBRARY:
        path = smoke_world / "library" / e.file
        stem = path.with_suffix("")
        assert path.is_file() and stem.with_name(stem.name + ".preview.png").is_file()
        if "a1111" in e.sidecars:
            assert json.loads(stem.with_name(stem.name + ".json").read_text())["activation text"].startswith(e.trigger)
        if "civitai" in e.sidecars:
            info = json.loads(stem.with_name(stem.name + ".civitai.info").read_text())
            assert info["trainedWords"][0].startswith(e.trigger) and info["createdAt"].startswith(e.created)


def test_files_are_in_the_formats_creators_use(smoke_world):
    for e in personalize.LIBRARY:
        with safe_open(str(smoke_world / "library" / e.file), "pt") as f:
            keys, meta = list(f.keys()), f.metadata() or {}
        if e.method == "lora":
            assert all(k.startswith(("lora_unet_", "lora_te_")) for k in keys)
            assert meta["ss_network_module"] == "networks.lora" and meta["ss_output_name"]
            locon = "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight" in keys  # convolutions too
            assert locon == (world.CONCEPT_BY_KEY[e.concept].kind == "subject")  # styles: attention only
            assert ("ss_network_args" in meta) == locon
        elif e.method == "dreambooth":
            assert any(k.startswith("model.diffusion_model.") for k in keys)
            assert any(k.startswith("cond_stage_model.transformer.text_model.") for k in keys)
        else:
            assert keys == ["emb_params"]


def test_metrics_are_recorded(smoke_world):
    metrics = json.loads((smoke_world / "manifest.json").read_text())["metrics"]
    for key in ("vae_psnr_db", "judge_heldout_min", "base_attribute_accuracy_heldout", "concept_with_trigger_min", "concept_without_trigger_max"):
        assert key in metrics


def test_an_entry_with_its_own_recipe_records_it_like_kohya(smoke_world):
    tuned = [e for e in personalize.LIBRARY if e.recipe.tuned]
    assert tuned, "the outline style trains with its own recipe"
    for e in tuned:
        with safe_open(str(smoke_world / "library" / e.file), "pt") as f:
            meta = f.metadata()
            if e.method == "textual_inversion":  # A1111's format: one emb_params row per vector
                assert f.get_tensor("emb_params").shape[0] == e.recipe.vectors
                continue
        assert meta["ss_max_train_steps"] == str(e.recipe.steps(build.SMOKE)) != str(build.SMOKE.personal_steps)
        assert meta["ss_num_train_images"] == str(e.recipe.instance_images(build.SMOKE))
        assert float(meta["ss_min_snr_gamma"]) == e.recipe.min_snr_gamma
        assert float(meta.get("ss_caption_dropout_rate", 0.0)) == e.recipe.caption_dropout
    manifest = {m["file"]: m for m in json.loads((smoke_world / "manifest.json").read_text())["entries"]}
    for e in personalize.LIBRARY:
        record = manifest[e.file]
        assert "recipe" not in record  # the manifest says what was done, under "train"
        if e in tuned and e.method == "textual_inversion":
            assert (record["train"]["vectors"], record["train"]["bare_trigger"]) == (e.recipe.vectors, e.recipe.bare_trigger)
        elif e in tuned:
            assert record["train"]["steps"] == e.recipe.steps(build.SMOKE) and record["train"]["min_snr_gamma"] == e.recipe.min_snr_gamma
            assert record["train"]["caption_dropout"] == e.recipe.caption_dropout


def test_caption_dropout_empties_captions_without_touching_other_entries_batches():
    """Only a recipe with caption dropout draws the extra random numbers: every other entry trains
    on the same batches as before (the committed world's files stay byte-identical)."""
    import numpy as np
    import torch

    from demo import model as world_model

    tokenizer, vae = world_model.make_tokenizer(), world_model.make_vae()
    images = np.zeros((4, 32, 32, 3), np.uint8)
    instance, prior = (images, ["zqx a"] * 4), (images, ["a circle"] * 4)
    empty = world_model.tokenize(tokenizer, [""])[0]

    def batch(dropout):
        fn = personalize._mixed_batch_fn(tokenizer, vae, instance, prior, 8, caption_dropout=dropout)
        gen = torch.Generator().manual_seed(3)
        return fn(gen), torch.rand(1, generator=gen)  # the batch, and where the random stream went on

    (z0, ids0, _), after0 = batch(0.0)
    (z1, ids1, _), after1 = batch(1.0)
    (_, ids_half, _), _ = batch(0.5)
    assert torch.equal(z0, z1) and not torch.equal(after0, after1)
    assert not (ids0 == empty).all(dim=1).any() and (ids1 == empty).all()
    dropped = (ids_half == empty).all(dim=1)
    assert 0 < dropped.sum() < len(ids_half) and torch.equal(ids_half[~dropped], ids0[~dropped])


def test_min_snr_weights_only_lower_the_clean_timesteps():
    import torch

    alpha_bar = torch.tensor([0.999, 0.9, 0.5, 0.01])  # SNR 999, 9, 1, ~0.01
    w = train.min_snr_weights(alpha_bar, 5.0)
    assert torch.allclose(w[2:], torch.ones(2)) and w[0] < w[1] < 1.0
    assert torch.isclose(w[1], torch.tensor(5.0 / 9.0))


def test_library_training_is_shared_so_the_longest_entry_does_not_wait_behind_others():
    shares = build.balanced_shares({0: 1.0, 1: 1.0, 2: 1.0, 3: 2.5, 4: 1.0}, 2)
    assert sorted(shares) == [[0, 1, 2], [3, 4]]  # loads 3 and 3.5, where taking turns gives 2 and 5.5
    assert build.balanced_shares({0: 1.0}, 2) == [[0]]
