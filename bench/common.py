"""What every bench shares: machine description, progress to stderr, the JSON/table output contract."""
from __future__ import annotations

import json
import os
import platform
import sys
import time


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    if "torch" in sys.modules:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays one JSON object."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(bench: str, rows: list[dict], summary: dict, as_json: bool, columns: list[str] | None = None) -> None:
    """Print the bench result: one JSON object (--json) or a plain table plus summary."""
    if as_json:
        print(json.dumps({"bench": bench, "machine": machine_info(), "rows": rows, "summary": summary}, default=str))
        return
    columns = columns or (list(rows[0].keys()) if rows else [])
    print(format_table(rows, columns))
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")


def format_table(rows: list[dict], columns: list[str]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns), "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
