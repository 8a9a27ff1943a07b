"""The catalog's full-text index (SQLite FTS5): the words a card is found by, and user text made into a
safe MATCH expression."""
from __future__ import annotations

import re

import sqlite_utils

from catalog.card import Card
from catalog.names import file_stem

# bm25 column weights: path (unindexed), name, filename, triggers, description, tags.
BM25_WEIGHTS = (0.0, 4.0, 2.0, 6.0, 1.0, 2.0)
# Words too common in requests to help ranking ("a photo of my dog in the park").
_STOPWORDS = frozenset(
    "a an the of in on at to for with and or my me i our your is are be it this that as by from "
    "please make create draw generate show picture image photo one some".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # same split as FTS5 unicode61


def write_fts_row(db: sqlite_utils.Database, row_id: int, card: Card) -> None:
    """Replace the FTS row (rowid = checkpoints.id) with the card's words; error cards are not searchable."""
    db.execute("DELETE FROM checkpoints_fts WHERE rowid = ?", [row_id])
    if card.error:
        return
    db.execute(
        "INSERT INTO checkpoints_fts (rowid, path, name, filename, triggers, description, tags) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row_id, card.path, card.name or "", _filename_words(card.path, card.kind == "diffusers_model"), " ".join(card.triggers),
         " ".join(t for t in (card.description, card.gloss) if t), " ".join(card.tags)],
    )


def _filename_words(path: str, is_folder: bool = False) -> str:
    """File (or folder) name as words, so 'waffles_beagle_v1.safetensors' matches 'waffles beagle'."""
    return re.sub(r"[_\-.]+", " ", file_stem(path, is_folder))


def fts_query(text: str, prefix: bool = True) -> str:
    """Turn free user text into a safe FTS5 MATCH expression: quoted words joined by OR.

    Quoting every word means FTS syntax (quotes, *, -, :, NEAR, AND) in the text is data,
    never an operator. Words of 3+ letters also match as prefixes ("beag" finds "beagle").
    """
    words = []
    for word in _WORD.findall(text or ""):
        lw = word.lower()
        if lw in _STOPWORDS or lw in words:
            continue
        words.append(lw)
    if not words:  # a request made only of stopwords still searches them
        words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text or "")))
    terms = []
    for w in words:
        quoted = '"' + w.replace('"', '""') + '"'
        terms.append(quoted + ("*" if prefix and len(w) >= 3 else ""))
    return " OR ".join(terms)
