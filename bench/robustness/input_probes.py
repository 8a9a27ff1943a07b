"""Probes of issue #21 where the input is bad: out-of-range or non-finite values, hostile names (not UTF-8,
newlines, escapes), a malformed manifest, a model quantize cannot load, an unexpected crash."""
from __future__ import annotations

import json
import os
from pathlib import Path

from bench.robustness.harness import (
    ProbeFailed,
    call_main,
    catalog_intact,
    check,
    one_line,
    personalq_home,
    run_cli,
    tiny_checkpoint,
    tree,
    write_loras,
)


def _generate_rejects(work: Path, flags: list[str], *words: str) -> str:
    home = work / "home"
    with personalq_home(home):
        code, out, err = call_main(["generate", "a photo of a dog", "--checkpoint", str(work / "none.safetensors"),
                                    "--out", str(work / "out.png"), *flags])
    check(code == 2, f"exit {code}, expected 2")
    line = one_line(err, *words)
    check(not (work / "out.png").exists() and not tree(home / "data" / "outputs"), "an image was written")
    return line


def probe_guidance_not_finite(work: Path) -> str:
    lines = [_generate_rejects(work, [f"--guidance={value}"], "guidance", "finite") for value in ("inf", "nan", "-inf")]
    return lines[0]


def probe_zero_values(work: Path) -> str:
    lines = [_generate_rejects(work, ["--steps", "0"], "steps", "between"),
             _generate_rejects(work, ["--width", "0"], "width"),
             _generate_rejects(work, ["--height", "0"], "height")]
    return lines[0]


def probe_huge_values(work: Path) -> str:
    lines = [_generate_rejects(work, ["--steps", "100000"], "steps", "150"),
             _generate_rejects(work, ["--width", "100000"], "width", "2048"),
             _generate_rejects(work, ["--height", "4100"], "height", "2048"),
             _generate_rejects(work, ["--width", "100"], "width", "multiple of 8")]
    return lines[0]


def probe_manifest_not_an_object(work: Path) -> str:
    from engine import artifacts as q

    home = work / "home"
    ckpt = tiny_checkpoint(work / "models" / "tiny.safetensors")
    with personalq_home(home):
        code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
        check(code == 0, f"first quantize: exit {code} {err[-300:]!r}")
        folder = q.artifact_dir(ckpt, "taq-w8a8")
        for bad in ("[1, 2, 3]", '"text"', '{"spec": [1], "format": 1}'):
            (folder / "manifest.json").write_text(bad)
            code, out, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
            check(code == 0, f"exit {code} with manifest {bad}: {err[-300:]!r}")
            check("Traceback" not in err, "traceback")
            result = json.loads(out.strip().splitlines()[-1])
            check(not result["from_cache"], "a bad manifest was used")
            check(isinstance(json.loads((folder / "manifest.json").read_text()), dict), "manifest not rebuilt")
    return "rebuilt from a manifest that is a list, a string and an object with a list spec"


def _tiny_catalog(work: Path) -> Path:
    db = work / "catalog.sqlite"
    ckpt = tiny_checkpoint(work / "models" / "robot head.safetensors")
    (work / "models" / "robot head.json").write_text(json.dumps({"activation text": "zxrobot", "description": "a tin robot head"}))
    code, _, err = call_main(["index", str(ckpt.parent), "--db", str(db), "--no-embed", "-q"])
    check(code == 0, f"setup index failed: {err[-300:]!r}")
    return db


def probe_select_non_utf8(work: Path) -> str:
    home = work / "home"
    with personalq_home(home):
        db = _tiny_catalog(work)
        code, out, err = call_main(["select", "robot \udcff head", "--no-llm", "--db", str(db), "--json"])
    check(code in (0, 3, 4) and "Traceback" not in err, f"exit {code}: {err[-300:]!r}")
    check(json.loads(out)["status"] in ("selected", "clarify", "none"), f"not a select answer: {out[:200]!r}")
    return f"exit {code}, status {json.loads(out)['status']}"


def probe_ansi_in_request(work: Path) -> str:
    home = work / "home"
    with personalq_home(home):
        db = _tiny_catalog(work)
        code, out, err = call_main(["select", "\x1b[31mrobot head\x1b[0m\x07", "--no-llm", "--db", str(db)])
    check(code in (0, 3, 4), f"exit {code}: {err[-300:]!r}")
    check("\x1b" not in out + err and "\x07" not in out + err, f"escape echoed raw: {out!r}")
    return out.strip().splitlines()[0] if out.strip() else f"exit {code}"


def probe_generate_non_utf8_checkpoint(work: Path) -> str:
    home = work / "home"
    folder = work / "models"
    folder.mkdir(parents=True)
    name = os.fsdecode(b"tiny \xff robot.safetensors")
    ckpt = tiny_checkpoint(folder / name)
    out = work / "image.png"
    with personalq_home(home):
        code, _, err = call_main(["generate", "a photo of a robot", "--checkpoint", str(ckpt), "--steps", "2",
                                  "--width", "64", "--height", "64", "--quant", "none", "--seed", "1",
                                  "--out", str(out), "--db", str(work / "catalog.sqlite"), "--quiet"])
    check(code == 0, f"exit {code}: {err[-400:]!r}")
    from engine.png_info import read_png_parameters

    params = read_png_parameters(out)
    check("\\xff" in params.get("checkpoint", ""), f"checkpoint not recorded escaped: {params.get('checkpoint')!r}")
    return f"PNG written, checkpoint recorded as {params['checkpoint']!r}"


