"""Generation history: one SQLite row per image the app made, so the gallery survives restarts.

Qt-free. Each thread opens its own `History` (one connection per thread); the PNG itself
carries the same parameters in its A1111 `parameters` chunk, written by the engine.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import paths

SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    request TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL,
    negative_prompt TEXT NOT NULL DEFAULT '',
    checkpoint TEXT,
    checkpoint_name TEXT NOT NULL DEFAULT '',
    trigger TEXT,
    steps INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    guidance REAL NOT NULL,
    quant_spec TEXT NOT NULL,
    image_path TEXT NOT NULL,
    seconds REAL,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS generations_created ON generations(created);
"""


def default_history_path() -> Path:
    return paths.data_dir() / "history.sqlite"


@dataclass(frozen=True)
class GenerationParams:
    """The settings of one image: what the panel edits, what a job runs with, what history keeps."""

    steps: int
    seed: int
    width: int
    height: int
    guidance: float
    quant_spec: str

    def summary(self) -> str:
        return f"{self.steps} steps · seed {self.seed} · {self.width}×{self.height}"


PARAM_FIELDS = tuple(GenerationParams.__dataclass_fields__)


@dataclass
class HistoryEntry:
    """Everything needed to show a past generation and run it again."""

    prompt: str
    params: GenerationParams
    image_path: str
    request: str = ""
    negative_prompt: str = ""
    checkpoint: str | None = None
    checkpoint_name: str = ""
    trigger: str | None = None
    seconds: float | None = None
    extra: dict = field(default_factory=dict)
    created: float = 0.0
    id: int | None = None


class History:
    """The generations table; WAL so the gallery can read while a worker writes."""

    def __init__(self, db_path: str | Path | None = None):
        self.path = Path(db_path) if db_path else default_history_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=10)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        with self.conn:
            self.conn.executescript(SCHEMA)

    def add(self, entry: HistoryEntry) -> HistoryEntry:
        """Store one generation; returns it with id and creation time filled."""
        row = asdict(entry)
        row.pop("id")
        row.update(row.pop("params"))  # one column per setting
        row["created"] = row["created"] or time.time()
        row["extra"] = json.dumps(row["extra"])
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.conn:
            cur = self.conn.execute(f"INSERT INTO generations ({cols}) VALUES ({marks})", list(row.values()))
        entry.id = cur.lastrowid
        entry.created = row["created"]
        return entry

    def entries(self, limit: int = 500) -> list[HistoryEntry]:
        """Newest first."""
        rows = self.conn.execute("SELECT * FROM generations ORDER BY created DESC, id DESC LIMIT ?", (limit,))
        return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        row = self.conn.execute("SELECT * FROM generations WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def remove(self, entry_id: int) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM generations WHERE id = ?", (entry_id,))

    def close(self) -> None:
        self.conn.close()


def _entry(row: sqlite3.Row) -> HistoryEntry:
    data = dict(row)
    data["extra"] = json.loads(data.get("extra") or "{}")
    params = GenerationParams(**{name: data.pop(name) for name in PARAM_FIELDS})
    return HistoryEntry(params=params, **data)
