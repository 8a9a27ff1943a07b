"""`personalq index` / `personalq list` through main.main, on real files and a real database."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import main
from tests.catalog.fixtures import write_hostile_files, write_library

REPO = Path(__file__).resolve().parents[2]
ENTRY_KEYS = {"path", "kind", "base_model", "name", "triggers", "error"}


def _run(capsys, *argv):
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_json_lists_every_entry(tmp_path, capsys):
    expected = write_library(tmp_path / "lib")
    db = tmp_path / "c.sqlite"
    code, out, err = _run(capsys, "index", str(tmp_path / "lib"), "--db", str(db), "--json", "--no-embed")
    assert code == 0
    entries = json.loads(out)  # stdout is exactly one JSON list; progress went to stderr
    assert len(entries) == len(expected)
    assert all(ENTRY_KEYS <= set(e) for e in entries)
    by_rel = {str(Path(e["path"]).relative_to(tmp_path / "lib")): e for e in entries}
    corgi = by_rel["Lora/pets/rex_corgi_v2.safetensors"]
    assert (corgi["kind"], corgi["base_model"], corgi["triggers"], corgi["error"]) == ("lora", "sd15", ["rxcorgi"], None)
    assert "reading headers" in err


def test_index_text_summary_and_errors(tmp_path, capsys):
    hostile = write_hostile_files(tmp_path / "lib")
    code, out, _ = _run(capsys, "index", str(tmp_path / "lib"), "--db", str(tmp_path / "c.sqlite"), "--no-embed")
    assert code == 0  # unreadable files are entries, not failures
    assert f"{len(hostile)} with errors" in out
    assert "unsafe pickle: os.system" in out


def test_index_bad_folder_fails_clearly(tmp_path, capsys):
    code, out, err = _run(capsys, "index", str(tmp_path / "missing"), "--db", str(tmp_path / "c.sqlite"))
    assert code == 2
    assert "folder not found" in err and "missing" in err
    assert out == ""


def test_list_json_matches_index(tmp_path, capsys):
    write_library(tmp_path / "lib")
    db = str(tmp_path / "c.sqlite")
    _, out, _ = _run(capsys, "index", str(tmp_path / "lib"), "--db", db, "--json", "--no-embed", "-q")
    indexed = json.loads(out)
    code, out, err = _run(capsys, "list", "--db", db, "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == indexed


def test_list_text_and_missing_db(tmp_path, capsys):
    write_library(tmp_path / "lib")
    db = str(tmp_path / "c.sqlite")
    _run(capsys, "index", str(tmp_path / "lib"), "--db", db, "--no-embed", "-q")
    code, out, _ = _run(capsys, "list", "--db", db)
    assert code == 0 and "rxcorgi" in out and out.strip().endswith("entries")
    code, _, err = _run(capsys, "list", "--db", str(tmp_path / "none.sqlite"))
    assert code == 1 and "no catalog" in err


def test_index_uses_default_db_under_personalq_home(tmp_path, capsys, personalq_home):
    write_library(tmp_path / "lib")
    assert _run(capsys, "index", str(tmp_path / "lib"), "--no-embed", "-q")[0] == 0
    assert (personalq_home / "data" / "catalog.sqlite").is_file()
    code, out, _ = _run(capsys, "list", "--json")
    assert code == 0 and len(json.loads(out)) > 10


def test_console_entry_point_runs_as_a_process(tmp_path):
    write_library(tmp_path / "lib")
    out = subprocess.run([sys.executable, "main.py", "index", str(tmp_path / "lib"), "--db", str(tmp_path / "c.sqlite"),
                          "--json", "--no-embed"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) > 10


def test_progress_bar_redraws_one_line_on_a_terminal():
    import io

    from commands.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = ProgressBar(stream)
    bar("scan", 5, 0)
    bar("index", 1, 4)
    bar("index", 4, 4)
    bar("hash", 2 * 2**20, 4 * 2**20)
    bar.finish()
    text = stream.getvalue()
    assert "scanning: 5" in text and "reading headers: 100%" in text and "4/4" in text
    assert "2.10M/4.19M" in text  # hashing counts bytes
    assert text.count("\n") == 3  # one line per phase, redrawn in place


def test_index_gloss_with_a_model_that_cannot_read_other_languages_says_so_and_indexes(tmp_path, capsys):
    from common.settings import load_settings, save_settings
    from local_llm.models import DEFAULT_MODEL, assemble

    settings = load_settings()
    settings.llm_model = str(assemble(DEFAULT_MODEL, tmp_path / DEFAULT_MODEL.filename))  # the bundled 0.5B
    save_settings(settings)
    expected = write_library(tmp_path / "lib")
    code, out, err = _run(capsys, "index", str(tmp_path / "lib"), "--db", str(tmp_path / "c.sqlite"), "--json",
                          "--no-embed", "--gloss", "-q")
    assert code == 0 and len(json.loads(out)) == len(expected)
    assert "cards not glossed" in err and "does not read other languages" in err
