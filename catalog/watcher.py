"""Keep the catalog live while the app runs: re-index the folders that change on disk.

watchdog delivers raw events; we collect the touched paths, wait until each has been quiet
and its size/mtime stopped changing (a file still being copied is retried until stable),
then re-index the smallest enclosing folder — fast pass first (searchable within ~1 s),
hashes and embeddings after. A diffusers folder is re-indexed as a whole.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Iterable

from catalog.indexer import IndexAborted, IndexReport, index_folders
from catalog.probe import is_model_file
from catalog.scan import FolderNotFound
from catalog.store import Store

log = logging.getLogger(__name__)

# Extensions whose changes can change a card (model files are recognised by catalog.probe).
_SIDECAR_EXTS = (".json", ".info", ".txt", ".md", ".png", ".jpg", ".jpeg", ".webp")


class FolderWatcher:
    """Watch folders and re-index what changes; `on_change(report)` is called from the worker thread."""

    def __init__(self, folders: Iterable, store: Store, on_change: Callable[[IndexReport], None] | None = None,
                 quiet: float = 0.3, poll: float = 0.1, compute_hashes: bool = True, embed: bool = False):
        self.folders = [os.path.abspath(os.fspath(f)) for f in folders]
        for folder in self.folders:
            if not os.path.isdir(folder):
                raise FolderNotFound(f"cannot watch {folder}: not a folder")
        self.store = store
        self.on_change = on_change
        self.quiet = quiet  # seconds without events (and with a stable size) before re-indexing a path
        self.poll = poll
        self.compute_hashes = compute_hashes
        self.embed = embed
        self._pending: dict[str, list] = {}  # path -> [last event time, last (size, mtime_ns) seen]
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._observer = None
        self._worker: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FolderWatcher":
        from watchdog.observers import Observer

        if self._observer is not None:
            return self
        self._stopping.clear()
        handler = _Handler(self._note)
        observer = Observer()
        for folder in self.folders:
            observer.schedule(handler, folder, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._worker = threading.Thread(target=self._run, name="catalog-watcher", daemon=True)
        self._worker.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; waits for a re-index in progress to finish."""
        if self._observer is None:
            return
        self._stopping.set()
        self._wake.set()
        self._observer.stop()
        self._observer.join(timeout)
        if self._worker:
            self._worker.join(timeout)
        self._observer = self._worker = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self) -> bool:
        return self._observer is not None

    # --- events --------------------------------------------------------------------------
    def _note(self, path: str) -> None:
        sample = _sample(path)  # size/mtime at the event: compared again once the path is quiet
        with self._lock:
            self._pending[path] = [time.monotonic(), sample]
        self._wake.set()

    def _ready_paths(self) -> list[str]:
        """Paths with no event for `quiet` seconds whose size/mtime did not move meanwhile."""
        now = time.monotonic()
        ready = []
        with self._lock:
            for path, entry in list(self._pending.items()):
                if now - entry[0] < self.quiet:
                    continue
                sample = _sample(path)
                if sample is not None and sample != entry[1]:  # still growing without events: wait again
                    entry[0], entry[1] = now, sample
                    continue
                ready.append(path)
                del self._pending[path]
        return ready

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wake.wait(self.poll)
                self._wake.clear()
                ready = self._ready_paths()
                if ready and not self._stopping.is_set():
                    self._reindex(ready)
        finally:
            self.store.release_thread()

    def _reindex(self, paths: list[str]) -> None:
        targets = _targets(paths, self.folders)
        if not targets:
            return
        try:
            report = index_folders(targets, self.store, compute_hashes=False, embed=False,
                                   should_stop=self._stopping.is_set)
            self._notify(report)
            if (self.compute_hashes or self.embed) and not self._stopping.is_set():
                later = index_folders(targets, self.store, compute_hashes=self.compute_hashes, embed=self.embed,
                                      should_stop=self._stopping.is_set)
                if later.hashed or later.embedded or later.added or later.updated or later.removed:
                    self._notify(later)
        except FolderNotFound:  # the folder went away between the event and now: its parent is queued too
            pass
        except IndexAborted as exc:  # disk full / read-only catalog: say so (the next change retries)
            log.error("re-indexing %s stopped: %s", targets, exc)
            exc.report.problems.append(f"catalog not updated: {exc}")
            self._notify(exc.report, force=True)
        except Exception:  # the watcher must outlive any one bad re-index
            log.exception("re-indexing %s failed", targets)

    def _notify(self, report: IndexReport, force: bool = False) -> None:
        changed = report.added or report.updated or report.removed or report.hashed or report.embedded
        if self.on_change and (force or changed or report.not_stored):
            try:
                self.on_change(report)
            except Exception:
                log.exception("on_change callback failed")


class _Handler:
    """watchdog event handler that only records which paths matter."""

    def __init__(self, note: Callable[[str], None]):
        self.note = note

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        if event.is_directory and kind in ("modified", "attrib"):
            return  # a folder's own mtime changes with every file event we already get
        for raw in (event.src_path, getattr(event, "dest_path", "") or ""):
            if not raw:
                continue
            path = os.fsdecode(raw)
            if event.is_directory or _relevant(path):
                self.note(path)


def _relevant(path: str) -> bool:
    name = os.path.basename(path).lower()
    return is_model_file(name) or name.endswith(_SIDECAR_EXTS)


def _sample(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone: ready to be dropped from the catalog
    return (st.st_size, st.st_mtime_ns)


def _targets(paths: list[str], roots: list[str]) -> list[str]:
    """The folders to re-index for these changed paths: each path's folder (or enclosing diffusers folder)."""
    targets: set[str] = set()
    for path in paths:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        root = next((r for r in roots if folder == r or folder.startswith(r + os.sep)), None)
        if root is None:
            continue
        while folder != root and not os.path.isdir(folder):  # deleted folders: go up to one that exists
            folder = os.path.dirname(folder)
        probe = folder
        while True:  # inside a diffusers folder: the whole folder is the entry
            if os.path.isfile(os.path.join(probe, "model_index.json")):
                folder = probe
                break
            if probe == root:
                break
            probe = os.path.dirname(probe)
        targets.add(folder)
    # drop targets inside other targets: the outer scan covers them
    return sorted(t for t in targets if not any(t != o and t.startswith(o + os.sep) for o in targets))
