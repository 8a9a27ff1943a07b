"""Issue #29 item 10: an image made with a LoRA or an embedding on a folder base names every resource by
the hashes A1111 writes (Model hash, Lora hashes, TI hashes), so A1111 and Civitai can link them."""
from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from demo.build import ASSETS
from engine import png_info

pytestmark = pytest.mark.slow


def _a1111(path):
    with Image.open(path) as image:
        return png_info.parse_parameters(image.text["parameters"])


@pytest.fixture
def demo_world():
    if not (ASSETS / "manifest.json").is_file():
        pytest.skip("the demo world is not built in this checkout")
    return ASSETS


def _generate(checkpoint, out, prompt):
    import main

    assert main.main(["generate", prompt, "--checkpoint", str(checkpoint), "--quant", "none", "--seed", "1",
                      "--steps", "2", "--out", str(out), "--quiet", "--no-llm"]) == 0
    return _a1111(out)


def test_a_lora_on_a_folder_base_carries_model_and_lora_hashes(demo_world, tmp_path):
    from common.hashing import addnet_sha256, sha256_file

    lora = demo_world / "library" / "Lora" / "zqx_bullseye_ball.safetensors"
    a1111 = _generate(lora, tmp_path / "lora.png", "a zqx circle")
    unet = demo_world / "base" / "unet" / "diffusion_pytorch_model.safetensors"
    assert a1111["Model hash"] == sha256_file(unet)[:10]
    assert a1111["Lora hashes"] == f"zqx_bullseye_ball: {addnet_sha256(lora)[:12]}"
    assert addnet_sha256(lora) != sha256_file(lora)  # the tensors' hash, as A1111 computes it for a .safetensors


def test_an_embedding_carries_ti_hashes(demo_world, tmp_path):
    emb = demo_world / "library" / "embeddings" / "kxj.safetensors"
    a1111 = _generate(emb, tmp_path / "ti.png", "a kxj triangle")
    assert a1111["TI hashes"] == f"kxj: {hashlib.sha256(emb.read_bytes()).hexdigest()[:12]}"
    assert a1111["Model hash"]
