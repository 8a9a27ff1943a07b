"""A corpus library's labelled requests: each rendered from a few facts of its concepts, in many sentence
shapes, with negations and version, order, time and base-model cues; its label is the set of concepts whose
facts it covers (one: select, two to four: clarify, none: none)."""
from __future__ import annotations

import random
import re
from datetime import date, timedelta
from pathlib import Path

from bench.corpus import pools as P
from bench.corpus.concepts import MONTH_NAMES, Concept, FileSpec, fill, template_facts, words_of

SHAPES = ["{s} {scene}", "a photo of {s} {scene}", "can you draw {s} {scene}?", "I want a picture of {s} {scene}",
          "{Scene}: {s}", "make {s} {scene}, please", "{s}, {scene}", "generate {s} {scene}, high detail",
          "show me {s} {scene}", "portrait of {s}", "{scene} with {s}", "{s} {scene}, cinematic lighting",
          "could you make an image where {s} is {scene}", "need {s} {scene} for a card"]
STYLE_SHAPES = ["{subject} {s}", "paint {subject} {s}", "{subject}, {s}", "I'd like {subject} done {s}",
                "{subject} rendered {s}"]
POSE_SUBJECTS = ["a dancer", "an old fisherman", "a woman in a park", "a kid on a beach", "a chef", "a climber"]


_SCENES = list(P.SCENES)


def set_neutral_scenes(concepts: list[Concept]) -> None:
    """Keep only scenes none of whose words is a fact of a concept (a scene must never decide a label)."""
    facts = set().union(*(c.facts for c in concepts))
    _SCENES[:] = [s for s in P.SCENES if not set(words_of(s)) & facts]


def lib_rng(lib: int, seed: int) -> random.Random:
    return random.Random(seed * 7919 + lib)


def surface(word: str, rng: random.Random, paraphrase: bool) -> str:
    if paraphrase and word in P.SYNONYMS:
        return rng.choice(P.SYNONYMS[word])
    return word


def render_ref(template: str, c: Concept, rng: random.Random, paraphrase: bool = False) -> str:
    slots = dict(c.slots)
    if paraphrase:
        slots = {k: (surface(v, rng, True) if isinstance(v, str) and k not in ("name",) else v) for k, v in slots.items()}
    return fill(template, slots)


def sentence(ref: str, c: Concept, rng: random.Random) -> str:
    if c.domain == "styles":
        return rng.choice(STYLE_SHAPES).format(subject=rng.choice(P.STYLE_SUBJECTS), s=ref)
    if c.domain == "poses":
        return f"{rng.choice(POSE_SUBJECTS)} {ref} {rng.choice(_SCENES)}"
    if c.domain == "clothing":
        return f"{rng.choice(POSE_SUBJECTS)} {ref} {rng.choice(_SCENES)}"
    scene = rng.choice(_SCENES)
    return rng.choice(SHAPES).format(s=ref, scene=scene, Scene=scene[:1].upper() + scene[1:])


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["swap", "drop", "double"])
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "drop":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


class Labeller:
    """Labels from facts: which concepts a set of cue words (and negated words) covers."""

    def __init__(self, concepts: list[Concept]):
        self.concepts = concepts

    def matches(self, cues: set[str], negated: set[str] = frozenset()) -> list[Concept]:
        return [c for c in self.concepts if cues <= c.facts and not (negated & c.facts)]


def select_row(c: Concept, file: FileSpec | None = None, pinned: bool = False) -> dict:
    target = file or c.newest()
    copies = [f.rel for f in c.files if f.copy_of == target.rel]
    equivalent = copies if pinned else [f.rel for f in c.files if f.rel != target.rel]
    return {"expect": "select", "checkpoint": target.rel, "equivalent": equivalent, "expected_trigger": c.trigger,
            "concept": c.cid}


def label_row(found: list[Concept]) -> dict | None:
    if len(found) == 1:
        return select_row(found[0])
    if 2 <= len(found) <= 4:
        return {"expect": "clarify", "candidates": [c.newest().rel for c in found],
                "candidate_concepts": [c.cid for c in found]}
    if not found:
        return {"expect": "none"}
    return None  # too many fit for one question: not a request we label


