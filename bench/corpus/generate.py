"""Generate Check-in corpora: libraries of tiny model files and labelled requests (intent-dev's schema).

    python -m bench.corpus.generate OUT [--libraries 5] [--concepts 90] [--seed 2026]

Writes OUT/lib0 .. OUT/libN-1 (the last is the sealed split, the one before it the check split), each with `library/`, `requests.jsonl` and `concepts.json`, and
OUT/manifest.json (split of each library, counts, and the corpus hash the fitted weights record).

How labels are made: every concept is a set of canonical facts (subject word, attributes, name,
trigger); a request is rendered from a few facts (the word, a synonym or a translation, in one of
many sentence shapes) and its label is the set of concepts whose facts cover them: one -> select,
two to four -> clarify, none -> none. Negations remove the concepts holding the negated fact; version,
order, time and base-model cues pick one file. Proper names, place names and vehicle names are dealt
to libraries from disjoint slices, so a library's concepts are its own.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench.corpus import formats as F
from bench.corpus import pools as P


def split_of(lib: int, n_libraries: int) -> str:
    """The last library is sealed, the one before it is the check split, the rest are fitted on."""
    return "sealed" if lib == n_libraries - 1 else "check" if lib == n_libraries - 2 else "fit"


MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]


@dataclass
class FileSpec:
    rel: str
    base: str
    fmt: str
    version: int | None = None
    day: str | None = None
    copy_of: str | None = None


@dataclass
class Concept:
    cid: str
    domain: str
    head: str
    display: str
    trigger: str
    slots: dict  # slot -> surface value ("color": "orange", "quirk": "with a crooked tail")
    slot_facts: dict  # slot -> canonical fact words it stands for
    description: str
    tags: list[str]
    lang: str = "en"
    files: list[FileSpec] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)  # ways to refer to it: "our {color} {head}"

    @property
    def facts(self) -> set[str]:
        out = {self.trigger.lower()}
        for words in self.slot_facts.values():
            out |= set(words)
        if self.lang == "en":  # a broader word fits what the card shows ("hound" for a beagle)
            out |= {h for h, members in P.HYPERNYMS.items() if out & set(members)}
        return out | set(P.DOMAIN_WORDS.get(self.domain, []))

    def newest(self, base: str | None = None) -> FileSpec:
        files = [f for f in self.files if f.copy_of is None and (base is None or f.base == base)]
        return max(files, key=lambda f: (f.version or 0, f.day or ""))


def words_of(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower()) if w not in {"a", "the", "with", "who", "one", "of"}]


# ---------------------------------------------------------------------------------------------
# names dealt to libraries (disjoint), topped up with made-up names when a slice runs out

def dealt(pool: list[str], lib: int, n_libs: int, seed: int, rng: random.Random) -> list[str]:
    order = list(pool)
    random.Random(seed).shuffle(order)
    mine = order[lib::n_libs]
    syll = ["ka", "lo", "mi", "ra", "ven", "to", "sel", "dra", "ni", "bo", "quel", "fa", "zu", "mor", "tri", "el",
            "an", "be", "cor", "di", "ga", "ha", "jo", "lu", "ma", "ne", "pa", "ri", "sa", "ti", "vo", "ye"]
    ends = [["a", "o", "en"], ["ie", "us", "an"], ["el", "is", "ar"], ["ina", "ok", "et"], ["ur", "ette", "im"]][lib % 5]
    while len(mine) < 60:
        name = rng.choice(syll) + rng.choice(syll) + rng.choice(ends)
        if name not in mine and name not in pool:
            mine.append(name)
    return mine


def squash(word: str) -> str:
    """A trainer's rare token from a word: first letter plus consonants ('luna' -> 'ln')."""
    return word[0] + re.sub(r"[aeiou\W]", "", word[1:])[:3]


# ---------------------------------------------------------------------------------------------
# concepts per domain: (head, slots, slot facts, description, display name, tags, templates)

