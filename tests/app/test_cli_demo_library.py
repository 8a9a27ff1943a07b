"""`personalq index` then `personalq generate` on the demo library, as a new user types them: no --base,
no size, no steps. Every checkpoint is reached by a plain request and renders at the base's own 32x32."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from demo.build import ASSETS
from engine import png_info

pytestmark = pytest.mark.slow

# request -> file it must pick (each names its concept the way the demo's cards describe it)
REQUESTS = {
    "a dfr cactus in the middle": "dfr_cactus.safetensors",
    "my pqr robot from march": "pqr_robot_v1.safetensors",
    "the latest pqr robot head": "pqr_robot_v2.safetensors",
    "a zqx ball": "zqx_bullseye_ball.safetensors",
    "a vwk ball on black": "vwk_checker_ball.safetensors",
    "a robot in mlk style": "mlk_outline_style.safetensors",
    "a picture in tvy style": "tvy_pink_frame_style.safetensors",
    "kxj stripes": "kxj.safetensors",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    if not (ASSETS / "manifest.json").is_file():
        pytest.skip("the demo world is not built in this checkout")
    return ASSETS / "library"


@pytest.mark.parametrize("request_text, expected", sorted(REQUESTS.items()))
def test_generate_on_the_demo_library_needs_no_flags(indexed, request_text, expected, tmp_path, capsys):
    import main

    assert main.main(["index", str(indexed)]) == 0
    capsys.readouterr()
    code = main.main(["generate", request_text, "--no-llm", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, out
    params = png_info.read_png_parameters(out["path"])
    assert params["checkpoint"] == expected
    with Image.open(out["path"]) as image:
        assert image.size == (32, 32)  # the size the demo base was made for
    assert (params["steps"], params["guidance"]) == (10, 4.0)  # and its steps and guidance