def probe_top_folder_not_utf8(work: Path) -> str:
    home = work / "home"
    top = Path(os.fsdecode(bytes(work) + b"/lib \xff"))
    write_loras(top, 2)
    db = work / "catalog.sqlite"
    code, out, err = run_cli(["index", str(top), "--db", str(db), "--no-embed", "-q"], home)
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    check("indexed 2 entries" in out and "2 with errors" in out, f"entries not stored or not said: {out!r}")
    check(out.count("not valid UTF-8") == 2 and "\\xff" in out, f"the cause is not shown: {out!r}")
    catalog_intact(db, at_least=2)
    return out.strip().splitlines()[0]


def probe_quantize_diffusers_folder(work: Path) -> str:
    from engine.pipeline_tiny import build_tiny_pipeline

    home = work / "home"
    folder = work / "tiny-diffusers"
    build_tiny_pipeline(seed=0).save_pretrained(str(folder))
    with personalq_home(home):
        code, out, err = call_main(["quantize", str(folder), "--quant", "taq-w8a8", "--device", "cpu", "--json"])
    check(code == 0, f"exit {code}: {err[-300:]!r}")
    result = json.loads(out.strip().splitlines()[-1])
    check(Path(result["artifact"]).is_dir(), "no artifact")
    return f"artifact {Path(result['artifact']).name}"


def probe_quantize_with_base(work: Path) -> str:
    """A single file shaped unlike its family's shipped config loads only with --base (its base's configs)."""
    import copy

    from diffusers import UNet2DConditionModel

    from engine.pipeline_tiny import TINY_UNET, build_tiny_pipeline, write_single_file_checkpoint

    home = work / "home"
    pipe = build_tiny_pipeline(seed=0)
    pipe.unet = UNet2DConditionModel(**{**copy.deepcopy(TINY_UNET), "layers_per_block": 1}).eval()
    base = work / "base"
    pipe.save_pretrained(str(base))
    ckpt = write_single_file_checkpoint(pipe, work / "models" / "odd.safetensors")
    with personalq_home(home):
        code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w8a8", "--device", "cpu"])
        check(code == 2, f"without --base: exit {code}, expected 2: {err[-300:]!r}")
        line = one_line(err, "--base")
        code, out, err = call_main(["quantize", str(ckpt), "--base", str(base), "--quant", "taq-w8a8",
                                    "--device", "cpu", "--json"])
    check(code == 0, f"with --base: exit {code}: {err[-300:]!r}")
    check(Path(json.loads(out.strip().splitlines()[-1])["artifact"]).is_dir(), "no artifact")
    return line


def probe_unknown_quant_spec(work: Path) -> str:
    """--quant nonsense is refused before any model loads (generate and quantize)."""
    import engine.loading as loading

    home = work / "home"
    ckpt = work / "tiny.safetensors"
    ckpt.write_bytes(b"not even read")
    real = loading.load_pipeline, loading.load_base

    def no_load(*a, **k):
        raise ProbeFailed("a model was loaded before the spec was checked")

    loading.load_pipeline = loading.load_base = no_load
    try:
        with personalq_home(home):
            code, _, err = call_main(["generate", "x", "--checkpoint", str(ckpt), "--quant", "taq-w9a9"])
            check(code == 2, f"generate exit {code}")
            line = one_line(err, "taq-w9a9")
            code, _, err = call_main(["quantize", str(ckpt), "--quant", "taq-w9a9"])
            check(code == 2, f"quantize exit {code}")
            one_line(err, "taq-w9a9")
    finally:
        loading.load_pipeline, loading.load_base = real
    return line


def probe_newline_in_file_name(work: Path) -> str:
    home = work / "home"
    write_loras(work / "lib", 2)
    (work / "lib" / "lora_0000.safetensors").rename(work / "lib" / "two\nlines\x1b[2J.safetensors")
    db = work / "catalog.sqlite"
    with personalq_home(home):
        code, _, err = call_main(["index", str(work / "lib"), "--db", str(db), "--no-embed", "-q"])
        check(code == 0, f"index exit {code}")
        code, out, err = call_main(["list", "--db", str(db)])
    check(code == 0, f"list exit {code}")
    lines = out.rstrip("\n").split("\n")
    check(len(lines) == 2 + 2, f"the table is not one line per entry: {lines}")
    check("\x1b" not in out and "two\\nlines\\x1b[2J" in out, f"not escaped: {out!r}")
    return lines[1].strip()


def probe_unexpected_error(work: Path) -> str:
    """Any error the commands do not expect: one line with the log's path; the traceback is in the log."""
    import commands.list_cmd as list_cmd

    home = work / "home"
    real = list_cmd.run

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    list_cmd.run = boom
    try:
        with personalq_home(home):
            code, _, err = call_main(["list"])
    finally:
        list_cmd.run = real
    check(code == 1, f"exit {code}, expected 1")
    line = one_line(err, "boom", "details in")
    log_path = Path(line.rsplit("details in ", 1)[1].rstrip(")"))
    check(log_path.is_file() and "RuntimeError: boom" in log_path.read_text(errors="replace"),
          f"no traceback in {log_path}")
    return line
