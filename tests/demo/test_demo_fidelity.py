"""The fidelity bench: its summary logic, and one small real run on the committed world."""
from __future__ import annotations

import json

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
