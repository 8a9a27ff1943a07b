"""`personalq bench fidelity --ablation [...]`: TAQ's Table IV on the demo world, with the paper's baseline.

{linear, log2} probability quantizer x {trigger separated (taq-), not (naive-)} x {W8A8, W8A4}, with attn2
K/V activations quantized by one calibrated scale per tensor (the paper's baseline, Q-Diffusion-like),
plus the same eight settings with per-token-row K/V scales (the app's TAQ today) for reference. Every
other activation is quantized per tensor with calibrated static scales in all rows (engine/taq.py).
Calibration: the empty prompt + 8 trigger + 8 plain prompts of the concept; under "separated" the
trigger rows (and under `+bos` the start token) are kept exact and left out of the K/V statistics.

Per row (checkpoint x spec): concept accuracy on trigger prompts, attribute accuracy on plain prompts,
PSNR to full precision (same prompt and seed) on trigger and on plain prompts. Pooled over the world: a
Frechet distance between the judge's 128-d hidden features of the spec's images and of full-precision
images at a disjoint seed set (FID-like: the judge is a tiny classifier, not Inception; full precision's
own value is the floor). Every sep-vs-not difference comes with its paired standard error over images
(noise = 2 SE). The K/V magnitude table: per attn2 layer and personalization method, the trigger rows'
absmax against the other prompt tokens', the start token's and the padding's, and which row holds the
tensor's absmax (what sets a per-tensor scale).

Partial results are written per checkpoint (ablation_<file>.json + features .npz) and reused by --resume.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import emit, progress
from bench.demo_world import add_world_args, fp16_bytes, generate, load_fp, open_world

COLUMNS = ["spec", "concept_accuracy", "attribute_accuracy", "psnr_trigger", "psnr_plain", "fd_judge", "bytes_ratio_fp16"]
PAIR_COLUMNS = ["setting", "metric", "separated", "not_separated", "difference", "noise_2se", "beyond_noise"]


@dataclass(frozen=True)
class Variant:
    """One ablation row: the base taq spec fields plus the attn2 K/V granularity."""

    separated: bool
    quantizer: str  # linear | log2
    act_bits: int  # 8 | 4 (weights are int8 throughout, as in the paper's Table IV)
    granularity: str  # tensor | token | channel
    keep_start_token: bool = False

    @property
    def name(self) -> str:
        q = "lin" if self.quantizer == "linear" else "log2"
        return f"{'taq' if self.separated else 'naive'}-w8a{self.act_bits}-{q}-{self.granularity}{'+bos' if self.keep_start_token else ''}"

    @property
    def setting(self) -> str:
        """The name without the separation arm: the pair a difference is measured within."""
        return self.name.split("-", 1)[1]

    def quant_spec(self):
        from engine.quant_specs import A8_INT4_GROUP, QuantSpec

        return QuantSpec(self.name, "taq", weight_bits=8, act_bits=self.act_bits, group_size=A8_INT4_GROUP,
                         protect_trigger=self.separated, kv_bits=self.act_bits, prob_bits=self.act_bits,
                         prob_quantizer=self.quantizer)


def grid(granularity: str, keep_start_token: bool = False) -> list[Variant]:
    return [Variant(sep, q, bits, granularity, keep_start_token)
            for bits in (8, 4) for q in ("linear", "log2") for sep in (False, True)]


VARIANT_SETS = {
    "paper": lambda: grid("tensor"),
    "token": lambda: grid("token"),
    "channel": lambda: grid("channel"),
    "bos": lambda: grid("tensor", keep_start_token=True),
    # the app's own settings with today's per-token K/V: taq-/naive-w8a8 (linear) and taq-/naive-w8a4 (log2)
    "ref": lambda: [v for v in grid("token") if (v.act_bits, v.quantizer) in ((8, "linear"), (4, "log2"))],
}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="personalq bench fidelity --ablation", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ablation", action="store_true", help=argparse.SUPPRESS)
    add_world_args(p, seeds=64, seeds_help="N seeds per prompt group (trigger / plain)")
    p.add_argument("--variants", default="paper,ref", help=f"comma-separated sets: {', '.join(VARIANT_SETS)}")
    p.add_argument("--out", type=Path, help="folder for partial results, the table and the plot (default: outputs/bench_taq_ablation)")
    p.add_argument("--resume", action="store_true", help="reuse finished checkpoints' partial results in --out")
    p.add_argument("--summarize", action="store_true", help="only rebuild the summary, table and plot from --out")
    p.add_argument("--markdown", type=Path, help="also write the table as markdown to this file")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


# --- measurements -----------------------------------------------------------------------------------


def personalization_kind(world: Path, entry: dict) -> str:
    """dreambooth | lora | locon | textual_inversion (a LoRA file with convolution keys is kohya's LoCon)."""
    if entry["method"] != "lora":
        return entry["method"]
    from safetensors import safe_open

    with safe_open(str(Path(world) / "library" / entry["file"]), "np") as f:
        keys = list(f.keys())
    return "locon" if any("resnets" in k or "conv" in k.split(".")[0] for k in keys) else "lora"


def token_groups(tokenizer, prompt: str, trigger: str | None) -> dict[str, list[int]]:
    """Positions of the start token, the trigger's sub-words, the other prompt words and the padding (EOS on)."""
    from engine.quantize import trigger_token_positions

    ids = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True).input_ids
    eos = ids.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in ids else len(ids)
    trig = set(trigger_token_positions(tokenizer, prompt, trigger)) if trigger else set()
    return {"start": [0], "trigger": sorted(trig), "words": [i for i in range(1, eos) if i not in trig],
            "padding": list(range(eos, len(ids)))}


