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
import shutil
from pathlib import Path

from bench.corpus.concepts import build_concepts, plan_files, write_file
from bench.corpus.requests import Labeller, label_row, make_requests, select_row


def split_of(lib: int, n_libraries: int) -> str:
    """The last library is sealed, the one before it is the check split, the rest are fitted on."""
    return "sealed" if lib == n_libraries - 1 else "check" if lib == n_libraries - 2 else "fit"


def write_corpus(out: Path, n_libraries: int = 10, n_concepts: int = 90, seed: int = 2026,
                 requests_per_concept: float = 5.0, llm=None) -> dict:
    """Write every library with the requests of the writers (templates, plain, llm; hand on the sealed one); return the
    manifest (also written to OUT/manifest.json). `llm` writes briefs missing from the LLM writer's cache."""
    from bench.corpus import compositions, hand_writer, llm_writer, plain_writer

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
        per_writer = {w: sum(r["writer"] == w for r in rows) for w in ("templates", "plain")}
        rows += compositions.write_compositions(concepts, lab, today, lib, seed, per_writer)
        rows += hand_writer.write_requests(concepts, select_row, lib, seed, today)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (root / "requests.jsonl").write_text(text, encoding="utf-8")
        facts = [{"cid": c.cid, "domain": c.domain, "display": c.display, "trigger": c.trigger, "lang": c.lang,
                  "description": c.description, "facts": sorted(c.facts), "files": [f.__dict__ for f in c.files]} for c in concepts]
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
