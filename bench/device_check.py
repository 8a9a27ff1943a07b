"""`python -m bench.device_check [--device cuda] [--seeds N] [--json]`: the app's generation path on an
accelerator, checked against the CPU.

CI and the tests run on CPU only; this is the check to run when a CUDA (or MPS) machine is at hand.
1. Demo world through the app's own path (PipelinePool: quantize-on-import of the base, LoRA /
   embedding attached afterwards, engine.generate with TAQ trigger positions): N seeds of trigger
   prompts per checkpoint and spec, on the device in its default dtype (fp16 on CUDA/MPS) and on
   the CPU in fp32. Rows: judge concept accuracy on each, and the PSNR of device images to CPU images.
2. A full-size SD 1.5 UNet (random weights, engine/configs/sd15) at 512x512, batch 2 (one
   classifier-free-guidance step): step time and peak device memory per spec.
Nothing is downloaded; HF_HUB_OFFLINE is set.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import numpy as np

from bench.common import emit, progress

CHECKPOINTS = ("robot_v1", "robot_v2", "kxj_badge")  # a DreamBooth single file, a LoRA, a textual inversion
SPECS = ("none", "quanto-w8", "taq-w8a8", "taq-w4a8")
TIMED_STEPS = 20
COLUMNS = ["part", "checkpoint", "spec", "device", "concept_accuracy_device", "concept_accuracy_cpu",
           "psnr_device_to_cpu", "step_seconds", "peak_memory_bytes", "seconds"]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.device_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda, cuda:1, mps or cpu")
    p.add_argument("--seeds", type=int, default=16, help="seeds per checkpoint and spec")
    p.add_argument("--specs", default=",".join(SPECS))
    p.add_argument("--checkpoints", default=",".join(CHECKPOINTS))
    p.add_argument("--sd15-specs", default="none,taq-w8a8,taq-w4a8", help="specs timed on the full-size UNet ('' skips it)")
    p.add_argument("--cpu-threads", type=int, default=0, help="torch threads for the CPU reference (0: leave as is)")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def _ref(entry: dict):
    """The pool's ModelRef for a demo library entry (quant spec 'none'; replace() sets another)."""
    from catalog.metadata import build_card
    from catalog.probe import probe_path
    from demo.build import ASSETS
    from engine.loading import ADAPTER_KINDS
    from engine.pool import ModelRef

    card = build_card(probe_path(str(ASSETS / "library" / entry["file"])))
    base = str(ASSETS / "base")
    return ModelRef(path=card.path, kind=card.kind, base_model=card.base_model,
                    base_path=base if card.kind in ADAPTER_KINDS else None, trigger=entry["trigger"], config_dir=base)


def _images(pool, ref, prompts, seeds, trigger, steps) -> np.ndarray:
    from engine.generate import GenerationRequest, generate

    out = []
    with pool.session(ref) as pipe:
        pipe.set_progress_bar_config(disable=True)
        for prompt, seed in zip(prompts, seeds):
            request = GenerationRequest(prompt=prompt, seed=seed, steps=steps, guidance=4.0, width=32, height=32,
                                        scheduler="ddim", trigger=trigger, quant_spec=ref.quant_spec)
            out.append(np.asarray(generate(pipe, request).image.convert("RGB")))
    return np.stack(out)


def demo_rows(args, say) -> list[dict]:
    import torch

    from bench.demo_world import world_manifest
    from demo import evaluate, personalize
    from demo.build import ASSETS
    from demo.judge import load_judge
    from demo.train import psnr
    from engine.devices import pick_device
    from engine.pool import PipelinePool

    manifest = world_manifest(ASSETS)
    judge = load_judge(ASSETS / manifest["judge"])
    steps = manifest["settings"]["sample_steps"]
    info = pick_device(args.device)
    pools = {"device": PipelinePool(64 << 30, device=info.device, dtype=info.torch_dtype),
             "cpu": PipelinePool(64 << 30, device="cpu", dtype=torch.float32)}
    wanted = {c.strip() for c in args.checkpoints.split(",") if c.strip()}  # '' skips this part
    rows = []
    for entry in [e for e in manifest["entries"] if e["concept"] in wanted]:
        concept, trigger = entry["concept"], entry["trigger"]
        prompts = personalize.trigger_prompts(concept, args.seeds, 777)
        seeds = [1000 + i for i in range(args.seeds)]
        plain_ref = _ref(entry)
        for spec in [s.strip() for s in args.specs.split(",") if s.strip()]:
            started = time.perf_counter()
            ref = dataclasses.replace(plain_ref, quant_spec=spec)
            images = {}
            for where, pool in pools.items():
                if where == "cpu" and args.cpu_threads:
                    torch.set_num_threads(args.cpu_threads)
                images[where] = _images(pool, ref, prompts, seeds, trigger, steps)
                pool.clear()
            row = {"part": "demo", "checkpoint": entry["file"], "spec": spec, "device": info.device,
                   "concept_accuracy_device": round(evaluate.concept_rate(judge.predict(images["device"]), concept), 4),
                   "concept_accuracy_cpu": round(evaluate.concept_rate(judge.predict(images["cpu"]), concept), 4),
                   "psnr_device_to_cpu": round(float(psnr(images["device"], images["cpu"])), 2),
                   "seconds": round(time.perf_counter() - started, 1)}
            say(f"{entry['file']} {spec}: {row}")
            rows.append(row)
    return rows


def sd15_rows(args, say) -> list[dict]:
    """Step time and peak memory of a full-size SD 1.5 UNet per spec on the device (fp16 on CUDA)."""
    import copy

    import torch

    from bench.taq import _build_unet
    from engine.devices import pick_device
    from engine.quantize import apply_quant_spec, weight_bytes

    info = pick_device(args.device)
    if not info.device.startswith("cuda"):
        return []
    float_unet = _build_unet("sd15")
    latents = torch.randn(2, 4, 64, 64).to(info.device, info.torch_dtype)
    states = torch.randn(2, 77, 768).to(info.device, info.torch_dtype)
    rows = []
    for spec in [s.strip() for s in args.sd15_specs.split(",") if s.strip()]:
        unet = copy.deepcopy(float_unet).to(info.device, info.torch_dtype)
        started = time.perf_counter()
        apply_quant_spec(unet, spec, calibration_latent_size=16)
        quantize_s = time.perf_counter() - started
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            for _ in range(3):
                unet(latents, 500, states)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(TIMED_STEPS):
                unet(latents, 500, states)
            torch.cuda.synchronize()
        step = (time.perf_counter() - t0) / TIMED_STEPS
        rows.append({"part": "sd15-512", "checkpoint": "random SD 1.5 UNet", "spec": spec, "device": info.device,
                     "step_seconds": round(step, 4), "peak_memory_bytes": int(torch.cuda.max_memory_allocated()),
                     "weight_bytes": weight_bytes(unet), "seconds": round(quantize_s, 1)})
        say(f"sd15 {spec}: {rows[-1]}")
        del unet
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv or [])
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PERSONALQ_HOME", tempfile.mkdtemp(prefix="pq-device-check-"))  # artifacts stay out of the user's cache
    import torch

    say = progress
    rows = demo_rows(args, say) + sd15_rows(args, say)
    summary = {"torch": torch.__version__, "device": args.device,
               "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
               "seeds": args.seeds}
    emit("device_check", rows, summary, args.json, COLUMNS)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