def kv_magnitudes(pipe, prompts: list[str], trigger: str) -> list[dict]:
    """Per attn2 layer: mean row absmax of K and V for each token group, relative to the other prompt words.

    `*_holds_max`: the fraction of prompts whose K (V) absmax over all rows sits in that group — the
    row a per-tensor scale is set by. `trigger_over_rest`: the trigger rows' absmax over the absmax of
    every row but the trigger and the start token (>1: the trigger alone widens a start-kept scale).
    """
    import torch

    from engine.quantize import encode_prompts
    from engine.taq import cross_attention_modules

    states = encode_prompts(prompts, pipe.tokenizer, pipe.text_encoder)  # (N, 77, D)
    groups = [token_groups(pipe.tokenizer, p, trigger) for p in prompts]
    out = []
    for name, attn in cross_attention_modules(pipe.unet).items():
        row = {"layer": short_layer(name)}
        with torch.no_grad():
            ehs = attn.norm_encoder_hidden_states(states) if attn.norm_cross else states
            ehs = ehs.to(attn.to_k.weight.dtype)
            kv = {"k": attn.to_k(ehs).float().abs().amax(-1), "v": attn.to_v(ehs).float().abs().amax(-1)}  # (N, T)
        for which, r in kv.items():
            mean = {g: float(np.mean([r[i, pos].mean().item() for i, gr in enumerate(groups) if (pos := gr[g])])) if any(gr[g] for gr in groups) else float("nan")
                    for g in ("start", "trigger", "words", "padding")}
            for g in ("start", "trigger", "padding"):
                row[f"{which}_{g}_vs_words"] = round(mean[g] / mean["words"], 3)
            holds = {g: 0 for g in ("start", "trigger", "words", "padding")}
            over = []
            for i, gr in enumerate(groups):
                top = int(r[i].argmax())
                holds[next(g for g in holds if top in gr[g])] += 1
                if gr["trigger"]:
                    rest = [t for t in range(r.shape[1]) if t not in gr["trigger"] and t != 0]
                    over.append(float(r[i, gr["trigger"]].max() / r[i, rest].max()))
            for g in ("start", "trigger"):
                row[f"{which}_{g}_holds_max"] = round(holds[g] / len(prompts), 3)
            row[f"{which}_trigger_over_rest"] = round(float(np.mean(over)), 3) if over else None
        out.append(row)
    return out


def short_layer(name: str) -> str:
    """'down_blocks.0.attentions.0.transformer_blocks.0.attn2' (or an older short form) -> 'down.0.0'."""
    for a, b in (("_blocks", ""), ("_block", ""), (".attentions", ""), (".transformer_blocks.0.attn2", ""), (".transformer.0.attn2", "")):
        name = name.replace(a, b)
    return name


def judge_features(judge, images: np.ndarray) -> np.ndarray:
    """The judge's 128-d hidden layer (before its heads) for uint8 (N, 32, 32, 3) images."""
    import torch

    from demo.train import to_tensor

    judge.net.eval()
    with torch.no_grad():
        return np.concatenate([judge.net.hidden(judge.net.features(to_tensor(images[i : i + 256]))).numpy()
                               for i in range(0, len(images), 256)]) if len(images) else np.zeros((0, 128), np.float32)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (N, D) and b (M, D) (FID's formula)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(c1 c2) = tr sqrt(s1 c2 s1) with s1 = c1^(1/2): symmetric eigen-decompositions only, so a
    # singular covariance (fewer images than dimensions) is fine and no complex sqrtm is needed
    w, u = np.linalg.eigh(c1)
    s1 = (u * np.sqrt(np.clip(w, 0, None))) @ u.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ c2 @ s1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * tr_covmean)


