"""Probes of issue #21 where a disk or a lock fails: a full disk or cache, a read-only folder, a locked or
unopenable catalog. Each has an injected-OSError variant that runs anywhere and a tmpfs one that needs root."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from bench.robustness.harness import (
    ProbeFailed,
    ProbeSkipped,
    call_main,
    catalog_intact,
    check,
    fill,
    no_leftovers,
    one_line,
    personalq_home,
    read_only_folder,
    run_cli,
    tiny_checkpoint,
    tmpfs,
    tree,
    write_lock_held,
    write_loras,
)


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
    with write_lock_held(db):
        code, out, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home,
                                 PERSONALQ_DB_WAIT=1)
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
    with write_lock_held(db, release_after=1.5):
        code, out, err = run_cli(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"], home,
                                 PERSONALQ_DB_WAIT=60)
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    check(catalog_intact(db) == 6, "not every card stored after the lock went")
    return out.strip().splitlines()[-1]


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
    from engine import artifacts as q
    from engine.pipeline_tiny import build_tiny_pipeline
    from engine.quantize import quant_spec_of

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
            check(quant_spec_of(result.unet) == "taq-w8a8", "the in-memory UNet is not the quantized one")
            no_leftovers(home / "cache")
    finally:
        q.save_artifact = real_save
    return line


def probe_quantize_cache_full_injected(work: Path) -> str:
    return _quantize_full_cache(work, inject=True)


def probe_generate_cache_full(work: Path) -> str:
    """generate --quant with a cache that cannot take the artifact: the image is still made (quantized in
    memory for this session), exit 0, nothing half-written in the cache."""
    from engine import artifacts as q

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
