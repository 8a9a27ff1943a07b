"""The fourth request writer: requests a person wrote by hand for the sealed library, labelled by concept.

The other writers render requests from card facts, so they share the generator's idea of what a card
is called; a hand writer uses category words ("my cat" for a bengal and a ragdoll), settings a card
also mentions ("a parrot on the balcony" where a cat's photos were taken on one) and everyday
phrasing. Labels name concept ids of seed 2026 (`hand_requests.txt`); their files are resolved here,
so the newest file is the expected pick as for every writer. Never fitted on: with lib9 it is a new
writer and a new library (issue #27).
"""
from __future__ import annotations

from pathlib import Path

WRITER = "hand"
REQUESTS = Path(__file__).with_name("hand_requests.txt")
LIBRARY, SEED = 9, 2026  # the concept ids below are this library's at this seed


def write_requests(concepts, select_row, lib: int, seed: int, today) -> list[dict]:
    """This library's hand-written requests, labelled like every other writer's (none for other libraries)."""
    if (lib, seed) != (LIBRARY, SEED):
        return []
    by_id = {c.cid: c for c in concepts}
    rows = []
    for line in REQUESTS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = (part.strip() for part in line.split("|", 1))
        expect, *cids = label.split()
        if expect == "select":
            row = select_row(by_id[cids[0]])
        elif expect == "clarify":
            row = {"expect": "clarify", "candidates": [by_id[c].newest().rel for c in cids], "candidate_concepts": cids}
        else:
            row = {"expect": "none"}
        rows.append({"id": f"H{lib}-{len(rows) + 1:04d}", "request": text, **row, "tags": [expect],
                     "today": today.isoformat(), "writer": WRITER})
    return rows
