"""common.tensor_files, the one zero-filled safetensors writer, writes what the four hand-written writers
it replaced wrote: the same tensors (dtype, shape, bytes) and metadata under the spec's layout."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import load

from catalog.probe import read_safetensors_header
from common.tensor_files import write_zero_safetensors, zero_safetensors_bytes

DTYPE_BYTES = {"F16": 2, "F32": 4}
LORA = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
CASES = {
    "kohya lora": ({f"{LORA}.alpha": ([], "F16"), f"{LORA}.lora_down.weight": ([1, 768], "F16"),
                    f"{LORA}.lora_up.weight": ([320, 1], "F16")},
                   {"ss_output_name": "rex", "ss_tag_frequency": json.dumps({"10_rx dog": {"rx": 20}})}),
    "sdxl embedding": ({"clip_l": ([2, 768], "F32"), "clip_g": ([2, 1280], "F32")}, None),
    "no tensors, unicode metadata": ({}, {"modelspec.title": "Ärger — 猫", "format": "pt"}),
    "empty metadata": ({"emb_params": ([3, 1024], "F32")}, {}),
}


def _hand_written(tensors: dict, metadata: dict | None) -> bytes:
    """The layout the replaced writers spelled out: u64 header length, JSON header padded to 8, zero data."""
    header, offset = {}, 0
    for name, (shape, dtype) in tensors.items():
        size = int(np.prod(shape, dtype=np.int64)) * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header, ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def _read(path):
    header, metadata = read_safetensors_header(path)
    entries = {name: (info["dtype"], info["shape"], info["data_offsets"][1] - info["data_offsets"][0])
               for name, info in header.items()}
    return entries, metadata, load(path.read_bytes())


@pytest.mark.parametrize("case", CASES)
def test_same_tensors_and_metadata_as_the_hand_written_layout(tmp_path, case):
    tensors, metadata = CASES[case]
    old, new = tmp_path / "old.safetensors", tmp_path / "new.safetensors"
    old.write_bytes(_hand_written(tensors, metadata))
    write_zero_safetensors(new, tensors, metadata)
    old_entries, old_meta, old_arrays = _read(old)
    new_entries, new_meta, new_arrays = _read(new)
    assert new_entries == old_entries and new_meta == old_meta
    assert new_arrays.keys() == old_arrays.keys()
    for name, array in old_arrays.items():
        assert new_arrays[name].dtype == array.dtype and new_arrays[name].tobytes() == array.tobytes()
    (length,) = struct.unpack("<Q", new.read_bytes()[:8])
    assert length % 8 == 0 and new.stat().st_size - 8 - length == sum(size for _, _, size in old_entries.values())


def test_salt_makes_trained_files_differ_and_copies_stay_equal():
    tensors = {"a": ([4], "F16"), "b": ([64, 8], "F16")}
    one, again, other = (zero_safetensors_bytes(tensors, {}, salt=s) for s in ("x/one", "x/one", "x/two"))
    assert one == again and one != other and one != zero_safetensors_bytes(tensors, {})
    assert not load(one)["a"].any() and load(one)["b"].any()  # the salt sits in the largest tensor only


def test_a_dtype_numpy_cannot_hold_is_refused_by_name():
    with pytest.raises(ValueError, match="BF16"):
        zero_safetensors_bytes({"w": ([2], "BF16")})


def test_the_same_tensors_give_the_same_bytes_in_every_process():
    """safetensors writes metadata in hash-map order (new in every process); the writer fixes the order."""
    import subprocess
    import sys

    code = ("import hashlib, sys; from common.tensor_files import zero_safetensors_bytes as z; "
            "meta = {k: k * 2 for k in 'abcdefghijklmnop'}; "
            "sys.stdout.write(hashlib.sha256(z({'w': ([2, 3], 'F16'), 'b': ([3], 'F32')}, meta)).hexdigest())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(3)}
    assert len(runs) == 1
