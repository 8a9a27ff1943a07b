"""Rebuilt world files are byte-identical when their content is: header order and local paths do not leak in."""
from __future__ import annotations

import json
import struct

import torch
from safetensors.torch import load_file, safe_open, save

from demo import stable_files


def _with_metadata_order(data: bytes, keys: list[str]) -> bytes:
    """The same safetensors file with its metadata written in another key order (as another process may)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    meta = header.pop("__metadata__")
    text = json.dumps({"__metadata__": {k: meta[k] for k in keys}, **header}, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + length :]


def test_metadata_order_does_not_change_the_bytes(tmp_path):
    tensors = {"b.weight": torch.arange(6, dtype=torch.float16).reshape(2, 3), "a.alpha": torch.tensor(4.0)}
    meta = {"ss_output_name": "pqr_robot_v2", "ss_network_dim": "16", "modelspec.title": "Robot v2 ✓"}
    data = save(tensors, metadata=meta)
    one = stable_files.stable_safetensors_bytes(_with_metadata_order(data, list(meta)))
    other = stable_files.stable_safetensors_bytes(_with_metadata_order(data, sorted(meta, reverse=True)))
    assert one == other
    path = tmp_path / "x.safetensors"
    path.write_bytes(one)
    loaded = load_file(str(path))
    assert loaded.keys() == tensors.keys() and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    with safe_open(str(path), "pt") as f:
        assert f.metadata() == meta


def test_saved_configs_lose_the_building_machines_paths(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"_name_or_path": "/home/builder/work/unet", "in_channels": 4}))
    (tmp_path / "model_index.json").write_text(json.dumps({"_name_or_path": "/home/builder/work", "unet": ["diffusers", "UNet2DConditionModel"]}))
    stable_files.drop_local_paths(tmp_path)
    assert json.loads((tmp_path / "unet" / "config.json").read_text()) == {"in_channels": 4}
    assert "/home/builder" not in (tmp_path / "model_index.json").read_text()


def test_saved_tokenizer_config_does_not_depend_on_offline_mode(tmp_path):
    (tmp_path / "tokenizer").mkdir()
    for offline in (True, False):
        config = {"model_max_length": 77, "local_files_only": offline, "is_local": True}
        (tmp_path / "tokenizer" / "tokenizer_config.json").write_text(json.dumps(config))
        stable_files.drop_local_paths(tmp_path)
        assert json.loads((tmp_path / "tokenizer" / "tokenizer_config.json").read_text()) == {"model_max_length": 77}