def make_concept(domain: str, rng: random.Random, names: dict[str, list[str]], like: Concept | None = None) -> dict:
    """One concept's parts; `like` makes a sibling that shares its subject (two cats, two watercolor styles)."""
    if domain == "pets":
        head = like.head if like else rng.choice(["cat"] * 4 + ["dog"] * 4 + list(P.PETS))
        breed = rng.choice(P.PETS[head])
        color = like.slots["color"] if like and rng.random() < 0.4 else rng.choice(P.PET_COLORS)
        quirk, qkey = rng.choice(P.PET_QUIRKS)
        name = names["pets"].pop()
        if names.get("shared") and rng.random() < 0.12:
            name = rng.choice(names["shared"])  # named after someone in the family
        slots = {"head": head, "breed": breed, "color": color, "quirk": quirk, "name": name.title()}
        facts = {"head": [head], "breed": breed.split(), "color": [color], "quirk": [qkey], "name": [name]}
        desc = rng.choice(["{Name}, our {color} {breed} {head} {quirk}.", "My {head} {Name}: a {color} {breed} {quirk}.",
                           "{color} {breed} {head} {quirk}. Trained on 30 photos of {Name}.",
                           "{Name}, {color} {breed}, {quirk}.", "Our {breed} {Name} ({color}) {quirk}."])
        display = rng.choice(["{Name} the {Breed}", "{name}_{breed_}", "{Name}", "{Name} ({color} {breed})"])
        tags = [head, breed, color]
        templates = ["my {head}", "our {color} {head}", "the {breed}", "the {color} {breed}", "my {head} {quirk}",
                     "the {breed} {quirk}", "{Name}", "{Name} the {head}", "{Name}, our {breed},"]
    elif domain == "people":
        relation = rng.choice([r for r in P.PEOPLE if not like or P.PEOPLE[r] == like.head])
        head = P.PEOPLE[relation]
        look, lwords = rng.choice(P.PEOPLE_LOOKS)
        name = names["people"].pop()
        names.setdefault("shared", []).append(name)
        slots = {"head": head, "relation": relation, "look": look, "name": name.title()}
        facts = {"head": [head], "relation": [relation], "look": lwords, "name": [name]}
        desc = rng.choice(["My {relation} {Name}, with {look}.", "{Name} ({relation}) -- photos from the holidays, {look}.",
                           "Portraits of {Name}, my {relation}. {look}."])
        display = rng.choice(["{Name}", "{name}_{relation}", "{Relation} {Name}", "{Name} portrait"])
        tags = [head, relation]
        templates = ["my {relation}", "my {relation} {Name}", "{Name}", "the {head} with {look}",
                     "my {relation} with {look}", "a {head}", "{Name}, my {relation},"]
    elif domain == "places":
        head = like.head if like else rng.choice(P.PLACES)
        adj = rng.choice(P.PLACE_ADJS)
        pname = names["places"].pop()
        slots = {"head": head, "adj": adj, "name": pname.title()}
        facts = {"head": [head], "adj": [adj], "name": [pname]}
        desc = rng.choice(["The {adj} {head} at {Name}.", "{Name} {head}: {adj}, photographed over three summers.",
                           "A {adj} {head} near {Name}."])
        display = rng.choice(["{Name} {Head}", "{name}_{head}", "{Adj} {Head} of {Name}"])
        tags = [head, adj]
        templates = ["the {adj} {head}", "the {head}", "{Name} {head}", "{Name}", "the {head} at {Name}"]
    elif domain == "objects":
        head = like.head if like else rng.choice(P.OBJECTS)
        attr = rng.choice(P.OBJECT_ATTRS)
        owner = rng.choice(P.OWNERS)
        slots = {"head": head, "attr": attr, "owner": owner}
        facts = {"head": [head], "attr": attr.split("-") if "-" in attr else [attr], "owner": [owner]}
        desc = rng.choice(["{owner}'s {attr} {head}.", "The {attr} {head} that belonged to {owner}.",
                           "Object LoRA: {owner}'s old {attr} {head}."])
        display = rng.choice(["{owner}_{head}", "{Attr} {Head}", "{Owner}'s {Head}"])
        tags = [head, attr]
        templates = ["my {attr} {head}", "the {head}", "{owner}'s {head}", "the {attr} {head}", "{owner}'s {attr} {head}"]
    elif domain == "styles":
        medium = like.slots["medium"] if like else rng.choice(list(P.STYLE_MEDIA))
        used = {like.slots["modifier"]} if like else set()
        modifier = rng.choice([m for m in P.STYLE_MEDIA[medium] if m not in used] or P.STYLE_MEDIA[medium])
        slots = {"head": "style", "medium": medium, "modifier": modifier}
        facts = {"head": ["style"], "medium": [medium], "modifier": modifier.split("-")}
        desc = rng.choice(["A {modifier} {medium} style.", "{modifier} {medium} look, trained on my own pieces.",
                           "Illustration style: {modifier} {medium}."])
        display = rng.choice(["{Modifier} {Medium}", "{modifier}_{medium}_style", "{Medium} ({modifier})"])
        tags = ["style", medium, modifier]
        templates = ["in {medium} style", "in a {modifier} {medium} style", "as a {medium} piece",
                     "{modifier} {medium} style"]
    elif domain == "poses":
        phrase, keys = rng.choice(P.POSES) if not like else (like.slots["pose"], like.slot_facts["pose"])
        slots = {"head": "pose", "pose": phrase}
        facts = {"head": ["pose"], "pose": keys}
        desc = rng.choice(["Pose LoRA: a person {pose}.", "Reliable {pose} pose.", "Full body, {pose}."])
        display = rng.choice(["{Pose} pose", "{pose_}_pose", "pose - {pose}"])
        tags = ["pose"] + keys
        templates = ["{pose}", "{pose} pose"]
    elif domain == "clothing":
        head = like.head if like else rng.choice(P.CLOTHES)
        attr = rng.choice(P.CLOTH_ATTRS)
        slots = {"head": head, "attr": attr}
        facts = {"head": [head], "attr": [attr]}
        desc = rng.choice(["A {attr} {head}, outfit LoRA.", "Clothing: my {attr} {head}.", "The {attr} {head} I made."])
        display = rng.choice(["{Attr} {Head}", "{attr}_{head}", "outfit - {attr} {head}"])
        tags = ["outfit", head, attr]
        templates = ["wearing the {attr} {head}", "wearing a {head}", "in the {attr} {head}"]
    elif domain == "food":
        head = like.head if like else rng.choice(P.FOODS)
        attr = rng.choice(P.FOOD_ATTRS)
        owner = rng.choice(P.OWNERS)
        slots = {"head": head, "attr": attr, "owner": owner}
        facts = {"head": [head], "attr": [attr], "owner": [owner]}
        desc = rng.choice(["{owner}'s {attr} {head}.", "Food LoRA: {attr} {head} the way {owner} makes it.",
                           "{attr} {head}, family recipe ({owner})."])
        display = rng.choice(["{Owner}'s {Head}", "{attr}_{head}", "{Attr} {Head}"])
        tags = ["food", head]
        templates = ["{owner}'s {head}", "a plate of {attr} {head}", "{head}", "{owner}'s {attr} {head}"]
    else:  # vehicles
        head = like.head if like else rng.choice(P.VEHICLES)
        attr = rng.choice(P.VEHICLE_ATTRS)
        vname = names["vehicles"].pop()
        slots = {"head": head, "attr": attr, "name": vname.title()}
        facts = {"head": [head], "attr": attr.split("-") if "-" in attr else [attr], "name": [vname]}
        desc = rng.choice(["Our {attr} {head}, {Name}.", "{Name}, the {attr} {head} we fixed up.", "{attr} {head} named {Name}."])
        display = rng.choice(["{Name} the {Head}", "{name}_{head}", "{Name}"])
        tags = [head, attr]
        templates = ["our {attr} {head}", "{Name} the {head}", "{Name}", "the {head}", "the {attr} {head}"]
    return dict(head=slots["head"], slots=slots, slot_facts=facts, desc=desc, display=display, tags=tags,
                templates=templates)


