"""Requests that name several concepts at once (issue #30): a subject plus a style, pose or outfit
("my ginger tabby as a linocut print", "grandpa's brass radio, watercolor look"), and a subject with a
style the library does not hold ("... as an oil painting": the subject alone, the style said missing).

The label is the exact set, by the same fact rule as single requests: the subject is the one concept its
cue words fit, each add-on the one concept its own cue words fit; both must run on one base family (a
DreamBooth or LoRA subject and an SDXL style never join). Each writer words them its own way, from its
own phrases, with its own random stream so the single-concept requests stay as they were.
"""
from __future__ import annotations

import random

from bench.corpus import plain_writer as W2
from bench.corpus.concepts import Concept, template_facts
from bench.corpus.requests import render_ref, select_row
from common.families import can_share_base

ADDON_DOMAINS = {"styles": "style", "poses": "pose", "clothing": "clothing"}
SUBJECT_DOMAINS = ("pets", "people", "objects", "places", "vehicles", "food")
WEARS = {"styles": SUBJECT_DOMAINS, "poses": ("people",), "clothing": ("people", "pets")}  # who takes which add-on


def _unique(c: Concept, lab) -> list[tuple[str, set[str]]]:
    """The templates writer's references that single out c (no name: the hard case is a described subject)."""
    out = []
    for t in c.templates:
        facts = template_facts(t, c)
        if facts and lab.matches(facts) == [c] and "{name" not in t.lower():
            out.append((t, facts))
    return out


def _plain_unique(c: Concept, lab) -> list[tuple[str, set[str]]]:
    return [(phrase, cues) for phrase, cues, _ in W2._cue_phrases(c)
            if "{name}" not in phrase and lab.matches(cues) == [c]]


def composite_row(subject: Concept, addons: list[Concept], missing: str | None = None) -> dict:
    """A select row for the subject with the add-ons as `extras` (each: the concept's files that may join)."""
    row = select_row(subject)
    base = subject.newest().base
    row["extras"] = [[f.rel for f in a.files if can_share_base(base, f.base)] for a in addons]
    row["extra_concepts"] = [a.cid for a in addons]
    if missing:
        row["missing_addon"] = missing
    return row


def _subjects(concepts: list[Concept], refs) -> list[Concept]:
    """Subjects a writer can single out by its own references (cards in English: the others say only a name)."""
    return [c for c in concepts if c.domain in SUBJECT_DOMAINS and c.lang == "en" and refs(c)]


def _missing_styles(lab) -> list[str]:
    """Styles no concept of the library holds."""
    return [m for m in W2.MISSING["style"] if not lab.matches(set(m.split()))]


def _pairs(concepts: list[Concept], refs, rng: random.Random) -> list[tuple[Concept, Concept]]:
    subjects = _subjects(concepts, refs)
    addons = [c for c in concepts if c.domain in ADDON_DOMAINS and refs(c)]
    pairs = [(s, a) for s in subjects for a in addons if s.domain in WEARS[a.domain]
             and any(can_share_base(s.newest().base, f.base) for f in a.files if f.copy_of is None)]
    rng.shuffle(pairs)
    return pairs


def templates_compositions(concepts: list[Concept], lab, lib: int, seed: int, n: int) -> list[dict]:
    """The templates writer's multi-concept requests: its scene shapes around 'subject + add-on'."""
    rng = random.Random(seed * 92821 + lib)
    rows: list[dict] = []
    for s, a in _pairs(concepts, lambda c: _unique(c, lab), rng)[:n]:
        subject = render_ref(rng.choice(_unique(s, lab))[0], s, rng)
        addon = render_ref(rng.choice(_unique(a, lab))[0], a, rng)
        if a.domain == "clothing" and not addon.startswith(("wearing", "in ")):
            addon = "wearing " + addon
        text = rng.choice([f"{subject} {addon}", f"a picture of {subject} {addon}", f"{subject}, {addon}, please",
                           f"can you draw {subject} {addon}?"])
        rows.append({"request": text, **composite_row(s, [a]), "tags": ["compose", ADDON_DOMAINS[a.domain]]})
    missing = _missing_styles(lab)
    subjects = _subjects(concepts, lambda c: _unique(c, lab))
    for s in rng.sample(subjects, min(len(subjects), max(1, n // 6))):
        style = rng.choice(missing)
        text = f"{render_ref(rng.choice(_unique(s, lab))[0], s, rng)} in {style} style"
        rows.append({"request": text, **composite_row(s, [], missing=style), "tags": ["compose", "missing"]})
    return rows


def plain_compositions(concepts: list[Concept], lab, lib: int, seed: int, n: int) -> list[dict]:
    """The plain writer's multi-concept requests: its chatty openers and its own words for both parts."""
    rng = random.Random(seed * 15731 + lib)
    rows: list[dict] = []
    for s, a in _pairs(concepts, lambda c: _plain_unique(c, lab), rng)[:n]:
        subject = W2._render(rng.choice(_plain_unique(s, lab))[0], s, rng)
        addon = W2._render(rng.choice(_plain_unique(a, lab))[0], a, rng)
        if a.domain == "styles":
            core = rng.choice([f"{subject} with a {addon} look", f"{addon} version of {subject}", f"{subject}, {addon} pls"])
        else:
            core = f"{subject} {addon}"
        rows.append({"request": W2._chat(core, rng, setting=False), **composite_row(s, [a]),
                     "tags": ["compose", ADDON_DOMAINS[a.domain]]})
    missing = _missing_styles(lab)
    subjects = _subjects(concepts, lambda c: _plain_unique(c, lab))
    for s in rng.sample(subjects, min(len(subjects), max(1, n // 6))):
        style = rng.choice(missing)
        core = f"{W2._render(rng.choice(_plain_unique(s, lab))[0], s, rng)} as {style}"
        rows.append({"request": W2._chat(core, rng, setting=False), **composite_row(s, [], missing=style),
                     "tags": ["compose", "missing"]})
    return rows


SHARE = 0.18  # of each writer's single-concept count: multi-concept requests end up >= 15% of its requests


def write_compositions(concepts: list[Concept], lab, today, lib: int, seed: int, counts: dict[str, int]) -> list[dict]:
    """Both writers' multi-concept rows for one library, numbered and dated like their other requests."""
    rows = []
    for writer, make, prefix in (("templates", templates_compositions, "X"), ("plain", plain_compositions, "Y")):
        made = make(concepts, lab, lib, seed, int(counts.get(writer, 0) * SHARE))
        seen = set()
        for r in made:
            if r["request"].lower() in seen:
                continue
            seen.add(r["request"].lower())
            rows.append({"id": f"{prefix}{lib}-{len(seen):04d}", **r, "today": today.isoformat(), "writer": writer})
    return rows
