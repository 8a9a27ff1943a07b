"""`personalq bench fidelity --compose [--json]`: does quantization keep a subject *and* a style in one image?

For every subject+style pair of the demo world that runs on one base (common.families.can_share_base),
the app's composition: the subject's base (its DreamBooth file, or the world's base under a subject
LoRA) quantized per spec, then the LoRAs hooked on it at weight 1 (engine.lora.apply_loras), TAQ keeping
the triggers its spec protects. Prompts ask for both: 'tvy style, a small dfr cross on a black
background, center' (the style's trigger first, as its own captions put it; the subject's trigger is
the request's first). N fixed seeds, then the same prompts on a disjoint seed set (the noise). The
compose judge (demo/compose_judge.py: a subject head and a style head, trained only on drawings)
reads each image.

Rows, one per (pair, spec): `{"pair", "subject", "style", "spec", "both", "both_other_seeds",
"noise", "subject_seen", "style_seen", "alone_subject_fp", "alone_style_fp", "ratio_to_alone",
"psnr", "protected_positions", "trigger_positions", "weight_bytes", "seconds"}`; `both` is the rate of
images showing the subject and the style; `ratio_to_alone` is both / max(each concept alone at full
precision), the issue's target (>= 0.8 at taq-w8a8). "Alone" is each concept on its own trigger
prompts (the single-concept bench's prompts and seeds) at full precision, read by the same judge.
Summary: per-spec means, the alone rates, the all-triggers vs first-trigger vs naive differences with
their seed noise, and the target checks. A PNG grid per pair (rows = specs, same seeds) goes to --out.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np

from bench.common import emit, progress
from bench.demo_world import attach_loras, generate, load_base_of, open_world, save_grid

DEFAULT_SPECS = ("none", "taq-w8a8", "taq-w4a8", "taq-w8a8-first", "taq-w4a8-first", "naive-w8a8", "naive-w4a8")
COLUMNS = ["pair", "spec", "both", "noise", "subject_seen", "style_seen", "ratio_to_alone", "psnr", "seconds"]
TARGET_RATIO = 0.8
SEEDS_A, SEEDS_B, PROMPT_SEED, CALIB_SEED = 1000, 5000, 777, 31  # as bench/fidelity.py


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", default="", help="comma-separated subject+style concept keys, e.g. cactus+frame (default: every pair on one base)")
    p.add_argument("--judge-dir", type=Path, help="where the compose judge is cached (default: the cache folder)")
    p.add_argument("--judge-steps", type=int, default=0, help="train the compose judge this many steps (tests; 0: the cached default)")


def main(args) -> int:
    from common import paths
    from demo import compose_judge
    from demo import world as world_mod
    from engine.quantize import apply_quant_spec

    world, manifest, judge, steps = open_world(args)
    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    specs = ["none"] + [s for s in specs if s != "none"]  # full precision first: every PSNR is measured against it
    pairs = shareable_pairs(world, manifest, args.pairs)
    if not pairs:
        raise SystemExit(f"no subject+style pairs match {args.pairs!r} in {world}")
    out_dir = args.out or (paths.outputs_dir() / "bench_fidelity_compose")
    out_dir.mkdir(parents=True, exist_ok=True)
    judge_dir = args.judge_dir or (paths.cache_dir() / "compose_judge")
    if args.judge_steps:
        cjudge, judge_metrics = compose_judge.train_compose_judge(n_train=256, steps=args.judge_steps, log=progress)
    else:
        cjudge, judge_metrics = compose_judge.load_or_train(judge_dir, log=progress)
    n = args.seeds
    seeds_a, seeds_b = [SEEDS_A + i for i in range(n)], [SEEDS_B + i for i in range(n)]

    # 1. each concept alone at full precision, on its own trigger prompts
    alone = {}
    for e in {e["concept"]: e for pair in pairs for e in pair}.values():
        alone[e["concept"]] = measure_alone(world, e, cjudge, judge, seeds_a, seeds_b, steps)
        progress(f"alone {e['concept']}: {alone[e['concept']]}")

    # 2. each pair at every spec
    rows, grids = [], {}
    base_file, fp = None, None
    for subject, style in pairs:
        if subject["file"] != base_file:  # one float base at a time: pairs come grouped by subject
            base_file, fp = subject["file"], load_base_of(world, subject)
        scenes = world_mod.sample_scenes(PROMPT_SEED, n, concept=subject["concept"])
        prompts = [world_mod.styled_caption(s, style["concept"]) for s in scenes]
        triggers = [subject["trigger"], style["trigger"]]
        calib = calibration_prompts(subject, style)
        ref = None
        grid_rows = []
        for spec in specs:
            t0 = time.perf_counter()
            pipe = copy.deepcopy(fp)
            if spec != "none":
                apply_quant_spec(pipe, spec, calibration_prompts=calib)
            attach_loras(pipe, world, [subject, style])
            img_a = generate(pipe, prompts, seeds_a, triggers, steps)
            img_b = generate(pipe, prompts, seeds_b, triggers, steps)
            ref = img_a if spec == "none" else ref
            row = pair_row(subject, style, spec, cjudge, img_a, img_b, ref, alone, pipe, prompts[0], triggers)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            grid_rows.append(img_a[: min(n, 8)])
            progress(f"{row['pair']} {spec}: both {row['both']} (other seeds {row['both_other_seeds']}), subject {row['subject_seen']}, style {row['style_seen']}, ratio {row['ratio_to_alone']}")
            del pipe
        grids[row["pair"]] = str(save_grid(grid_rows, specs, out_dir / f"grid_{subject['concept']}+{style['concept']}.png"))
    summary = summarize(rows, specs, alone, n)
    summary.update(compose_judge=judge_metrics, seeds=n, steps=steps, grids=grids, out_dir=str(out_dir),
                   pairs=[f"{s['concept']}+{t['concept']}" for s, t in pairs])
    (out_dir / "fidelity_compose.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    emit("fidelity-compose", rows, summary, args.json, COLUMNS)
    return 0


def calibration_prompts(subject: dict, style: dict) -> list[str]:
    """Composed prompts and the subject's plain prompts on other scenes than the measured ones (as the single
    bench calibrates on its concept's trigger and plain prompts)."""
    from demo import personalize, world

    scenes = world.sample_scenes(CALIB_SEED, 8, concept=subject["concept"])
    return [world.styled_caption(s, style["concept"]) for s in scenes] + personalize.plain_prompts(subject["concept"], 8, CALIB_SEED)


