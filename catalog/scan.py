"""Phase 1 of indexing: walk the folders and list the model entries on disk, stat only (no file is opened).

Symlink loops, unreadable folders, special files and names that are not UTF-8 survive as problems or as
entries that carry their error; a sidecar's change shows in its model's signature.
"""
from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from typing import Callable, Iterable

from catalog.probe import MODEL_EXTS, is_diffusers_folder, is_model_file

log = logging.getLogger(__name__)

# Files next to a model that change its card even when the model file does not.
_FOLDER_SIDECARS = ("README.md", "adapter_config.json")


@dataclass
class Found:
    """One entry seen on disk by the scan."""

    key: str  # the path stored in the catalog (always valid UTF-8)
    path: str  # the path to open (may differ from key when the name is not UTF-8)
    size: int
    mtime: float
    signature: str  # changes when the file or one of its sidecars changes
    error: str | None = None  # known before probing (special file, bad name, dangling link)


class FolderNotFound(FileNotFoundError):
    """A folder given to the indexer does not exist or is not a folder."""


def check_folders(folders: Iterable) -> list[str]:
    roots: list[str] = []
    for folder in folders:
        path = os.path.abspath(os.fspath(folder))
        if not os.path.exists(path):
            raise FolderNotFound(f"folder not found: {_printable(path)}")
        if not os.path.isdir(path) and not is_model_file(path):
            raise FolderNotFound(f"not a folder or model file: {_printable(path)}")
        if path not in roots:
            roots.append(path)
    # a folder inside another given folder is already covered
    return [r for r in roots if not any(r != o and is_under(r, [o]) for o in roots)]


def scan_folder(root: str, problems: list[str], unreadable: list[str],
                on_entry: Callable[[int], None] | None = None) -> dict[str, Found]:
    """Every model file / diffusers folder under `root` (or `root` itself), stat only, never raises."""
    found: dict[str, Found] = {}
    if not os.path.isdir(root):  # a single model file given directly
        _add_file(found, os.path.dirname(root), os.path.basename(root), {}, problems)
        return found
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            problems.append(f"{_printable(folder)}: cannot open folder: {exc.strerror or exc}")
            unreadable.append(folder)
            continue
        if (st.st_dev, st.st_ino) in visited:  # a symlink loop or a second link to a scanned folder
            continue
        visited.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            problems.append(f"{_printable(folder)}: cannot list folder: {exc.strerror or exc}")
            unreadable.append(folder)
            continue
        if any(e.name == "model_index.json" for e in entries) and _is_diffusers(folder):
            _add_diffusers(found, folder, problems)  # one entry: its files are components
            continue
        sidecars = _sidecar_index(entries)
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows symlinks; a dangling link is not a dir
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.path)
            elif _is_model_name(entry.name):
                _add_file(found, folder, entry.name, sidecars, problems, entry)
        stack.extend(sorted(subdirs, reverse=True))
        if on_entry:
            on_entry(len(found))
    return found


def _is_model_name(name: str) -> bool:
    """is_model_file for a bare name without building a Path (the scan calls it per directory entry)."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in MODEL_EXTS


def _is_diffusers(folder: str) -> bool:
    try:
        return is_diffusers_folder(folder)
    except OSError:
        return False


def _sidecar_index(entries) -> dict[str, list]:
    """Map each possible model base name to the non-model files that share it ("a" -> a.json, a.civitai.info)."""
    index: dict[str, list] = {}
    folder_wide = [e for e in entries if e.name in _FOLDER_SIDECARS]
    for entry in entries:
        name = entry.name
        if _is_model_name(name) or name in _FOLDER_SIDECARS:
            continue
        dot = name.find(".")
        while dot > 0:
            index.setdefault(name[:dot], []).append(entry)
            dot = name.find(".", dot + 1)
    index["\0folder"] = folder_wide
    return index


def _add_file(found: dict, folder: str, name: str, sidecars: dict, problems: list, entry=None) -> None:
    path = os.path.join(folder, name)
    key = catalog_key(path)
    try:
        st = entry.stat() if entry is not None else os.stat(path)
    except OSError as exc:
        kind = "a symlink whose target is missing" if os.path.islink(path) else f"cannot stat: {exc.strerror or exc}"
        found[key] = Found(key, path, 0, 0.0, "missing", error=f"{key}: {kind}")
        return
    error = None
    if not stat.S_ISREG(st.st_mode):  # FIFOs/devices would block or stream forever on open()
        error = f"{key}: not a regular file (a {_mode_name(st.st_mode)}); not opened"
    elif key != path:
        error = f"{key}: the path is not valid UTF-8 (a file or folder name); rename it to use it"
    base = name.rsplit(".", 1)[0]
    parts = [f"{st.st_size}:{st.st_mtime_ns}"]
    for side in sorted(sidecars.get(base, []) + sidecars.get("\0folder", []), key=lambda e: e.name):
        try:
            sst = side.stat()
            parts.append(f"{side.name}:{sst.st_size}:{sst.st_mtime_ns}")
        except OSError:
            continue
    found[key] = Found(key, path, st.st_size, st.st_mtime, "|".join(parts), error=error)


def _add_diffusers(found: dict, folder: str, problems: list) -> None:
    """A diffusers folder is one entry; its signature follows the files that describe it."""
    key = catalog_key(folder)
    parts, size, mtime = [], 0, 0.0
    for rel in ("model_index.json", "README.md", "unet/config.json", "text_encoder/config.json",
                "scheduler/scheduler_config.json"):
        try:
            st = os.stat(os.path.join(folder, rel))
        except OSError:
            continue
        parts.append(f"{rel}:{st.st_size}:{st.st_mtime_ns}")
        size += st.st_size
        mtime = max(mtime, st.st_mtime)
    error = None if key == folder else f"{key}: folder name is not valid UTF-8; rename it to use it"
    found[key] = Found(key, folder, size, mtime, "|".join(parts), error=error)


def catalog_key(path: str) -> str:
    """The path as stored: itself when it is valid UTF-8, else a readable escaped form."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


def _printable(path: str) -> str:
    from common.text import escape_controls

    return escape_controls(path)


def _mode_name(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def is_under(path: str, roots: Iterable[str]) -> bool:
    for root in roots:
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False