def fill(template: str, slots: dict) -> str:
    """Fill {slot}, {Slot} (title case) and {slot_} (underscored) from a concept's slots."""
    def one(m):
        key = m.group(1)
        low = key.lower().rstrip("_")
        value = str(slots.get(low, slots.get(key, "")))
        if key.endswith("_"):
            return value.replace(" ", "_").replace("-", "_")
        return value[:1].upper() + value[1:] if key[0].isupper() else value
    text = re.sub(r"\{(\w+)\}", one, template)
    return re.sub(r"\s+", " ", text).strip()


def template_facts(template: str, concept: Concept) -> set[str]:
    out = set()
    for key in re.findall(r"\{(\w+)\}", template):
        out |= set(concept.slot_facts.get(key.lower().rstrip("_"), []))
    return out


# ---------------------------------------------------------------------------------------------
# a library

def build_concepts(lib: int, n_libs: int, n_concepts: int, seed: int) -> tuple[list[Concept], date]:
    rng = random.Random(seed * 1000 + lib)
    names = {"pets": dealt(P.PET_NAMES, lib, n_libs, seed, rng), "people": dealt(P.PEOPLE_NAMES, lib, n_libs, seed, rng),
             "places": dealt(P.PLACE_NAMES, lib, n_libs, seed, rng),
             "vehicles": dealt(P.VEHICLE_NAMES, lib, n_libs, seed, rng)}
    weights = [rng.uniform(0.5, 2.0) for _ in P.DOMAINS]  # each library leans to different domains
    today = date(2026, 1, 1) + timedelta(days=rng.randrange(0, 330))
    concepts: list[Concept] = []
    seen_keys, triggers = set(), set()
    while len(concepts) < n_concepts:
        domain = rng.choices(P.DOMAINS, weights)[0]
        same = [c for c in concepts if c.domain == domain]
        like = rng.choice(same) if same and rng.random() < 0.35 else None
        parts = make_concept(domain, rng, names, like)
        # one concept per (subject, main attribute): two "glazed pizza" cards would be one concept to anyone
        facts_ = parts["slot_facts"]
        key = (domain, tuple(facts_["head"]), tuple(facts_.get("breed") or facts_.get("attr") or facts_.get("adj")
                                                 or facts_.get("modifier") or facts_.get("pose") or facts_.get("name")))
        if key in seen_keys or (("name", tuple(facts_.get("name", []))) in seen_keys and "name" in facts_
                                and domain != "pets"):
            continue
        seen_keys.add(key)
        if "name" in facts_:
            seen_keys.add(("name", tuple(facts_["name"])))
        slots = parts["slots"]
        base_word = re.sub(r"\W", "", (slots.get("name") or slots.get("modifier") or slots.get("attr") or slots["head"]).lower())
        tail = re.sub(r"\W", "", slots.get("breed", slots.get("medium", slots["head"])).lower())[:5]
        trigger = squash(base_word) + tail
        while trigger in triggers or len(trigger) < 5:
            trigger += rng.choice("xzkq")
        triggers.add(trigger)
        cid = f"L{lib}C{len(concepts):03d}"
        lang = "en"
        if domain in ("pets", "people", "places") and "name" in slots and rng.random() < 0.14:
            lang = rng.choice(sorted(P.CARD_LANG))
        concept = Concept(cid=cid, domain=domain, head=parts["head"], display=fill(parts["display"], slots),
                          trigger=trigger, slots=slots, slot_facts=parts["slot_facts"],
                          description=fill(parts["desc"], slots), tags=parts["tags"], lang=lang,
                          templates=parts["templates"])
        if lang != "en":  # the card says only its name (and the subject word, translated): facts shrink to match
            word = P.TRANSLATE.get(concept.head, {}).get(lang)
            concept.description = P.CARD_LANG[lang].format(name=slots["name"]) + (f" ({word})" if word else "")
            concept.slot_facts = {"name": concept.slot_facts["name"]}
            concept.tags = []
            concept.templates = [t for t in concept.templates if set(re.findall(r"\{(\w+)\}", t.lower())) <= {"name"}]
        concepts.append(concept)
    return concepts, today


