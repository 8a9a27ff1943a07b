"""Where PersonalQ keeps its files: platformdirs locations, all moved by PERSONALQ_HOME."""
from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "PersonalQ"


def _home_override() -> Path | None:
    home = os.environ.get("PERSONALQ_HOME")
    return Path(home).expanduser() if home else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _app_dir(under_home: str, platform_dir: str) -> Path:
    """PERSONALQ_HOME/<under_home> when set, else platformdirs' `platform_dir` for the app; made if missing."""
    home = _home_override()
    if home:
        return _ensure(home / under_home)
    import platformdirs

    return _ensure(Path(getattr(platformdirs, platform_dir)(APP_NAME, appauthor=False)))


def data_dir() -> Path:
    """Databases, generated images, logs."""
    return _app_dir("data", "user_data_dir")


def cache_dir() -> Path:
    """Rebuildable files: quantized artifacts, assembled GGUF, embeddings cache."""
    return _app_dir("cache", "user_cache_dir")


def config_dir() -> Path:
    """User settings."""
    return _app_dir("config", "user_config_dir")


def default_db_path() -> Path:
    return data_dir() / "catalog.sqlite"


def log_dir() -> Path:
    return _ensure(data_dir() / "logs")


def outputs_dir() -> Path:
    return _ensure(data_dir() / "outputs")


# --- atomic writes and what killed writers leave behind ------------------------------------

TMP_MARK = ".tmp-"  # "<final name>.tmp-<pid>": a write in progress, or left by a process that died


def tmp_name(path: Path) -> Path:
    """The temp path next to `path` that an atomic write of it uses (same folder: rename stays atomic)."""
    path = Path(path)
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def sweep_stale_tmp(folder: Path, marks: tuple[str, ...] = (TMP_MARK,)) -> list[Path]:
    """Remove `*<mark><pid>` files/folders in `folder` whose writer process is gone; returns what went.

    Never raises: a sweep that cannot list or delete just leaves things for the next start."""
    import shutil

    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        for mark in marks:
            head, sep, pid = entry.name.rpartition(mark)
            if not sep or not head or not pid.isdigit() or pid_alive(int(pid)):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
            break
    return removed


class NotARegularFile(OSError):
    """The target exists and is a device, FIFO, socket or folder: an atomic write never replaces one."""


def special_file_kind(path) -> str | None:
    """What `path` is when it exists and is not a regular file ("folder", "FIFO", "socket", "character
    device", "block device"; a symlink is followed); None when it is a regular file or absent."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:  # a dangling or unreadable entry: the write itself will say why
        return None
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "special file"


def refuse_special_file(path) -> None:
    """Raise NotARegularFile when `path` exists and is not a regular file (renaming over it would
    replace a device node or a FIFO with our bytes)."""
    kind = special_file_kind(path)
    if kind is not None:
        import errno

        raise NotARegularFile(errno.EEXIST, f"{printable(str(path))} is a {kind}, not a regular file", str(path))


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` through a temp file in the same folder and a rename: readers see the old
    file or the new one, never part of one; a failed write (disk full) removes its temp file and raises.
    Only a regular file (or nothing) is ever replaced: a device, FIFO, socket or folder raises NotARegularFile."""
    path = Path(path)
    refuse_special_file(path)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        refuse_special_file(path)  # again just before the rename: something may have appeared meanwhile
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))


def describe_os_error(exc: OSError, path=None) -> str:
    """'No space left on device: /x/y' — the one line a user reads for an OSError."""
    import errno

    where = path if path is not None else (exc.filename or "")
    reason = exc.strerror or str(exc)
    if isinstance(exc, NotARegularFile):  # its message names the path already
        return reason
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif exc.errno in (errno.EROFS,):
        reason = "read-only file system"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    return f"{reason}: {printable(str(where))}" if where else reason


def printable(text: str) -> str:
    """`text` safe for one terminal line: control characters (newlines, ANSI escapes) and bytes
    that were not UTF-8 (surrogate escapes) shown as escapes, everything else as is."""
    from common.text import escape_controls

    return escape_controls(text)


def sweep_at_start() -> int:
    """Sweep what killed processes left in PersonalQ's own folders (settings, outputs, caches); returns
    how many went. Cheap (a few folder listings); never raises, never creates a folder."""
    roots = []
    try:
        home = _home_override()
        if home:
            roots = [home / "config", home / "data", home / "data" / "outputs", home / "cache",
                     home / "cache" / "quantized"]
        else:
            import platformdirs

            data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
            cache = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
            roots = [Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)), data, data / "outputs", cache,
                     cache / "quantized"]
    except Exception:  # noqa: BLE001 - a sweep must never stop the app from starting
        return 0
    outputs = roots[2]
    try:
        roots += [Path(e.path) for e in os.scandir(outputs) if e.is_dir(follow_symlinks=False)]  # day folders
    except OSError:
        pass
    removed = 0
    for root in roots:
        removed += len(sweep_stale_tmp(root, marks=(TMP_MARK, ".old-")))
    return removed
