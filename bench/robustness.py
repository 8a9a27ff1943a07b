"""`personalq bench robustness [--json] [--only NAME,...] [--list]`: replay the reliability probes of issue #21.

Every row of the issue's table is one probe: it provokes the failure (a full disk, a locked
catalog, a bad value, a hostile name) in a fresh PERSONALQ_HOME and checks the exit code, that
the user reads one line naming the cause, and that the catalog, the cache and the outputs
folder are intact afterwards. Full disks and read-only folders use a small tmpfs when this
process may mount one (root); the injected-OSError variant of the same probe always runs, so
a machine without mount rights still checks the code path.

Rows: {"probe", "variant" (injected | tmpfs | mknod | plain), "status" (PASS | FAIL | SKIP), "detail", "seconds"}.
Summary: counts per status; exit code 1 when any row fails.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class ProbeFailed(AssertionError):
    """The probe found the old behaviour (or a new failure); the message says what."""


class ProbeSkipped(Exception):
    """This variant cannot run here (no mount rights); the message says why."""


def check(condition, message: str) -> None:
    if not condition:
        raise ProbeFailed(message)


# --- running the CLI ------------------------------------------------------------------------------


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


# --- files the probes need ---------------------------------------------------------------------


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


# --- tmpfs ---------------------------------------------------------------------------------------


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


# --- the probes: one per row of the table (variants where the failure can be made two ways) ---


def probe_index_disk_full_injected(work: Path) -> str:
    """The catalog writer thread hits 'database or disk is full' mid-index: index stops (no hang), exit 1."""
    import sqlite3 as _sqlite3

    from catalog import store as store_mod

    home, db = work / "home", work / "catalog.sqlite"
    write_loras(work / "old", 3, "old")
    write_loras(work / "lib", 260, "new")  # over THREADED_MIN_FILES: the writer thread is used
    with personalq_home(home):
        code, _, _ = call_main(["index", str(work / "old"), "--db", str(db), "--no-embed", "-q"])
        check(code == 0, f"setup index failed: {code}")
        real, calls = store_mod.Store.upsert_card, {"n": 0}

        def failing(self, card, signature=None):
            calls["n"] += 1
            if calls["n"] > 70:
                raise _sqlite3.OperationalError("database or disk is full")
            return real(self, card, signature)

        store_mod.Store.upsert_card = failing
        try:
            code, _, err = call_main(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], timeout=120)
        finally:
            store_mod.Store.upsert_card = real
    check(code == 1, f"exit {code}, expected 1")
    line = one_line(err, "full")
    catalog_intact(db, at_least=3)
    return line


def probe_index_disk_full_tmpfs(work: Path) -> str:
    """The same on a real 3 MB tmpfs filled up: index exits 1 with the cause, the catalog stays readable."""
    home, mnt = work / "home", work / "mnt"
    write_loras(work / "old", 3, "old")
    write_loras(work / "lib", 400, "new")
    with tmpfs(mnt, "3m"):
        db = mnt / "catalog.sqlite"
        code, _, err = run_cli(["index", str(work / "old"), "--db", str(db), "--no-embed", "-q"], home)
        check(code == 0, f"setup index failed: {code} {err[-300:]}")
        fill(mnt, 48 * 1024)
        code, _, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "--no-hash", "-q"],
                               home, timeout=180)
        check(code == 1, f"exit {code}, expected 1: {err[-400:]!r}")
        line = one_line(err, "full")
        (mnt / "filler.bin").unlink()
        catalog_intact(db, at_least=3)
    return line


def probe_locked_catalog(work: Path) -> str:
    """Another process holds the write lock longer than the store waits: the cards are listed, exit 1;
    a rerun once the lock is gone stores them all."""
    home, db = work / "home", work / "catalog.sqlite"
    write_loras(work / "lib", 5)
    code, _, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home)
    check(code == 0, f"setup index failed: {code} {err[-300:]}")
    write_loras(work / "lib", 3, "extra")  # three new files
    holder = sqlite3.connect(str(db), timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home,
                                 PERSONALQ_DB_WAIT=1)
    finally:
        holder.rollback()
        holder.close()
    check(code == 1, f"exit {code} while the catalog was locked, expected 1 (out: {out[-200:]!r})")
    lines = [line for line in err.splitlines() if line.strip()]
    said = [line for line in lines if "could not be stored" in line]
    check(said, f"no 'could not be stored' line: {err[-400:]!r}")
    listed = [line for line in lines if "not stored:" in line]
    check(len(listed) == 3 and all("extra_000" in line for line in listed), f"expected 3 listed cards: {lines}")
    count = catalog_intact(db, at_least=5)
    check(count == 5, f"catalog changed while locked: {count} cards")
    code, _, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home)
    check(code == 0 and catalog_intact(db) == 8, f"rerun: exit {code}, {err[-300:]!r}")
    return said[0]


def probe_lock_released_in_time(work: Path) -> str:
    """A lock held for 1.5 s is waited out with backoff: exit 0, every card stored."""
    home, db = work / "home", work / "catalog.sqlite"
    write_loras(work / "lib", 2)
    code, _, _ = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home)
    check(code == 0, "setup index failed")
    write_loras(work / "lib", 6)
    holder = sqlite3.connect(str(db), timeout=5, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(1.5, holder.rollback)
    timer.start()
    try:
        code, out, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home,
                                 PERSONALQ_DB_WAIT=60)
    finally:
        timer.join()
        holder.close()
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    check(catalog_intact(db) == 6, "not every card stored after the lock went")
    return out.strip().splitlines()[-1]


def _generate_rejects(work: Path, flags: list[str], *words: str) -> str:
    home = work / "home"
    with personalq_home(home):
        code, out, err = call_main(["generate", "a photo of a dog", "--checkpoint", str(work / "none.safetensors"),
                                    "--out", str(work / "out.png"), *flags])
    check(code == 2, f"exit {code}, expected 2")
    line = one_line(err, *words)
    check(not (work / "out.png").exists() and not tree(home / "data" / "outputs"), "an image was written")
    return line


def probe_guidance_not_finite(work: Path) -> str:
    lines = [_generate_rejects(work, [f"--guidance={value}"], "guidance", "finite") for value in ("inf", "nan", "-inf")]
    return lines[0]


def probe_zero_values(work: Path) -> str:
    lines = [_generate_rejects(work, ["--steps", "0"], "steps", "between"),
             _generate_rejects(work, ["--width", "0"], "width"),
             _generate_rejects(work, ["--height", "0"], "height")]
    return lines[0]


def probe_huge_values(work: Path) -> str:
    lines = [_generate_rejects(work, ["--steps", "100000"], "steps", "150"),
             _generate_rejects(work, ["--width", "100000"], "width", "2048"),
             _generate_rejects(work, ["--height", "4100"], "height", "2048"),
             _generate_rejects(work, ["--width", "100"], "width", "multiple of 8")]
    return lines[0]


def _generate_to(work: Path, out: Path, *words: str, checkpoint: Path | None = None) -> str:
    """generate --out OUT with the tiny checkpoint: exit 2, one line with `words`, nothing written."""
    home = work / "home"
    ckpt = checkpoint or tiny_checkpoint(work / "models" / "tiny.safetensors")
    before = tree(out.parent) if out.parent.exists() else {}
    with personalq_home(home):
        code, _, err = call_main(["generate", "a photo of a dog", "--checkpoint", str(ckpt), "--steps", "2",
                                  "--width", "64", "--height", "64", "--quant", "none", "--seed", "1",
                                  "--out", str(out), "--db", str(work / "catalog.sqlite"), "--quiet"])
    check(code == 2, f"exit {code}, expected 2: {err[-300:]!r}")
    line = one_line(err, *words)
    if out.parent.exists():
        check(tree(out.parent) == before, f"output folder changed: {tree(out.parent)}")
        no_leftovers(out.parent)
    no_leftovers(home)
    return line


def probe_out_is_a_folder(work: Path) -> str:
    (work / "outs" / "existing").mkdir(parents=True)
    return _generate_to(work, work / "outs" / "existing", "folder")


def _out_special_file(work: Path, nodes: list[Path]) -> str:
    """generate --out NODE for each special file: exit 2, one line, the node still what it was; an atomic
    write to it (what save_png and the settings use) raises and leaves no temp file."""
    import stat

    import common.paths as cp

    kinds = {node: stat.S_IFMT(os.lstat(node).st_mode) for node in nodes}
    lines = [_generate_to(work, node, "not a regular file") for node in nodes]
    for node in nodes:
        try:
            cp.atomic_write_bytes(node, b"\x89PNG")
            raise ProbeFailed(f"atomic_write_bytes replaced {node.name}")
        except cp.NotARegularFile:
            pass
    for node, kind in kinds.items():
        check(node.exists() and stat.S_IFMT(os.lstat(node).st_mode) == kind, f"{node.name} was replaced")
    no_leftovers(nodes[0].parent)
    return lines[0]


def probe_out_special_file(work: Path) -> str:
    """--out naming a FIFO or a socket (what replaced /dev/full as root): refused before any work, kept."""
    import socket

    folder = work / "special"
    folder.mkdir()
    fifo = folder / "fifo.png"
    os.mkfifo(fifo)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.png"))
        return _out_special_file(work, [fifo, folder / "sock.png"])


def probe_out_device_node(work: Path) -> str:
    """--out naming a character device (a /dev/full twin made with mknod here, never the real one)."""
    import stat

    folder = work / "special"
    folder.mkdir()
    node = folder / "full.png"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 7))  # the numbers of /dev/full
    except (PermissionError, AttributeError, OSError) as exc:
        raise ProbeSkipped(f"cannot create a device node here: {exc}") from None
    return _out_special_file(work, [node])


def probe_out_read_only(work: Path) -> str:
    out_dir = work / "ro"
    out_dir.mkdir()
    (out_dir / "kept.txt").write_text("kept")
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    with read_only_folder(out_dir):
        return _generate_to(work, out_dir / "image.png", "read-only", checkpoint=ckpt)


def probe_out_read_only_injected(work: Path) -> str:
    """The output folder refuses writes (EROFS injected into the pre-generation check): exit 2, nothing made."""
    import builtins

    import engine.generate as gen

    out_dir = work / "outs"
    out_dir.mkdir()

    def read_only_open(file, mode="r", *a, **k):
        if "w" in mode and str(file).startswith(str(out_dir)):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return builtins.open(file, mode, *a, **k)

    gen.open = read_only_open  # a module global shadows the builtin for check_output_path only
    try:
        return _generate_to(work, out_dir / "image.png", "read-only")
    finally:
        del gen.open


def probe_out_disk_full_injected(work: Path) -> str:
    """A disk that reports no room: refused before generating; a PNG write that fails leaves no file."""
    import errno as _errno

    from engine import png_info

    out_dir = work / "outs"
    out_dir.mkdir()
    real = shutil.disk_usage
    shutil.disk_usage = lambda p: real(p)._replace(free=4096)
    try:
        line = _generate_to(work, out_dir / "image.png", "no space")
    finally:
        shutil.disk_usage = real
    from PIL import Image

    import common.paths as cp

    def full(path, data):  # the write itself fails half-way
        tmp = cp.tmp_name(Path(path))
        tmp.write_bytes(data[:10])
        try:
            raise OSError(_errno.ENOSPC, "No space left on device", str(tmp))
        finally:
            tmp.unlink()

    saved = cp.atomic_write_bytes
    cp.atomic_write_bytes = full
    try:
        try:
            png_info.save_png(Image.new("RGB", (8, 8)), out_dir / "b.png", {"prompt": "x"})
            raise ProbeFailed("save_png did not raise on a full disk")
        except OSError:
            pass
    finally:
        cp.atomic_write_bytes = saved
    check(not (out_dir / "b.png").exists(), "a PNG was left after a failed write")
    no_leftovers(out_dir)
    return line


def probe_out_disk_full_tmpfs(work: Path) -> str:
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    with tmpfs(work / "full", "1m"):
        fill(work / "full", 8 * 1024)
        return _generate_to(work, work / "full" / "image.png", "space", checkpoint=ckpt)


def probe_index_db_read_only(work: Path) -> str:
    home = work / "home"
    write_loras(work / "lib", 2)
    with read_only_folder(work / "ro"):
        code, _, err = run_cli(["index", str(work / "lib"), "--db", str(work / "ro" / "catalog.sqlite"), "-q",
                                "--no-embed"], home)
    check(code == 2, f"exit {code}, expected 2: {err[-300:]!r}")
    return one_line(err, "cannot open the catalog", "read-only")


def probe_index_db_unopenable_injected(work: Path) -> str:
    """--db inside a path whose 'folder' is a file (always runs): one line, exit 2."""
    home = work / "home"
    write_loras(work / "lib", 2)
    (work / "afile").write_text("x")
    code, _, err = run_cli(["index", str(work / "lib"), "--db", str(work / "afile" / "catalog.sqlite"), "-q"], home)
    check(code == 2, f"exit {code}, expected 2: {err[-300:]!r}")
    return one_line(err, "cannot open the catalog")


def _quantize_full_cache(work: Path, inject: bool) -> str:
    from engine import quantize as q
    from engine.pipeline_tiny import build_tiny_pipeline

    home = work / "home"
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    cache = home / "cache" / "quantized"
    cache.mkdir(parents=True, exist_ok=True)
    stale = cache / "old-artifact.tmp-999999"  # a killed run's folder: no such pid
    stale.mkdir()
    (stale / "unet.safetensors").write_bytes(b"partial")
    real_save = q.save_artifact

    def full_save(*a, **k):
        import safetensors.torch as st

        real_file = st.save_file

        def no_room(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"\0" * 16)
            raise Exception('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })')

        st.save_file = no_room
        try:
            return real_save(*a, **k)
        finally:
            st.save_file = real_file

    if inject:
        q.save_artifact = full_save
    try:
        with personalq_home(home):
            code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu"])
            check(code == 1, f"quantize exit {code}, expected 1: {err[-300:]!r}")
            line = one_line(err, "could not be cached", "no space")
            check(not stale.exists(), "a dead process's temp folder was not swept")
            no_leftovers(home / "cache")
            result = q.quantize_on_import(ckpt, "taq-w8a8", lambda: build_tiny_pipeline(seed=0))
            check(result.artifact is None and result.warning and "no space" in result.warning,
                  f"quantize-on-import did not fall back: {result}")
            check(q.quant_spec_of(result.unet) == "taq-w8a8", "the in-memory UNet is not the quantized one")
            no_leftovers(home / "cache")
    finally:
        q.save_artifact = real_save
    return line


def probe_quantize_cache_full_injected(work: Path) -> str:
    return _quantize_full_cache(work, inject=True)


def probe_generate_cache_full(work: Path) -> str:
    """generate --quant with a cache that cannot take the artifact: the image is still made (quantized in
    memory for this session), exit 0, nothing half-written in the cache."""
    from engine import quantize as q

    home = work / "home"
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    out = work / "outs" / "image.png"
    real_save = q.save_artifact

    def no_room(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(home / "cache"))

    q.save_artifact = no_room
    try:
        with personalq_home(home):
            code, _, err = call_main(["generate", "a photo of a dog", "--checkpoint", str(ckpt), "--steps", "2",
                                      "--width", "64", "--height", "64", "--quant", "taq-w8a8", "--seed", "1",
                                      "--out", str(out), "--db", str(work / "catalog.sqlite"), "--quiet"])
    finally:
        q.save_artifact = real_save
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    check(out.is_file() and out.stat().st_size > 0, "no image")
    from engine.png_info import read_png_parameters

    check(read_png_parameters(out).get("quant_spec") == "taq-w8a8", "the image does not say taq-w8a8")
    no_leftovers(home)
    return "image written with taq-w8a8 quantized in memory; nothing cached"


def probe_quantize_cache_full_tmpfs(work: Path) -> str:
    home = work / "home"
    (home / "cache").mkdir(parents=True)
    with tmpfs(home / "cache", "96k"):
        return _quantize_full_cache(work, inject=False)


def probe_manifest_not_an_object(work: Path) -> str:
    from engine import quantize as q

    home = work / "home"
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    with personalq_home(home):
        code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
        check(code == 0, f"first quantize: exit {code} {err[-300:]!r}")
        folder = q.artifact_dir(ckpt, "taq-w8a8")
        for bad in ("[1, 2, 3]", '"text"', '{"spec": [1], "format": 1}'):
            (folder / "manifest.json").write_text(bad)
            code, out, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
            check(code == 0, f"exit {code} with manifest {bad}: {err[-300:]!r}")
            check("Traceback" not in err, "traceback")
            result = json.loads(out.strip().splitlines()[-1])
            check(not result["from_cache"], "a bad manifest was used")
            check(isinstance(json.loads((folder / "manifest.json").read_text()), dict), "manifest not rebuilt")
    return "rebuilt from a manifest that is a list, a string and an object with a list spec"


def _tiny_catalog(work: Path) -> Path:
    db = work / "catalog.sqlite"
    ckpt = tiny_checkpoint(work / "models" / "robot head.safetensors")
    (work / "models" / "robot head.json").write_text(json.dumps({"activation text": "zxrobot", "description": "a tin robot head"}))
    code, _, err = call_main(["index", str(ckpt.parent), "--db", str(db), "--no-embed", "-q"])
    check(code == 0, f"setup index failed: {err[-300:]!r}")
    return db


def probe_select_non_utf8(work: Path) -> str:
    home = work / "home"
    with personalq_home(home):
        db = _tiny_catalog(work)
        code, out, err = call_main(["select", "robot \udcff head", "--no-llm", "--db", str(db), "--json"])
    check(code in (0, 3, 4) and "Traceback" not in err, f"exit {code}: {err[-300:]!r}")
    check(json.loads(out)["status"] in ("selected", "clarify", "none"), f"not a select answer: {out[:200]!r}")
    return f"exit {code}, status {json.loads(out)['status']}"


def probe_ansi_in_request(work: Path) -> str:
    home = work / "home"
    with personalq_home(home):
        db = _tiny_catalog(work)
        code, out, err = call_main(["select", "\x1b[31mrobot head\x1b[0m\x07", "--no-llm", "--db", str(db)])
    check(code in (0, 3, 4), f"exit {code}: {err[-300:]!r}")
    check("\x1b" not in out + err and "\x07" not in out + err, f"escape echoed raw: {out!r}")
    return out.strip().splitlines()[0] if out.strip() else f"exit {code}"


def probe_generate_non_utf8_checkpoint(work: Path) -> str:
    home = work / "home"
    folder = work / "models"
    folder.mkdir(parents=True)
    name = os.fsdecode(b"tiny \xff robot.safetensors")
    ckpt = tiny_checkpoint(folder / name)
    out = work / "image.png"
    with personalq_home(home):
        code, _, err = call_main(["generate", "a photo of a robot", "--checkpoint", str(ckpt), "--steps", "2",
                                  "--width", "64", "--height", "64", "--quant", "none", "--seed", "1",
                                  "--out", str(out), "--db", str(work / "catalog.sqlite"), "--quiet"])
    check(code == 0, f"exit {code}: {err[-400:]!r}")
    from engine.png_info import read_png_parameters

    params = read_png_parameters(out)
    check("\\xff" in params.get("checkpoint", ""), f"checkpoint not recorded escaped: {params.get('checkpoint')!r}")
    return f"PNG written, checkpoint recorded as {params['checkpoint']!r}"


def probe_top_folder_not_utf8(work: Path) -> str:
    home = work / "home"
    top = Path(os.fsdecode(bytes(work) + b"/lib \xff"))
    write_loras(top, 2)
    db = work / "catalog.sqlite"
    code, out, err = run_cli(["index", str(top), "--db", str(db), "--no-embed", "-q"], home)
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    check("indexed 2 entries" in out and "2 with errors" in out, f"entries not stored or not said: {out!r}")
    check(out.count("not valid UTF-8") == 2 and "\\xff" in out, f"the cause is not shown: {out!r}")
    catalog_intact(db, at_least=2)
    return out.strip().splitlines()[0]


def probe_quantize_diffusers_folder(work: Path) -> str:
    from engine.pipeline_tiny import build_tiny_pipeline

    home = work / "home"
    folder = work / "tiny-diffusers"
    build_tiny_pipeline(seed=0).save_pretrained(str(folder))
    with personalq_home(home):
        code, out, err = call_main(["quantize", str(folder), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    result = json.loads(out.strip().splitlines()[-1])
    check(Path(result["artifact"]).is_dir(), "no artifact")
    return f"artifact {Path(result['artifact']).name}"


def probe_quantize_with_base(work: Path) -> str:
    """A single file shaped unlike its family's shipped config loads only with --base (its base's configs)."""
    import copy

    from diffusers import UNet2DConditionModel

    from engine.pipeline_tiny import TINY_UNET, build_tiny_pipeline, write_single_file_checkpoint

    home = work / "home"
    pipe = build_tiny_pipeline(seed=0)
    pipe.unet = UNet2DConditionModel(**{**copy.deepcopy(TINY_UNET), "layers_per_block": 1}).eval()
    base = work / "base"
    pipe.save_pretrained(str(base))
    ckpt = write_single_file_checkpoint(pipe, work / "models" / "odd.safetensors")
    with personalq_home(home):
        code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu"])
        check(code == 2, f"without --base: exit {code}, expected 2: {err[-300:]!r}")
        line = one_line(err, "--base")
        code, out, err = call_main(["quantize", str(ckpt), "--base", str(base), "--quant", "taq-w8a8",
                                    "--device", "cpu", "--json"])
    check(code == 0, f"with --base: exit {code}: {err[-300:]!r}")
    check(Path(json.loads(out.strip().splitlines()[-1])["artifact"]).is_dir(), "no artifact")
    return line


def probe_unknown_quant_spec(work: Path) -> str:
    """--quant nonsense is refused before any model loads (generate and quantize)."""
    import engine.loading as loading

    home = work / "home"
    ckpt = work / "tiny.safetensors"
    ckpt.write_bytes(b"not even read")
    real = loading.load_pipeline, loading.load_base

    def no_load(*a, **k):
        raise ProbeFailed("a model was loaded before the spec was checked")

    loading.load_pipeline = loading.load_base = no_load
    try:
        with personalq_home(home):
            code, _, err = call_main(["generate", "x", "--checkpoint", str(ckpt), "--quant", "taq-w9a9"])
            check(code == 2, f"generate exit {code}")
            line = one_line(err, "taq-w9a9")
            code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w9a9"])
            check(code == 2, f"quantize exit {code}")
            one_line(err, "taq-w9a9")
    finally:
        loading.load_pipeline, loading.load_base = real
    return line


def probe_newline_in_file_name(work: Path) -> str:
    home = work / "home"
    write_loras(work / "lib", 2)
    (work / "lib" / "lora_0000.safetensors").rename(work / "lib" / "two\nlines\x1b[2J.safetensors")
    db = work / "catalog.sqlite"
    with personalq_home(home):
        code, _, err = call_main(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"])
        check(code == 0, f"index exit {code}")
        code, out, err = call_main(["list", "--db", str(db)])
    check(code == 0, f"list exit {code}")
    lines = out.rstrip("\n").split("\n")
    check(len(lines) == 2 + 2, f"the table is not one line per entry: {lines}")
    check("\x1b" not in out and "two\\nlines\\x1b[2J" in out, f"not escaped: {out!r}")
    return lines[1].strip()


def probe_unexpected_error(work: Path) -> str:
    """Any error the commands do not expect: one line with the log's path; the traceback is in the log."""
    import commands.list_cmd as list_cmd

    home = work / "home"
    real = list_cmd.run

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    list_cmd.run = boom
    try:
        with personalq_home(home):
            code, _, err = call_main(["list"])
    finally:
        list_cmd.run = real
    check(code == 1, f"exit {code}, expected 1")
    line = one_line(err, "boom", "details in")
    log_path = Path(line.rsplit("details in ", 1)[1].rstrip(")"))
    check(log_path.is_file() and "RuntimeError: boom" in log_path.read_text(errors="replace"),
          f"no traceback in {log_path}")
    return line


def probe_settings_disk_full(work: Path) -> str:
    """Saving settings on a full disk raises and keeps the old file; a dead writer's temp file is swept."""
    import common.paths as cp
    from common.settings import Settings, load_settings, save_settings, settings_path

    home = work / "home"
    with personalq_home(home):
        save_settings(Settings(steps=12))
        stale = settings_path().with_name("settings.json.tmp-999999")
        stale.write_text("{")
        real_fsync = os.fsync

        def no_room(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        cp.os.fsync = no_room
        try:
            try:
                save_settings(Settings(steps=30))
                raise ProbeFailed("save_settings did not raise on a full disk")
            except OSError:
                pass
        finally:
            cp.os.fsync = real_fsync
        check(load_settings().steps == 12, "the old settings were lost")
        check(not stale.exists(), "a dead writer's temp file was not swept")
        no_leftovers(home / "config")
    return "old settings kept, stale temp file swept"


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
