"""`python -m bench.taq_kernels [--json]`: the CPU kernels a quantized Linear could use, one GEMM shape.

Measures (median of 5 after a warm-up, one process) a Linear M x K -> N in fp32, bf16, torch.ao
dynamic int8 (fbgemm/x86, activation quant fused), oneDNN static int8 with uint8 activations
(zero point 128; int8 activations fall to a reference path hundreds of times slower, so not run),
packed int4 weight-only (bf16 activations; fp32 activations are also a reference path) and the
per-step costs today's layers pay: fused activation fake-quant and int8 weight dequantization.
Issue #22 uses it to choose kernels per device before wiring them into engine/taq.py.
"""
from __future__ import annotations

import argparse
import json
import time


def _median_seconds(fn, n: int = 5) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[n // 2]


def run(m: int, k: int, n: int, threads: int) -> dict:
    """Seconds per call of each kernel and its relative error against the fp32 Linear of the same codes."""
    import warnings

    import torch
    import torch.nn.functional as F

    warnings.filterwarnings("ignore", message=".*quantized tensor creation.*")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(m, k)  # (M, K)
    w = torch.randn(n, k) * 0.05  # (N, K)
    b = torch.randn(n)
    ws = w.abs().amax(1) / 127  # (N,)
    codes = torch.round(w / ws[:, None]).clamp(-127, 127).to(torch.int8)
    wq = codes.float() * ws[:, None]
    ref = F.linear(x, wq, b)
    xb, wb, bb = x.bfloat16(), wq.bfloat16(), b.bfloat16()
    qw = torch._make_per_channel_quantized_tensor(codes, ws.double(), torch.zeros(n, dtype=torch.long), 0)
    dyn = torch.ops.quantized.linear_prepack(qw, b)
    xs = float(x.abs().amax() / 127)
    onednn_w = torch.ops.onednn.qlinear_prepack(codes, [m, k])
    zeros = torch.zeros(n, dtype=torch.long)
    u8 = torch.clamp(torch.round(x / xs) + 128, 0, 255).to(torch.uint8)
    g = 32
    grouped = wq.reshape(n, -1, g)
    s4 = grouped.abs().amax(-1, keepdim=True).clamp(min=1e-8) / 7  # (N, G, 1)
    q4 = torch.round(grouped / s4).clamp(-7, 7)
    w4 = (q4 * s4).reshape(n, k)
    packed4 = torch._convert_weight_to_int4pack_for_cpu((q4 + 8).to(torch.int32).reshape(n, k), 1)
    sz = torch.stack([s4.squeeze(-1).t(), torch.zeros(k // g, n)], -1).contiguous().bfloat16()  # (G, N, 2)
    kernels = {
        "fp32": (lambda: F.linear(x, wq, b), ref),
        "bf16": (lambda: F.linear(xb, wb, bb), ref),
        "int8_dynamic_fbgemm": (lambda: torch.ops.quantized.linear_dynamic(x, dyn), ref),
        "int8_dynamic_fbgemm_from_bf16": (lambda: torch.ops.quantized.linear_dynamic(xb.float(), dyn).bfloat16(), ref),
        "int8_onednn_u8_gemm_only": (lambda: torch.ops.onednn.qlinear_pointwise(
            u8, xs, 128, onednn_w, ws.float(), zeros, b, 1.0, 0, torch.float32, "none", [], ""), ref),
        "int4_packed_bf16": (lambda: torch._weight_int4pack_mm_for_cpu(xb, packed4, g, sz), F.linear(x, w4)),
        "act_fake_quant_fused": (lambda: torch.fake_quantize_per_tensor_affine(x, xs, 0, -127, 127), None),
        "weight_dequant_int8_bf16": (lambda: codes.to(torch.bfloat16) * ws[:, None].bfloat16(), None),
    }
    rows = []
    for name, (fn, expected) in kernels.items():
        sec = _median_seconds(fn)
        row = {"kernel": name, "seconds": sec}
        if expected is not None:
            out = fn().float()
            row["rel_error"] = float((out - expected).norm() / expected.norm())
        rows.append(row)
    base = rows[0]["seconds"]
    for row in rows:
        row["ratio_fp32"] = row["seconds"] / base
    return {"shape": [m, k, n], "threads": threads, "torch": torch.__version__, "rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.taq_kernels", description=__doc__)
    p.add_argument("--m", type=int, default=2048)
    p.add_argument("--k", type=int, default=640)
    p.add_argument("--n", type=int, default=2560)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(args.m, args.k, args.n, args.threads)
    if args.json:
        print(json.dumps(result))
    else:
        for row in result["rows"]:
            err = f"  err {row['rel_error']:.4f}" if "rel_error" in row else ""
            print(f"{row['kernel']:32s} {row['seconds'] * 1e3:9.2f} ms  {row['ratio_fp32']:.2f}x{err}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
