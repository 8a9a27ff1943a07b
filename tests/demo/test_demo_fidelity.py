"""The fidelity bench: its summary logic, and one small real run on the committed world."""
from __future__ import annotations

import json

import pytest

from bench import fidelity


def _row(spec, acc, ratio):
    return {"checkpoint": "a", "spec": spec, "concept_accuracy": acc, "concept_without_trigger": 0.0, "attribute_accuracy": 1.0,
            "psnr_trigger": None if spec == "none" else 30.0, "psnr_plain": None if spec == "none" else 31.0, "weight_bytes": 10, "bytes_ratio_fp16": ratio}


def test_summary_checks_targets_against_seed_noise():
    rows = [_row("none", 0.9, 2.0), _row("taq-w8a8", 0.89, 0.5), _row("taq-w4a8", 0.86, 0.3), _row("naive-w4a8", 0.5, 0.3), _row("quanto-w4", 0.84, 0.3)]
    s = fidelity.summarize(rows, ["none", "taq-w8a8", "taq-w4a8", "naive-w4a8", "quanto-w4"], [0.05], 8)
    assert s["checks"]["taq_w8a8_within_0.02"] and s["checks"]["taq_w4a8_within_0.05"]
    assert s["checks"]["taq_w4a8_ahead_of_naive-w4a8_by_more_than_noise"]
    assert not s["checks"]["taq_w4a8_ahead_of_quanto-w4_by_more_than_noise"]  # 0.02 < noise 0.05


def test_small_real_run_on_the_committed_world(tmp_path, capsys):
    code = fidelity.main(["--checkpoints", "bullseye", "--specs", "taq-w8a8", "--seeds", "2", "--steps", "2", "--out", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["spec"] for r in result["rows"]] == ["none", "taq-w8a8"]  # full precision is always measured: the PSNR reference
    q = result["rows"][1]
    assert q["weight_bytes"] < result["rows"][0]["weight_bytes"] and q["psnr_trigger"] > 10
    assert (tmp_path / "grid_zqx_bullseye_ball.png").is_file() and (tmp_path / "concept_vs_bytes.png").is_file()


def test_device_check_runs_the_app_path_on_cpu(tmp_path, capsys, monkeypatch):
    """bench.device_check is the GPU check; on the CPU it compares the CPU with itself, exactly."""
    from bench import device_check

    monkeypatch.setenv("PERSONALQ_HOME", str(tmp_path))
    code = device_check.main(["--device", "cpu", "--seeds", "2", "--specs", "none,taq-w8a8", "--checkpoints", "robot_v2",
                              "--sd15-specs", "", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["spec"] for r in rows] == ["none", "taq-w8a8"]
    assert all(r["psnr_device_to_cpu"] > 100 and r["concept_accuracy_device"] == r["concept_accuracy_cpu"] for r in rows)


def test_ablation_pairs_carry_paired_noise():
    from bench import taq_ablation

    p = taq_ablation._pair("w8a4-lin-tensor", "concept_accuracy", 0.9, 0.5, 0.4, 0.05, lower_is_better=False)
    assert p["beyond_noise"] == "better" and p["noise_2se"] == 0.1
    assert taq_ablation._pair("s", "fd_judge", 10.0, 30.0, -20.0, 5.0, lower_is_better=True)["beyond_noise"] == "better"
    assert taq_ablation._pair("s", "psnr_trigger", 30.0, 30.1, -0.1, 0.2, lower_is_better=False)["beyond_noise"] == "no"
    names = [v.name for v in taq_ablation.VARIANT_SETS["paper"]()]
    assert len(names) == 8 and "taq-w8a4-log2-tensor" in names and "naive-w8a8-lin-tensor" in names


@pytest.mark.slow
def test_ablation_smoke_on_one_checkpoint(tmp_path, capsys):
    """bench fidelity --ablation end to end on 2 seeds, 2 steps, one LoRA, one separated/not pair."""
    from bench import taq_ablation

    code = fidelity.main(["--ablation", "--checkpoints", "bullseye", "--variants", "ref", "--seeds", "2", "--steps", "2",
                          "--threads", "1", "--out", str(tmp_path), "--markdown", str(tmp_path / "table.md"), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    specs = [r["spec"] for r in out["rows"]]
    assert specs[0] == "none" and "taq-w8a8-lin-token" in specs and "naive-w8a4-log2-token" in specs
    pairs = out["summary"]["pairs"]
    assert {p["setting"] for p in pairs} == {"w8a8-lin-token", "w8a4-log2-token"} and all("noise_2se" in p for p in pairs)
    mags = out["summary"]["kv_magnitudes"]["locon"]
    assert len(mags) == 4 and all(r["k_trigger_vs_words"] > 0 for r in mags)  # one row per attn2 layer of the tiny base
    assert (tmp_path / "taq_ablation.png").is_file() and "| spec |" in (tmp_path / "table.md").read_text()
    assert taq_ablation.frechet_distance(*(2 * [taq_ablation.judge_features(taq_ablation_judge(), _imgs())])) < 1e-3


def taq_ablation_judge():
    from demo.build import ASSETS
    from demo.judge import load_judge

    return load_judge(ASSETS / "judge.safetensors")


def _imgs():
    import numpy as np

    return np.random.default_rng(0).integers(0, 255, (300, 32, 32, 3), dtype=np.uint8)
