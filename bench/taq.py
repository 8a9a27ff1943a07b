"""`personalq bench taq [--json]`: memory and speed of every quant spec on an SD1.5-sized UNet.

The UNet is the real SD 1.5 architecture (engine/configs/sd15/unet) with seeded random weights:
nothing is downloaded. Each spec runs in its own subprocess so peak RSS is honest. In it:
build the float UNet -> quantize on import (quantize + calibrate + save the artifact; timed) ->
drop it -> load the artifact (timed) -> reset the peak-RSS counter -> one UNet step at the chosen
resolution (timed, peak RSS read from /proc).

Rows (one per spec): spec, weight_bytes, bytes_ratio_fp16 (vs the same UNet's fp16 weights),
step_seconds, step_time_ratio and peak_rss_bytes, peak_rss_ratio (both vs the unquantized fp32
UNet of the same run), quantize_seconds, load_seconds, load_ratio (load / quantize), and the
same times as process CPU seconds (`*_cpu_seconds`, `step_cpu_ratio`, `load_cpu_ratio`): with
--threads 1 on a shared machine, CPU seconds are what an idle machine's wall clock would show.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import emit, progress

DEFAULT_SPECS = ["none", "quanto-w8", "quanto-w4", "naive-w8a8", "naive-w4a8", "taq-w8a8", "taq-w4a8", "taq-w4a8-kvq"]
REPO = Path(__file__).resolve().parents[1]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="personalq bench taq", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--specs", default=",".join(DEFAULT_SPECS), help="comma-separated spec names")
    p.add_argument("--size", type=int, default=512, help="image size in pixels (latent = size/8)")
    p.add_argument("--batch", type=int, default=1, help="UNet batch (2 = one classifier-free-guidance step)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads per worker")
    p.add_argument("--calibration-size", type=int, default=0, help="latent size of the calibration forwards (0: default)")
    p.add_argument("--unet", default="sd15", help="config family under engine/configs (sd15, sd15-tiny)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def _peak_rss_reset() -> bool:
    """Reset this process's VmHWM (Linux) so the peak counts only what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _build_unet(family: str):
    import torch
    from diffusers import UNet2DConditionModel

    config = json.loads((REPO / "engine" / "configs" / family / "unet" / "config.json").read_text())
    torch.manual_seed(0)
    return UNet2DConditionModel.from_config(config).eval()


def run_worker(spec: str, args) -> dict:
    """One spec, in this process: quantize on import, reload, one step. Returns the row."""
    import gc
    import tempfile

    import torch

    from engine.quantize import quantize_on_import, weight_bytes

    torch.set_num_threads(args.threads)
    unet = _build_unet(args.unet)
    params = sum(p.numel() for p in unet.parameters())
    fp16_bytes = params * 2
    row = {"spec": spec, "params": params, "fp16_bytes": fp16_bytes}
    source = Path(tempfile.mkdtemp(prefix="pq-bench-taq-src-")) / "unet-random.safetensors"
    source.write_bytes(b"stand-in for the checkpoint file; the UNet is built in memory")
    holder = [unet]
    del unet
    if spec == "none":
        model = holder.pop()
        row.update(quantize_seconds=0.0, load_seconds=0.0, quantize_cpu_seconds=0.0, load_cpu_seconds=0.0)
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        res = quantize_on_import(source, spec, lambda: holder.pop(), force=True,
                                 calibration_latent_size=args.calibration_size or None)
        row["quantize_seconds"] = time.perf_counter() - t0
        row["quantize_cpu_seconds"] = time.process_time() - c0
        row["artifact_bytes"] = (res.artifact / "unet.safetensors").stat().st_size
        del res
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        again = quantize_on_import(source, spec, lambda: (_ for _ in ()).throw(RuntimeError("artifact not reused")))
        row["load_seconds"] = time.perf_counter() - t0
        row["load_cpu_seconds"] = time.process_time() - c0
        model = again.unet
        del again
    gc.collect()
    row["weight_bytes"] = weight_bytes(model)
    cfg = model.config
    latent = args.size // 8
    gen = torch.Generator().manual_seed(0)
    sample = torch.randn(args.batch, cfg.in_channels, latent, latent, generator=gen)
    ehs = torch.randn(args.batch, 77, int(cfg.cross_attention_dim), generator=gen)
    row["rss_reset"] = _peak_rss_reset()
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = model(sample, 500, ehs).sample
    row["step_seconds"] = time.perf_counter() - t0
    row["step_cpu_seconds"] = time.process_time() - c0
    row["peak_rss_bytes"] = _peak_rss()
    row["output_finite"] = bool(torch.isfinite(out).all())
    return row