FORMATS = ["kohya_a1111", "kohya_civitai", "modelspec", "kohya_only", "civitai_only", "peft", "ti", "ckpt",
           "locon", "loha"]
FORMAT_WEIGHTS = [5, 4, 3, 2, 2, 1.2, 1.5, 1, 0.8, 0.6]
FOLDERS = {"pets": "pets", "people": "family", "places": "places", "objects": "objects", "styles": "styles",
           "poses": "poses", "clothing": "clothes", "food": "food", "vehicles": "vehicles"}


def plan_files(concepts: list[Concept], rng: random.Random, today: date) -> None:
    """Files per concept: one, or several versions with dates; sometimes an SDXL twin or a copy."""
    stems: set[str] = set()
    for c in concepts:
        stem = re.sub(r"[^\w]+", "_", c.display.lower()).strip("_") or c.trigger
        while stem in stems:  # two concepts never share a file name
            stem = f"{stem}_{c.trigger[:3]}"
        stems.add(stem)
        base = rng.choice(["sd15"] * 3 + ["sdxl"] * 2 + ["sd21"])
        fmt = rng.choices(FORMATS, FORMAT_WEIGHTS)[0]
        n_versions = 1 if rng.random() < 0.72 else rng.choice([2, 3, 3, 4])
        if n_versions > 1 and fmt in ("ti", "ckpt", "peft", "civitai_only", "kohya_only"):
            fmt = rng.choice(["kohya_a1111", "kohya_civitai", "modelspec"])
        # versions spread over the two years before today, each in a month of its own
        months = sorted(rng.sample(range(1, 24), n_versions), reverse=True)
        folder = ("embeddings" if fmt == "ti" else "Stable-diffusion" if fmt == "ckpt"
                  else f"Lora/{FOLDERS[c.domain]}")
        numbered = n_versions == 1 or rng.random() < 0.7
        for i, back in enumerate(months):
            first = today.replace(day=1) - timedelta(days=30 * back)
            day = (first.replace(day=rng.randint(1, 27))).isoformat()
            version = (i + 1) if n_versions > 1 and numbered else None
            name = stem + (f"_v{version}" if version else (f"_{day[:7].replace('-', '')}" if n_versions > 1 else ""))
            if fmt == "ti":
                rel = f"{folder}/{c.trigger}.safetensors"
            elif fmt == "peft":
                rel = f"{folder}/{name}/pytorch_lora_weights.safetensors"
            else:
                rel = f"{folder}/{name}.safetensors"
            c.files.append(FileSpec(rel=rel, base=base, fmt=fmt, version=version, day=day if fmt != "kohya_only" or i else day))
        if fmt in ("kohya_a1111", "kohya_civitai", "modelspec") and rng.random() < 0.1:
            newest = c.newest()
            other = "sdxl" if base != "sdxl" else "sd15"
            twin_day = (date.fromisoformat(newest.day) + timedelta(days=3)).isoformat()
            c.files.append(FileSpec(rel=f"Lora/SDXL/{stem}_xl.safetensors" if other == "sdxl" else f"Lora/sd15/{stem}_sd15.safetensors",
                                    base=other, fmt=fmt, version=newest.version, day=twin_day))
        if rng.random() < 0.05 and fmt not in ("peft", "ti"):
            src = c.newest()
            c.files.append(FileSpec(rel=f"Downloads/{Path(src.rel).stem} (copy).safetensors", base=src.base,
                                    fmt=src.fmt, version=src.version, day=src.day, copy_of=src.rel))


