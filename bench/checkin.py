"""`personalq bench checkin`: how well Check-in picks, asks and declines on a labelled request set.

    personalq bench checkin --library DIR --requests FILE.jsonl [--json] [--no-llm] [--methods ...]
    personalq bench checkin --corpus DIR [--splits fit check sealed] [--json] [--methods hybrid]

Indexes the library into a temporary database, runs every request through each method
(bm25, dense, hybrid: retrieval only; hybrid+llm: the app's LLM stage on top of hybrid — cards not in
English are glossed and every card's subject is named first (timed apart, `summary.gloss`), requests
not in English or that fit nothing are restated, questions are worded, close calls reranked when
LLM_RERANK is on; a model that does not read other languages, like the bundled 0.5B, only words
questions) and prints one row per (method, request) plus a summary per method.

Rows: {"method", "id", "expect", "status", "checkpoint", "options", "extras", "seconds", "correct", "llm_used",
"restated", "note"} (+ "parts" on multi-concept requests); paths are relative to --library.
Summary per method: single-match top-1 (a select is right when its checkpoint is the expected one or
in `equivalent`), clarification precision/recall (a clarify request is recalled when the question is
asked and its options contain every listed candidate, a byte-identical copy of an offered file counting
as offered; precision = right questions / questions asked),
no-match precision/recall, questions per request, question rate on single-match requests, overall
accuracy, p50/p95 latency, versioned single-match top-1 (select requests tagged `version`), and
`by_kind`: the same figures per request tag (trigger, name, description, paraphrase, typo, negation,
multilingual, version, clarify, none, compose, ...); `default_method` names the app's default path.
Multi-concept requests (a subject plus a style, pose or outfit: labelled with `extras`) are judged by
the exact set and kept out of single-match top-1: `exact_set_accuracy`, the part-level error rates
(`wrong_subject_rate`, `missed_addon_rate`, `extra_concept_rate`), `missing_addon_said` (a style the
library lacks is named in the note) and `extras_on_single_match` (an add-on joined a one-concept request).

--corpus runs every library of a generated corpus (bench/corpus; `python -m bench.corpus.generate DIR`)
whose split is listed, and reports each split apart (`summary.splits[split][method]`), each request
writer within it (`summary.writers[split][writer][method]`: templates, plain, llm — the llm writer is
never fitted on, so on the sealed library it is the sealed split), the leave-one-writer-out figures the
fit recorded (`summary.leave_one_writer_out`) and the gap between the fit split and the sealed one;
rows then also carry `library`, `split` and `writer`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import emit, progress

ALL_METHODS = ("bm25", "dense", "hybrid", "hybrid+llm")


def load_requests(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{n}: not JSON ({exc})") from exc
    return rows


def _rel(path: str | None, library: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(os.path.relpath(path, library)).as_posix()
    except ValueError:
        return path


def part_errors(request: dict, status: str, checkpoint: str | None, extras: list[str]) -> dict:
    """Where a multi-concept request (one with `extras`: per add-on, the files that may join) went wrong:
    the subject, an add-on left out, or a concept added that was not asked for."""
    groups = [set(g) for g in request.get("extras", [])]
    return {"wrong_subject": not (status == "selected" and (checkpoint == request["checkpoint"]
                                                            or checkpoint in request.get("equivalent", []))),
            "missed_addon": any(not g & set(extras) for g in groups),
            "extra_concept": any(not any(e in g for g in groups) for e in extras)}


def judge(request: dict, status: str, checkpoint: str | None, options: list[str],
          same_bytes: dict[str, str] | None = None, extras: list[str] | None = None) -> bool:
    """Is this outcome right for the labelled request?

    `same_bytes` maps a path to its file's sha256: a listed clarify candidate that is a byte-identical
    copy of an offered option counts as offered (it is the same checkpoint under another name). A
    multi-concept request is right only with the exact set: its subject and every add-on, nothing more.
    """
    expect = request["expect"]
    if "extras" in request:
        return not any(part_errors(request, status, checkpoint, extras or []).values())
    if expect == "select":
        return status == "selected" and (checkpoint == request["checkpoint"] or checkpoint in request.get("equivalent", []))
    if expect == "clarify":
        offered = set(options)
        if same_bytes:
            offered_bytes = {same_bytes[o] for o in options if same_bytes.get(o)}
            offered |= {c for c in request["candidates"] if same_bytes.get(c) in offered_bytes}
        return status == "clarify" and set(request["candidates"]) <= offered
    return status == "none"


def run_method(store, library: Path, requests: list[dict], method: str, llm_model: str | None = None) -> list[dict]:
    from checkin.decide import check_in

    base, use_llm = (method[:-4], True) if method.endswith("+llm") else (method, False)
    rows = []
    from checkin import search as search_module

    same_bytes = {_rel(card.path, library): card.sha256 for card in store.cards() if card.sha256}

    for i, req in enumerate(requests, 1):
        search_module._QUERY_CACHE.clear()  # time each request as a first-time query
        started = time.perf_counter()
        result = check_in(req["request"], store, use_llm=use_llm, today=req.get("today"), method=base,
                          llm_model=llm_model)
        seconds = time.perf_counter() - started
        checkpoint = _rel(result.card.path, library) if result.card else None
        options = [_rel(c.path, library) for c in result.options]
        extras = [_rel(c.path, library) for c in result.extras]
        rows.append({
            "method": method, "id": req.get("id", str(i)), "expect": req["expect"], "status": result.status,
            "checkpoint": checkpoint, "options": options, "extras": extras, "seconds": round(seconds, 4),
            "correct": judge(req, result.status, checkpoint, options, same_bytes, extras), "llm_used": result.llm_used,
            "restated": result.restated,
            "note": result.note,
        })
        if "extras" in req:
            rows[-1]["parts"] = part_errors(req, result.status, checkpoint, extras)
        if i % 25 == 0:
            progress(f"{method}: {i}/{len(requests)}")
    return rows


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def summarize(rows: list[dict], requests: list[dict]) -> dict:
    by_id = {r.get("id"): r for r in requests}
    multi = [r for r in rows if "extras" in by_id[r["id"]]]  # several concepts: judged by the exact set
    sel = [r for r in rows if by_id[r["id"]]["expect"] == "select" and "extras" not in by_id[r["id"]]]
    cla = [r for r in rows if by_id[r["id"]]["expect"] == "clarify"]
    non = [r for r in rows if by_id[r["id"]]["expect"] == "none"]
    asked = [r for r in rows if r["status"] == "clarify"]
    said_none = [r for r in rows if r["status"] == "none"]
    secs = sorted(r["seconds"] for r in rows)
    return {
        "n": len(rows),
        "accuracy": _ratio(sum(r["correct"] for r in rows), len(rows)),
        "single_match_top1": _ratio(sum(r["correct"] for r in sel), len(sel)),
        "clarify_recall": _ratio(sum(r["correct"] for r in cla), len(cla)),
        "clarify_precision": _ratio(sum(1 for r in asked if r["correct"]), len(asked)),
        "none_recall": _ratio(sum(r["correct"] for r in non), len(non)),
        "none_precision": _ratio(sum(1 for r in said_none if by_id[r["id"]]["expect"] == "none"), len(said_none)),
        "questions_per_request": _ratio(len(asked), len(rows)),
        "question_rate_single_match": _ratio(sum(1 for r in sel if r["status"] == "clarify"), len(sel)),
        "p50_s": round(statistics.median(secs), 4) if secs else None,
        "p95_s": round(secs[min(len(secs) - 1, int(0.95 * len(secs)))], 4) if secs else None,
        "llm_used_rate": _ratio(sum(1 for r in rows if r.get("llm_used")), len(rows)),
        "exact_set_accuracy": _ratio(sum(r["correct"] for r in multi), len(multi)),
        **{f"{part}_rate": _ratio(sum(r["parts"][part] for r in multi), len(multi))
           for part in ("wrong_subject", "missed_addon", "extra_concept")},
        "missing_addon_said": _ratio(sum(1 for r in multi if by_id[r["id"]].get("missing_addon")
                                         and by_id[r["id"]]["missing_addon"] in (r.get("note") or "")),
                                     sum(1 for r in multi if by_id[r["id"]].get("missing_addon"))),
        "extras_on_single_match": _ratio(sum(1 for r in sel if r.get("extras")), len(sel)),
        "versioned_single_match_top1": _ratio(sum(r["correct"] for r in sel if "version" in by_id[r["id"]].get("tags", [])),
                                              sum(1 for r in sel if "version" in by_id[r["id"]].get("tags", []))),
    }


def summarize_by_kind(rows: list[dict], requests: list[dict]) -> dict:
    """The summary figures per request tag (a request counts under each of its tags)."""
    by_id = {r.get("id"): r for r in requests}
    tags = sorted({t for r in requests for t in r.get("tags", [])})
    out = {}
    for tag in tags:
        mine = [r for r in rows if tag in by_id[r["id"]].get("tags", [])]
        if mine:
            s = summarize(mine, requests)
            out[tag] = {k: s[k] for k in ("n", "accuracy", "single_match_top1", "clarify_recall", "none_recall",
                                          "question_rate_single_match", "exact_set_accuracy")}
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="personalq bench checkin", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--library", type=Path, help="folder of checkpoints to index")
    p.add_argument("--requests", type=Path, help="requests.jsonl (intent-dev format)")
    p.add_argument("--corpus", type=Path, default=None, help="a generated corpus (manifest.json + libN/) instead of one library")
    p.add_argument("--splits", nargs="+", default=["fit", "check", "sealed"], help="corpus splits to run (--corpus)")
    p.add_argument("--json", action="store_true", help="print one JSON object (bench contract)")
    p.add_argument("--no-llm", action="store_true", help="skip the hybrid+llm method")
    p.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=None, help="methods to run (default: all)")
    p.add_argument("--llm-model", default=None, help="GGUF to use for hybrid+llm (default: the bundled one)")
    p.add_argument("--db", type=Path, default=None, help="reuse/keep this database instead of a temporary one")
    return p


def run_library(library: Path, requests: list[dict], methods: list[str], llm_model: str | None = None,
                db: Path | None = None) -> tuple[list[dict], dict]:
    """Index one library into a temporary database and run every method over its requests."""
    from catalog.indexer import index_folders
    from catalog.store import Store

    with tempfile.TemporaryDirectory(prefix="pq-bench-checkin-") as tmp:
        store = Store(db or Path(tmp) / "catalog.sqlite")
        started = time.perf_counter()
        progress(f"indexing {library}")
        index_folders([str(library)], store)
        index_seconds = time.perf_counter() - started
        from checkin.decide import check_in

        check_in("warm up", store, use_llm=False)  # load the embedder and build the search index once
        rows, summary = [], {}
        for method in sorted(methods, key=lambda m: m.endswith("+llm")):  # retrieval alone first, on unglossed cards
            if method.endswith("+llm") and "gloss" not in summary:
                summary["gloss"] = _gloss(store, llm_model)
            progress(f"running {len(requests)} requests with {method}")
            method_rows = run_method(store, library, requests, method, llm_model)
            rows += method_rows
            summary[method] = summarize(method_rows, requests) | {"by_kind": summarize_by_kind(method_rows, requests)}
        store.close()
    summary["index_seconds"] = round(index_seconds, 2)
    return rows, summary


def main_corpus(args) -> int:
    """Every library of the chosen splits; figures per split and the fit-vs-sealed gap."""
    manifest = json.loads((args.corpus / "manifest.json").read_text(encoding="utf-8"))
    methods = list(args.methods or ["hybrid"])
    rows_all, per_split = [], {}
    for lib in manifest["libraries"]:
        if lib["split"] not in args.splits:
            continue
        root = args.corpus / lib["name"]
        requests = load_requests(root / "requests.jsonl")
        for r in requests:
            r["id"] = f"{lib['name']}/{r['id']}"
        rows, _ = run_library((root / "library").resolve(), requests, methods, args.llm_model)
        writer_of = {r["id"]: r.get("writer", "templates") for r in requests}
        for r in rows:
            r["library"], r["split"], r["writer"] = lib["name"], lib["split"], writer_of[r["id"]]
        rows_all += rows
        per_split.setdefault(lib["split"], {"requests": []})["requests"] += requests
    summary: dict = {"corpus_hash": manifest.get("hash"), "splits": {}, "writers": {}}
    for split, data in per_split.items():
        summary["splits"][split] = {}
        for method in methods:
            mine = [r for r in rows_all if r["split"] == split and r["method"] == method]
            summary["splits"][split][method] = summarize(mine, data["requests"]) | {
                "by_kind": summarize_by_kind(mine, data["requests"])}
        # per writer: the fitted writers on a fitted library, on a library never fitted on, and the writer
        # never fitted on (the llm writer: on the sealed library that is the sealed split)
        for writer in sorted({r.get("writer", "templates") for r in data["requests"]}):
            theirs = [r for r in data["requests"] if r.get("writer", "templates") == writer]
            ids = {r["id"] for r in theirs}
            summary["writers"].setdefault(split, {})[writer] = {
                method: summarize(mine, theirs) | {"by_kind": summarize_by_kind(mine, theirs)}
                for method in methods
                for mine in [[r for r in rows_all if r["id"] in ids and r["method"] == method]]}
    summary["leave_one_writer_out"] = _fitted_lowo()
    if "fit" in summary["splits"] and "sealed" in summary["splits"]:
        fit, sealed = summary["splits"]["fit"][methods[0]], summary["splits"]["sealed"][methods[0]]
        summary["gap_fit_minus_sealed"] = {k: round(fit[k] - sealed[k], 4) for k in (
            "single_match_top1", "clarify_recall", "none_recall", "question_rate_single_match")
            if fit.get(k) is not None and sealed.get(k) is not None}
    summary["default_method"] = default_method(summary, args.llm_model)
    emit("checkin", rows_all, summary, args.json,
         columns=["split", "library", "method", "id", "expect", "status", "correct", "checkpoint", "seconds"])
    if not args.json:
        _print_split_table(summary, methods[0])
    return 0


def _print_split_table(summary: dict, method: str) -> None:
    keys = ("single_match_top1", "clarify_recall", "clarify_precision", "question_rate_single_match", "none_recall",
            "exact_set_accuracy", "versioned_single_match_top1", "p50_s", "p95_s")

    def line(label: str, s: dict) -> str:
        return f"{label:18} " + " ".join(f"{(s[k] if s.get(k) is not None else float('nan')):14.3f}" for k in keys)

    print("\nsplit/writer       " + " ".join(f"{k[:14]:>14}" for k in keys))
    for split, by_method in summary["splits"].items():
        print(line(split, by_method[method]))
        for writer, per in summary.get("writers", {}).get(split, {}).items():
            print(line(f"  {writer}", per[method]))
    lowo = summary.get("leave_one_writer_out") or {}
    if lowo:
        print("\nleave one writer out (refitted without the writer, check library; from the fit record)")
        print("held out           " + " ".join(f"{k[:14]:>14}" for k in keys[:5]))
        for writer, r in lowo.items():
            print(f"{writer:18} " + " ".join(f"{r['held_out_writer'].get(k) or float('nan'):14.3f}" for k in keys[:5]))
            print(f"{'  others (fitted)':18} " + " ".join(f"{r['fit_writers'].get(k) or float('nan'):14.3f}" for k in keys[:5]))
    for split, by_method in summary["splits"].items():
        print(f"\n{split}: per kind (n, accuracy)")
        for tag, s in by_method[method]["by_kind"].items():
            print(f"  {tag:14} {s['n']:5d} {s['accuracy']:.3f}")


def _fitted_lowo() -> dict:
    """The leave-one-writer-out figures scripts/fit_checkin.py recorded with the shipped weights."""
    try:
        from checkin.decision import WEIGHTS_PATH

        return json.loads(WEIGHTS_PATH.read_text(encoding="utf-8")).get("leave_one_writer_out", {})
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.corpus is not None:
        if not (args.corpus / "manifest.json").is_file():
            print(f"corpus manifest not found: {args.corpus / 'manifest.json'}", file=sys.stderr)
            return 2
        return main_corpus(args)
    if args.library is None or args.requests is None:
        print("give --library and --requests, or --corpus", file=sys.stderr)
        return 2
    library = args.library.resolve()
    if not library.is_dir():
        print(f"library folder not found: {library}", file=sys.stderr)
        return 2
    if not args.requests.is_file():
        print(f"requests file not found: {args.requests}", file=sys.stderr)
        return 2
    requests = load_requests(args.requests)
    methods = list(args.methods or ALL_METHODS)
    if args.no_llm:
        methods = [m for m in methods if not m.endswith("+llm")]
    rows, summary = run_library(library, requests, methods, args.llm_model, args.db)
    summary["default_method"] = default_method(summary, args.llm_model)
    if "hybrid" in summary and "hybrid+llm" in summary:  # does the LLM stage earn its place?
        summary["llm_accuracy_gain"] = round(summary["hybrid+llm"]["accuracy"] - summary["hybrid"]["accuracy"], 4)
    emit("checkin", rows, summary, args.json,
         columns=["method", "id", "expect", "status", "correct", "checkpoint", "options", "seconds"])
    return 0


def _gloss(store, llm_model: str | None) -> dict:
    """The app's LLM stage starts at index time: gloss the cards not in English and name every card's
    subject (timed apart from the requests)."""
    from checkin.gloss import gloss_library

    try:
        report = gloss_library(store, llm_model, progress=lambda d, t: progress(f"gloss {d}/{t}") if d % 10 == 0 else None)
    except Exception as exc:  # hybrid+llm then measures the retrieval-only fallback, and says so
        progress(f"no LLM ({exc}): hybrid+llm runs without glosses")
        return {"glossed": 0, "error": str(exc)}
    return {k: report[k] for k in ("glossed", "subjects", "embedded", "model", "seconds")} | {
        "failed": len(report["failed"]), "skipped": report.get("skipped")}


def default_method(summary: dict, llm_model: str | None = None) -> str:
    """The app's default path on this install (reported so the numbers can be read against it): the LLM
    stage counts when it reranks, or when the model in use reads other languages (it then restates and
    glosses); with only the bundled 0.5B the LLM just words the question, which the bench does not score."""
    from checkin.decide import DEFAULT_METHOD, LLM_RERANK

    try:
        from local_llm.models import reads_languages, resolve_model_path

        restates = reads_languages(resolve_model_path(llm_model))
    except Exception:
        restates = False
    return DEFAULT_METHOD + ("+llm" if LLM_RERANK or restates else "")


if __name__ == "__main__":
    sys.exit(main())
