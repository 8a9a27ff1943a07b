"""A corpus library's concepts (pets, people, places, objects, styles) as canonical facts, the files each
is trained into (formats, versions, bases, copies), and those files written as tiny model files."""
from __future__ import annotations

import random
import re
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench.corpus import formats as F
from bench.corpus import pools as P

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
# concepts per domain: the slots drawn for each (head, slots, slot facts, tags), then a description and a
# display name drawn from the domain's wording, and the ways a request refers to it

@dataclass(frozen=True)
class Wording:
    """How a domain's concepts are written about: what a card's description says, what the card is named,
    and the phrases a request refers to it by ({Slot} title case, {slot_} underscored; see fill)."""

    descriptions: list[str]
    displays: list[str]
    references: list[str]


WORDING = {
    "pets": Wording(
        descriptions=["{Name}, our {color} {breed} {head} {quirk}.", "My {head} {Name}: a {color} {breed} {quirk}.",
                      "{color} {breed} {head} {quirk}. Trained on 30 photos of {Name}."],
        displays=["{Name} the {Breed}", "{name}_{breed_}", "{Name}", "{Name} ({color} {breed})"],
        references=["my {head}", "our {color} {head}", "the {breed}", "the {color} {breed}", "my {head} {quirk}",
                    "the {breed} {quirk}", "{Name}", "{Name} the {head}", "{Name}, our {breed},"]),
    "people": Wording(
        descriptions=["My {relation} {Name}, with {look}.", "{Name} ({relation}) -- photos from the holidays, {look}.",
                      "Portraits of {Name}, my {relation}. {look}."],
        displays=["{Name}", "{name}_{relation}", "{Relation} {Name}", "{Name} portrait"],
        references=["my {relation}", "my {relation} {Name}", "{Name}", "the {head} with {look}",
                    "my {relation} with {look}", "a {head}", "{Name}, my {relation},"]),
    "places": Wording(
        descriptions=["The {adj} {head} at {Name}.", "{Name} {head}: {adj}, photographed over three summers.",
                      "A {adj} {head} near {Name}."],
        displays=["{Name} {Head}", "{name}_{head}", "{Adj} {Head} of {Name}"],
        references=["the {adj} {head}", "the {head}", "{Name} {head}", "{Name}", "the {head} at {Name}"]),
    "objects": Wording(
        descriptions=["{owner}'s {attr} {head}.", "The {attr} {head} that belonged to {owner}.",
                      "Object LoRA: {owner}'s old {attr} {head}."],
        displays=["{owner}_{head}", "{Attr} {Head}", "{Owner}'s {Head}"],
        references=["my {attr} {head}", "the {head}", "{owner}'s {head}", "the {attr} {head}",
                    "{owner}'s {attr} {head}"]),
    "styles": Wording(
        descriptions=["A {modifier} {medium} style.", "{modifier} {medium} look, trained on my own pieces.",
                      "Illustration style: {modifier} {medium}."],
        displays=["{Modifier} {Medium}", "{modifier}_{medium}_style", "{Medium} ({modifier})"],
        references=["in {medium} style", "in a {modifier} {medium} style", "as a {medium} piece",
                    "{modifier} {medium} style"]),
    "poses": Wording(
        descriptions=["Pose LoRA: a person {pose}.", "Reliable {pose} pose.", "Full body, {pose}."],
        displays=["{Pose} pose", "{pose_}_pose", "pose - {pose}"],
        references=["{pose}", "{pose} pose"]),
    "clothing": Wording(
        descriptions=["A {attr} {head}, outfit LoRA.", "Clothing: my {attr} {head}.", "The {attr} {head} I made."],
        displays=["{Attr} {Head}", "{attr}_{head}", "outfit - {attr} {head}"],
        references=["wearing the {attr} {head}", "wearing a {head}", "in the {attr} {head}"]),
    "food": Wording(
        descriptions=["{owner}'s {attr} {head}.", "Food LoRA: {attr} {head} the way {owner} makes it.",
                      "{attr} {head}, family recipe ({owner})."],
        displays=["{Owner}'s {Head}", "{attr}_{head}", "{Attr} {Head}"],
        references=["{owner}'s {head}", "a plate of {attr} {head}", "{head}", "{owner}'s {attr} {head}"]),
    "vehicles": Wording(
        descriptions=["Our {attr} {head}, {Name}.", "{Name}, the {attr} {head} we fixed up.",
                      "{attr} {head} named {Name}."],
        displays=["{Name} the {Head}", "{name}_{head}", "{Name}"],
        references=["our {attr} {head}", "{Name} the {head}", "{Name}", "the {head}", "the {attr} {head}"]),
}
# a pet card whose owner writes only the breed ("a huge ginger Maine Coon"), never the kind
PET_BREED_ONLY = ["{Name}, {color} {breed}, {quirk}.", "Our {breed} {Name} ({color}) {quirk}."]


