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
    "the mlk outline style": "mlk_outline_style.safetensors",
    "a picture in tvy style": "tvy_pink_frame_style.safetensors",
    "kxj stripes": "kxj.safetensors",
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    if not (ASSETS / "manifest.json").is_file():
        pytest.skip("the demo world is not built in this checkout")
    return ASSETS / "library"


def _generate(library, request_text: str, capsys) -> tuple[dict, dict]:
    """`personalq index` then `personalq generate REQUEST --no-llm --json`: its JSON and the PNG's parameters."""
    import main

    assert main.main(["index", str(library)]) == 0
    capsys.readouterr()
    code = main.main(["generate", request_text, "--no-llm", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, out
    return out, png_info.read_png_parameters(out["path"])


@pytest.mark.parametrize("request_text, expected", sorted(REQUESTS.items()))
def test_generate_on_the_demo_library_needs_no_flags(indexed, request_text, expected, tmp_path, capsys):
    out, params = _generate(indexed, request_text, capsys)
    assert params["checkpoint"] == expected
    with Image.open(out["path"]) as image:
        assert image.size == (32, 32)  # the size the demo base was made for
    assert (params["steps"], params["guidance"]) == (10, 4.0)  # and its steps and guidance


def test_a_subject_in_a_style_generates_with_both(indexed, tmp_path, capsys):
    _, params = _generate(indexed, "a robot in mlk style", capsys)
    assert params["checkpoint"] == "pqr_robot_v2.safetensors"  # the newest robot, with the style on it
    assert any("mlk_outline_style" in str(lora) for lora in params.get("loras") or []), params
