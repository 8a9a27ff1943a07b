"""The files the demo writes load with diffusers' own loaders and mean what we trained."""
from __future__ import annotations

import pytest
import torch

from demo import lora, model, single_file


@pytest.fixture(scope="module")
def tiny_pipe():
    torch.manual_seed(0)
    cfg = model.WorldConfig()
    pipe = model.assemble(model.make_text_encoder(cfg), model.make_vae(cfg), model.make_unet(cfg))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_single_file_round_trips_through_from_single_file(tiny_pipe, tmp_path):
    base = tmp_path / "base"
    tiny_pipe.save_pretrained(str(base))
    path = tmp_path / "full.safetensors"
    single_file.save_single_file(tiny_pipe, path, metadata={"modelspec.title": "t"})
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("model.diffusion_model.input_blocks.") for k in keys)
    assert any(k.startswith("first_stage_model.encoder.down.") for k in keys)
    assert any(k.startswith("cond_stage_model.transformer.text_model.") for k in keys)
    back = single_file.load_single_file(path, base)
    for name in ("unet", "vae", "text_encoder"):
        a, b = getattr(tiny_pipe, name).state_dict(), getattr(back, name).state_dict()
        assert set(a) == set(b), name
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 2e-3  # fp16 storage


def test_kohya_lora_loads_in_diffusers_and_matches_our_lora(tiny_pipe, tmp_path):
    import copy

    from safetensors.torch import save_file

    unet, te = copy.deepcopy(tiny_pipe.unet), copy.deepcopy(tiny_pipe.text_encoder)
    u = lora.inject(unet, lora.UNET_TARGETS + lora.UNET_CONV_TARGETS, 4, 4.0, 0)
    t = lora.inject(te, lora.TE_TARGETS, 4, 4.0, 1)
    with torch.no_grad():
        for m in list(u.values()) + list(t.values()):
            m.up.normal_(0, 0.2)
            m.down.copy_(m.down.half().float())  # what the fp16 file will hold
            m.up.copy_(m.up.half().float())
    state = lora.kohya_state_dict(u, t, lora.te_module_prefix(te))
    assert any(k.startswith("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.") for k in state)
    assert any(k.startswith("lora_te_text_model_encoder_layers_0_self_attn_q_proj.") for k in state)
    assert state["lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"].shape[-2:] == (3, 3)  # LoCon
    path = tmp_path / "l.safetensors"
    save_file(state, str(path), metadata={"ss_network_dim": "4"})
    ids = model.tokenize(tiny_pipe.tokenizer, ["a zqx circle"])
    x, ts = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([500])
    with torch.no_grad():
        ours = unet(x, ts, te(ids)[0]).sample
        loaded = copy.deepcopy(tiny_pipe)
        loaded.load_lora_weights(str(path))
        theirs = loaded.unet(x, ts, loaded.text_encoder(ids)[0]).sample
        plain = tiny_pipe.unet(x, ts, tiny_pipe.text_encoder(ids)[0]).sample
    assert (ours - plain).abs().max() > 1e-3
    assert torch.allclose(ours, theirs, atol=1e-4)