def write_file(root: Path, c: Concept, f: FileSpec) -> None:
    """One model file and its sidecars in the format the plan names."""
    path = root / f.rel
    if f.copy_of:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / f.copy_of, path)
        return
    vlabel = f"v{f.version}" if f.version else None
    title = c.display + (f" {vlabel}" if vlabel else "") + (" XL" if f.base == "sdxl" and "_xl" in f.rel else "")
    out_name = Path(f.rel).stem if f.fmt != "peft" else Path(f.rel).parent.name
    cls = c.head if c.domain in ("pets", "people") else ""
    tags = [t for t in c.tags if t]
    if f.fmt in ("kohya_a1111", "kohya_only", "locon", "loha"):
        algo = {"locon": "locon", "loha": "loha"}.get(f.fmt, "lora")
        comment = c.description if f.fmt == "kohya_only" else "None"
        meta = F.kohya_metadata(out_name, c.trigger, cls, f.base, tags, f.day, comment=comment)
        if algo != "lora":
            meta["ss_network_module"] = "lycoris.kohya"
        F.write_safetensors(path, F.kohya_lora(f.base, algo=algo), meta)
        if f.fmt != "kohya_only":
            F.write_json(path.with_suffix(".json"), {"description": c.description, "sd version": F.A1111_BASE[f.base],
                                                     "activation text": c.trigger, "notes": vlabel or ""})
    elif f.fmt in ("kohya_civitai", "civitai_only"):
        meta = {} if f.fmt == "civitai_only" else F.kohya_metadata(out_name, c.trigger, cls, f.base, tags, f.day)
        F.write_safetensors(path, F.kohya_lora(f.base, te=False), meta)
        F.write_json(path.parent / (path.stem + ".civitai.info"), {
            "name": vlabel or "v1.0", "createdAt": (f.day or "2025-01-01") + "T12:00:00.000Z", "trainedWords": [c.trigger],
            "baseModel": F.CIVITAI_BASE[f.base], "description": f"<p>{c.description}</p>",
            "model": {"name": c.display, "type": "LORA", "tags": tags}})
    elif f.fmt == "modelspec":
        meta = {"modelspec.sai_model_spec": "1.0.0", "modelspec.architecture": F.ARCH[f.base] + "/lora",
                "modelspec.title": title, "modelspec.description": c.description, "modelspec.trigger_phrase": c.trigger,
                "modelspec.tags": ", ".join(tags), "modelspec.date": (f.day or "2025-01-01") + "T09:00:00"}
        F.write_safetensors(path, F.kohya_lora(f.base), meta)
    elif f.fmt == "peft":
        F.write_safetensors(path, F.peft_lora(f.base), {"format": "pt"})
        tag_lines = "".join(f"- {t}\n" for t in tags)
        (path.parent / "README.md").write_text(
            f"---\nbase_model: {F.HF_BASE[f.base]}\ninstance_prompt: a photo of {c.trigger} {cls or c.head}\ntags:\n- lora\n"
            f"{tag_lines}---\n\n# LoRA DreamBooth - {out_name}\n\n{c.description}\n", encoding="utf-8")
    elif f.fmt == "ti":
        F.write_safetensors(path, F.ti_tensors(f.base), {})
        F.write_json(path.with_suffix(".json"), {"description": c.description, "sd version": F.A1111_BASE[f.base]})
    elif f.fmt == "ckpt":
        F.write_safetensors(path, F.checkpoint_tensors(f.base), {})
        F.write_json(path.with_suffix(".json"), {"description": c.description,
                                                 "notes": f"instance prompt: {c.trigger} {cls or c.head}"})
    if f.fmt in ("kohya_a1111", "modelspec") and len(c.trigger) % 3 == 0:
        (path.parent / (path.stem + ".preview.png")).write_bytes(F.PNG_1PX)


