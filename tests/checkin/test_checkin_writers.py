"""The corpus's request writers: each its own phrasing, all labelled by the same fact rule."""
import json

from bench.corpus import pools as P
from bench.corpus.concepts import Concept
from bench.corpus.generate import write_corpus
from bench.corpus.llm_writer import reviewed_label
from bench.corpus.requests import SHAPES, Labeller


def _rows(root, lib="lib0"):
    return [json.loads(line) for line in (root / lib / "requests.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_plain_writer_asks_picks_and_declines_in_its_own_words(tmp_path):
    write_corpus(tmp_path, n_libraries=2, n_concepts=30, requests_per_concept=4)
    rows = _rows(tmp_path)
    plain = [r for r in rows if r["writer"] == "plain"]
    assert {r["expect"] for r in plain} == {"select", "clarify", "none"}
    assert {r["writer"] for r in rows} == {"templates", "plain"}
    # none of the templates writer's sentence frames or scenes
    frames = {s.split("{")[0].strip().lower() for s in SHAPES if s.split("{")[0].strip()}
    for r in plain:
        text = r["request"].lower()
        assert not any(text.startswith(f) for f in frames), r["request"]
        assert not any(scene in text for scene in P.SCENES), r["request"]
    library = tmp_path / "lib0/library"
    for r in plain:
        if r["expect"] == "select":
            assert (library / r["checkpoint"]).exists()
        if r["expect"] == "clarify":
            assert 2 <= len(r["candidate_concepts"]) <= 4


def _concept(cid, head, **slots):
    facts = {"head": [head], **{k: v.split() for k, v in slots.items()}}
    return Concept(cid=cid, domain="pets", head=head, display=cid, trigger=f"trg{cid}", slots={"head": head, **slots},
                   slot_facts=facts, description="", tags=[])


def test_an_llm_sentence_keeps_its_label_only_when_the_fact_rule_still_gives_it():
    tabby = _concept("A", "cat", breed="tabby", color="orange")
    siamese = _concept("B", "cat", breed="siamese", color="cream")
    pug = _concept("C", "dog", breed="pug", color="black")
    for c in (tabby, siamese, pug):
        c.files = []
    lab = Labeller([tabby, siamese, pug])
    facts = set().union(*(c.facts for c in (tabby, siamese, pug)))

    def label(text, cues):
        row = reviewed_label(text, cues, lab, lambda found: {"expect": "clarify" if len(found) > 1 else "select",
                                                             "concepts": sorted(c.cid for c in found)}, facts)
        return row and (row["expect"], row.get("concepts"))

    assert label("my ginger tabby napping in the sun", {"tabby"}) == ("select", ["A"])
    assert label("draw my kitty on the sofa", {"cat"}) == ("clarify", ["A", "B"])  # a synonym says the cue
    assert label("my pug chasing the cat", {"pug"}) is None  # another concept's word: the label would drift
    assert label("a penguin on an ice floe", {"penguin"}) == ("none", None)
    assert label("a penguin next to my cat", {"penguin"}) is None  # "nothing fits" must not name a card's subject
    assert label("something cute on a rug", {"tabby"}) is None  # the cue is not said at all


def test_every_writer_asks_for_several_concepts_at_once_labelled_with_the_exact_set(tmp_path):
    from common.families import can_share_base

    write_corpus(tmp_path, n_libraries=2, n_concepts=60, requests_per_concept=4)
    rows = _rows(tmp_path)
    concepts = {c["cid"]: c for c in json.loads((tmp_path / "lib0/concepts.json").read_text(encoding="utf-8"))}
    library = tmp_path / "lib0/library"
    for writer in ("templates", "plain"):
        mine = [r for r in rows if r["writer"] == writer]
        multi = [r for r in mine if "extras" in r]
        assert len(multi) >= 0.15 * len(mine), writer
        assert any(r.get("missing_addon") for r in multi) and any(r["extras"] for r in multi)
    for r in (r for r in rows if "extras" in r):
        assert r["expect"] == "select" and (library / r["checkpoint"]).exists()
        assert len(r["extras"]) == len(r["extra_concepts"]) == (0 if r.get("missing_addon") else 1)
        for cid, files in zip(r["extra_concepts"], r["extras"]):
            assert concepts[cid]["domain"] in ("styles", "poses", "clothing") and files
            base = next(f["base"] for f in concepts[r["concept"]]["files"] if f["rel"] == r["checkpoint"])
            assert all(can_share_base(base, f["base"]) for f in concepts[cid]["files"] if f["rel"] in files)
