"""The catalog's tables, as named migrations, and how a Card maps to a row of them and back.

A card row joins the files' facts (checkpoints) with the user's edits and the LLM's gloss, which win
over the files' metadata; catalog/store.py runs the migrations and the queries.
"""
from __future__ import annotations

import json
from dataclasses import fields
from typing import Callable

import sqlite_utils

from catalog.card import Card, gloss_source

# Card fields stored as JSON text (lists); the rest map to plain columns.
JSON_FIELDS = {"triggers", "tags", "sidecars", "metadata_sources"}
BOOL_FIELDS = {"is_negative_embedding"}
CARD_FIELDS = [f.name for f in fields(Card) if f.name not in ("gloss", "subject")]  # these live in the glosses table


def _create_tables(db: sqlite_utils.Database) -> None:
    cols = {
        "id": int, "path": str, "kind": str, "base_model": str, "variant": str, "format": str, "name": str,
        "canonical_trigger": str, "triggers": str, "description": str, "tags": str, "version": str,
        "version_number": float, "created": str, "preview": str, "sidecars": str, "metadata_sources": str,
        "is_negative_embedding": int, "prediction_type": str, "size": int, "mtime": float, "sha256": str,
        "duplicate_of": str, "error": str, "signature": str, "indexed_at": float,
    }
    # integer id: the FTS row's rowid (stable across VACUUM), so FTS rows are found without a scan
    db["checkpoints"].create(cols, pk="id", not_null={"path"})
    db["checkpoints"].create_index(["path"], index_name="idx_checkpoints_path", unique=True)
    db["checkpoints"].create_index(["sha256"], index_name="idx_checkpoints_sha256")
    db["user_edits"].create(
        {"path": str, "trigger": str, "description": str, "tags": str, "updated_at": float}, pk="path"
    )
    db["embeddings"].create(
        {"path": str, "model": str, "text_hash": str, "dim": int, "vector": bytes}, pk="path"
    )
    db.execute(
        "CREATE VIRTUAL TABLE checkpoints_fts USING fts5("
        "path UNINDEXED, name, filename, triggers, description, tags, "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )


def _create_glosses(db: sqlite_utils.Database) -> None:
    """The local LLM's plain-English line per card; `source` is the hash of the card facts it read."""
    db["glosses"].create({"path": str, "source": str, "model": str, "text": str, "made_at": float}, pk="path")


def _add_gloss_subjects(db: sqlite_utils.Database) -> None:
    """The LLM's everyday word for what each card shows, kept beside its gloss (made from the same facts)."""
    db.execute("ALTER TABLE glosses ADD COLUMN subject TEXT NOT NULL DEFAULT ''")


VERSIONED_TABLES = ("checkpoints", "user_edits", "glosses", "embeddings")


def _add_catalog_version(db: sqlite_utils.Database) -> None:
    """One counter that every change to what search reads bumps (search rebuilds its index when it moves),
    kept by triggers so that writes from any connection or process count."""
    db.execute("CREATE TABLE catalog_version (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL, "
               "db_id TEXT NOT NULL)")  # db_id: a catalog re-created at the same path starts a new count
    db.execute("INSERT INTO catalog_version (id, n, db_id) VALUES (0, 0, lower(hex(randomblob(8))))")
    for table in VERSIONED_TABLES:
        for op in ("INSERT", "UPDATE", "DELETE"):
            db.execute(f"CREATE TRIGGER bump_{table}_{op.lower()} AFTER {op} ON {table} "
                       "BEGIN UPDATE catalog_version SET n = n + 1 WHERE id = 0; END")


# Named migrations, applied in order, each once, each in its own transaction.
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_create_tables", _create_tables),
    ("0002_glosses", _create_glosses),
    ("0003_gloss_subjects", _add_gloss_subjects),
    ("0004_catalog_version", _add_catalog_version),
]


SELECT_CARDS = (
    "SELECT c.id, c.*, u.trigger AS u_trigger, u.description AS u_description, u.tags AS u_tags, "
    "g.text AS g_text, g.source AS g_source, g.subject AS g_subject "
    "FROM checkpoints c LEFT JOIN user_edits u ON u.path = c.path LEFT JOIN glosses g ON g.path = c.path"
)


def card_to_row(card: Card) -> dict:
    row = {}
    for name in CARD_FIELDS:
        value = getattr(card, name)
        if name in JSON_FIELDS:
            value = json.dumps(list(value or []), ensure_ascii=False)
        elif name in BOOL_FIELDS:
            value = int(bool(value))
        row[name] = value
    return row


def row_to_card(description, row) -> Card:
    data = dict(zip([d[0] for d in description], row))
    values = {}
    for name in CARD_FIELDS:
        value = data.get(name)
        if name in JSON_FIELDS:
            value = json.loads(value) if value else []
        elif name in BOOL_FIELDS:
            value = bool(value)
        elif name in ("description", "name", "variant", "format", "kind", "base_model") and value is None:
            value = Card.__dataclass_fields__[name].default
        values[name] = value
    card = Card(**values)
    _merge_user_edit(card, data.get("u_trigger"), data.get("u_description"), data.get("u_tags"))
    if data.get("g_source") == gloss_source(card):  # a gloss of facts that have since changed is not used
        card.gloss, card.subject = data.get("g_text") or "", data.get("g_subject") or ""
    return card


def _merge_user_edit(card: Card, trigger, description, tags) -> None:
    """The user's words win over the files' metadata; the user's trigger becomes canonical."""
    if trigger:
        card.canonical_trigger = trigger
        card.triggers = [trigger] + [t for t in card.triggers if t != trigger]
    if description:
        card.description = description
    if tags:
        card.tags = json.loads(tags)
    if trigger or description or tags:
        card.metadata_sources = list(card.metadata_sources) + (["user"] if "user" not in card.metadata_sources else [])
