"""The catalog database: one SQLite file (WAL) holding cards, user edits, FTS5 and embeddings.

Rescans rewrite `checkpoints`; what the user typed lives in `user_edits` and is merged into
every card this module returns, so a rescan never loses it. Each write is one transaction,
so a process killed mid-index leaves either the old or the new row, never half of one.
One connection per thread (the watcher writes from its own thread).
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import sqlite_utils

from catalog.card import Card
from catalog.fts import BM25_WEIGHTS, fts_query, write_fts_row
from catalog.schema import MIGRATIONS, SELECT_CARDS, card_to_row, row_to_card


class StoreError(RuntimeError):
    """The catalog cannot be written (or opened); the message is one line naming the file and the cause."""


class StoreUnavailable(StoreError):
    """The catalog file cannot be opened or created (read-only folder, not a database, no room)."""


class StoreFull(StoreError):
    """A write failed for good: disk full, read-only, I/O error. Further writes would fail the same way."""


class StoreBusy(StoreError):
    """Another process held the catalog's write lock for longer than the store waits (`write_wait`)."""


_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_FATAL = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB",
          "SQLITE_PERM")


def sqlite_error_kind(exc: BaseException) -> str | None:
    """'busy' (locked: worth a retry), 'fatal' (disk full, read-only, I/O: stop writing) or None."""
    if isinstance(exc, OSError):
        return "fatal"
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith(_BUSY) or "locked" in text or "busy" in text:
        return "busy"
    if name.startswith(_FATAL) or any(w in text for w in ("disk is full", "readonly", "unable to open",
                                                           "disk i/o", "malformed", "not a database")):
        return "fatal"
    return None


def _default_write_wait() -> float:
    """Seconds a write waits for another process's lock before giving up (PERSONALQ_DB_WAIT overrides)."""
    try:
        return max(0.0, float(os.environ.get("PERSONALQ_DB_WAIT", "300")))
    except ValueError:
        return 300.0