def per_image_psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(axis=1)
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def image_scores(judge, concept: str, img_t, img_p, plain_scenes, ref_t=None, ref_p=None) -> dict:
    """Per-image outcomes (lists, so differences can be paired image by image)."""
    from demo import evaluate
    from demo.judge import shows_concept

    pt, pp = judge.predict(img_t), judge.predict(img_p)
    out = {"concept_hits": [int(shows_concept(pt, i, concept)) for i in range(len(img_t))],
           "attribute_hits": [float(np.mean([pp[a][i] == getattr(s, a) for a in evaluate.ATTRIBUTES_SCORED]))
                              for i, s in enumerate(plain_scenes)]}
    if ref_t is not None:
        out["psnr_trigger"] = [round(float(v), 3) for v in per_image_psnr(img_t, ref_t)]
        out["psnr_plain"] = [round(float(v), 3) for v in per_image_psnr(img_p, ref_p)]
    return out


def run_checkpoint(world: Path, entry: dict, variants: list[Variant], judge, n: int, steps: int, out_dir: Path) -> dict:
    """Every variant on one checkpoint; writes ablation_<stem>.json and features_<stem>.npz."""
    from demo import personalize
    from demo import world as world_mod
    from engine.granularity import apply_granularity
    from engine.quantize import apply_quant_spec, weight_bytes

    concept, trigger, stem = entry["concept"], entry["trigger"], Path(entry["file"]).stem
    trig = personalize.trigger_prompts(concept, n, 777)
    plain = personalize.plain_prompts(concept, n, 777)
    scenes = world_mod.plain_scenes(concept, n, 777)
    seeds, other = [1000 + i for i in range(n)], [5000 + i for i in range(n)]
    calib = [""] + personalize.trigger_prompts(concept, 8, 31) + personalize.plain_prompts(concept, 8, 31)
    fp = load_fp(world, entry)
    kind = personalization_kind(world, entry)
    t0 = time.perf_counter()
    mags = kv_magnitudes(fp, calib[1:9], trigger)
    ref_t, ref_p = generate(fp, trig, seeds, trigger, steps), generate(fp, plain, seeds, trigger, steps)
    oth_t, oth_p = generate(fp, trig, other, trigger, steps), generate(fp, plain, other, trigger, steps)
    fp_bytes = fp16_bytes(fp.unet)
    rows = [dict(spec="none", setting=None, separated=None, bytes_ratio_fp16=round(weight_bytes(fp.unet) / fp_bytes, 4),
                 seconds=round(time.perf_counter() - t0, 1), **image_scores(judge, concept, ref_t, ref_p, scenes)),
            dict(spec="none@other-seeds", setting=None, separated=None, bytes_ratio_fp16=None, seconds=None,
                 **image_scores(judge, concept, oth_t, oth_p, scenes))]
    feats = {"none": judge_features(judge, np.concatenate([ref_t, ref_p])),
             "reference": judge_features(judge, np.concatenate([oth_t, oth_p]))}
    progress(f"{stem} ({kind}) full precision: concept {np.mean(rows[0]['concept_hits']):.3f} (other seeds {np.mean(rows[1]['concept_hits']):.3f})")
    for v in variants:
        t0 = time.perf_counter()
        pipe = copy.deepcopy(fp)
        apply_quant_spec(pipe, v.quant_spec(), calibration_prompts=calib)
        apply_granularity(pipe, v.granularity, v.keep_start_token, calib, trigger)
        img_t, img_p = generate(pipe, trig, seeds, trigger, steps), generate(pipe, plain, seeds, trigger, steps)
        row = dict(spec=v.name, setting=v.setting, separated=v.separated,
                   bytes_ratio_fp16=round(weight_bytes(pipe.unet) / fp_bytes, 4), seconds=None,
                   **image_scores(judge, concept, img_t, img_p, scenes, ref_t, ref_p))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        feats[v.name] = judge_features(judge, np.concatenate([img_t, img_p]))
        rows.append(row)
        progress(f"{stem} {v.name}: concept {np.mean(row['concept_hits']):.3f}, attrs {np.mean(row['attribute_hits']):.3f}, "
                 f"psnr {np.mean(row['psnr_trigger']):.1f}/{np.mean(row['psnr_plain']):.1f} ({row['seconds']} s)")
        del pipe
    part = {"checkpoint": entry["file"], "concept": concept, "trigger": trigger, "method": kind, "seeds": n, "steps": steps,
            "rows": rows, "kv_magnitudes": mags}
    (out_dir / f"ablation_{stem}.json").write_text(json.dumps(part))
    np.savez_compressed(out_dir / f"features_{stem}.npz", **feats)
    return part


