"""The parts of the three PyInstaller specs that do not depend on the platform.

A spec calls `analysis_options(...)` and passes the dict to `Analysis(**...)`, then trims the
result with `trim.filter_toc`. Differences per platform stay in the spec files: the Linux
app folder, the macOS `.app` (MPS), the Windows folder (CUDA or CPU torch, whichever the
build venv has).
"""
from __future__ import annotations

import bundle_data
import trim

ROOT = bundle_data.ROOT
HOOKS = ROOT / "packaging" / "hooks"
APP_PACKAGES = ("commands", "app", "catalog", "checkin", "engine", "local_llm", "desktop", "demo", "common", "bench")
APP_NAME = "PersonalQ"
EXE_NAME = "personalq"
VERSION = "0.1.0"
BUNDLE_ID = "org.personalq.PersonalQ"
# Distributions whose metadata must ship: diffusers decides "is transformers installed?" from
# importlib.metadata (without it every pipeline class is a dummy that fails on load), and
# something in the load path asks for requests' version. Measured: the self-test fails without.
METADATA = ("transformers", "diffusers", "requests", "sentence-transformers", "optimum-quanto", "sqlite-utils",
            "llama_cpp_python", "torch", "huggingface-hub", "tokenizers", "safetensors", "accelerate", "peft")


def hidden_imports() -> list[str]:
    """Our own modules are imported by name at run time (commands.load, lazy imports): list them all."""
    from PyInstaller.utils.hooks import collect_submodules

    names = ["self_test", "main"]
    for package in APP_PACKAGES:
        names += collect_submodules(package, filter=lambda name: ".tests" not in name)
    return names


def metadata_datas() -> list:
    """copy_metadata for METADATA (each one installed in the build venv)."""
    from PyInstaller.utils.hooks import copy_metadata

    datas = []
    for dist in METADATA:
        datas += copy_metadata(dist)
    return datas


def analysis_options(extra_binaries: list | None = None, extra_datas: list | None = None,
                     keep_cuda: bool = False) -> dict:
    """Keyword arguments for Analysis(): entry script, paths, data, hooks, excludes."""
    from PyInstaller.utils.hooks import collect_dynamic_libs

    return dict(
        scripts=[str(ROOT / "packaging" / "bundle_main.py")],  # main.py plus the --self-test dispatch
        pathex=[str(ROOT), str(ROOT / "packaging")],
        # llama.cpp's shared libraries sit in llama_cpp/lib beside its ctypes loader, which looks there
        binaries=collect_dynamic_libs("llama_cpp") + (extra_binaries or []),
        datas=bundle_data.data_pairs() + metadata_datas() + (extra_datas or []),
        hiddenimports=hidden_imports(),
        hookspath=[str(HOOKS)],
        runtime_hooks=[str(HOOKS / "rthook_personalq.py")],
        excludes=trim.excluded_modules(keep_cuda=keep_cuda),
        noarchive=False,
        optimize=0,  # torch and transformers read docstrings at import: -OO breaks them
    )


def trim_analysis(a, keep_cuda: bool = False) -> None:
    """Drop files nothing opens at run time (in place)."""
    a.binaries = trim.filter_toc(a.binaries, keep_cuda=keep_cuda)
    a.datas = trim.filter_toc(a.datas, keep_cuda=keep_cuda)


def icon() -> str:
    """The app icon for EXE/BUNDLE: PyInstaller converts the PNG to .ico/.icns itself (needs Pillow)."""
    return str(ROOT / "packaging" / "icons" / "personalq-512.png")
