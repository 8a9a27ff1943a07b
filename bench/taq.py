"""`personalq bench taq [--json]`: step time, end-to-end time, weight bytes and peak RSS of the quant
specs on an SD-1.5-sized UNet (engine/configs/sd15, seeded random weights: nothing is downloaded).

Timing runs in ONE process with every variant built up front and the variants interleaved: one
warm-up round (packs the int8 weights), then `--steps` rounds, each running one UNet step of every
variant in turn; medians are reported as ratios to fp32 of the same rounds, with the load average
before and after (the machine is shared: ratios are what carries over, seconds are not).

Variants: fp32, bf16 (spec none in that dtype), taq-w8a8 / taq-w4a8 / naive-w8a8 with the kernel
the app picks here (engine/kernels.py), and `taq-w8a8@fake-quant` (the layers before the int8
kernels). `SPEC@KERNEL` names any other combination (KERNEL: fake-quant, int8, int8-u8, int8-split).

The end-to-end row (`--e2e`): text encode + `--e2e-steps` DPM++ steps with guidance (UNet batch 2)
+ VAE decode of one image, for fp32 and taq-w8a8, also interleaved. Peak RSS per variant comes from
a child process per variant (build, quantize, drop the float copy, one step; VmHWM reset before the
step), because one process holding every variant cannot say which one peaked.
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import emit, progress

DEFAULT_VARIANTS = ["fp32", "bf16", "taq-w8a8", "taq-w8a8@fake-quant", "taq-w4a8", "naive-w8a8"]
REPO = Path(__file__).resolve().parents[1]
# random weights: calibration only has to set plausible ranges, so two prompts at two timesteps
CALIBRATION = {"calibration_prompts": ["", "a photo of a dog on a bench"], "calibration_timesteps": (900, 100)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="personalq bench taq", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated: fp32, bf16, SPEC or SPEC@KERNEL")
    p.add_argument("--size", type=int, default=512, help="image size in pixels (latent = size/8)")
    p.add_argument("--batch", type=int, default=2, help="UNet batch (2 = one classifier-free-guidance step)")
    p.add_argument("--steps", type=int, default=5, help="timed rounds (each: one step of every variant)")
    p.add_argument("--slow-steps", type=int, default=0,
                   help="timed rounds for bf16 on a CPU that only emulates it (0: same as --steps)")
    p.add_argument("--e2e", action="store_true", help="also time a whole image: text encode + steps + VAE")
    p.add_argument("--e2e-steps", type=int, default=20, help="denoising steps of the end-to-end row")
    p.add_argument("--rss", nargs="?", const="all", default="",
                   help="also measure peak RSS (one child process per variant): all, or a comma-separated subset")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    p.add_argument("--unet", default="sd15", help="config family under engine/configs (sd15, sd15-tiny)")
    p.add_argument("--rss-worker", help=argparse.SUPPRESS)
    return p


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _parse_variant(name: str) -> tuple[str, str, str]:
    """'fp32' -> (none, float32, auto); 'bf16' -> (none, bfloat16, auto); 'taq-w8a8@int8' -> (taq-w8a8, float32, int8)."""
    from engine.kernels import CHOICES
    from engine.quant_specs import get_spec

    if name == "fp32":
        return "none", "float32", "auto"
    if name == "bf16":
        return "none", "bfloat16", "auto"
    spec, _, kernel = name.partition("@")
    get_spec(spec)  # unknown names fail before any work
    kernel = kernel or "auto"
    if kernel not in CHOICES:
        raise ValueError(f"unknown kernel {kernel!r} in {name!r}; use one of {', '.join(CHOICES)}")
    return spec, "float32", kernel


def _config(family: str, part: str) -> dict:
    return json.loads((REPO / "engine" / "configs" / family / part / "config.json").read_text())


def _build_unet(family: str):
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel.from_config(_config(family, "unet")).eval()


def _make(base, spec: str, dtype: str):
    """The variant's UNet: the float base itself (fp32), a bf16 copy, or a quantized (calibrated) copy."""
    import torch

    from engine.quantize import apply_quant_spec

    if spec == "none":
        return base if dtype == "float32" else copy.deepcopy(base).to(getattr(torch, dtype))
    unet = copy.deepcopy(base)
    apply_quant_spec(unet, spec, seed=0, **CALIBRATION)
    gc.collect()
    return unet


class _Kernel:
    """Run with PERSONALQ_TAQ_KERNEL set to one choice, restored after."""

    def __init__(self, choice: str):
        self.choice = choice

    def __enter__(self):
        from engine.kernels import ENV

        self.old = os.environ.get(ENV)
        os.environ[ENV] = self.choice

    def __exit__(self, *exc):
        from engine.kernels import ENV

        if self.old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self.old