# --- summary ----------------------------------------------------------------------------------------


def _mean(xs) -> float | None:
    return round(float(np.mean(xs)), 4) if len(xs) else None


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of a - b over paired images and its standard error."""
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")


def bootstrap_fd(feats: dict[str, np.ndarray], specs: list[str], reps: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """FD of every spec to the reference on `reps` image resamples (the same resample for every spec)."""
    rng = np.random.default_rng(seed)
    n, m = len(feats["none"]), len(feats["reference"])
    out = {s: [] for s in specs}
    for _ in range(reps):
        i, j = rng.integers(0, n, n), rng.integers(0, m, m)
        for s in specs:
            out[s].append(frechet_distance(feats[s][i], feats["reference"][j]))
    return {s: np.asarray(v) for s, v in out.items()}


def summarize(parts: list[dict], feats: list[dict]) -> dict:
    """Pooled metrics per spec, FD, sep-vs-not differences with paired noise, K/V magnitudes by method."""
    specs = list(dict.fromkeys(r["spec"] for p in parts for r in p["rows"] if r["spec"] != "none@other-seeds"))
    pooled = {s: {} for s in specs}
    for s in specs:
        rs = [r for p in parts for r in p["rows"] if r["spec"] == s]
        for k in ("concept_hits", "attribute_hits", "psnr_trigger", "psnr_plain"):
            pooled[s][k] = [x for r in rs for x in r.get(k, [])]
        pooled[s]["bytes_ratio_fp16"] = _mean([r["bytes_ratio_fp16"] for r in rs])
        pooled[s]["setting"], pooled[s]["separated"] = rs[0]["setting"], rs[0]["separated"]
    other = [x for p in parts for r in p["rows"] if r["spec"] == "none@other-seeds" for x in r["concept_hits"]]
    fd_feats = {k: np.concatenate([f[k] for f in feats]) for k in feats[0]}
    fd = {s: frechet_distance(fd_feats[s], fd_feats["reference"]) for s in specs}
    boot = bootstrap_fd(fd_feats, specs)
    by_spec = {s: {"concept_accuracy": _mean(v["concept_hits"]), "attribute_accuracy": _mean(v["attribute_hits"]),
                   "psnr_trigger": _mean(v["psnr_trigger"]), "psnr_plain": _mean(v["psnr_plain"]),
                   "fd_judge": round(fd[s], 3), "fd_judge_se": round(float(boot[s].std(ddof=1)), 3),
                   "bytes_ratio_fp16": v["bytes_ratio_fp16"]} for s, v in pooled.items()}
    fp_noise = [abs(np.mean(a["concept_hits"]) - np.mean(b["concept_hits"])) for p in parts
                for a, b in [([r for r in p["rows"] if r["spec"] == "none"][0], [r for r in p["rows"] if r["spec"] == "none@other-seeds"][0])]]
    pairs = []
    for setting in dict.fromkeys(v["setting"] for v in pooled.values() if v["setting"]):
        sep = next((s for s, v in pooled.items() if v["setting"] == setting and v["separated"]), None)
        nos = next((s for s, v in pooled.items() if v["setting"] == setting and v["separated"] is False), None)
        if not sep or not nos:
            continue
        for metric, key in (("concept_accuracy", "concept_hits"), ("attribute_accuracy", "attribute_hits"),
                            ("psnr_trigger", "psnr_trigger"), ("psnr_plain", "psnr_plain")):
            diff, se = paired(pooled[sep][key], pooled[nos][key])
            pairs.append(_pair(setting, metric, by_spec[sep][metric], by_spec[nos][metric], diff, se, lower_is_better=False))
        d = boot[sep] - boot[nos]
        pairs.append(_pair(setting, "fd_judge", by_spec[sep]["fd_judge"], by_spec[nos]["fd_judge"], fd[sep] - fd[nos],
                           float(d.std(ddof=1)), lower_is_better=True))
    methods = sorted({p["method"] for p in parts})
    by_method = {}
    for m in methods:
        ps = [p for p in parts if p["method"] == m]
        by_method[m] = {"checkpoints": [p["checkpoint"] for p in ps],
                        "concept_accuracy": {s: _mean([x for p in ps for r in p["rows"] if r["spec"] == s for x in r["concept_hits"]]) for s in specs}}
    mags = {}
    for m in methods:
        rows = [r for p in parts if p["method"] == m for r in p["kv_magnitudes"]]
        keys = [k for k in rows[0] if k != "layer"]
        layers = list(dict.fromkeys(r["layer"] for r in rows))
        mags[m] = [{"layer": layer, **{k: _mean([r[k] for r in rows if r["layer"] == layer and r[k] is not None]) for k in keys}} for layer in layers]
    return {"by_spec": by_spec, "pairs": pairs, "by_method": by_method, "kv_magnitudes": mags,
            "seed_noise_concept_accuracy_fp": round(float(np.mean(fp_noise)), 4),
            "concept_accuracy_fp_other_seeds": _mean(other),
            "images_per_row": len(pooled["none"]["concept_hits"]), "checkpoints": [p["checkpoint"] for p in parts],
            "seeds": parts[0]["seeds"], "steps": parts[0]["steps"],
            "fd_note": "FID-like: Frechet distance of the demo judge's 128-d hidden features to full precision at disjoint seeds; not FID"}


def _pair(setting, metric, a, b, diff, se, lower_is_better: bool) -> dict:
    gain = -diff if lower_is_better else diff
    return {"setting": setting, "metric": metric, "separated": a, "not_separated": b, "difference": round(diff, 4),
            "noise_2se": round(2 * se, 4), "beyond_noise": "better" if gain > 2 * se else ("worse" if -gain > 2 * se else "no")}


# --- output -----------------------------------------------------------------------------------------


def markdown(summary: dict) -> str:
    """The tables of the docs/bench page."""
    def md(rows, cols):
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in rows:
            lines.append("| " + " | ".join("" if r.get(c) is None else (f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])) for c in cols) + " |")
        return "\n".join(lines)

    spec_rows = [{"spec": s, **v, "fd_judge": f"{v['fd_judge']:.1f} ± {v['fd_judge_se']:.1f}"} for s, v in summary["by_spec"].items()]
    out = [f"Seeds {summary['seeds']} per prompt group, {summary['steps']} steps, {len(summary['checkpoints'])} checkpoints, "
           f"{summary['images_per_row']} images per metric per spec. Full-precision concept accuracy seed-to-seed noise "
           f"(disjoint seeds, mean over checkpoints): {summary['seed_noise_concept_accuracy_fp']}. fd_judge is FID-like "
           "(judge features, not Inception), ± its bootstrap SE.", "", "### Per spec (pooled over the world)", "",
           md(spec_rows, COLUMNS), "", "### Trigger separated minus not separated (noise = 2 x paired SE)", "",
           md(summary["pairs"], PAIR_COLUMNS), "", "### Concept accuracy by personalization method", ""]
    specs = list(summary["by_spec"])
    out.append(md([{"method": m, **{s: v["concept_accuracy"][s] for s in specs}} for m, v in summary["by_method"].items()], ["method"] + specs))
    out += ["", "### Trigger K/V rows vs the other prompt words (row absmax ratio, mean over 8 trigger prompts)", ""]
    cols = ["layer", "k_trigger_vs_words", "v_trigger_vs_words", "k_start_vs_words", "v_start_vs_words", "k_start_holds_max",
            "k_trigger_holds_max", "v_trigger_holds_max", "k_trigger_over_rest", "v_trigger_over_rest"]
    for m, rows in summary["kv_magnitudes"].items():
        out += [f"**{m}**", "", md([dict(r, layer=short_layer(r["layer"])) for r in rows], cols), ""]
    return "\n".join(out)


def save_plot(summary: dict, path: Path) -> Path:
    """Left: concept accuracy per setting, separated vs not (error bars: 2 paired SE of the difference).
    Right: trigger-row K absmax over the other words per layer, one line per personalization method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    pairs = [p for p in summary["pairs"] if p["metric"] == "concept_accuracy"]
    x = np.arange(len(pairs))
    ax.bar(x - 0.2, [p["not_separated"] for p in pairs], 0.4, label="not separated (naive)")
    ax.bar(x + 0.2, [p["separated"] for p in pairs], 0.4, yerr=[p["noise_2se"] for p in pairs], capsize=3, label="trigger separated (taq)")
    fp = summary["by_spec"]["none"]["concept_accuracy"]
    ax.axhline(fp, color="k", lw=1, ls="--", label=f"full precision {fp:.3f}")
    ax.set_xticks(x, [p["setting"] for p in pairs], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("concept accuracy (judge, trigger prompts)")
    ax.set_title("error bar: 2 x paired SE of the difference", fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower left")
    for m, rows in summary["kv_magnitudes"].items():
        ax2.plot(range(len(rows)), [r["k_trigger_vs_words"] for r in rows], marker="o", label=f"{m} K")
        ax2.plot(range(len(rows)), [r["k_start_vs_words"] for r in rows], ls=":", color=ax2.lines[-1].get_color())
    rows = next(iter(summary["kv_magnitudes"].values()))
    ax2.set_xticks(range(len(rows)), [short_layer(r["layer"]) for r in rows], fontsize=8)
    ax2.axhline(1, color="k", lw=1)
    top = max(r["k_trigger_vs_words"] for rows in summary["kv_magnitudes"].values() for r in rows)
    ax2.set_ylim(0, max(2.0, top * 1.1))
    ax2.set_xlabel("attn2 layer")
    ax2.set_ylabel("K row absmax / other words' (mean)")
    ax2.set_title("solid: trigger rows, dotted: start token", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def load_parts(out_dir: Path) -> tuple[list[dict], list[dict]]:
    parts, feats = [], []
    for f in sorted(out_dir.glob("ablation_*.json")):
        parts.append(json.loads(f.read_text()))
        with np.load(out_dir / f"features_{f.stem.removeprefix('ablation_')}.npz") as z:
            feats.append({k: z[k] for k in z.files})
    return parts, feats


def finish(out_dir: Path, as_json: bool, md_path: Path | None) -> int:
    parts, feats = load_parts(out_dir)
    if not parts:
        raise SystemExit(f"no partial results (ablation_*.json) in {out_dir}")
    summary = summarize(parts, feats)
    summary["plot"] = str(save_plot(summary, out_dir / "taq_ablation.png"))
    (out_dir / "taq_ablation.json").write_text(json.dumps(summary, indent=1))
    if md_path:
        md_path.write_text(markdown(summary) + "\n")
    rows = [{"spec": s, **v} for s, v in summary["by_spec"].items()]
    emit("taq-ablation", rows, {k: v for k, v in summary.items() if k not in ("by_spec",)}, as_json, COLUMNS)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv or [])
    from common import paths

    out_dir = args.out or (paths.outputs_dir() / "bench_taq_ablation")
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.summarize:
        return finish(out_dir, args.json, args.markdown)

    world, manifest, judge, steps = open_world(args)
    sets = [s.strip() for s in args.variants.split(",") if s.strip()]
    unknown = [s for s in sets if s not in VARIANT_SETS]
    if unknown:
        raise SystemExit(f"unknown variant sets {unknown}; known: {', '.join(VARIANT_SETS)}")
    variants = [v for s in sets for v in VARIANT_SETS[s]()]
    wanted = {w.strip() for w in args.checkpoints.split(",") if w.strip()}
    order = [w.strip() for w in args.checkpoints.split(",") if w.strip()]
    entries = [e for e in manifest["entries"] if not wanted or e["file"] in wanted or e["concept"] in wanted]
    entries.sort(key=lambda e: next((i for i, w in enumerate(order) if w in (e["file"], e["concept"])), 0))  # as listed
    if not entries:
        raise SystemExit(f"no checkpoints match {sorted(wanted)} in {world}")
    names = [v.name for v in variants]
    for e in entries:
        done = out_dir / f"ablation_{Path(e['file']).stem}.json"
        if args.resume and done.is_file():
            part = json.loads(done.read_text())
            if part["seeds"] == args.seeds and part["steps"] == steps and [r["spec"] for r in part["rows"][2:]] == names:
                progress(f"{e['file']}: reusing {done.name}")
                continue
        run_checkpoint(world, e, variants, judge, args.seeds, steps, out_dir)
    if not args.resume:  # a fresh run summarizes only what it measured
        for f in out_dir.glob("ablation_*.json"):
            if f.stem.removeprefix("ablation_") not in {Path(e["file"]).stem for e in entries}:
                f.unlink()
    return finish(out_dir, args.json, args.markdown)
