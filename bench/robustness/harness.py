"""What the robustness probes share: running the CLI in a fresh PERSONALQ_HOME, reading its one line,
checking the catalog and folders are intact, tiny model files, and tmpfs / read-only mounts."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ProbeFailed(AssertionError):
    """The probe found the old behaviour (or a new failure); the message says what."""


class ProbeSkipped(Exception):
    """This variant cannot run here (no mount rights); the message says why."""


def check(condition, message: str) -> None:
    if not condition:
        raise ProbeFailed(message)


@contextlib.contextmanager
def personalq_home(home: Path, **env):
    """PERSONALQ_HOME (and other variables) set for in-process calls, restored after."""
    saved = {k: os.environ.get(k) for k in ["PERSONALQ_HOME", *env]}
    os.environ["PERSONALQ_HOME"] = str(home)
    for key, value in env.items():
        os.environ[key] = str(value)
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def call_main(args: list[str], timeout: float | None = None) -> tuple[int, str, str]:
    """main.main(args) in this process: (exit code, stdout, stderr). With `timeout`, a hang is a ProbeFailed."""
    import main

    out, err = io.StringIO(), io.StringIO()
    result: dict = {}

    def target():
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result["code"] = main.main(list(args))
            except SystemExit as exc:  # argparse
                result["code"] = exc.code if isinstance(exc.code, int) else 2
            except BaseException as exc:  # noqa: BLE001 - a crash is what the probe looks for
                result["raised"] = exc

    if timeout is None:
        target()
    else:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(timeout)
        check(not thread.is_alive(), f"`personalq {' '.join(args[:2])}` still running after {timeout:.0f} s (hang)")
    if "raised" in result:
        raise ProbeFailed(f"raised {type(result['raised']).__name__}: {result['raised']}")
    return int(result["code"]), out.getvalue(), err.getvalue()


def run_cli(args: list[str], home: Path, timeout: float = 120, **env) -> tuple[int, str, str]:
    """`python main.py ARGS` in a subprocess (for probes that must not hang the caller)."""
    full_env = {**os.environ, "PERSONALQ_HOME": str(home), **{k: str(v) for k, v in env.items()}}
    try:
        done = subprocess.run([sys.executable, str(REPO / "main.py"), *args], capture_output=True, env=full_env,
                              timeout=timeout, cwd=str(REPO))
    except subprocess.TimeoutExpired as exc:
        raise ProbeFailed(f"`personalq {' '.join(map(str, args[:2]))}` still running after {timeout:.0f} s (hang)") from exc
    decode = lambda b: b.decode("utf-8", "backslashreplace")  # noqa: E731
    return done.returncode, decode(done.stdout), decode(done.stderr)


def one_line(err: str, *words: str) -> str:
    """The stderr of a failed command: exactly one line, naming the cause (every word in `words`)."""
    lines = [line for line in err.splitlines() if line.strip()]
    check(len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err[-600:]!r}")
    check("Traceback" not in err, f"traceback on stderr: {err[-600:]!r}")
    for word in words:
        check(word.lower() in lines[0].lower(), f"the line does not say {word!r}: {lines[0]!r}")
    return lines[0]


def catalog_intact(db: Path, at_least: int = 0) -> int:
    """integrity_check ok, and at least `at_least` cards still there; returns the card count."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        count = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM checkpoints_fts").fetchone()[0]
        errors = conn.execute("SELECT count(*) FROM checkpoints WHERE error IS NOT NULL").fetchone()[0]
    finally:
        conn.close()
    check(ok == "ok", f"catalog {db} damaged: {ok}")
    check(count >= at_least, f"catalog lost cards: {count} < {at_least}")
    check(fts == count - errors, f"catalog FTS out of step: {fts} rows for {count - errors} readable cards")
    return count


def tree(folder: Path) -> dict[str, int]:
    """relative path -> size of every file under `folder` (what 'intact' compares)."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def no_leftovers(folder: Path) -> None:
    """No temp files or 0-byte PNGs under `folder`."""
    for path in Path(folder).rglob("*") if Path(folder).exists() else []:
        check(".tmp-" not in path.name, f"temp file left behind: {path}")
        check(not (path.suffix == ".png" and path.is_file() and path.stat().st_size == 0), f"0-byte PNG left: {path}")


def write_loras(folder: Path, n: int, prefix: str = "lora") -> list[Path]:
    """n tiny kohya-style LoRA files (a few KB each), without torch."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(n):
        rng = np.random.default_rng(i)
        key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
        tensors = {f"{key}.lora_down.weight": rng.standard_normal((2, 768)).astype(np.float16),
                   f"{key}.lora_up.weight": rng.standard_normal((320, 2)).astype(np.float16),
                   f"{key}.alpha": np.array(2.0, dtype=np.float16)}
        path = folder / f"{prefix}_{i:04d}.safetensors"
        save_file(tensors, str(path), metadata={"ss_output_name": f"{prefix} {i}", "ss_base_model_version": "sd_v1"})
        written.append(path)
    return written


def tiny_checkpoint(path: Path) -> Path:
    """The tiny test pipeline as a single-file checkpoint (loads in about a second)."""
    from engine.pipeline_tiny import build_tiny_pipeline, write_single_file_checkpoint

    return write_single_file_checkpoint(build_tiny_pipeline(seed=0), path)


def can_mount() -> bool:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(tempfile.mkdtemp(prefix="pq_mount_"))
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True)
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], capture_output=True)
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "3m", read_only: bool = False):
    """A size-limited tmpfs at `folder` (created), unmounted after; ProbeSkipped where mounting is not allowed."""
    if not can_mount():
        raise ProbeSkipped("cannot mount a tmpfs here (needs root); the injected variant covers this row")
    folder.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=0777" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ProbeSkipped(f"mount failed: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of `folder` so that about `leave` bytes stay free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "filler.bin", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


@contextlib.contextmanager
def read_only_folder(folder: Path):
    """`folder` made read-only the way root also feels it: a read-only bind mount of itself."""
    if not can_mount():
        raise ProbeSkipped("cannot mount here (needs root)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ProbeSkipped(f"bind mount failed: {done.stderr.strip()}")
    try:
        done = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            raise ProbeSkipped(f"read-only remount failed: {done.stderr.strip()}")
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@contextlib.contextmanager
def write_lock_held(db: Path, release_after: float | None = None):
    """Another process's write lock on the catalog, held for the block (or let go after `release_after` s)."""
    holder = sqlite3.connect(str(db), timeout=5, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(release_after, holder.rollback) if release_after is not None else None
    if timer is not None:
        timer.start()
    try:
        yield db
    finally:
        if timer is not None:
            timer.join()
        else:
            holder.rollback()
        holder.close()