def _step_inputs(unet, size: int, batch: int, dtype):
    import torch

    gen = torch.Generator().manual_seed(0)
    latent = size // 8
    sample = torch.randn(batch, unet.config.in_channels, latent, latent, generator=gen).to(dtype)
    ehs = torch.randn(batch, 77, int(unet.config.cross_attention_dim), generator=gen).to(dtype)
    return sample, ehs


def _one_step(unet, kernel: str, inputs) -> float:
    import torch

    with _Kernel(kernel), torch.no_grad():
        t0 = time.perf_counter()
        unet(inputs[0], 500, inputs[1])
        return time.perf_counter() - t0


def time_steps(args, names: list[str]) -> tuple[list[dict], dict]:
    """Interleaved UNet step times of every variant in this process; (rows, load info)."""
    import torch

    from engine.kernels import cpu_has_fast_bf16, kernels_in, plan_for
    from engine.quantize import weight_bytes

    base = _build_unet(args.unet)
    fp16_bytes = sum(p.numel() for p in base.parameters()) * 2
    variants = []
    for name in names:
        spec, dtype, kernel = _parse_variant(name)
        progress(f"taq bench: building {name}")
        unet = _make(base, spec, dtype)
        variants.append({"name": name, "spec": spec, "dtype": dtype, "kernel": kernel, "unet": unet,
                         "inputs": _step_inputs(unet, args.size, args.batch, getattr(torch, dtype)), "times": []})
    load = {"load_before": _load()}
    progress(f"warm-up round (load {load['load_before']})")
    for v in variants:
        v["warmup_seconds"] = _one_step(v["unet"], v["kernel"], v["inputs"])
        progress(f"  {v['name']}: {v['warmup_seconds']:.2f} s")
    emulated_bf16 = not cpu_has_fast_bf16()
    for r in range(args.steps):
        ran = []
        for v in variants:
            # only emulated bf16 is cut short (--slow-steps): a warm-up ratio would also cut variants
            # that were merely unlucky with the neighbours' load
            if emulated_bf16 and v["dtype"] == "bfloat16" and args.slow_steps and r >= args.slow_steps:
                continue
            v["times"].append(_one_step(v["unet"], v["kernel"], v["inputs"]))
            ran.append(v)
        progress(f"round {r + 1}/{args.steps} (load {_load()}): "
                 + ", ".join(f"{v['name']} {v['times'][-1]:.2f}" for v in ran))
    load["load_after"] = _load()
    rows = []
    for v in variants:
        unet = v["unet"]
        rows.append({
            "variant": v["name"], "spec": v["spec"], "dtype": v["dtype"],
            "kernel": plan_for("cpu", v["kernel"]).name if v["spec"] != "none" else v["dtype"],
            "layers": kernels_in(unet) if v["spec"] != "none" else {},
            "step_seconds": statistics.median(v["times"]), "timed_steps": len(v["times"]),
            "step_min": min(v["times"]), "step_max": max(v["times"]),
            "weight_bytes": weight_bytes(unet), "bytes_ratio_fp16": weight_bytes(unet) / fp16_bytes,
        })
    del variants, base
    gc.collect()
    return rows, load


def _sd15_pipeline(family: str):
    """An SD-1.5-sized StableDiffusionPipeline with seeded random weights (text encoder, UNet, VAE)."""
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    from engine.clip_tokenizer import load_clip_tokenizer

    root = REPO / "engine" / "configs" / family
    unet = _build_unet(family)
    torch.manual_seed(1)
    vae = AutoencoderKL.from_config(_config(family, "vae")).eval()
    torch.manual_seed(2)
    text = CLIPTextModel(CLIPTextConfig(**{k: v for k, v in _config(family, "text_encoder").items()
                                           if not k.startswith("_")})).eval()
    sched = DPMSolverMultistepScheduler.from_config(json.loads((root / "scheduler" / "scheduler_config.json").read_text()))
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=load_clip_tokenizer(),
                                   scheduler=sched, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def time_end_to_end(args) -> list[dict]:
    """One image per variant (fp32, taq-w8a8), interleaved after a short warm-up; seconds and ratio."""
    import torch

    from engine.quantize import apply_quant_spec

    pipe = _sd15_pipeline(args.unet)
    quant = copy.copy(pipe)
    quant.unet = copy.deepcopy(pipe.unet)
    apply_quant_spec(quant, "taq-w8a8", seed=0, **CALIBRATION)
    runs = [("fp32", pipe), ("taq-w8a8", quant)]

    def image(p, steps):
        with torch.no_grad():
            t0 = time.perf_counter()
            p("a photo of a dog on a bench", num_inference_steps=steps, guidance_scale=7.0, height=args.size,
              width=args.size, generator=torch.Generator().manual_seed(0), output_type="pil")
            return time.perf_counter() - t0

    for name, p in runs:
        progress(f"e2e warm-up {name} (2 steps)")
        image(p, 2)
    rows = []
    for name, p in runs:
        before = _load()
        sec = image(p, args.e2e_steps)
        rows.append({"variant": f"e2e {name}", "e2e_steps": args.e2e_steps, "e2e_seconds": sec,
                     "load_before": before, "load_after": _load()})
        progress(f"e2e {name}: {sec:.1f} s")
    return rows