# ---------------------------------------------------------------------------------------------
# requests

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
        for b in bases:
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


# ---------------------------------------------------------------------------------------------

def write_corpus(out: Path, n_libraries: int = 10, n_concepts: int = 90, seed: int = 2026,
                 requests_per_concept: float = 5.0, llm=None) -> dict:
    """Write every library with the requests of the three writers (templates, plain, llm); return the
    manifest (also written to OUT/manifest.json). `llm` writes briefs missing from the LLM writer's cache."""
    from bench.corpus import llm_writer, plain_writer

    out = Path(out)
    manifest = {"seed": seed, "libraries": []}
    digest = hashlib.sha256()
    for lib in range(n_libraries):
        concepts, today = build_concepts(lib, n_libraries, n_concepts, seed)
        plan_files(concepts, random.Random(seed * 31 + lib), today)
        root = out / f"lib{lib}"
        if root.exists():
            shutil.rmtree(root)
        library = root / "library"
        for c in concepts:
            for f in sorted(c.files, key=lambda f: f.copy_of is not None):
                write_file(library, c, f)
        n_target = int(n_concepts * requests_per_concept)
        rows = make_requests(concepts, today, lib, seed, n_target)
        lab = Labeller(concepts)
        rows += plain_writer.write_requests(concepts, lab, label_row, today, lib, seed, n_target // 2)
        rows += llm_writer.write_requests(concepts, lab, label_row, today, lib, seed, n_target // 3, llm=llm)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (root / "requests.jsonl").write_text(text, encoding="utf-8")
        facts = [{"cid": c.cid, "domain": c.domain, "display": c.display, "trigger": c.trigger, "lang": c.lang,
                  "facts": sorted(c.facts), "files": [f.__dict__ for f in c.files]} for c in concepts]
        (root / "concepts.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False), encoding="utf-8")
        digest.update(text.encode("utf-8"))
        digest.update(json.dumps(facts, sort_keys=True).encode("utf-8"))
        counts: dict[str, dict[str, int]] = {}
        for r in rows:
            per = counts.setdefault(r["writer"], {})
            per[r["expect"]] = per.get(r["expect"], 0) + 1
        manifest["libraries"].append({"name": f"lib{lib}", "split": split_of(lib, n_libraries), "today": today.isoformat(),
                                      "concepts": len(concepts), "files": sum(len(c.files) for c in concepts),
                                      "requests": len(rows), "expect": counts})
    manifest["hash"] = digest.hexdigest()[:16]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.corpus.generate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--libraries", type=int, default=10)
    p.add_argument("--concepts", type=int, default=90)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--llm-writer", action="store_true",
                   help="load the local LLM and write the LLM writer's briefs missing from its cache (slow)")
    p.add_argument("--llm-libraries", nargs="+", type=int, default=None,
                   help="only fill the LLM writer's cache for these libraries (no corpus is written)")
    args = p.parse_args(argv)
    llm = None
    if args.llm_writer or args.llm_libraries:
        from local_llm.runtime import get_llm

        llm = get_llm()
    if args.llm_libraries:
        from bench.corpus import llm_writer

        for lib in args.llm_libraries:
            concepts, today = build_concepts(lib, args.libraries, args.concepts, args.seed)
            plan_files(concepts, random.Random(args.seed * 31 + lib), today)
            rows = llm_writer.write_requests(concepts, Labeller(concepts), label_row, today, lib, args.seed,
                                             llm_writer.REQUESTS_PER_LIBRARY, llm=llm)
            print(f"lib{lib}: {len(rows)} requests", flush=True)
        return 0
    manifest = write_corpus(args.out, args.libraries, args.concepts, args.seed, llm=llm)
    print(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
