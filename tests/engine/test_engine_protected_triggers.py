"""Which of a composed prompt's triggers TAQ keeps: every one (taq-*), or only the first, the subject's
(taq-*-first, the ablation of issue #30)."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)  # the test machine is shared; oversubscribed threads make tiny models crawl

from engine.generate import GenerationRequest, generate  # noqa: E402
from engine.pipeline_tiny import build_tiny_pipeline  # noqa: E402
from engine.quant_specs import SPECS, QuantSpec, get_spec  # noqa: E402

PROMPT = "zqx style, a photo of sks dog"


def test_specs_before_the_option_keep_their_artifact_dict():
    for name in SPECS:
        spec = get_spec(name)
        assert ("protected_triggers" in spec.to_dict()) == name.endswith("-first"), name
    assert get_spec("taq-w8a8-first").protected(["sks", "zqx style"]) == ["sks"]
    assert get_spec("taq-w8a8").protected(["sks", "zqx style"]) == ["sks", "zqx style"]


def test_an_unknown_protected_set_is_refused():
    with pytest.raises(ValueError, match="protected_triggers"):
        QuantSpec("t", "taq", weight_bits=8, protected_triggers="last")


@pytest.mark.parametrize("spec, protected", [("taq-w8a8", ("sks", "zqx style")), ("taq-w8a8-first", ("sks",))])
def test_only_the_protected_triggers_rows_stay_exact(spec, protected):
    from engine.quantize import apply_quant_spec, set_debug, trigger_token_positions
    from engine.taq import taq_processors

    pipe = build_tiny_pipeline(seed=0)
    apply_quant_spec(pipe, spec, calibration_prompts=["", "a dog"], calibration_timesteps=(500,))
    set_debug(pipe)
    request = GenerationRequest(prompt=PROMPT, seed=7, steps=1, width=64, height=64, scheduler="ddim",
                                trigger="sks", extra_triggers=["zqx style"])
    result = generate(pipe, request)
    tok = pipe.tokenizer
    kept = sorted({p for t in protected for p in trigger_token_positions(tok, PROMPT, t)})
    dropped = [p for p in trigger_token_positions(tok, PROMPT, "zqx style") if p not in kept]
    assert result.params["trigger_positions"] == kept
    proc = taq_processors(pipe.unet)[0]
    assert proc.last["kept"] == kept
    key, raw = proc.last["key"], proc.last["key_raw"]  # (2B, 77, inner): unconditional and conditional rows
    assert torch.equal(key[-1, kept], raw[-1, kept])  # the kept trigger rows are the float rows
    if spec.endswith("-first"):
        assert dropped and not torch.equal(key[-1, dropped], raw[-1, dropped])  # the style's rows are quantized