# --- peak RSS, one child process per variant ------------------------------------------------------------


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


def _trim() -> None:
    """Give freed heap back to the OS so the reset peak starts from what is really held."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_worker(name: str, args) -> dict:
    """In a child: build the variant, drop the float copy, reset the peak, two steps (the first packs)."""
    import torch

    torch.set_num_threads(args.threads)
    spec, dtype, kernel = _parse_variant(name)
    holder = [_build_unet(args.unet)]
    unet = _make(holder[0], spec, dtype)
    if unet is not holder[0]:
        holder.clear()
    _trim()
    held = _peak_rss_reset()
    inputs = _step_inputs(unet, args.size, args.batch, getattr(torch, dtype))
    for _ in range(2):
        _one_step(unet, kernel, inputs)
    return {"variant": name, "peak_rss_bytes": _peak_rss(), "rss_reset": held}


def _spawn_rss(name: str, args) -> dict:
    cmd = [sys.executable, "-m", "bench.taq", "--rss-worker", name, "--size", str(args.size), "--batch", str(args.batch),
           "--threads", str(args.threads), "--unet", args.unet]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"variant": name, "error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.rss_worker:
        print(json.dumps(rss_worker(args.rss_worker, args)))
        return 0
    names = [s.strip() for s in args.variants.split(",") if s.strip()]
    for name in names:
        _parse_variant(name)  # bad names fail before any work
    if "fp32" not in names:
        names.insert(0, "fp32")
    if args.steps < 1:
        raise SystemExit("personalq bench taq: --steps must be at least 1")
    import torch

    from engine.kernels import current_plan

    torch.set_num_threads(args.threads)
    plan = current_plan("cpu")
    progress(f"taq bench: {args.unet} UNet, {args.size}px, batch {args.batch}, {args.threads} threads; {plan.note}")
    rows, load = time_steps(args, names)
    base = next(r for r in rows if r["variant"] == "fp32")
    floats = [r["step_seconds"] for r in rows if r["spec"] == "none"]
    for r in rows:
        r["step_ratio_fp32"] = r["step_seconds"] / base["step_seconds"]
        r["step_ratio_best_float"] = r["step_seconds"] / min(floats)
    if args.rss:
        wanted = None if args.rss == "all" else {s.strip() for s in args.rss.split(",")} | {"fp32"}
        for r in rows:
            if wanted is not None and r["variant"] not in wanted:
                continue
            progress(f"peak RSS: {r['variant']}")
            got = _spawn_rss(r["variant"], args)
            r.update({k: v for k, v in got.items() if k != "variant"})
        for r in rows:
            if "peak_rss_bytes" in r and "peak_rss_bytes" in base:
                r["peak_rss_ratio_fp32"] = r["peak_rss_bytes"] / base["peak_rss_bytes"]
    e2e = time_end_to_end(args) if args.e2e else []
    if e2e:
        e2e[1]["e2e_ratio_fp32"] = e2e[1]["e2e_seconds"] / e2e[0]["e2e_seconds"]
        e2e[0]["e2e_ratio_fp32"] = 1.0
    ok = {r["variant"]: r for r in rows}
    summary = {"unet": args.unet, "size": args.size, "batch": args.batch, "threads": args.threads,
               "timed_steps": args.steps, "plan": plan.name, "plan_note": plan.note, "features": plan.features, **load,
               "baseline": "fp32 = unquantized float32 UNet of the same rounds; bytes_ratio_fp16 against its fp16 weights"}
    for name, limit in (("taq-w8a8", 0.70), ("taq-w4a8", 0.80)):
        if name in ok:
            summary[f"{name}_step_ratio_fp32"] = ok[name]["step_ratio_fp32"]
            summary[f"{name}_target_ok"] = ok[name]["step_ratio_fp32"] <= limit
    if "taq-w8a8" in ok:
        summary["taq-w8a8_vs_best_float"] = ok["taq-w8a8"]["step_ratio_best_float"]
    if e2e:
        summary["e2e_taq-w8a8_ratio_fp32"] = e2e[1]["e2e_ratio_fp32"]
    columns = ["variant", "kernel", "step_seconds", "step_ratio_fp32", "step_ratio_best_float", "timed_steps",
               "weight_bytes", "bytes_ratio_fp16", "peak_rss_bytes", "peak_rss_ratio_fp32", "e2e_seconds", "e2e_ratio_fp32"]
    emit("taq", rows + e2e, summary, args.json, columns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
