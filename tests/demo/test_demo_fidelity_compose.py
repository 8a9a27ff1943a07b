"""The compose fidelity bench (issue #30 item 4): subject+style drawings, its summary, and one tiny real run in
which TAQ's first-trigger variant keeps the subject's tokens only."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench import fidelity, fidelity_compose
from demo import world


def test_a_style_on_a_subject_keeps_the_subject_and_adds_the_look():
    scene = world.sample_scenes(5, 1, concept="cactus")[0]
    plain, framed, outlined = world.draw(scene), world.draw_styled(scene, "frame"), world.draw_styled(scene, "outline")
    assert (framed[0, :] == world.PINK).all() and np.array_equal(framed[2:-2, 2:-2], plain[2:-2, 2:-2])
    background = np.asarray(world.BACKGROUNDS[scene.background])
    painted = np.any(plain != background, -1)
    hollow = np.any(outlined != background, -1)
    assert hollow.sum() < painted.sum() and not (hollow & ~painted).any()  # a line inside the subject's drawing
    bare = world.sample_scenes(5, 1)[0]
    assert np.array_equal(world.draw_styled(bare, "outline"), world.draw(world.Scene(**{**bare.__dict__, "concept": "outline"})))
    assert world.styled_caption(scene, "frame").startswith("tvy style, a ") and "dfr" in world.styled_caption(scene, "frame")


def _row(pair, spec, both, other, subject=0.5, style=0.5):
    return {"pair": pair, "spec": spec, "both": both, "both_other_seeds": other, "noise": abs(both - other),
            "subject_seen": subject, "subject_seen_other_seeds": subject, "style_seen": style,
            "style_seen_other_seeds": style, "alone_subject_fp": 1.0, "alone_style_fp": 0.9,
            "ratio_to_alone": both / 1.0, "psnr": None}


def test_summary_holds_the_target_against_the_alone_rate_and_differences_with_noise():
    rows = [_row("a+x", "none", 0.9, 0.85), _row("a+x", "taq-w8a8", 0.85, 0.8, style=0.9),
            _row("a+x", "taq-w8a8-first", 0.5, 0.6, style=0.4), _row("a+x", "naive-w8a8", 0.3, 0.3, style=0.3)]
    s = fidelity_compose.summarize(rows, ["none", "taq-w8a8", "taq-w8a8-first", "naive-w8a8"], {}, 100)
    assert s["by_spec"]["taq-w8a8"]["ratio_to_alone"] == 0.85 and s["checks"]["taq_w8a8_both_at_least_0.8_of_alone_fp"]
    d = s["differences"]["taq-w8a8 - taq-w8a8-first"]
    assert d["both"] == 0.35 and d["both_other_seeds"] == 0.2 and d["noise"] == 0.15 and d["style_seen"] == 0.5
    assert s["checks"]["taq-w8a8_ahead_of_taq-w8a8-first_beyond_noise"]  # 0.35 > noise 0.15 and 2 se (0.13)
    assert not fidelity_compose.summarize(rows, ["none", "taq-w8a8", "taq-w8a8-first"], {}, 2)["checks"][
        "taq-w8a8_ahead_of_taq-w8a8-first_beyond_noise"]  # the same rates on 2 seeds: within the binomial error


@pytest.mark.slow
def test_tiny_compose_run_end_to_end_first_trigger_keeps_only_the_subjects_tokens(tmp_path, capsys):
    code = fidelity.main(["--compose", "--pairs", "checker+frame", "--specs", "taq-w8a8,taq-w8a8-first,naive-w8a8",
                          "--seeds", "2", "--steps", "2", "--threads", "1", "--judge-steps", "2", "--out", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["spec"]: r for r in out["rows"]}
    assert list(rows) == ["none", "taq-w8a8", "taq-w8a8-first", "naive-w8a8"] and out["summary"]["pairs"] == ["checker+frame"]
    subject, style = rows["taq-w8a8"]["trigger_positions"]["vwk"], rows["taq-w8a8"]["trigger_positions"]["tvy"]
    assert subject and style and not set(subject) & set(style)
    assert rows["taq-w8a8"]["protected_positions"] == sorted(subject + style)
    assert rows["taq-w8a8-first"]["protected_positions"] == subject  # the style's trigger is left to int8
    assert rows["naive-w8a8"]["protected_positions"] == [] and rows["none"]["protected_positions"] == []
    assert set(out["summary"]["alone_fp"]) == {"checker", "frame"} and "taq-w8a8 - taq-w8a8-first" in out["summary"]["differences"]
    assert (tmp_path / "grid_checker+frame.png").is_file() and (tmp_path / "fidelity_compose.json").is_file()
