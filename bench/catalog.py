"""`personalq bench catalog [--json] [--sizes 1000,10000]`: how fast the catalog indexes a big folder.

For each size N it writes N tiny model files (kohya LoRAs for SD1/SD2/SDXL, PEFT LoRAs, textual
inversions, single-file checkpoints; 100 per folder; some with A1111/Civitai sidecars) and measures:

rows (one per size and phase):
  phase=cold_index   empty database -> every file probed, carded and stored (scan + header read +
                     sidecars + one SQLite transaction per file); no sha256, no embeddings
  phase=hash         the sha256 pass that follows (the "background" phase) + duplicate marking
  phase=warm_rescan  nothing changed -> scan, stat, compare signatures
  phase=header_read  per-file safetensors header parse (catalog.probe.read_safetensors_header)
  phase=bare_open    per-file open()+read(8), the floor any scan pays
                     (the three per-file rows are CPU time, best of 2; the others wall + cpu_s)
  phase=probe_card   per-file probe_path + build_card (what cold_index does per file minus SQLite)
  phase=embed        (--embed only) sentence embeddings of all cards, model load included
  phase=search       one hybrid search (median over 22 queries; p95_s too) once the in-memory index is
                     built: BM25 + trigger/name/tag hits + ranking, and the query embedding + cosine
                     when --embed gave the cards embeddings (target: well under 50 ms at 10k)
columns: files, phase, seconds, cpu_s, files_per_s, us_per_file, ratio_vs_bare (header/probe rows)
Files are fresh in the page cache (written just before); a cold disk is slower.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import emit, progress
from common.tensor_files import zero_safetensors_bytes

TARGETS = {"cold_index_10k_s": 10.0, "warm_rescan_10k_s": 1.0}
CTX = {"sd15": 768, "sd21": 1024, "sdxl": 2048}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="personalq bench catalog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated file counts (default 1000,10000)")
    parser.add_argument("--modules", type=int, default=8, help="LoRA modules per file (header size; default 8)")
    parser.add_argument("--embed", action="store_true", help="also time the embedding phase (loads torch)")
    parser.add_argument("--workdir", help="where to write the files (default: a temp dir, removed after)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pq_bench_catalog_"))
    rows: list[dict] = []
    try:
        for n in sizes:
            rows += bench_size(n, base / f"n{n}", args.modules, args.seed, args.embed)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)

    summary = {"sizes": sizes, "load_average": _loadavg(), "includes": "cold_index = scan + header probe + sidecars + SQLite/FTS upsert "
                                           "(no sha256, no embeddings); hash and embed are separate rows"}
    for n in sizes:
        for phase in ("cold_index", "warm_rescan", "hash", "search"):
            row = next((r for r in rows if r["files"] == n and r["phase"] == phase), None)
            if row:
                summary[f"{phase}_{n}_s"] = round(row["seconds"], 3)
                summary[f"{phase}_{n}_cpu_s"] = row.get("cpu_s")
    if 10000 in sizes:
        summary["target_cold_index_10k_s"] = TARGETS["cold_index_10k_s"]
        summary["target_warm_rescan_10k_s"] = TARGETS["warm_rescan_10k_s"]
        summary["cold_index_10k_ok"] = summary["cold_index_10000_s"] <= TARGETS["cold_index_10k_s"]
        summary["warm_rescan_10k_ok"] = summary["warm_rescan_10000_s"] <= TARGETS["warm_rescan_10k_s"]
    emit("catalog", rows, summary, args.json,
         columns=["files", "phase", "seconds", "cpu_s", "files_per_s", "us_per_file", "ratio_vs_bare"])
    return 0


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def bench_size(n: int, root: Path, modules: int, seed: int, embed: bool) -> list[dict]:
    from catalog.indexer import index_folders
    from catalog.store import Store

    progress(f"writing {n} files under {root}")
    started = time.perf_counter()
    files = write_files(root / "lib", n, modules, seed)
    progress(f"wrote {n} files in {time.perf_counter() - started:.1f} s")
    rows = []
    store = Store(root / "catalog.sqlite")
    try:
        t, c = time.perf_counter(), time.process_time()
        report = index_folders([root / "lib"], store, compute_hashes=False, embed=False)
        cold, cold_cpu = time.perf_counter() - t, time.process_time() - c
        assert report.added == n, f"expected {n} new entries, got {report.added} ({report.problems[:3]})"
        rows.append(_row(n, "cold_index", cold, cpu_s=round(cold_cpu, 3), errors=report.errors, **_phase_split(report)))
        progress(f"cold index {n}: {cold:.2f} s wall, {cold_cpu:.2f} s cpu")

        t, c = time.perf_counter(), time.process_time()
        report = index_folders([root / "lib"], store, compute_hashes=True, embed=False)
        rows.append(_row(n, "hash", time.perf_counter() - t, cpu_s=round(time.process_time() - c, 3),
                         hashed=report.hashed, duplicates=report.duplicates))

        warm = []
        for _ in range(3):
            t, c = time.perf_counter(), time.process_time()
            report = index_folders([root / "lib"], store, compute_hashes=True, embed=False)
            warm.append((time.perf_counter() - t, time.process_time() - c))
            assert report.unchanged == n and report.added == report.updated == 0
        best = min(warm)
        rows.append(_row(n, "warm_rescan", best[0], cpu_s=round(best[1], 3), runs=len(warm),
                         worst_s=round(max(w for w, _ in warm), 3)))
        progress(f"warm rescan {n}: {best[0]:.3f} s wall, {best[1]:.3f} s cpu (best of 3)")

        if embed:
            t, c = time.perf_counter(), time.process_time()
            embedded = store.refresh_embeddings()
            rows.append(_row(n, "embed", time.perf_counter() - t, cpu_s=round(time.process_time() - c, 3),
                             embedded=embedded))
        rows.append(search_row(n, store, dense=embed))
        progress(f"search {n}: {rows[-1]['seconds'] * 1000:.1f} ms per query (median)")
    finally:
        store.close()
    rows += per_file_costs(n, files)
    return rows


def search_row(n: int, store, dense: bool) -> dict:
    """Per-query time of hybrid search over the n indexed cards (the first call builds the index)."""
    from checkin.search import search

    queries = [f"tok{i}x at the beach" for i in range(0, n, max(1, n // 20))][:20]
    queries += ["a concept portrait, not the style one", "my newest LoRA from last spring"]
    search(store, "warm up")
    times = []
    for query in queries:
        t = time.perf_counter()
        search(store, query, k=12)
        times.append(time.perf_counter() - t)
    times.sort()
    return _row(n, "search", statistics.median(times), p95_s=round(times[int(0.95 * (len(times) - 1))], 4),
                queries=len(queries), dense=dense)


def per_file_costs(n: int, files: list[Path]) -> list[dict]:
    """Per-file cost of the header read vs a bare open()+read(8), and of the whole probe+card."""
    from catalog.metadata import build_card
    from catalog.probe import probe_path, read_safetensors_header

    sample = [str(f) for f in files if f.suffix == ".safetensors"]

    def bare(path):
        with open(path, "rb") as f:
            f.read(8)

    def card(path):
        build_card(probe_path(path))

    timings = {}
    for name, fn in (("bare_open", bare), ("header_read", read_safetensors_header), ("probe_card", card)):
        best = None
        for _ in range(2):
            t = time.process_time()  # CPU time: wall time on a shared machine mostly measures the neighbours
            for path in sample:
                fn(path)
            elapsed = time.process_time() - t
            best = elapsed if best is None else min(best, elapsed)
        timings[name] = best
    rows = []
    for name in ("bare_open", "header_read", "probe_card"):
        rows.append(_row(len(sample), name, timings[name],
                         ratio_vs_bare=round(timings[name] / timings["bare_open"], 2) if name != "bare_open" else 1.0))
    return rows


def _row(n: int, phase: str, seconds: float, **extra) -> dict:
    row = {"files": n, "phase": phase, "seconds": round(seconds, 4),
           "files_per_s": round(n / seconds, 1) if seconds > 0 else None,
           "us_per_file": round(seconds / n * 1e6, 1) if n else None}
    row.update(extra)
    return row


def _phase_split(report) -> dict:
    return {f"{k}_s": round(v, 3) for k, v in report.seconds.items()}


# --- the generated library ------------------------------------------------------------------

def write_files(root: Path, n: int, modules: int, seed: int) -> list[Path]:
    """Write n tiny model files in folders of 100 (varied formats, a few sidecars); return their paths."""
    rng = random.Random(seed)
    kinds = [("kohya", 0.55), ("kohya_xl", 0.15), ("peft", 0.08), ("ti", 0.12), ("ti_xl", 0.04), ("ckpt", 0.06)]
    names, weights = zip(*kinds)
    out = []
    for i in range(n):
        kind = rng.choices(names, weights)[0]
        folder = root / ("Lora" if "kohya" in kind or kind == "peft" else "embeddings" if "ti" in kind
                         else "Stable-diffusion") / f"batch_{i // 100:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{kind}_{i:06d}"
        token = f"tok{i}x"
        path = folder / f"{stem}.safetensors"
        path.write_bytes(_file_bytes(kind, i, token, modules, rng))
        if i % 10 == 0:  # A1111 sidecar
            (folder / f"{stem}.json").write_text(json.dumps({"activation text": token, "description": f"concept {i}",
                                                             "sd version": "SD1"}), encoding="utf-8")
        if i % 25 == 0:  # Civitai helper sidecar
            (folder / f"{stem}.civitai.info").write_text(json.dumps(
                {"name": "v1", "trainedWords": [token], "baseModel": "SD 1.5",
                 "model": {"name": f"Concept {i}", "type": "LORA"}}), encoding="utf-8")
        out.append(path)
    return out


def _file_bytes(kind: str, i: int, token: str, modules: int, rng: random.Random) -> bytes:
    if kind in ("kohya", "kohya_xl"):
        base = "sdxl" if kind == "kohya_xl" else rng.choice(["sd15", "sd15", "sd21"])
        tensors = {}
        for m in range(modules):
            unet = (f"lora_unet_input_blocks_{4 + m % 4}_1_transformer_blocks_{m // 4}_attn2_to_k" if base == "sdxl"
                    else f"lora_unet_down_blocks_{m % 3}_attentions_{m // 3 % 2}_transformer_blocks_0_attn2_to_{'kv'[m % 2]}")
            tensors[f"{unet}.lora_down.weight"] = ([1, CTX[base]], "F16")
            tensors[f"{unet}.lora_up.weight"] = ([320, 1], "F16")
            tensors[f"{unet}.alpha"] = ([], "F16")
        folder = f"10_{token} person"
        meta = {"ss_output_name": f"run_{i}", "ss_network_module": "networks.lora", "ss_network_dim": "1",
                "ss_base_model_version": {"sd15": "sd_v1", "sd21": "sd_v2", "sdxl": "sdxl_base_v1-0"}[base],
                "ss_tag_frequency": json.dumps({folder: {token: 20, "person": 19, "smile": 7}}),
                "ss_training_comment": "None", "ss_resolution": "(512, 512)"}
        return zero_safetensors_bytes(tensors, meta)
    if kind == "peft":
        block = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"
        return zero_safetensors_bytes({f"unet.{block}.lora_A.weight": ([1, 768], "F16"),
                                       f"unet.{block}.lora_B.weight": ([640, 1], "F16")}, {"format": "pt"})
    if kind == "ti":
        return zero_safetensors_bytes({"emb_params": ([rng.randint(1, 4), 768], "F16")}, {})
    if kind == "ti_xl":
        return zero_safetensors_bytes({"clip_l": ([1, 768], "F16"), "clip_g": ([1, 1280], "F16")}, {})
    return zero_safetensors_bytes({"model.diffusion_model.input_blocks.0.0.weight": ([320, 4, 3, 3], "F16"),
                                   "cond_stage_model.transformer.text_model.final_layer_norm.weight": ([768], "F16"),
                                   "first_stage_model.encoder.conv_in.weight": ([128, 3, 3, 3], "F16")},
                                  {"modelspec.title": f"Model {i}", "modelspec.trigger_phrase": token})


if __name__ == "__main__":
    raise SystemExit(main())
