"""The second request writer: other sentence shapes, other words, other habits than bench/corpus/generate.py.

The templates writer puts a reference into a scene sentence ("a photo of {s} at sunset"). People also
type two words ("biscuit pls"), chat ("hey could u do..."), say whose thing it is ("grandpa's old
radio, the brass one"), use a category word for what they own ("the cat", "one of my dogs", "my
watercolor look") and ask for things the library does not hold, often next to a word some card uses
("a rusty submarine", "an owl on a snowy roof"). This writer uses none of the first writer's templates,
scenes or synonym lists; it shares only the concepts and the labelling rule (requests.Labeller: the
label is every concept whose facts cover the request's cue words), so the labels mean the same.
"""
from __future__ import annotations

import random
import re

WRITER = "plain"

# its own surface words for canonical facts (not pools.SYNONYMS)
SAYS = {
    "cat": ["kitty", "cat", "kitten"], "dog": ["dog", "pupper", "doggy"], "rabbit": ["bunny rabbit", "rabbit"],
    "parrot": ["parrot", "birdie"], "horse": ["horse", "horsey"], "woman": ["woman", "lady"], "man": ["man", "fella"],
    "girl": ["girl", "little girl"], "boy": ["boy", "little boy"], "grandmother": ["gran", "grandmother"],
    "grandfather": ["gramps", "grandfather"], "orange": ["orange", "ginger-coloured"], "grey": ["gray", "grey"],
    "black": ["black", "jet-black"], "white": ["white", "snow-white"], "style": ["look", "vibe", "style"],
    "pose": ["pose", "stance"], "outfit": ["outfit", "getup"], "pet": ["pet", "animal"],
}
OPENERS = ["hey, could u make", "pls", "quick one:", "ok so I need", "can I get", "would love", "just", "gimme",
           "hmm maybe", "for a birthday card:", "new pic:", "today I'd like"]
CLOSERS = ["", "", "thx", "pls!", "ty :)", "— whatever looks good", "nothing fancy", "!!", "for a poster",
           "as a phone wallpaper"]
# where the picture happens: everyday settings (some share a word with cards on purpose; a setting never
# names a concept's subject, so it never changes a label)
SETTINGS = ["", "", "in the kitchen", "on the couch", "at the beach", "in the garden", "on a road trip",
            "in winter", "at night", "on the balcony", "under a tree", "in the snow", "by the lake", "at a market",
            "on a wooden table", "on a stone wall", "in the fog", "on a rainy street"]
STYLE_THINGS = ["our street", "a bowl of lemons", "a heron", "the old harbour town", "two cyclists", "a teacup",
                "a rainy window", "a mountain lake", "a birthday cake", "a chess game"]
# what no card holds: animals, dishes, vehicles, scenes, people and styles of the writer's own choosing
MISSING = {
    "animal": ["otter", "raccoon", "squirrel", "hippo", "peacock", "moose", "badger", "camel", "seal", "swan",
               "frog", "kangaroo", "sloth", "fox"],
    "dish": ["lasagna", "burrito", "omelette", "cheesecake", "pho", "falafel", "risotto", "donuts", "waffle stack"],
    "vehicle": ["zeppelin", "rickshaw", "tank", "hovercraft", "gondola", "bulldozer", "limousine", "snowmobile"],
    "thing": ["chess set", "birdhouse", "grandfather clock", "jukebox", "bonsai tree", "surfboard", "harp",
              "kettle drum", "rocking horse"],
    "scene": ["a city at night", "a waterfall in a jungle", "a desert at dawn", "a busy train station",
              "a lighthouse in a storm", "a snowy mountain pass", "a market street after the rain"],
    "person": ["my landlady", "my stepsister", "my physics teacher", "the mailman", "my best friend's dad",
               "my godson", "our babysitter"],
    "style": ["oil painting", "art deco", "low poly", "vaporwave", "stained glass", "papercut", "comic book"],
}


def _say(word: str, rng: random.Random) -> str:
    return rng.choice(SAYS.get(word, [word]))


def _chat(core: str, rng: random.Random, setting: bool = True) -> str:
    """Wrap a core phrase in this writer's habits: an opener, a setting, a closer, sometimes lower-case."""
    setting = rng.choice(SETTINGS) if setting else ""
    text = " ".join(x for x in [rng.choice(OPENERS), core, setting, rng.choice(CLOSERS)] if x)
    if rng.random() < 0.3:
        text = text.lower()
    return re.sub(r"\s+", " ", text).strip()