class Store:
    """The catalog database at `db_path` (created with its parent folder when missing).

    Raises StoreUnavailable (one line: the file and why) when it cannot be opened or created.
    `write_wait`: seconds a write transaction waits, retrying with backoff, for another process's lock.
    """

    def __init__(self, db_path, write_wait: float | None = None):
        self.db_path = Path(db_path)
        self.write_wait = _default_write_wait() if write_wait is None else float(write_wait)
        self._local = threading.local()
        self._all: list[sqlite_utils.Database] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except (sqlite3.Error, OSError, StoreError) as exc:
            self.close()
            reason = str(exc) if isinstance(exc, StoreError) else _reason(exc)
            folder = self.db_path.parent
            if _blocking_file(folder) is not None:
                reason = f"{_shown(_blocking_file(folder))} is a file, not a folder"
            elif isinstance(exc, sqlite3.Error) and _read_only_fs(folder):
                reason = f"{reason} (the folder {_shown(folder)} is on a read-only file system)"
            elif isinstance(exc, sqlite3.Error) and folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                reason = f"{reason} (the folder {_shown(folder)} is not writable)"
            raise StoreUnavailable(f"cannot open the catalog {_shown(self.db_path)}: {reason}") from exc

    # --- connections -------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise RuntimeError(f"store {self.db_path} is closed")
        db = getattr(self._local, "db", None)
        if db is None:
            # sqlite's own busy wait per attempt; transaction() retries attempts up to write_wait in all
            conn = sqlite3.connect(str(self.db_path), timeout=min(30.0, max(0.05, self.write_wait)),
                                   check_same_thread=False)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            with db.ensure_autocommit_on():
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._all_lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection; the store cannot be used afterwards."""
        with self._all_lock:
            for db in self._all:
                try:
                    db.conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._closed = True

    def release_thread(self) -> None:
        """Close the calling thread's connection (a short-lived worker thread calls this before it ends)."""
        db = getattr(self._local, "db", None)
        if db is None:
            return
        self._local.db = None
        with self._all_lock:
            if db in self._all:
                self._all.remove(db)
        try:
            db.conn.close()
        except sqlite3.Error:
            pass

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction taken with BEGIN IMMEDIATE: the write lock is held from the start (no
        deadlock between a reader that upgrades and another writer), retried with backoff while another
        process holds it, up to `write_wait` seconds in all; then StoreBusy. Disk full, read-only and
        I/O errors raise StoreFull. Nested calls are savepoints of the outer one."""
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        deadline = time.monotonic() + self.write_wait
        delay = 0.05
        while True:
            try:
                db.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.Error as exc:
                kind = sqlite_error_kind(exc)
                if kind == "fatal":
                    raise StoreFull(f"cannot write the catalog {_shown(self.db_path)}: {_reason(exc)}") from exc
                if kind != "busy":
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"the catalog {_shown(self.db_path)} stayed locked by another process for "
                                    f"{self.write_wait:.0f} s") from exc
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)
        try:
            yield db
            db.conn.execute("COMMIT")
        except BaseException as exc:
            if db.conn.in_transaction:
                try:
                    db.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            kind = sqlite_error_kind(exc) if not isinstance(exc, StoreError) else None
            if kind == "fatal":
                raise StoreFull(f"cannot write the catalog {_shown(self.db_path)}: {_reason(exc)}") from exc
            if kind == "busy":
                raise StoreBusy(f"the catalog {_shown(self.db_path)} is locked by another process: {exc}") from exc
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _migrate(self) -> None:
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        applied = {r[0] for r in db.execute("SELECT name FROM migrations")}
        for name, apply in MIGRATIONS:
            if name in applied:  # an up-to-date catalog opens without the write lock (another writer may hold it)
                continue
            with self.transaction():
                done = db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone()
                if done:
                    continue
                apply(db)
                db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, time.time()])

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    # --- cards -------------------------------------------------------------------------
    def upsert_card(self, card: Card, signature: str | None = None) -> None:
        """Insert or replace one card (and its FTS row) in one transaction; user edits are untouched.

        `signature` is the indexer's change key (size/mtime of the file and its sidecars);
        it defaults to the card's own size and mtime.
        """
        row = card_to_row(card)
        row["signature"] = signature if signature is not None else f"{card.size}:{card.mtime}"
        row["indexed_at"] = time.time()
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{k} = excluded.{k}" for k in row if k != "path")
        sql = f"INSERT INTO checkpoints ({names}) VALUES ({marks}) ON CONFLICT(path) DO UPDATE SET {updates}"
        db = self.db
        with self.transaction():
            db.execute(sql, list(row.values()))
            self._write_fts(db, card.path)  # read back: user edits and a still-valid gloss merge in one place

    def remove(self, path: str) -> bool:
        """Forget a file (card, FTS row, embedding); user edits stay in case it comes back. True if it existed."""
        db = self.db
        with self.transaction():
            found = db.execute("SELECT id FROM checkpoints WHERE path = ?", [path]).fetchone()
            if not found:
                return False
            db.execute("DELETE FROM checkpoints_fts WHERE rowid = ?", [found[0]])
            db.execute("DELETE FROM glosses WHERE path = ?", [path])
            db.execute("DELETE FROM checkpoints WHERE id = ?", [found[0]])
            db.execute("DELETE FROM embeddings WHERE path = ?", [path])
            db.execute("UPDATE checkpoints SET duplicate_of = NULL, indexed_at = ? WHERE duplicate_of = ?",
                       [time.time(), path])
        return True

    def get(self, path: str) -> Card | None:
        """The card at `path` with user edits merged in, or None (a path that is not UTF-8 is looked up
        the way the indexer stores it, escaped)."""
        from common.text import unsurrogate

        cur = self.db.execute(SELECT_CARDS + " WHERE c.path = ?", [unsurrogate(str(path))])
        row = cur.fetchone()
        return row_to_card(cur.description, row) if row else None

    def cards(self, include_errors: bool = True) -> list[Card]:
        """All cards (user edits merged), ordered by path."""
        sql = SELECT_CARDS + ("" if include_errors else " WHERE c.error IS NULL") + " ORDER BY c.path"
        cur = self.db.execute(sql)
        return [row_to_card(cur.description, r) for r in cur.fetchall()]

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM checkpoints").fetchone()[0]

    def known_files(self) -> dict[str, tuple[int, float]]:
        """path -> (size, mtime) as last indexed: the incremental rescan compares against it."""
        return {p: (s, m) for p, s, m in self.db.execute("SELECT path, size, mtime FROM checkpoints")}

    def file_states(self) -> dict[str, tuple]:
        """path -> (size, mtime, sha256, duplicate_of, error, kind): the indexer's cheap view, no JSON parsing."""
        rows = self.db.execute("SELECT path, size, mtime, sha256, duplicate_of, error, kind FROM checkpoints")
        return {r[0]: tuple(r[1:]) for r in rows}

    def signatures(self) -> dict[str, str]:
        """path -> change signature written by the indexer."""
        return dict(self.db.execute("SELECT path, signature FROM checkpoints").fetchall())

    def set_hash(self, path: str, sha256: str, duplicate_of: str | None = None) -> None:
        """Record a file's sha256 (computed after the fast pass) and what it duplicates."""
        with self.transaction():
            self.db.execute(
                "UPDATE checkpoints SET sha256 = ?, duplicate_of = ?, indexed_at = ? WHERE path = ?",
                [sha256, duplicate_of, time.time(), path]
            )

    def set_duplicate_of(self, path: str, duplicate_of: str | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE checkpoints SET duplicate_of = ?, indexed_at = ? WHERE path = ?",
                            [duplicate_of, time.time(), path])

    # --- user edits --------------------------------------------------------------------
    def set_user_edit(self, path: str, trigger: str | None = None, description: str | None = None,
                      tags: Iterable[str] | None = None) -> None:
        """Keep the user's trigger/description/tags for `path`.

        None leaves a field as it was; "" (or []) drops the user's value so the file's shows again.
        """
        db = self.db
        with self.transaction():
            old = db.execute("SELECT trigger, description, tags FROM user_edits WHERE path = ?", [path]).fetchone()
            old_trigger, old_desc, old_tags = old if old else (None, None, None)
            new_trigger = old_trigger if trigger is None else (trigger.strip() or None)
            new_desc = old_desc if description is None else (description if description.strip() else None)
            if tags is not None:
                tags = [t.strip() for t in tags if t and t.strip()]
            new_tags = old_tags if tags is None else (json.dumps(tags, ensure_ascii=False) if tags else None)
            db.execute(
                "INSERT OR REPLACE INTO user_edits (path, trigger, description, tags, updated_at) VALUES (?, ?, ?, ?, ?)",
                [path, new_trigger, new_desc, new_tags, time.time()],
            )
            self._write_fts(db, path)

    def user_edit(self, path: str) -> dict | None:
        row = self.db.execute("SELECT trigger, description, tags FROM user_edits WHERE path = ?", [path]).fetchone()
        if not row:
            return None
        return {"trigger": row[0], "description": row[1], "tags": json.loads(row[2]) if row[2] else None}

    def catalog_version(self) -> tuple[str, int]:
        """(catalog id, change count): changes whenever a card, a user edit, a gloss or an embedding changes."""
        return tuple(self.db.execute("SELECT db_id, n FROM catalog_version WHERE id = 0").fetchone())

    # --- glosses (the local LLM's plain-English line per card) -----------------------------
    def put_gloss(self, path: str, source: str, model: str, text: str, subject: str = "") -> bool:
        """Keep what the LLM read from the facts of `path` hashing to `source`: its plain-English `text`
        ("" for a card already in English: nothing to search by) and `subject`; False when the card is gone."""
        db = self.db
        with self.transaction():
            if not db.execute("SELECT 1 FROM checkpoints WHERE path = ?", [path]).fetchone():
                return False
            db.execute("INSERT OR REPLACE INTO glosses (path, source, model, text, made_at, subject) VALUES (?, ?, ?, ?, ?, ?)",
                       [path, source, model, text, time.time(), subject])
            self._write_fts(db, path)
        return True

    def gloss_models(self) -> dict[str, tuple[str, str]]:
        """path -> (source, model) of every card the LLM has read (a gloss stored before subjects were
        named has none, and is left out so that the card is read again)."""
        rows = self.db.execute("SELECT path, source, model FROM glosses WHERE subject != ''")
        return {r[0]: (r[1], r[2]) for r in rows}

    # --- full-text search --------------------------------------------------------------
    def _write_fts(self, db: sqlite_utils.Database, path: str) -> None:
        """Rewrite the FTS row of `path` from the merged card (user edits and gloss, as `get` returns it)."""
        cur = db.execute(SELECT_CARDS + " WHERE c.path = ?", [path])
        row = cur.fetchone()
        if row:
            write_fts_row(db, row[0], row_to_card(cur.description, row))

    def fts_search(self, query: str, limit: int = 20) -> list[tuple[str, float]]:
        """BM25 over name/filename/triggers/description/tags; any user text is safe (no FTS syntax)."""
        match = fts_query(query)
        if not match:
            return []
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        sql = (
            f"SELECT path, -bm25(checkpoints_fts, {weights}) AS score FROM checkpoints_fts "
            "WHERE checkpoints_fts MATCH ? ORDER BY score DESC, path LIMIT ?"
        )
        return [(p, float(s)) for p, s in self.db.execute(sql, [match, int(limit)])]

    # --- embeddings --------------------------------------------------------------------
    def stale_embeddings(self, model_id: str) -> list[tuple[str, str, str]]:
        """(path, text, text_hash) of searchable cards whose embedding is missing or out of date."""
        from catalog.embeddings import card_text, text_hash

        have = dict(self.db.execute("SELECT path, text_hash FROM embeddings").fetchall())
        out = []
        for card in self.cards(include_errors=False):
            text = card_text(card)
            h = text_hash(text, model_id)
            if have.get(card.path) != h:
                out.append((card.path, text, h))
        return out

    def put_embeddings(self, rows: list[tuple[str, str, str, np.ndarray]], model_id: str) -> None:
        """Store (path, text, text_hash, vector) rows in one transaction, for paths still present."""
        db = self.db
        with self.transaction():
            for path, _text, h, vec in rows:
                vec = np.asarray(vec, dtype=np.float32).ravel()
                if not db.execute("SELECT 1 FROM checkpoints WHERE path = ?", [path]).fetchone():
                    continue  # removed while we were encoding
                db.execute(
                    "INSERT OR REPLACE INTO embeddings (path, model, text_hash, dim, vector) VALUES (?, ?, ?, ?, ?)",
                    [path, model_id, h, int(vec.shape[0]), vec.tobytes()],
                )

    def refresh_embeddings(self, embedder=None, batch_size: int = 64,
                           progress: Callable[[int, int], None] | None = None) -> int:
        """Embed every card whose text changed since it was last embedded; returns how many were encoded.

        The default embedder is loaded only when something needs encoding (loading it imports torch).
        """
        from catalog.embeddings import DEFAULT_MODEL_ID, get_embedder

        todo = self.stale_embeddings(embedder.model_id if embedder is not None else DEFAULT_MODEL_ID)
        if not todo:
            return 0
        if progress:
            progress(0, len(todo))
        if embedder is None:
            embedder = get_embedder()
        done = 0
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            vectors = embedder.encode([t for _, t, _ in chunk])
            self.put_embeddings([(p, t, h, v) for (p, t, h), v in zip(chunk, vectors)], embedder.model_id)
            done += len(chunk)
            if progress:
                progress(done, len(todo))
        return done

    def embedding_matrix(self, model_id: str | None = None) -> tuple[list[str], np.ndarray]:
        """(paths, float32 array [n, dim]) of the stored embeddings of searchable cards, ordered by path."""
        sql = ("SELECT e.path, e.dim, e.vector FROM embeddings e JOIN checkpoints c ON c.path = e.path "
               "WHERE c.error IS NULL" + (" AND e.model = ?" if model_id else "") + " ORDER BY e.path")
        rows = self.db.execute(sql, [model_id] if model_id else []).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        dim = rows[0][1]
        rows = [r for r in rows if r[1] == dim]  # a model change mid-way: keep one consistent width
        matrix = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows]).astype(np.float32, copy=False)
        return [r[0] for r in rows], matrix

    # --- health ------------------------------------------------------------------------
    def check_integrity(self) -> list[str]:
        """Problems found (empty when consistent): SQLite integrity plus card/FTS agreement."""
        problems = []
        result = self.db.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            problems.append(f"integrity_check: {result}")
        missing = self.db.execute(
            "SELECT count(*) FROM checkpoints c WHERE c.error IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM checkpoints_fts f WHERE f.rowid = c.id)"
        ).fetchone()[0]
        orphans = self.db.execute(
            "SELECT count(*) FROM checkpoints_fts f WHERE NOT EXISTS "
            "(SELECT 1 FROM checkpoints c WHERE c.id = f.rowid AND c.path = f.path)"
        ).fetchone()[0]
        if missing:
            problems.append(f"{missing} cards without an FTS row")
        if orphans:
            problems.append(f"{orphans} FTS rows without a card")
        return problems


def _blocking_file(folder: Path) -> Path | None:
    """The first part of `folder` that exists but is a file (so the folder cannot be made), or None."""
    for part in [folder, *folder.parents]:
        if part.exists():
            return None if part.is_dir() else part
    return None


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _shown(path) -> str:
    from common.text import escape_controls

    return escape_controls(str(path))


def _reason(exc: BaseException) -> str:
    """The cause in plain words: 'database or disk is full', 'read-only file system', ..."""
    if isinstance(exc, OSError):
        from common.paths import describe_os_error

        return describe_os_error(exc, exc.filename) if exc.filename else describe_os_error(exc)
    return str(exc) or type(exc).__name__