def version_cues(c: Concept, today: date, rng: random.Random) -> list[tuple[str, FileSpec | None, str]]:
    """(cue phrase, the file it picks or None when no version fits, tag) for a versioned concept."""
    files = sorted([f for f in c.files if f.copy_of is None and f.base == c.newest().base],
                   key=lambda f: (f.version or 0, f.day))
    out = []
    if len(files) >= 2:
        out += [(rng.choice(["the latest version", "the newest one", "the most recent model"]), files[-1], "order"),
                (rng.choice(["the first version", "the original one", "the oldest model"]), files[0], "order"),
                (rng.choice(["the one before the latest", "the previous version"]), files[-2], "order")]
        f = rng.choice(files)
        d = date.fromisoformat(f.day)
        out.append((rng.choice([f"the one from {MONTH_NAMES[d.month - 1]} {d.year}", f"trained in {MONTH_NAMES[d.month - 1]} {d.year}"]),
                    f, "time"))
        year_files = [g for g in files if g.day[:4] == f.day[:4]]
        if len(year_files) == 1:
            out.append((f"the {f.day[:4]} one", f, "time"))
        if all(g.version for g in files):
            g = rng.choice(files)
            out.append((rng.choice([f"v{g.version}", f"version {g.version}"]), g, "version"))
            out.append((f"v{len(files) + 4}", None, "version"))
        for months_back in (1, 12):
            lo = today - timedelta(days=31 * months_back)
            if months_back == 1:
                hits = [g for g in files if date.fromisoformat(g.day) >= lo]
                if len(hits) == 1:
                    out.append(("the one from last month" if date.fromisoformat(hits[0].day).month != today.month else
                                "this month's version", hits[0], "relative"))
            else:
                hits = [g for g in files if date.fromisoformat(g.day).year == today.year - 1]
                if len(hits) == 1:
                    out.append(("the one from last year", hits[0], "relative"))
    bases = {f.base for f in c.files if f.copy_of is None}
    if len(bases) > 1:
        for b in sorted(bases):
            out.append((rng.choice({"sdxl": ["the SDXL one", "XL version"], "sd15": ["the SD 1.5 one", "for SD1.5"],
                                    "sd21": ["the SD 2.1 one"]}[b]), c.newest(b), "base_model"))
    return out