def make_concept(domain: str, rng: random.Random, names: dict[str, list[str]], like: Concept | None = None) -> dict:
    """One concept's parts; `like` makes a sibling that shares its subject (two cats, two watercolor styles)."""
    descriptions = None  # the domain's wording, unless the branch says otherwise
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
        # half the owners write only the breed ("a huge ginger Maine Coon"): "my cat" then fits by meaning,
        # not by a shared word, as it does in libraries people write
        says_kind = rng.random() < 0.5
        tags = [head, breed, color] if says_kind else [breed, color]
        if not says_kind:
            descriptions = PET_BREED_ONLY
    elif domain == "people":
        relation = rng.choice([r for r in P.PEOPLE if not like or P.PEOPLE[r] == like.head])
        head = P.PEOPLE[relation]
        look, lwords = rng.choice(P.PEOPLE_LOOKS)
        name = names["people"].pop()
        names.setdefault("shared", []).append(name)
        slots = {"head": head, "relation": relation, "look": look, "name": name.title()}
        facts = {"head": [head], "relation": [relation], "look": lwords, "name": [name]}
        tags = [head, relation]
    elif domain == "places":
        head = like.head if like else rng.choice(P.PLACES)
        adj = rng.choice(P.PLACE_ADJS)
        pname = names["places"].pop()
        slots = {"head": head, "adj": adj, "name": pname.title()}
        facts = {"head": [head], "adj": [adj], "name": [pname]}
        tags = [head, adj]
    elif domain == "objects":
        head = like.head if like else rng.choice(P.OBJECTS)
        attr = rng.choice(P.OBJECT_ATTRS)
        owner = rng.choice(P.OWNERS)
        slots = {"head": head, "attr": attr, "owner": owner}
        facts = {"head": [head], "attr": attr.split("-") if "-" in attr else [attr], "owner": [owner]}
        tags = [head, attr]
    elif domain == "styles":
        medium = like.slots["medium"] if like else rng.choice(list(P.STYLE_MEDIA))
        used = {like.slots["modifier"]} if like else set()
        modifier = rng.choice([m for m in P.STYLE_MEDIA[medium] if m not in used] or P.STYLE_MEDIA[medium])
        slots = {"head": "style", "medium": medium, "modifier": modifier}
        facts = {"head": ["style"], "medium": [medium], "modifier": modifier.split("-")}
        tags = ["style", medium, modifier]
    elif domain == "poses":
        phrase, keys = rng.choice(P.POSES) if not like else (like.slots["pose"], like.slot_facts["pose"])
        slots = {"head": "pose", "pose": phrase}
        facts = {"head": ["pose"], "pose": keys}
        tags = ["pose"] + keys
    elif domain == "clothing":
        head = like.head if like else rng.choice(P.CLOTHES)
        attr = rng.choice(P.CLOTH_ATTRS)
        slots = {"head": head, "attr": attr}
        facts = {"head": [head], "attr": [attr]}
        tags = ["outfit", head, attr]
    elif domain == "food":
        head = like.head if like else rng.choice(P.FOODS)
        attr = rng.choice(P.FOOD_ATTRS)
        owner = rng.choice(P.OWNERS)
        slots = {"head": head, "attr": attr, "owner": owner}
        facts = {"head": [head], "attr": [attr], "owner": [owner]}
        tags = ["food", head]
    else:  # vehicles
        head = like.head if like else rng.choice(P.VEHICLES)
        attr = rng.choice(P.VEHICLE_ATTRS)
        vname = names["vehicles"].pop()
        slots = {"head": head, "attr": attr, "name": vname.title()}
        facts = {"head": [head], "attr": attr.split("-") if "-" in attr else [attr], "name": [vname]}
        tags = [head, attr]
    wording = WORDING[domain]
    desc = rng.choice(descriptions or wording.descriptions)
    display = rng.choice(wording.displays)
    return dict(head=slots["head"], slots=slots, slot_facts=facts, desc=desc, display=display, tags=tags,
                templates=list(wording.references))


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
        # its own random stream: the concepts and every request stay as they were, only descriptions grow
        side = random.Random(f"setting:{seed}:{cid}")
        if lang == "en" and domain in P.SETTING_DOMAINS and side.random() < P.SETTING_SHARE:
            concept.description += " " + side.choice(P.PHOTO_SETTINGS)
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