def _cue_phrases(c) -> list[tuple[str, set[str], str]]:
    """(phrase, cue facts, kind) ways this writer refers to concept c, before its words are swapped."""
    s, d = c.slots, c.domain
    out = []
    if "name" in s:
        out += [("{name}", {s["name"].lower()}, "short"), ("{name}'s picture", {s["name"].lower()}, "possessive")]
    if c.lang != "en":  # the card says only its name: the other facts are not on it
        return out
    if d == "pets":
        out += [(f"the {s['breed']}", set(s["breed"].split()), "described"),
                (f"our {s['color']} one, the {s['breed']}", {s["color"], *s["breed"].split()}, "described"),
                (f"my {s['head']}", {s["head"]}, "category"), ("my pet", {"pet"}, "category")]
    elif d == "people":
        out += [(f"my {s['relation']}", {s["relation"]}, "possessive"), (f"the {s['head']}", {s["head"]}, "category")]
        out += [(f"my {s['relation']}, the one with {s['look']}", {s["relation"], *c.slot_facts["look"]}, "described")]
    elif d in ("objects", "food"):
        attr = c.slot_facts["attr"]
        out += [(f"{s['owner']}'s {s['head']}, the {s['attr']} one", {s["owner"], s["head"], *attr}, "possessive"),
                (f"the {s['head']}", {s["head"]}, "category"), (f"{s['owner']}'s stuff", {s["owner"]}, "category")]
    elif d in ("places", "vehicles"):
        attr = c.slot_facts.get("adj") or c.slot_facts.get("attr")
        word = s.get("adj") or s.get("attr")
        out += [(f"that {word} {s['head']} of ours", {s["head"], *attr}, "described"),
                (f"the {s['head']}", {s["head"]}, "category")]
    elif d == "styles":
        out += [(f"{s['modifier']} {s['medium']}", {s["medium"], *c.slot_facts["modifier"]}, "style"),
                (f"{s['medium']}", {s["medium"]}, "category")]
    elif d == "clothing":
        out += [(f"in the {s['attr']} {s['head']}", {s["head"], s["attr"]}, "described"),
                (f"in a {s['head']}", {s["head"]}, "category")]
    elif d == "poses":
        out += [(s["pose"], set(c.slot_facts["pose"]), "described")]
    return out


def _render(phrase: str, c, rng: random.Random) -> str:
    """The phrase with this writer's words (names as typed, fact words swapped for its own)."""
    name = c.slots.get("name", "")
    text = phrase.replace("{name}", rng.choice([name, name.lower()]) if name else "")
    words = text.split(" ")
    return " ".join(_say(w, rng) if w in SAYS and rng.random() < 0.6 else w for w in words)


def _sentence(core: str, c, rng: random.Random) -> str:
    if c.domain == "styles":
        thing = rng.choice(STYLE_THINGS)
        return _chat(rng.choice([f"{thing} with a {core} look", f"{thing}, {core} please",
                                 f"{core} version of {thing}"]), rng)
    if c.domain in ("poses", "clothing"):
        who = rng.choice(["me", "a skater", "my friend", "someone"])
        return _chat(f"{who} {core}", rng)
    return _chat(core, rng)


def write_requests(concepts, labeller, label_row, today, lib: int, seed: int, n_target: int) -> list[dict]:
    """About n_target requests (roughly half select, a quarter clarify, a quarter none), labelled by the fact rule."""
    rng = random.Random(seed * 104729 + lib * 7 + 3)
    rows: list[dict] = []
    seen: set[str] = set()

    def add(text: str, label: dict | None, tags: list[str]) -> None:
        if label is None or text.lower() in seen:
            return
        seen.add(text.lower())
        rows.append({"id": f"P{lib}-{len(rows) + 1:04d}", "request": text, **label, "tags": tags,
                     "today": today.isoformat(), "writer": WRITER})

    def count(expect: str) -> int:
        return sum(r["expect"] == expect for r in rows)

    all_facts = set().union(*(c.facts for c in concepts))
    for _ in range(n_target * 6):
        if count("select") >= n_target // 2 and count("clarify") >= n_target // 4:
            break
        c = rng.choice(concepts)
        phrases = _cue_phrases(c)
        if not phrases:
            continue
        phrase, cues, kind = rng.choice(phrases)
        found = labeller.matches(cues)
        if not found or len(found) > 4:
            continue
        expect = "select" if len(found) == 1 else "clarify"
        if (expect == "select" and count("select") >= n_target // 2) or (expect == "clarify" and count("clarify") >= n_target // 4):
            continue
        text = _sentence(_render(phrase, c, rng), c, rng)
        add(text, label_row(found), [kind if expect == "select" else "clarify", kind])
    # nothing fits: a subject of a kind no card holds, sometimes with a word that some card uses
    attrs = sorted({w for c in concepts for k in ("color", "attr", "adj") if k in c.slots
                    for w in [c.slots[k]] if " " not in w})
    for _ in range(n_target * 6):
        if count("none") >= n_target // 4:
            break
        kind = rng.choice(sorted(MISSING))
        what = rng.choice(MISSING[kind])
        cues = set(re.findall(r"[a-z]+", what.lower())) - {"a", "my", "the", "in", "at", "our"}
        if cues & all_facts:
            continue  # the library holds something of that name after all
        if kind == "style":
            core = f"{rng.choice(STYLE_THINGS)} as {what}"
        elif kind in ("scene", "person"):
            core = what
        else:
            core = (f"a {rng.choice(attrs)} {what}" if attrs and rng.random() < 0.5 else f"a {what}")
        if labeller.matches(cues):
            continue
        add(_chat(core, rng, setting=kind != "scene"), {"expect": "none"}, ["none", kind])
    return rows