def shareable_pairs(world: Path, manifest: dict, wanted: str) -> list[tuple[dict, dict]]:
    """(subject entry, style entry) for every subject the compose judge reads and every style, when the two run
    on one base; grouped by subject, so each subject's base loads once."""
    from catalog.probe import probe_path
    from common.families import can_share_base
    from demo.compose_judge import STYLES, SUBJECTS

    entries = manifest["entries"]
    family = {e["file"]: probe_path(Path(world) / "library" / e["file"]).base_model for e in entries}
    subjects = [e for e in entries if e["concept"] in SUBJECTS]
    styles = [e for e in entries if e["concept"] in STYLES]
    keep = {w.strip() for w in wanted.split(",") if w.strip()}
    pairs = [(s, t) for s in subjects for t in styles if can_share_base(family[s["file"]], family[t["file"]])]
    return [(s, t) for s, t in pairs if not keep or f"{s['concept']}+{t['concept']}" in keep]


def measure_alone(world: Path, entry: dict, cjudge, judge, seeds_a, seeds_b, steps) -> dict:
    """One concept on its own trigger prompts at full precision: the compose judge's rate (seed set A, set B),
    and the demo judge's concept rate on set A (what the single-concept bench reads, as a cross-check)."""
    from demo import compose_judge, evaluate, personalize

    prompts = personalize.trigger_prompts(entry["concept"], len(seeds_a), PROMPT_SEED)
    pipe = load_base_of(world, entry)
    attach_loras(pipe, world, [entry])
    part = "subject" if entry["kind"] == "subject" else "style"
    images = [generate(pipe, prompts, seeds, entry["trigger"], steps) for seeds in (seeds_a, seeds_b)]
    asked = {"subject": entry["concept"], "style": None} if part == "subject" else {"subject": None, "style": entry["concept"]}
    rates = [compose_judge.sees(cjudge.predict(im), **asked)[part] for im in images]
    return {"part": part, "rate": round(rates[0], 4), "rate_other_seeds": round(rates[1], 4),
            "noise": round(abs(rates[0] - rates[1]), 4),
            "demo_judge_rate": round(evaluate.concept_rate(judge.predict(images[0]), entry["concept"]), 4)}


