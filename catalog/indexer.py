"""Keep the store in step with the user's folders: scan, probe what changed, hash, embed.

Phases, each reported through `progress(phase, done, total)`:
1. scan  — walk the folders (symlink loops, unreadable folders, odd names survive), stat only;
2. index — probe + build a card for every new or changed entry (each file's rows written
           atomically, small groups per commit), and drop entries whose files are gone
           (only under the scanned folders);
3. hash  — sha256 of files that lack one (the slow part, after everything is searchable),
           then mark byte-identical copies with `duplicate_of`;
4. embed — sentence embeddings of cards whose text changed.
A killed run leaves whole rows only (at most the last uncommitted group is lost); rerun to finish.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from catalog.card import Card
from catalog.metadata import build_card
from catalog.probe import probe_path
from catalog.scan import Found, catalog_key, check_folders, is_under, scan_folder
from catalog.store import Store, StoreBusy, StoreError, StoreFull, sqlite_error_kind

Progress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)

# Names that say "this is the copy": the other file of the pair is the original.
_COPY_MARKERS = ("(copy)", " - copy", "_copy", " copy", "(1)", "(2)", "(3)")


@dataclass
class IndexReport:
    """What one `index_folders` run did."""

    folders: list[str]
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: int = 0  # entries under the folders whose card carries an error
    hashed: int = 0
    duplicates: int = 0
    embedded: int = 0
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)  # folders/files skipped and why
    not_stored: list[str] = field(default_factory=list)  # "path: why" for cards that could not be written
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall time
    paths: list[str] = field(default_factory=list)  # catalog paths of the entries under the folders

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


class IndexAborted(StoreError):
    """The catalog stopped taking writes (disk full, read-only, I/O error): the run stopped, the message says why.

    `report` is what was done until then (whole rows only are in the catalog)."""

    def __init__(self, message: str, report: "IndexReport"):
        super().__init__(message)
        self.report = report


def index_folders(folders: Iterable, store: Store, progress: Progress | None = None, compute_hashes: bool = True,
                  embed: bool = True, embedder=None, should_stop: Callable[[], bool] | None = None) -> IndexReport:
    """Bring the catalog in line with `folders` (recursive) and say what changed.

    `embed=True` also computes sentence embeddings (loads the embedder: seconds, torch);
    `should_stop()` is polled between files so a UI can cancel.
    """
    roots = check_folders(folders)
    report = IndexReport(folders=[catalog_key(r) for r in roots])
    tick = _Ticker(progress)
    stop = should_stop or (lambda: False)

    started = time.perf_counter()
    found: dict[str, Found] = {}
    unreadable: list[str] = []
    for root in roots:
        found.update(scan_folder(root, report.problems, unreadable, on_entry=lambda n: tick("scan", n, 0)))
    report.seen = len(found)
    tick("scan", len(found), len(found), force=True)
    report.seconds["scan"] = time.perf_counter() - started

    started = time.perf_counter()
    keys = report.folders  # stored paths are catalog keys (escaped when a name is not UTF-8)
    try:
        _apply_changes(found, keys, [catalog_key(u) for u in unreadable], store, report, tick, stop)
    except StoreFull as exc:
        report.seconds["index"] = time.perf_counter() - started
        raise IndexAborted(str(exc), report) from exc
    report.seconds["index"] = time.perf_counter() - started

    if not report.cancelled:
        started = time.perf_counter()
        try:
            if compute_hashes:
                _hash_missing(found, store, report, tick, stop)
            if report.added or report.updated or report.removed or report.hashed:
                mark_duplicates(store)  # only a change can make or break a duplicate
        except StoreFull as exc:
            raise IndexAborted(str(exc), report) from exc
        except StoreBusy as exc:  # hashes are redone by the next run; the cards are stored
            report.problems.append(f"hashes not saved: {exc}")
        report.seconds["hash"] = time.perf_counter() - started

    if embed and not report.cancelled:
        started = time.perf_counter()
        try:
            report.embedded = store.refresh_embeddings(embedder, progress=lambda d, t: tick("embed", d, t, force=True))
        except Exception as exc:  # no embedder (or a broken one): keyword search still works
            if isinstance(exc, StoreFull) or sqlite_error_kind(exc) == "fatal":
                raise IndexAborted(f"cannot write the catalog {store.db_path}: {exc}", report) from exc
            log.warning("embeddings skipped", exc_info=True)
            report.problems.append(f"embeddings skipped: {type(exc).__name__}: {exc}")
        report.seconds["embed"] = time.perf_counter() - started

    under = {p: st for p, st in store.file_states().items() if is_under(p, keys)}
    report.paths = sorted(under)
    report.errors = sum(1 for st in under.values() if st[4])
    report.duplicates = sum(1 for st in under.values() if st[3])
    return report


# --- index ------------------------------------------------------------------------------

def _apply_changes(found: dict[str, Found], roots: list[str], unreadable: list[str], store: Store,
                   report: IndexReport, tick, stop) -> None:
    old = {p: s for p, s in store.signatures().items() if is_under(p, roots)}
    todo = [f for key, f in sorted(found.items()) if old.get(key) != f.signature]
    report.unchanged = len(found) - len(todo)
    states = store.file_states() if todo else {}
    writer = _Writer(store, old, report) if len(todo) >= THREADED_MIN_FILES else None
    try:
        for done, item in enumerate(todo, 1):
            if stop():
                report.cancelled = True
                break
            card = _card_for(item)
            prev = states.get(item.key)
            if prev and prev[0] == card.size and prev[1] == card.mtime and not card.error:
                card.sha256, card.duplicate_of = prev[2], prev[3]  # only a sidecar changed: bytes are the same
            if writer:
                writer.put(card, item.signature)  # raises the writer's StoreFull: the scan stops with it
                tick("index", writer.done, len(todo))
            else:
                _store_batch(store, [(card, item.signature)], old, report)
                tick("index", done, len(todo))
    finally:  # also on Ctrl-C: what was read gets written, then the thread ends
        if writer:
            writer.finish()
    if writer and writer.error is not None:
        raise writer.error
    if report.cancelled:
        return
    tick("index", len(todo), len(todo), force=True)
    gone = [p for p in old if p not in found and not is_under(p, unreadable)]
    removed = 0
    for path in gone:  # a folder we could not read this time may still hold its files
        try:
            with store.transaction():
                store.remove(path)
            removed += 1
        except StoreBusy as exc:
            report.problems.append(f"{path}: gone from disk but still listed: {exc}")
    report.removed = removed


THREADED_MIN_FILES = 200  # from here on, SQLite writes overlap header reads (sqlite3 releases the GIL)


def _store_batch(store: Store, jobs: list, old: dict, report: IndexReport) -> None:
    """Write cards in one transaction (each card its own savepoint: a bad row spoils only itself).

    A lock held by another process is waited out (Store.transaction: backoff up to write_wait);
    if it is still held, these cards are listed in report.not_stored. StoreFull (disk full,
    read-only) propagates: every further write would fail the same way."""
    counts = []
    try:
        with store.transaction():
            for card, signature in jobs:
                counts.append(_store_card(store, card, signature, old, report))
    except StoreBusy as exc:
        for card, _sig in jobs:
            report.not_stored.append(f"{card.path}: {exc}")
        return
    for counted in counts:
        if counted == "updated":
            report.updated += 1
        elif counted == "added":
            report.added += 1


def _store_card(store: Store, card: Card, signature: str, old: dict, report: IndexReport) -> str | None:
    try:
        store.upsert_card(card, signature=signature)
    except Exception as exc:
        if sqlite_error_kind(exc) is not None:  # lock or disk: the whole transaction is affected
            raise
        report.not_stored.append(f"{card.path}: {type(exc).__name__}: {exc}")  # one bad row, the others go on
        return None
    return "updated" if card.path in old else "added"


class _Writer:
    """A thread that upserts cards while the caller probes the next files.

    Each card is atomic (its own savepoint); cards waiting in the queue are committed together,
    up to BATCH per commit, which halves the SQLite cost of a cold index. A kill loses at most
    the last uncommitted group, never part of a row; the next run re-reads those files.
    A write that fails for good (disk full) ends the thread with `error` set; put() then raises it,
    so the scan stops instead of waiting on a queue nobody empties.
    """

    BATCH = 64

    def __init__(self, store: Store, old: dict, report: IndexReport):
        self.queue: queue.Queue = queue.Queue(maxsize=512)
        self.done = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(store, old, report), name="catalog-writer", daemon=True)
        self.thread.start()

    def put(self, card: Card, signature: str) -> None:
        self._put((card, signature))

    def _put(self, item) -> None:
        while True:
            if self.error is not None:
                raise self.error
            if not self.thread.is_alive():
                raise StoreFull("the catalog writer stopped")
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        try:
            self._put(None)
        except StoreError:
            pass  # the writer is gone; its error is read by the caller
        self.thread.join()

    def _run(self, store: Store, old: dict, report: IndexReport) -> None:
        try:
            finished = False
            while not finished:
                jobs = [self.queue.get()]
                while len(jobs) < self.BATCH and not self.queue.empty():
                    jobs.append(self.queue.get())
                if jobs[-1] is None:
                    finished = True
                    jobs.pop()
                if not jobs:
                    continue
                _store_batch(store, jobs, old, report)
                self.done += len(jobs)
        except StoreError as exc:
            self.error = exc
        except Exception as exc:  # never die silently: the scanner would wait forever
            self.error = StoreFull(f"cannot write the catalog {store.db_path}: {type(exc).__name__}: {exc}")
            log.error("catalog writer failed", exc_info=True)
        finally:
            store.release_thread()


def _card_for(item: Found) -> Card:
    """Probe and describe one entry; never raises."""
    if item.error:
        card = Card(path=item.key, error=item.error, name=os.path.basename(item.key))
    else:
        try:
            card = build_card(probe_path(item.path))
        except Exception as exc:  # defensive: probe/build promise not to raise, but a crash must not stop the scan
            card = Card(path=item.key, name=os.path.basename(item.key),
                        error=f"{item.key}: {type(exc).__name__}: {exc}")
    card.path = item.key
    card.size, card.mtime = item.size, item.mtime
    return card


# --- hash + duplicates --------------------------------------------------------------------

def _hash_missing(found: dict[str, Found], store: Store, report: IndexReport, tick, stop) -> None:
    from common.hashing import sha256_file

    states = store.file_states()
    todo = sorted(p for p, (size, _m, sha, _d, error, kind) in states.items()
                  if p in found and not sha and not error and kind != "diffusers_model")
    total_bytes = sum(states[p][0] or 0 for p in todo) or 1
    done_bytes = 0
    pending: list[tuple[str, str]] = []
    flushed = time.monotonic()

    def flush():
        with store.transaction():  # written in groups, never while a file is being read
            for p, digest in pending:
                store.set_hash(p, digest, states[p][3])
        pending.clear()

    for path in todo:
        if stop():
            report.cancelled = True
            break
        try:
            digest = sha256_file(found[path].path)
        except OSError as exc:
            report.problems.append(f"{path}: cannot hash: {exc.strerror or exc}")
            continue
        pending.append((path, digest))
        report.hashed += 1
        done_bytes += states[path][0] or 0
        tick("hash", done_bytes, total_bytes)
        if len(pending) >= 64 or time.monotonic() - flushed > 0.5:
            flush()
            flushed = time.monotonic()
    flush()
    if report.cancelled:
        return
    tick("hash", total_bytes, total_bytes, force=True)


def mark_duplicates(store: Store) -> int:
    """Point every byte-identical copy at its original (the first: a real file, not named like a copy, oldest)."""
    states = store.file_states()
    groups: dict[str, list[str]] = {}
    for path, (_size, _mtime, sha, _dup, error, _kind) in states.items():
        if sha and not error:
            groups.setdefault(sha, []).append(path)
    want: dict[str, str | None] = {}
    for group in groups.values():
        group.sort(key=lambda p: _original_rank(p, states[p][1]))
        for other in group[1:]:
            want[other] = group[0]
    changed = [(p, want.get(p)) for p, state in states.items() if state[3] != want.get(p)]
    if changed:
        with store.transaction():
            for path, target in changed:
                store.set_duplicate_of(path, target)
    return len(want)


def _original_rank(path: str, mtime: float | None) -> tuple:
    name = Path(path).name.lower()
    looks_copied = any(m in name for m in _COPY_MARKERS)
    return (os.path.islink(path), looks_copied, mtime or 0.0, path.count(os.sep), path)


# --- progress -----------------------------------------------------------------------------

class _Ticker:
    """Rate-limits progress callbacks (a 10k-file scan must not spend its time drawing)."""

    def __init__(self, progress: Progress | None, interval: float = 0.1):
        self.progress = progress
        self.interval = interval
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int, force: bool = False) -> None:
        if not self.progress:
            return
        now = time.perf_counter()
        if force or now - self.last >= self.interval:
            self.last = now
            self.progress(phase, done, total)
