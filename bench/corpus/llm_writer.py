"""The third request writer: the local LLM writes requests from card facts, at corpus-build time.

For each brief (what to ask for, in plain facts) the model writes the sentence a user might type; the
same fact rule as the other writers then reads the sentence back (which library fact words it uses)
and keeps it only when that label equals the brief's. The model's sentences are cached in
`llm_requests.json` beside this file, keyed by brief, so a corpus rebuild needs no model: only
briefs missing from the cache call it (`python -m bench.corpus.generate OUT --llm-writer`, or
`--llm-libraries 9 8` to fill the cache for some libraries without writing a corpus).
"""
from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

from bench.corpus import plain_writer as W2
from bench.corpus import pools as P

log = logging.getLogger(__name__)

WRITER = "llm"
CACHE = Path(__file__).with_name("llm_requests.json")
SYSTEM = ("You invent what people type into an app that makes pictures from their own trained models. Given "
          "what the picture is of, write ONE request as such a person would type it: in your own words and "
          "sentence shape (casual, short or chatty), 4 to 16 words, maybe with a place or a mood. Use the given "
          "words for the subject; add no other animals, people, objects or art styles. Never mention models, "
          "training or apps.")
SCHEMA_FIELD = "request"
# libraries the LLM writes for: the check and the sealed one (it is the writer never fitted on); the 1.5B
# took 40-60 s a request on the 2 busy cores where the corpus was built, so more would cost hours
LIBRARIES = (8, 9)
REQUESTS_PER_LIBRARY = 30


def load_cache() -> dict[str, str]:
    try:
        return json.loads(CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_cache(cache: dict[str, str]) -> None:
    CACHE.write_text(json.dumps(dict(sorted(cache.items())), indent=0, ensure_ascii=False) + "\n", encoding="utf-8")


def _briefs(concepts, labeller, rng: random.Random, n_target: int) -> list[tuple[str, set[str], str]]:
    """(brief, cue facts, kind): single concepts by their facts, shared cues, and things no card holds."""
    out = []
    for c in rng.sample(concepts, len(concepts)):
        if c.lang != "en":
            continue
        for phrase, cues, kind in W2._cue_phrases(c):
            found = labeller.matches(cues)
            if 1 <= len(found) <= 4:
                what = {"styles": "an art style: ", "poses": "a person in a pose: ", "clothing": "a person wearing: ",
                        "pets": "their pet: ", "people": "a person they know: "}.get(c.domain, "their own: ")
                words = ", ".join(sorted(cues)) if "{name}" not in phrase else c.slots["name"]
                out.append((f"{what}{words}", cues, kind))
    all_facts = set().union(*(c.facts for c in concepts))
    for kind, things in W2.MISSING.items():
        for what in things:
            cues = set(re.findall(r"[a-z]+", what.lower())) - {"a", "my", "the", "in", "at", "our"}
            if not cues & all_facts:
                out.append((f"an art style: {what}" if kind == "style" else f"the picture is of: {what}", cues, "none"))
    rng.shuffle(out)
    return out[: n_target * 2]


def write_requests(concepts, labeller, label_row, today, lib: int, seed: int, n_target: int, llm=None) -> list[dict]:
    """Requests the LLM wrote for this library's briefs (from the cache; with `llm`, missing ones are written)."""
    if lib not in LIBRARIES:
        return []
    n_target = min(n_target, REQUESTS_PER_LIBRARY)
    rng = random.Random(seed * 15485863 + lib)
    cache = load_cache()
    fact_words = set().union(*(c.facts for c in concepts))
    rows, seen, wrote = [], set(), 0
    for brief, cues, kind in _briefs(concepts, labeller, rng, n_target):
        if len(rows) >= n_target:
            break
        if brief not in cache:
            if llm is None:
                continue
            try:
                answer = llm.chat_json([{"role": "system", "content": SYSTEM},
                                        {"role": "user", "content": f"{brief}\nReturn JSON."}],
                                       {"type": "object", "properties": {SCHEMA_FIELD: {"type": "string", "maxLength": 100}},
                                        "required": [SCHEMA_FIELD]}, max_tokens=48)
            except Exception as exc:  # a brief the model cannot answer is skipped
                log.warning("LLM writer skipped %r: %s", brief, exc)
                continue
            cache[brief] = " ".join(str(answer.get(SCHEMA_FIELD, "")).split())
            wrote += 1
            if wrote % 10 == 0:
                save_cache(cache)
        text = cache[brief]
        if not text or text.lower() in seen:
            continue
        expected = reviewed_label(text, cues, labeller, label_row, fact_words)
        if expected is None:
            continue
        seen.add(text.lower())
        status = {"select": kind, "clarify": "clarify", "none": "none"}[expected["expect"]]
        rows.append({"id": f"M{lib}-{len(rows) + 1:04d}", "request": text, **expected, "tags": [status, kind],
                     "today": today.isoformat(), "writer": WRITER})
    if wrote:
        save_cache(cache)
    return rows


def reviewed_label(text: str, cues: set[str], labeller, label_row, fact_words: set[str]) -> dict | None:
    """The brief's label if the sentence the model wrote still carries it by the fact rule, else None.

    The sentence must say the brief's cue facts (the word, or a word a writer lets stand for it) and name
    no other concept's subject or name (for a "nothing fits" brief: no concept's at all)."""
    found = labeller.matches(cues)
    used = _words(text) & fact_words
    if found and not cues <= used | _synonym_hits(text, cues):
        return None
    mine = set().union(*(c.facts for c in found)) if found else set()
    # a subject word or a name of a concept outside the label ("my pug chasing the cat") points elsewhere
    elsewhere = {c.head for c in labeller.concepts} | {n for c in labeller.concepts for n in c.slot_facts.get("name", [])}
    if (used - mine) & elsewhere:
        return None
    return label_row(found) if found else {"expect": "none"}


def _words(text: str) -> set[str]:
    words = set(re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower()))
    return words | {w[:-1] for w in words if w.endswith("s")} | {w[:-2] for w in words if w.endswith("'s")}


def _synonym_hits(text: str, cues: set[str]) -> set[str]:
    """Cue facts the text says with a word one of the writers lets stand for them ("kitty" for cat)."""
    words = _words(text)
    hits = set()
    for cue in cues:
        says = set(W2.SAYS.get(cue, [])) | set(P.SYNONYMS.get(cue, []))
        if any(set(s.split()) <= words for s in says):
            hits.add(cue)
    return hits
