"""`personalq bench fidelity [--json]`: does quantization keep each personalized concept?

For every checkpoint of the demo world x every quant spec, generate N fixed seeds of trigger
prompts and of non-trigger prompts, then read them with the demo judge (trained only on
drawings). Rows: `{"checkpoint", "spec", "concept_accuracy", "concept_without_trigger",
"attribute_accuracy", "psnr_trigger", "psnr_plain", "weight_bytes", "bytes_ratio_fp16",
"seconds"}`. PSNR is to the full-precision image of the same checkpoint, prompt and seed.
Summary: per-spec means, deltas to full precision, the seed-to-seed noise of concept accuracy
(same model, a disjoint seed set) and the issue's target checks. A PNG grid per checkpoint
(rows = specs, same seeds) and a plot of concept accuracy vs bytes saved go to --out.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np

from bench import fidelity_compose
from bench.common import emit, progress
from bench.demo_world import add_world_args, fp16_bytes, generate, load_fp, open_world, save_grid

DEFAULT_SPECS = ("none", "quanto-w8", "quanto-w4", "naive-w8a8", "naive-w4a8", "taq-w8a8", "taq-w4a8")
COLUMNS = ["checkpoint", "spec", "concept_accuracy", "concept_without_trigger", "attribute_accuracy", "psnr_trigger", "psnr_plain", "weight_bytes", "bytes_ratio_fp16", "seconds"]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="personalq bench fidelity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_world_args(p, seeds=8, seeds_help="N seeds per prompt group (trigger / non-trigger)")
    p.add_argument("--specs", help=f"comma-separated quant specs (default: {','.join(DEFAULT_SPECS)}; with --compose: {','.join(fidelity_compose.DEFAULT_SPECS)})")
    p.add_argument("--out", type=Path, help="folder for the grids and the plot (default: outputs/bench_fidelity)")
    p.add_argument("--ablation", action="store_true", help="TAQ's Table IV ablation instead (bench/taq_ablation.py; --ablation --help for its options)")
    p.add_argument("--compose", action="store_true", help="subject+style prompts on every pair that runs on one base (bench/fidelity_compose.py): the judge's rate of seeing both")
    fidelity_compose.add_args(p)
    p.add_argument("--merge", nargs="+", type=Path, help="combine fidelity.json files of earlier runs (e.g. one per checkpoint, run in parallel)")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def merge(files: list[Path], out_dir: Path, as_json: bool) -> int:
    """One table and summary from several partial runs (same specs, seeds and steps)."""
    parts = [json.loads(Path(f).read_text()) for f in files]
    rows = [r for p in parts for r in p["rows"]]
    noise = [v for p in parts for v in p["summary"].get("seed_noise_values", [])]
    specs = list(dict.fromkeys(r["spec"] for r in rows))
    n = parts[0]["summary"]["seeds"]
    summary = summarize(rows, specs, noise, n)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary["plot"] = str(save_plot(summary, out_dir / "concept_vs_bytes.png"))
    summary["seeds"], summary["steps"], summary["merged_from"] = n, parts[0]["summary"]["steps"], [str(f) for f in files]
    (out_dir / "fidelity.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    emit("fidelity", rows, summary, as_json, COLUMNS)
    return 0


def main(argv: list[str] | None = None) -> int:
    if "--ablation" in (argv or []):
        from bench import taq_ablation

        return taq_ablation.main(argv)
    args = parse_args(argv or [])
    if args.compose:
        args.specs = args.specs or ",".join(fidelity_compose.DEFAULT_SPECS)
        return fidelity_compose.main(args)
    args.specs = args.specs or ",".join(DEFAULT_SPECS)
    if args.merge:
        from common import paths

        return merge(args.merge, args.out or (paths.outputs_dir() / "bench_fidelity"), args.json)

    from common import paths
    from demo import evaluate, personalize
    from demo import world as world_mod
    from demo.train import psnr
    from engine.quantize import apply_quant_spec, weight_bytes

    world, manifest, judge, steps = open_world(args)
    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    specs = ["none"] + [s for s in specs if s != "none"]  # full precision first: every PSNR is measured against it
    wanted = {w.strip() for w in args.checkpoints.split(",") if w.strip()}
    entries = [e for e in manifest["entries"] if not wanted or e["file"] in wanted or e["concept"] in wanted]
    if not entries:
        raise SystemExit(f"no checkpoints match {sorted(wanted)} in {world}")
    out_dir = args.out or (paths.outputs_dir() / "bench_fidelity")
    out_dir.mkdir(parents=True, exist_ok=True)
    n = args.seeds
    rows, noise = [], []
    for e in entries:
        concept, trigger = e["concept"], e["trigger"]
        trig = personalize.trigger_prompts(concept, n, 777)
        plain = personalize.plain_prompts(concept, n, 777)
        plain_scenes = world_mod.plain_scenes(concept, n, 777)
        seeds = [1000 + i for i in range(n)]
        calib = personalize.trigger_prompts(concept, 8, 31) + personalize.plain_prompts(concept, 8, 31)
        fp = load_fp(world, e)
        ref_t = ref_p = None
        grid_rows = []
        for spec in specs:
            t0 = time.perf_counter()
            pipe = copy.deepcopy(fp) if spec != "none" else fp
            if spec != "none":
                apply_quant_spec(pipe, spec, calibration_prompts=calib)
            img_t = generate(pipe, trig, seeds, trigger, steps)
            img_p = generate(pipe, plain, seeds, trigger, steps)
            if spec == "none":
                ref_t, ref_p = img_t, img_p
                other = generate(pipe, trig, [5000 + i for i in range(n)], trigger, steps)
                acc_a = evaluate.concept_rate(judge.predict(img_t), concept)
                noise.append(abs(acc_a - evaluate.concept_rate(judge.predict(other), concept)))
            pred_t, pred_p = judge.predict(img_t), judge.predict(img_p)
            wb = weight_bytes(pipe.unet)
            row = {
                "checkpoint": e["file"],
                "concept": concept,
                "method": e["method"],
                "spec": spec,
                "concept_accuracy": round(evaluate.concept_rate(pred_t, concept), 4),
                "concept_without_trigger": round(evaluate.concept_rate(pred_p, concept), 4),
                "attribute_accuracy": round(evaluate.attribute_accuracy(pred_p, plain_scenes), 4),
                "psnr_trigger": round(psnr(img_t, ref_t), 2) if spec != "none" else None,
                "psnr_plain": round(psnr(img_p, ref_p), 2) if spec != "none" else None,
                "weight_bytes": wb,
                "bytes_ratio_fp16": round(wb / fp16_bytes(fp.unet), 4),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            rows.append(row)
            grid_rows.append(img_t[: min(n, 8)])
            progress(f"{e['file']} {spec}: concept {row['concept_accuracy']} (no trigger {row['concept_without_trigger']}), attrs {row['attribute_accuracy']}, psnr {row['psnr_trigger']}/{row['psnr_plain']}")
            if pipe is not fp:
                del pipe
        save_grid(grid_rows, specs, out_dir / f"grid_{Path(e['file']).stem}.png")
    summary = summarize(rows, specs, noise, n)
    summary["plot"] = str(save_plot(summary, out_dir / "concept_vs_bytes.png"))
    summary["out_dir"] = str(out_dir)
    summary["seeds"], summary["steps"] = n, steps
    (out_dir / "fidelity.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    emit("fidelity", rows, summary, args.json, COLUMNS)
    return 0


def summarize(rows: list[dict], specs: list[str], noise: list[float], n: int) -> dict:
    by_spec = {}
    def mean(rs: list[dict], k: str):
        values = [r[k] for r in rs if r[k] is not None]
        return round(float(np.mean(values)), 4) if values else None

    for spec in specs:
        rs = [r for r in rows if r["spec"] == spec]
        by_spec[spec] = {k: mean(rs, k) for k in ("concept_accuracy", "concept_without_trigger", "attribute_accuracy", "psnr_trigger", "psnr_plain", "bytes_ratio_fp16")}
        by_spec[spec]["weight_bytes"] = int(np.mean([r["weight_bytes"] for r in rs]))
    fp = by_spec.get("none", {}).get("concept_accuracy")
    seed_noise = round(float(np.mean(noise)), 4) if noise else None
    out = {"by_spec": by_spec, "seed_noise_concept_accuracy": seed_noise, "seed_noise_values": [round(v, 4) for v in noise], "binomial_se_per_row": round(0.5 / np.sqrt(max(n, 1)), 4)}
    if fp is not None:
        out["delta_vs_fp"] = {s: round(v["concept_accuracy"] - fp, 4) for s, v in by_spec.items()}
        # the quantization checks only mean something when full precision shows the concepts at all
        checks = {"full_precision_concept_accuracy_at_least_0.8": fp >= 0.8}
        if "taq-w8a8" in by_spec:
            checks["taq_w8a8_within_0.02"] = abs(out["delta_vs_fp"]["taq-w8a8"]) <= 0.02
        if "taq-w4a8" in by_spec:
            checks["taq_w4a8_within_0.05"] = abs(out["delta_vs_fp"]["taq-w4a8"]) <= 0.05
            for other in ("naive-w4a8", "quanto-w4"):
                if other in by_spec and seed_noise is not None:
                    margin = by_spec["taq-w4a8"]["concept_accuracy"] - by_spec[other]["concept_accuracy"]
                    checks[f"taq_w4a8_ahead_of_{other}_by_more_than_noise"] = margin > seed_noise
                    out[f"margin_taq_w4a8_over_{other}"] = round(margin, 4)
        out["checks"] = checks
    return out


def save_plot(summary: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for spec, v in summary["by_spec"].items():
        saved = 1 - v["bytes_ratio_fp16"]
        ax.scatter([saved], [v["concept_accuracy"]], s=40)
        ax.annotate(spec, (saved, v["concept_accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("UNet bytes saved vs fp16")
    ax.set_ylabel("concept accuracy (judge, trigger prompts)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