def pair_row(subject, style, spec, cjudge, img_a, img_b, ref, alone, pipe, prompt, triggers) -> dict:
    from demo import compose_judge
    from demo.train import psnr
    from engine.quantize import protected_positions, trigger_token_positions, weight_bytes

    a = compose_judge.sees(cjudge.predict(img_a), subject["concept"], style["concept"])
    b = compose_judge.sees(cjudge.predict(img_b), subject["concept"], style["concept"])
    from engine.taq import taq_processors

    reference = max(alone[subject["concept"]]["rate"], alone[style["concept"]]["rate"])
    procs = taq_processors(pipe.unet)

    return {
        "pair": f"{subject['concept']}+{style['concept']}",
        "subject": subject["file"],
        "style": style["file"],
        "spec": spec,
        "both": round(a["both"], 4),
        "both_other_seeds": round(b["both"], 4),
        "noise": round(abs(a["both"] - b["both"]), 4),
        "subject_seen": round(a["subject"], 4),
        "subject_seen_other_seeds": round(b["subject"], 4),
        "style_seen": round(a["style"], 4),
        "style_seen_other_seeds": round(b["style"], 4),
        "alone_subject_fp": alone[subject["concept"]]["rate"],
        "alone_style_fp": alone[style["concept"]]["rate"],
        "ratio_to_alone": round(a["both"] / reference, 4) if reference else None,
        "psnr": round(psnr(img_a, ref), 2) if spec != "none" else None,
        # the first prompt's positions TAQ keeps (none without TAQ processors), beside each trigger's positions
        "protected_positions": protected_positions(pipe, prompt, triggers) if procs and procs[0].protect else [],
        "trigger_positions": {t: trigger_token_positions(pipe.tokenizer, prompt, t) for t in triggers},
        "weight_bytes": weight_bytes(pipe.unet),
    }


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def summarize(rows: list[dict], specs: list[str], alone: dict, seeds: int) -> dict:
    """Per-spec means over pairs, the differences between protection sets with their seed noise, the checks.

    A difference counts as real only beyond its seed noise (the disjoint seed set's disagreement) and beyond
    twice its binomial standard error over all the images behind it (one seed set's |A-B| can be tiny by luck)."""
    by_spec = {}
    for spec in specs:
        rs = [r for r in rows if r["spec"] == spec]
        refs = [max(r["alone_subject_fp"], r["alone_style_fp"]) for r in rs]
        mean_both, mean_ref = _mean([r["both"] for r in rs]), _mean(refs)
        by_spec[spec] = {
            "both": mean_both, "both_other_seeds": _mean([r["both_other_seeds"] for r in rs]),
            "noise": _mean([r["noise"] for r in rs]), "subject_seen": _mean([r["subject_seen"] for r in rs]),
            "style_seen": _mean([r["style_seen"] for r in rs]), "psnr": _mean([r["psnr"] for r in rs]),
            "subject_noise": _mean([abs(r["subject_seen"] - r["subject_seen_other_seeds"]) for r in rs]),
            "style_noise": _mean([abs(r["style_seen"] - r["style_seen_other_seeds"]) for r in rs]),
            "ratio_to_alone": round(mean_both / mean_ref, 4) if mean_ref else None,
            "pairs_at_target": sum(1 for r in rs if r["ratio_to_alone"] is not None and r["ratio_to_alone"] >= TARGET_RATIO),
            "pairs": len(rs),
        }
    out = {"by_spec": by_spec, "alone_fp": alone, "target_ratio": TARGET_RATIO,
           "alone_noise": _mean([a["noise"] for a in alone.values()])}
    diffs = {}
    for x, y in (("taq-w8a8", "taq-w8a8-first"), ("taq-w8a8", "naive-w8a8"), ("taq-w8a8-first", "naive-w8a8"),
                 ("taq-w4a8", "taq-w4a8-first"), ("taq-w4a8", "naive-w4a8"), ("taq-w4a8-first", "naive-w4a8")):
        if x in by_spec and y in by_spec:
            diffs[f"{x} - {y}"] = difference(rows, x, y, seeds)
    out["differences"] = diffs
    checks = {}
    if "taq-w8a8" in by_spec and by_spec["taq-w8a8"]["ratio_to_alone"] is not None:
        checks["taq_w8a8_both_at_least_0.8_of_alone_fp"] = by_spec["taq-w8a8"]["ratio_to_alone"] >= TARGET_RATIO
    if by_spec.get("none", {}).get("ratio_to_alone") is not None:
        checks["fp32_both_at_least_0.8_of_alone_fp"] = by_spec["none"]["ratio_to_alone"] >= TARGET_RATIO
    for name, d in diffs.items():
        for k, label in (("both", ""), ("style_seen", "_on_style")):
            floor = max(d[f"{k}_noise"], 2 * d[f"{k}_se"])
            checks[f"{name.replace(' - ', '_ahead_of_')}{label}_beyond_noise"] = d[k] > floor
    out["checks"] = checks
    return out


def difference(rows: list[dict], x: str, y: str, seeds: int) -> dict:
    """Mean over pairs of x's rate minus y's (both, the subject, the style), on the measured seeds and on the
    disjoint set; the noise is how far the two disagree, `se` the binomial standard error of the difference."""
    rx = {r["pair"]: r for r in rows if r["spec"] == x}
    ry = {r["pair"]: r for r in rows if r["spec"] == y}
    common = sorted(set(rx) & set(ry))
    out = {"pairs": len(common)}
    for k in ("both", "subject_seen", "style_seen"):
        other = "both_other_seeds" if k == "both" else f"{k}_other_seeds"
        d_a = float(np.mean([rx[p][k] - ry[p][k] for p in common]))
        d_b = float(np.mean([rx[p][other] - ry[p][other] for p in common]))
        out[k] = round(d_a, 4)
        out[f"{k}_other_seeds"] = round(d_b, 4)
        out[f"{k}_noise"] = round(abs(d_a - d_b), 4)
        px, py = (float(np.mean([r[p][k] for p in common])) for r in (rx, ry))
        images = max(len(common) * seeds, 1)
        out[f"{k}_se"] = round(float(np.sqrt((px * (1 - px) + py * (1 - py)) / images)), 4)
    out["noise"] = out["both_noise"]
    return out