def make_requests(concepts: list[Concept], today: date, lib: int, seed: int, n_target: int) -> list[dict]:
    rng = lib_rng(lib, seed)
    set_neutral_scenes(concepts)
    lab = Labeller(concepts)
    rows: list[dict] = []
    seen: set[str] = set()

    def add(text: str, label: dict | None, tags: list[str]):
        text = re.sub(r"\s+", " ", text).strip()
        if label is None or text.lower() in seen:
            return
        seen.add(text.lower())
        rows.append({"id": f"L{lib}-{len(rows) + 1:04d}", "request": text, **label, "tags": tags,
                     "today": today.isoformat(), "writer": "templates"})

    def unique_refs(c: Concept):
        """Templates that single out c (facts only it holds), not counting trigger/name."""
        out = []
        for t in c.templates:
            facts = template_facts(t, c)
            if facts and lab.matches(facts) == [c] and "name" not in re.findall(r"\{(\w+)\}", t.lower()):
                out.append(t)
        return out

    # single-match requests
    for _ in range(n_target * 4):
        if len([r for r in rows if r["expect"] == "select"]) >= int(n_target * 0.7):
            break
        kind = rng.choices(["trigger", "name", "description", "paraphrase", "filename", "typo", "rambling",
                            "multilingual", "version", "negation"], [10, 10, 14, 12, 4, 6, 5, 8, 10, 7])[0]
        versioned = [c for c in concepts if len({f.rel for f in c.files if f.copy_of is None}) > 1]
        c = rng.choice(versioned if kind == "version" and versioned else concepts)
        has_name = "name" in c.slots
        if kind == "trigger":
            ref = c.trigger if rng.random() < 0.8 else c.trigger.upper()
            text = sentence(ref, c, rng) if rng.random() < 0.6 else f"{ref} {rng.choice(_SCENES)}"
            add(text, select_row(c), ["trigger"] + (["style"] if c.domain == "styles" else []))
        elif kind == "name" and (has_name or c.lang == "en"):
            refs = [t for t in c.templates if "{Name}" in t or "{name}" in t] or [c.display]
            t = rng.choice(refs)
            ref = render_ref(t, c, rng) if "{" in t else c.display
            facts = template_facts(t, c) if "{" in t else set(words_of(c.display))
            add(sentence(ref, c, rng), label_row(lab.matches(facts)), ["name"])
        elif kind in ("description", "paraphrase", "rambling"):
            refs = unique_refs(c)
            if not refs:
                continue
            t = rng.choice(refs)
            para = kind == "paraphrase"
            ref = render_ref(t, c, rng, paraphrase=para)
            if para and ref == render_ref(t, c, rng):
                continue
            text = sentence(ref, c, rng)
            tags = [kind] + (["style"] if c.domain == "styles" else [])
            if kind == "rambling":
                text = f"{rng.choice(P.RAMBLE_HEAD)} {text} {rng.choice(P.RAMBLE_TAIL)}"
            add(text, select_row(c), tags)
        elif kind == "filename":
            f = rng.choice([f for f in c.files if f.copy_of is None])
            stem = Path(f.rel).stem if f.fmt != "peft" else Path(f.rel).parent.name
            if stem == "pytorch_lora_weights" or stem == c.trigger:
                continue
            text = rng.choice([f"use {stem} for {rng.choice(P.STYLE_SUBJECTS)}", f"{stem}: {rng.choice(_SCENES)}",
                               f"with {stem}.safetensors, {rng.choice(P.STYLE_SUBJECTS)}"])
            add(text, select_row(c, f, pinned=True), ["filename"])
        elif kind == "typo":
            if rng.random() < 0.5 or not has_name:
                ref = typo(c.trigger, rng)
                if ref == c.trigger:
                    continue
                add(sentence(ref, c, rng), select_row(c), ["typo", "trigger"])
            else:
                name = c.slots["name"]
                bad = typo(name, rng)
                if bad == name or len(lab.matches({name.lower()})) != 1:
                    continue
                add(sentence(bad, c, rng), select_row(c), ["typo", "name"])
        elif kind == "multilingual":
            lang = rng.choice(P.LANGS)
            if c.domain in ("styles", "poses", "clothing", "food", "objects") or not has_name:
                x = c.trigger
                facts = {c.trigger}
            elif rng.random() < 0.5:
                x, facts = c.slots["name"], {c.slots["name"].lower()}
            else:
                word = P.TRANSLATE.get(c.head, {}).get(lang)
                color = c.slots.get("color")
                cword = P.TRANSLATE.get(color or "", {}).get(lang)
                if not word:
                    continue
                facts = {c.head}
                x = word
                if cword and rng.random() < 0.6:
                    facts.add(color)
                    x = f"{cword}{word}" if lang in ("zh", "ja") else (f"{cword} {word}" if lang == "de" else f"{word} {cword}")
            add(rng.choice(P.FRAMES[lang]).format(x=x), label_row(lab.matches(facts)), ["multilingual", lang])
        elif kind == "version":
            cues = version_cues(c, today, rng)
            if not cues:
                continue
            cue, f, tag = rng.choice(cues)
            refs = [c.trigger] + ([c.slots["name"]] if has_name else []) + [render_ref(t, c, rng) for t in unique_refs(c)]
            ref = rng.choice(refs)
            text = rng.choice([f"{ref}, {cue}, {rng.choice(_SCENES)}", f"{cue} of {ref} {rng.choice(_SCENES)}",
                               f"{ref} {rng.choice(_SCENES)} ({cue})", f"use {cue} of {ref}"])
            add(text, select_row(c, f, pinned=True) if f else {"expect": "none"}, ["version", tag])
        elif kind == "negation":
            # a cue several concepts share, and a word (or name) of the one to leave out
            for t in c.templates:
                facts = template_facts(t, c)
                group = lab.matches(facts) if facts else []
                if 2 <= len(group) <= 3 and "name" not in t.lower():
                    other = rng.choice([g for g in group if g is not c])
                    diff = sorted(other.facts - c.facts - set(P.DOMAIN_WORDS.get(other.domain, [])) - {other.trigger})
                    if not diff:
                        continue
                    by_name = "name" in other.slots and rng.random() < 0.5
                    word = other.slots["name"] if by_name else rng.choice(diff)
                    neg = {word.lower()}
                    found = lab.matches(facts, negated=neg)
                    ref = render_ref(t, c, rng)
                    text = rng.choice([f"{sentence(ref, c, rng)}, not the {word} one",
                                       f"{sentence(ref, c, rng)} but not {word}",
                                       f"{ref} (not {word}) {rng.choice(_SCENES)}"])
                    add(text, label_row(found), ["negation"])
                    break

    # broader words ("a hound", "one of my grandparents"): one concept -> select, two to four -> clarify
    for hyper, phrases in P.HYPERNYM_PHRASES.items():
        found = lab.matches({hyper})
        if not 1 <= len(found) <= 4:
            continue
        for _ in range(2 if len(found) > 1 else 1):
            ref = rng.choice(phrases)
            c = found[0]
            if c.domain == "clothing":
                ref = "wearing " + ref
            text = sentence(ref, c, rng) if c.domain not in ("styles",) else rng.choice(STYLE_SHAPES).format(
                subject=rng.choice(P.STYLE_SUBJECTS), s=ref)
            add(text, label_row(found), ["clarify" if len(found) > 1 else "paraphrase", "category"])
    # one name, two concepts (a pet named after grandpa): the name alone asks
    by_name: dict[str, list[Concept]] = {}
    for c in concepts:
        if "name" in c.slot_facts:
            by_name.setdefault(c.slot_facts["name"][0], []).append(c)
    for name, group in by_name.items():
        if len(group) >= 2:
            for _ in range(2):
                add(sentence(name.title(), group[0], rng), label_row(lab.matches({name})), ["clarify", "name"])

    # ambiguous requests: a cue two to four concepts share
    groups = []
    for c in concepts:
        for t in c.templates:
            facts = template_facts(t, c)
            found = lab.matches(facts) if facts else []
            if 2 <= len(found) <= 4 and "name" not in t.lower():
                groups.append((t, c, found))
    rng.shuffle(groups)
    for t, c, found in groups:
        if len([r for r in rows if r["expect"] == "clarify"]) >= int(n_target * 0.2):
            break
        para = rng.random() < 0.3
        ref = render_ref(t, c, rng, paraphrase=para)
        if rng.random() < 0.15:
            lang = rng.choice(P.LANGS)
            word = P.TRANSLATE.get(c.head, {}).get(lang)
            if word and template_facts(t, c) == {c.head}:
                add(rng.choice(P.FRAMES[lang]).format(x=word), label_row(found), ["clarify", "multilingual", lang])
                continue
        add(sentence(ref, c, rng), label_row(found), ["clarify"] + (["paraphrase"] if para else []))

    # nothing fits
    heads = {c.head for c in concepts}
    absent = [a for a in P.ABSENT if a not in heads] + [h for h in P.PETS if h not in heads]
    attrs = sorted({c.slots[k] for c in concepts for k in ("color", "attr", "adj") if k in c.slots})
    for _ in range(n_target * 2):
        if len([r for r in rows if r["expect"] == "none"]) >= int(n_target * 0.1):
            break
        what = rng.choice(absent)
        shape = rng.random()
        present_breeds = {b for c in concepts for b in [c.slots.get("breed")] if b}
        absent_breeds = [(b, h) for c in concepts if c.domain == "pets" for h in [c.head]
                         for b in P.PETS[h] if b not in present_breeds]
        if shape < 0.25 and attrs:
            ref = f"a {rng.choice(attrs)} {what}"
        elif shape < 0.35:
            ref = f"my {what}"
        elif shape < 0.45:
            ref = rng.choice(P.ABSENT_NAMES).title()
        elif shape < 0.55:
            ref = f"my {rng.choice(P.ABSENT_RELATIONS)}"
        elif shape < 0.62:
            ref = f"portrait of {rng.choice(P.FAMOUS).title()}"
        elif shape < 0.75 and absent_breeds:
            ref = f"a {rng.choice(absent_breeds)[0]}"  # the library holds that animal, not that breed
        else:
            ref = f"a {what}"
        text = rng.choice(SHAPES).format(s=ref, scene=(sc := rng.choice(_SCENES)), Scene=sc.capitalize())
        add(text, {"expect": "none"}, ["none"])
    return rows
