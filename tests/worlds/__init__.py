"""The two developer libraries (intent-dev, intent-versions-dev), built from their generators.

make_dev.py and make_versions_dev.py are the generators of shared/bench/intent-dev and
intent-versions-dev, with the format writers they shared moved into world_formats.py: at their own seed
they rebuild those folders byte for byte (library, expected_index.json, requests.jsonl), so tests need
nothing beside the repo.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATORS = {"intent-dev": "make_dev.py", "intent-versions-dev": "make_versions_dev.py"}
FORMATS = "world_formats.py"  # imported by both generators, so it travels with them


def build_world(name: str, parent: Path, seed: int | None = None) -> Path:
    """Write world `name` into parent/name (library/, expected_index.json, requests.jsonl); another seed reseeds it."""
    script = GENERATORS[name]
    target = parent / name
    target.mkdir(parents=True, exist_ok=False)
    source = (HERE / script).read_text(encoding="utf-8")
    if seed is not None:
        source, n = re.subn(r"(?m)^SEED = \d+$", f"SEED = {seed}", source)
        assert n == 1, script
    (target / script).write_text(source, encoding="utf-8")
    shutil.copyfile(HERE / FORMATS, target / FORMATS)
    # -B: no __pycache__ beside the world (the folder holds the generator, its writers and what they wrote)
    out = subprocess.run([sys.executable, "-B", script], cwd=target, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise RuntimeError(f"{script} failed: {out.stderr[-2000:]}")
    return target
