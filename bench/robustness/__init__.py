"""`personalq bench robustness [--json] [--only NAME,...] [--list]`: replay the reliability probes of issue #21.

Every row of the issue's table is one probe: it provokes the failure (a full disk, a locked
catalog, a bad value, a hostile name) in a fresh PERSONALQ_HOME and checks the exit code, that
the user reads one line naming the cause, and that the catalog, the cache and the outputs
folder are intact afterwards. Full disks and read-only folders use a small tmpfs when this
process may mount one (root); the injected-OSError variant of the same probe always runs, so
a machine without mount rights still checks the code path.

Rows: {"probe", "variant" (injected | tmpfs | mknod | plain), "status" (PASS | FAIL | SKIP), "detail", "seconds"}.
Summary: counts per status; exit code 1 when any row fails.

The harness (running the CLI, intact checks, mounts) is bench/robustness/harness.py; the probes are
disk_probes.py and input_probes.py; tests/robustness runs each probe as a pytest case.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.robustness.disk_probes import (
    probe_generate_cache_full,
    probe_index_db_read_only,
    probe_index_db_unopenable_injected,
    probe_index_disk_full_injected,
    probe_index_disk_full_tmpfs,
    probe_lock_released_in_time,
    probe_locked_catalog,
    probe_out_device_node,
    probe_out_disk_full_injected,
    probe_out_disk_full_tmpfs,
    probe_out_is_a_folder,
    probe_out_read_only,
    probe_out_read_only_injected,
    probe_out_special_file,
    probe_quantize_cache_full_injected,
    probe_quantize_cache_full_tmpfs,
    probe_settings_disk_full,
)
from bench.robustness.harness import ProbeFailed, ProbeSkipped, can_mount
from bench.robustness.input_probes import (
    probe_ansi_in_request,
    probe_generate_non_utf8_checkpoint,
    probe_guidance_not_finite,
    probe_huge_values,
    probe_manifest_not_an_object,
    probe_newline_in_file_name,
    probe_quantize_diffusers_folder,
    probe_quantize_with_base,
    probe_select_non_utf8,
    probe_top_folder_not_utf8,
    probe_unexpected_error,
    probe_unknown_quant_spec,
    probe_zero_values,
)

# (row of the table, variant, probe)
PROBES = [
    ("index-disk-full", "injected", probe_index_disk_full_injected),
    ("index-disk-full", "tmpfs", probe_index_disk_full_tmpfs),
    ("locked-catalog", "plain", probe_locked_catalog),
    ("locked-catalog-released", "plain", probe_lock_released_in_time),
    ("guidance-inf-nan", "plain", probe_guidance_not_finite),
    ("zero-steps-size", "plain", probe_zero_values),
    ("huge-steps-size", "plain", probe_huge_values),
    ("out-is-a-folder", "plain", probe_out_is_a_folder),
    ("out-is-a-special-file", "plain", probe_out_special_file),
    ("out-is-a-special-file", "mknod", probe_out_device_node),
    ("out-read-only", "injected", probe_out_read_only_injected),
    ("out-read-only", "tmpfs", probe_out_read_only),
    ("out-disk-full", "injected", probe_out_disk_full_injected),
    ("out-disk-full", "tmpfs", probe_out_disk_full_tmpfs),
    ("index-db-read-only", "tmpfs", probe_index_db_read_only),
    ("index-db-unopenable", "injected", probe_index_db_unopenable_injected),
    ("quantize-cache-full", "injected", probe_quantize_cache_full_injected),
    ("quantize-cache-full", "tmpfs", probe_quantize_cache_full_tmpfs),
    ("generate-cache-full", "injected", probe_generate_cache_full),
    ("manifest-not-object", "plain", probe_manifest_not_an_object),
    ("select-non-utf8", "plain", probe_select_non_utf8),
    ("generate-non-utf8-checkpoint", "plain", probe_generate_non_utf8_checkpoint),
    ("top-folder-not-utf8", "plain", probe_top_folder_not_utf8),
    ("quantize-diffusers-folder", "plain", probe_quantize_diffusers_folder),
    ("quantize-base", "plain", probe_quantize_with_base),
    ("unknown-quant-spec", "plain", probe_unknown_quant_spec),
    ("newline-in-file-name", "plain", probe_newline_in_file_name),
    ("ansi-in-request", "plain", probe_ansi_in_request),
    ("unexpected-error", "plain", probe_unexpected_error),
    ("settings-disk-full", "injected", probe_settings_disk_full),
]


def probe_id(name: str, variant: str) -> str:
    return name if variant == "plain" else f"{name}[{variant}]"


def run_probe(name: str, variant: str, fn, base: Path) -> dict:
    work = base / probe_id(name, variant).replace("[", "-").replace("]", "")
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        detail, status = fn(work), "PASS"
    except ProbeSkipped as exc:
        detail, status = str(exc), "SKIP"
    except ProbeFailed as exc:
        detail, status = str(exc), "FAIL"
    except Exception as exc:  # noqa: BLE001 - a probe that crashes is a failed row, the others still run
        detail, status = f"probe crashed: {type(exc).__name__}: {exc}", "FAIL"
    return {"probe": name, "variant": variant, "status": status, "detail": detail,
            "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    from bench.common import emit, progress

    parser = argparse.ArgumentParser(prog="personalq bench robustness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--only", help="comma-separated probe names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    parser.add_argument("--workdir", help="keep the probes' files here (default: a temp dir, removed after)")
    args = parser.parse_args(argv)
    if args.list:
        for name, variant, fn in PROBES:
            print(f"{probe_id(name, variant):40} {(fn.__doc__ or '').strip().splitlines()[0] if fn.__doc__ else ''}")
        return 0
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pq_bench_robustness_"))
    rows = []
    try:
        import torch

        torch.set_num_threads(1)  # tiny models; the machine is shared
        for name, variant, fn in PROBES:
            if only and name not in only and probe_id(name, variant) not in only:
                continue
            progress(f"probe {probe_id(name, variant)}")
            row = run_probe(name, variant, fn, base)
            progress(f"  {row['status']} ({row['seconds']} s) {row['detail'][:160]}")
            rows.append(row)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    summary = {s.lower(): sum(1 for r in rows if r["status"] == s) for s in ("PASS", "FAIL", "SKIP")}
    summary["mount"] = "tmpfs variants ran" if can_mount() else "no mount rights: tmpfs variants skipped"
    emit("robustness", rows, summary, args.json, columns=["probe", "variant", "status", "seconds", "detail"])
    return 1 if summary["fail"] else 0
