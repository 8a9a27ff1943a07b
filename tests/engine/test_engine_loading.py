"""Loading every kind of catalog entry offline: single-file (original layout), pickle, diffusers
folder, LoRA (diffusers and kohya layouts), textual inversion; shipped configs match the real models."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # the test machine is shared; oversubscribed threads make tiny models crawl

from engine import configs, loading, lora  # noqa: E402
from engine.pipeline_tiny import (  # noqa: E402
    unet_to_original,
    write_single_file_checkpoint,
    write_tiny_config_dir,
    write_tiny_lora,
    write_tiny_textual_inversion,
)


@pytest.fixture(scope="module")
def files(tiny_pipe, tmp_path_factory):
    """A tiny pipeline and the files a user library would hold for it."""
    root = tmp_path_factory.mktemp("library")
    pipe = tiny_pipe
    out = {"pipe": pipe, "root": root}
    out["ckpt"] = write_single_file_checkpoint(pipe, root / "Stable-diffusion" / "tiny.safetensors")
    out["lora_diffusers"] = write_tiny_lora(pipe, root / "Lora" / "sksdog.safetensors", "diffusers", seed=1, full=True)
    out["lora_kohya"] = write_tiny_lora(pipe, root / "Lora" / "sksdog_kohya.safetensors", "kohya", seed=1, full=True)
    out["ti_pt"] = write_tiny_textual_inversion(root / "embeddings" / "mystyle.pt", seed=2)
    out["ti_st"] = write_tiny_textual_inversion(root / "embeddings" / "twovec.safetensors", vectors=2, seed=3)
    return out


def image(pipe, prompt="a photo of a dog"):
    gen = torch.Generator().manual_seed(0)
    return pipe(prompt, num_inference_steps=2, height=64, width=64, generator=gen, output_type="np").images[0]


def test_single_file_original_layout_loads_offline_with_inferred_tiny_config(files):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert loading.infer_family(loading.tensor_shapes(files["ckpt"])) == "sd15-tiny"
    pipe = loading.load_pipeline(files["ckpt"], "checkpoint", "unknown")
    for name in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(files["pipe"], name).state_dict(), getattr(pipe, name).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
    assert pipe.tokenizer("a photo of sks").input_ids == [49406, 320, 1125, 539, 48136, 49407]
    assert np.array_equal(image(pipe), image(files["pipe"]))


def test_explicit_config_dir_and_dtype(files, tmp_path):
    folder = write_tiny_config_dir(tmp_path / "tiny-config")
    assert (folder / "tokenizer" / "vocab.json").is_file() and (folder / "unet" / "config.json").is_file()
    pipe = loading.load_pipeline(files["ckpt"], "checkpoint", "sd15", config_dir=folder, dtype="bf16")
    assert pipe.unet.dtype == torch.bfloat16


def test_pickled_checkpoint_is_converted_to_safetensors_in_the_cache(files, personalq_home):
    from safetensors.torch import load_file

    state = load_file(str(files["ckpt"]))
    ckpt = files["root"] / "tiny.ckpt"
    torch.save({"state_dict": state, "global_step": 10}, ckpt)
    pipe = loading.load_pipeline(ckpt, "checkpoint", "sd15")
    converted = list((personalq_home / "cache" / "converted").glob("tiny-*.safetensors"))
    assert len(converted) == 1
    assert np.array_equal(image(pipe), image(files["pipe"]))


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_with_code_is_refused_not_run(tmp_path):
    bad = tmp_path / "evil.ckpt"
    with open(bad, "wb") as handle:
        pickle.dump({"state_dict": _Boom()}, handle)
    with pytest.raises(loading.LoadError, match="weights-only"):
        loading.load_pipeline(bad, "checkpoint", "sd15")


def test_diffusers_folder(files, tmp_path):
    folder = tmp_path / "tiny-diffusers"
    files["pipe"].save_pretrained(folder)
    pipe = loading.load_pipeline(folder, "diffusers_model", "sd15")
    assert np.array_equal(image(pipe), image(files["pipe"]))


def test_lora_layouts_agree_with_each_other_and_with_diffusers_peft(files):
    """UNet attention + 1x1-conv + 3x3-conv (LoCon) + text-encoder factors, in diffusers and kohya layouts."""
    a = loading.load_pipeline(files["lora_diffusers"], "lora", "sd15", base_path=files["ckpt"])
    b = loading.load_pipeline(files["lora_kohya"], "lora", "sd15", base_path=files["ckpt"])
    factors = a._pq_loras[lora.active_lora(a)].factors
    assert {c for c, _ in factors} == {"unet", "text_encoder"}
    assert any(down.shape[-2:] == (3, 3) for down, _up, _scale in factors.values())
    ia, ib, base = image(a), image(b), image(files["pipe"])
    assert np.abs(ia - base).max() > 0.01  # the LoRA does something
    np.testing.assert_allclose(ia, ib, atol=1e-5)
    oracle = loading.load_base(files["ckpt"])  # diffusers' own (peft) LoRA loader as the reference
    oracle.load_lora_weights(str(files["lora_diffusers"]), adapter_name="reference")
    np.testing.assert_allclose(image(oracle), ia, atol=1e-5)
    lora.deactivate_loras(a)
    np.testing.assert_allclose(image(a), base, atol=1e-6)  # hooks off: the base again


def test_textual_inversion_pt_uses_the_file_stem(files):
    pipe = loading.load_pipeline(files["ti_pt"], "textual_inversion", "sd15", base_path=files["ckpt"])
    ids = pipe.tokenizer("a photo in mystyle").input_ids
    token_id = pipe.tokenizer.convert_tokens_to_ids("mystyle")
    assert token_id >= 49408 and token_id in ids
    row = pipe.text_encoder.get_input_embeddings().weight[token_id]
    expected = torch.randn(1, 32, generator=torch.Generator().manual_seed(2))[0]
    assert torch.equal(row, expected)
    assert np.abs(image(pipe, "a photo in mystyle") - image(files["pipe"], "a photo in mystyle")).max() > 0


def test_multi_vector_embedding_with_trigger_that_is_a_bpe_piece(files):
    # "dog" is also a BPE piece of the vocabulary: diffusers' own loader refuses such names
    pipe = loading.load_pipeline(files["ti_st"], "textual_inversion", "sd15", base_path=files["ckpt"], trigger="dog")
    assert pipe.maybe_convert_prompt("a dog", pipe.tokenizer) == "a dog dog_1"
    image(pipe, "a dog")


def test_addon_without_base_names_the_family_to_add(files):
    with pytest.raises(loading.BaseModelMissing, match="Stable Diffusion 1.5") as err:
        loading.load_pipeline(files["lora_kohya"], "lora", "sd15")
    assert err.value.base_model == "sd15"
    with pytest.raises(loading.BaseModelMissing, match="XL"):
        loading.load_pipeline(files["ti_pt"], "textual_inversion", "sdxl", base_path=None)


def test_missing_file_and_bad_kind(tmp_path):
    with pytest.raises(loading.LoadError, match="not found"):
        loading.load_pipeline(tmp_path / "nope.safetensors", "checkpoint", "sd15")
    with pytest.raises(loading.LoadError, match="vae"):
        loading.load_pipeline(tmp_path / "x.safetensors", "vae", "sd15")


def test_infer_family_from_shapes():
    key = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
    assert loading.infer_family({key: [320, 768]}) == "sd15"
    assert loading.infer_family({key: [320, 1024]}) == "sd21"
    assert loading.infer_family({"conditioner.embedders.1.model.ln_final.weight": [1280]}) == "sdxl"
    assert loading.infer_family({key: [32, 32]}) == "sd15-tiny"
    assert loading.infer_family({"lora_unet_x.alpha": []}) is None


@pytest.mark.parametrize(
    "family, unet, text, text_2",
    [
        ("sd15", 859_520_964, 123_060_480, None),
        ("sd21", 865_910_724, 340_387_840, None),
        ("sdxl", 2_567_463_684, 123_060_480, 694_659_840),
    ],
)
def test_shipped_configs_have_the_real_models_shapes(family, unet, text, text_2):
    """Built on the meta device (no memory): parameter counts equal the published models'."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = configs.shipped_dir(family)
    read = lambda rel: json.loads((folder / rel).read_text())  # noqa: E731
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    with init_empty_weights():
        assert count(UNet2DConditionModel.from_config(read("unet/config.json"))) == unet
        assert count(AutoencoderKL.from_config(read("vae/config.json"))) == 83_653_863
        assert count(CLIPTextModel(CLIPTextConfig(**read("text_encoder/config.json")))) == text
        if text_2:
            config = CLIPTextConfig(**read("text_encoder_2/config.json"))
            assert count(CLIPTextModelWithProjection(config)) == text_2


def test_original_layout_writer_matches_diffusers_converter_at_sd15_size():
    """Our diffusers->original names, read back by diffusers' own converter, give every key back."""
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, infer_diffusers_model_type

    config = json.loads((configs.shipped_dir("sd15") / "unet" / "config.json").read_text())
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(config)
    state = unet.state_dict()
    original = unet_to_original(state, dict(unet.config))
    assert "model.diffusion_model.output_blocks.11.0.skip_connection.weight" in original  # SD 1.x marker key
    original["cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"] = torch.empty(77, 768, device="meta")
    assert infer_diffusers_model_type(original) == "v1"
    back = convert_ldm_unet_checkpoint(original, dict(unet.config))
    assert back.keys() == state.keys()


def test_shipped_config_folder_gets_tokenizers(personalq_home):
    folder = configs.config_dir("sdxl")
    assert (folder / "tokenizer" / "merges.txt").is_file()
    pad = json.loads((folder / "tokenizer_2" / "special_tokens_map.json").read_text())["pad_token"]
    assert pad == "!"
    assert configs.config_dir("sdxl") == folder  # cached
    with pytest.raises(configs.UnknownBaseFamily):
        configs.config_dir("sd3")
