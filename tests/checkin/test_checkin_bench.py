"""bench checkin's scoring rules (pure): what counts as right, and the summary fields other tools read."""
from bench.checkin import judge, summarize

REQS = [
    {"id": "a", "expect": "select", "checkpoint": "L/x.safetensors", "equivalent": ["L/x_copy.safetensors"]},
    {"id": "b", "expect": "clarify", "candidates": ["L/x.safetensors", "L/y.safetensors"]},
    {"id": "c", "expect": "none"},
    {"id": "d", "expect": "select", "checkpoint": "L/y.safetensors", "equivalent": []},
]


def test_judge_rules():
    assert judge(REQS[0], "selected", "L/x_copy.safetensors", [])
    assert not judge(REQS[0], "clarify", None, ["L/x.safetensors"])
    assert judge(REQS[1], "clarify", None, ["L/y.safetensors", "L/x.safetensors", "L/z.safetensors"])
    assert not judge(REQS[1], "clarify", None, ["L/x.safetensors"])
    assert judge(REQS[2], "none", None, [])


def test_a_byte_identical_copy_of_an_offered_option_counts_as_offered():
    same_bytes = {"L/x.safetensors": "aa", "L/y.safetensors": "bb", "Downloads/y (copy).safetensors": "bb"}
    req = {"id": "e", "expect": "clarify", "candidates": ["L/x.safetensors", "L/y.safetensors", "Downloads/y (copy).safetensors"]}
    assert judge(req, "clarify", None, ["L/x.safetensors", "L/y.safetensors"], same_bytes)
    assert not judge(req, "clarify", None, ["L/x.safetensors", "L/y.safetensors"])  # without hashes: strict
    assert not judge(req, "clarify", None, ["L/x.safetensors"], same_bytes)  # a different file is never implied


def test_summary_fields():
    rows = [
        {"id": "a", "status": "selected", "correct": True, "seconds": 0.1},
        {"id": "b", "status": "clarify", "correct": True, "seconds": 0.2},
        {"id": "c", "status": "selected", "correct": False, "seconds": 0.3},
        {"id": "d", "status": "clarify", "correct": False, "seconds": 0.4},
    ]
    s = summarize(rows, REQS)
    assert s["single_match_top1"] == 0.5 and s["clarify_recall"] == 1.0 and s["clarify_precision"] == 0.5
    assert s["none_recall"] == 0.0 and s["none_precision"] is None
    assert s["question_rate_single_match"] == 0.5 and s["questions_per_request"] == 0.5
    assert s["accuracy"] == 0.5 and s["p50_s"] == 0.25 and s["p95_s"] == 0.4


def test_a_multi_concept_request_is_right_only_with_the_exact_set():
    from bench.checkin import part_errors

    req = {"id": "m", "expect": "select", "checkpoint": "L/cat.safetensors", "equivalent": [],
           "extras": [["S/ink.safetensors", "S/ink_v2.safetensors"]], "missing_addon": None}
    assert judge(req, "selected", "L/cat.safetensors", [], extras=["S/ink_v2.safetensors"])  # any file of the add-on
    assert not judge(req, "selected", "L/cat.safetensors", [], extras=[])
    assert part_errors(req, "selected", "L/cat.safetensors", [])["missed_addon"]
    extra = part_errors(req, "selected", "L/cat.safetensors", ["S/ink.safetensors", "P/pose.safetensors"])
    assert extra == {"wrong_subject": False, "missed_addon": False, "extra_concept": True}
    assert part_errors(req, "clarify", None, [])["wrong_subject"]
    alone = {"id": "n", "expect": "select", "checkpoint": "L/cat.safetensors", "extras": [], "missing_addon": "oil painting"}
    assert judge(alone, "selected", "L/cat.safetensors", []) and not judge(alone, "selected", "L/cat.safetensors", [], extras=["S/ink.safetensors"])
    rows = [{"id": "m", "status": "selected", "correct": True, "seconds": 0.1, "extras": ["S/ink.safetensors"],
             "parts": part_errors(req, "selected", "L/cat.safetensors", ["S/ink.safetensors"])},
            {"id": "n", "status": "selected", "correct": False, "seconds": 0.1, "note": "",
             "parts": {"wrong_subject": False, "missed_addon": False, "extra_concept": True}},
            {"id": "a", "status": "selected", "correct": True, "seconds": 0.1, "extras": ["S/ink.safetensors"]}]
    s = summarize(rows, [req, alone, REQS[0]])
    assert s["exact_set_accuracy"] == 0.5 and s["extra_concept_rate"] == 0.5 and s["missed_addon_rate"] == 0.0
    assert s["single_match_top1"] == 1.0  # the multi-concept requests are not single matches
    assert s["extras_on_single_match"] == 1.0 and s["missing_addon_said"] == 0.0


def test_summary_per_kind_and_versioned():
    from bench.checkin import summarize_by_kind

    reqs = [{"id": "a", "expect": "select", "tags": ["version", "order"]}, {"id": "b", "expect": "select", "tags": ["name"]},
            {"id": "c", "expect": "none", "tags": ["none"]}]
    rows = [{"id": "a", "status": "selected", "correct": True, "seconds": 0.1},
            {"id": "b", "status": "clarify", "correct": False, "seconds": 0.1},
            {"id": "c", "status": "none", "correct": True, "seconds": 0.1}]
    assert summarize(rows, reqs)["versioned_single_match_top1"] == 1.0
    kinds = summarize_by_kind(rows, reqs)
    assert set(kinds) == {"version", "order", "name", "none"}
    assert kinds["name"]["question_rate_single_match"] == 1.0 and kinds["none"]["none_recall"] == 1.0


def test_bench_runs_a_small_generated_corpus(tmp_path, capsys):
    import json

    from bench.checkin import main
    from bench.corpus.generate import write_corpus

    manifest = write_corpus(tmp_path / "corpus", n_libraries=2, n_concepts=12, requests_per_concept=1.5)
    assert [lib["split"] for lib in manifest["libraries"]] == ["check", "sealed"]
    assert main(["--corpus", str(tmp_path / "corpus"), "--splits", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    check = out["summary"]["splits"]["check"]["hybrid"]
    assert check["n"] == manifest["libraries"][0]["requests"] and "by_kind" in check
    assert all(r["split"] == "check" for r in out["rows"])