def _spawn(spec: str, args) -> dict:
    cmd = [sys.executable, "-m", "bench.taq", "--worker", spec, "--size", str(args.size), "--batch", str(args.batch),
           "--threads", str(args.threads), "--calibration-size", str(args.calibration_size), "--unet", args.unet]
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="pq-bench-taq-home-")  # artifacts of random weights: thrown away
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), PERSONALQ_HOME=home)
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        return {"spec": spec, "error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args)))
        return 0
    from engine.quant_specs import get_spec

    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    for s in specs:
        get_spec(s)  # unknown names fail before any work
    if "none" not in specs:
        specs.insert(0, "none")
    rows = []
    for spec in specs:
        progress(f"taq bench: {spec} ({args.unet} UNet, {args.size}px, batch {args.batch}, {args.threads} threads)")
        row = _spawn(spec, args)
        progress(f"  -> {row}")
        rows.append(row)
    base = next((r for r in rows if r["spec"] == "none" and "error" not in r), None)
    for r in rows:
        if "error" in r or base is None:
            continue
        r["bytes_ratio_fp16"] = r["weight_bytes"] / r["fp16_bytes"]
        r["step_time_ratio"] = r["step_seconds"] / base["step_seconds"]
        r["peak_rss_ratio"] = r["peak_rss_bytes"] / base["peak_rss_bytes"]
        r["load_ratio"] = r["load_seconds"] / r["quantize_seconds"] if r["quantize_seconds"] else None
        if "step_cpu_seconds" in r and "step_cpu_seconds" in base:
            # CPU seconds: on a shared machine wall time mostly measures the neighbours
            r["step_cpu_ratio"] = r["step_cpu_seconds"] / base["step_cpu_seconds"]
        if r.get("quantize_cpu_seconds"):
            r["load_cpu_ratio"] = r["load_cpu_seconds"] / r["quantize_cpu_seconds"]
    ok = {r["spec"]: r for r in rows if "error" not in r}
    summary = {"unet": args.unet, "size": args.size, "batch": args.batch, "threads": args.threads,
               "baseline": "none = unquantized fp32 UNet; bytes_ratio_fp16 against the same UNet in fp16"}
    if "taq-w4a8" in ok and base:
        t = ok["taq-w4a8"]
        summary.update({
            "taq_w4a8_bytes_ratio_fp16": t["bytes_ratio_fp16"], "target_bytes_ok": t["bytes_ratio_fp16"] <= 0.30,
            "taq_w4a8_step_time_ratio": t["step_time_ratio"], "target_step_ok": t["step_time_ratio"] <= 1.5,
            "taq_w4a8_quantize_seconds": t["quantize_seconds"], "target_quantize_ok": t["quantize_seconds"] <= 120,
            "taq_w4a8_load_ratio": t["load_ratio"], "target_load_ok": (t["load_ratio"] or 1) <= 0.2,
        })
        if "step_cpu_ratio" in t:  # the same targets on CPU seconds (robust on a shared machine)
            summary.update({
                "taq_w4a8_step_cpu_ratio": t["step_cpu_ratio"], "target_step_cpu_ok": t["step_cpu_ratio"] <= 1.5,
                "taq_w4a8_quantize_cpu_seconds": t["quantize_cpu_seconds"],
                "target_quantize_cpu_ok": t["quantize_cpu_seconds"] <= 120,
            })
    import torch  # noqa: F401  (so machine_info reports the torch version)

    columns = ["spec", "weight_bytes", "bytes_ratio_fp16", "step_seconds", "step_time_ratio", "step_cpu_ratio", "peak_rss_bytes",
               "peak_rss_ratio", "quantize_seconds", "load_seconds", "load_ratio"]
    emit("taq", rows, summary, args.json, columns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
