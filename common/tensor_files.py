"""Zero-filled safetensors files of given shapes: the sample library, the catalog benches and tests
write model files the catalog probes exactly as it would a downloaded one, without torch.

The one writer, on `safetensors.numpy`, so the layout (8-byte header length, JSON header padded to
8 bytes, tensor data) is the library's own and not a hand-written copy of the spec. safetensors writes
its metadata in hash-map order, a new order in every process; `stable_safetensors_bytes` puts the
header in a fixed order, so the same tensors give the same bytes on every run.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

# safetensors dtype -> numpy dtype name (numpy has no bfloat16, so BF16 cannot be written here)
NUMPY_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64", "I8": "int8", "U8": "uint8",
                "I16": "int16", "I32": "int32", "I64": "int64", "BOOL": "bool"}


def zero_safetensors_bytes(tensors: dict[str, tuple[list[int], str]], metadata: dict[str, str] | None = None,
                           salt: str = "") -> bytes:
    """{name: (shape, dtype)} -> a valid safetensors file with zeroed data; a `salt` fills the first bytes of
    the largest tensor so two files written with different salts never share their bytes (only copies do)."""
    import numpy as np
    from safetensors.numpy import save

    unknown = sorted({dtype for _, dtype in tensors.values()} - NUMPY_DTYPES.keys())
    if unknown:
        raise ValueError(f"cannot write dtype {', '.join(unknown)}; known: {', '.join(NUMPY_DTYPES)}")
    arrays = {name: np.zeros(shape, dtype=NUMPY_DTYPES[dtype]) for name, (shape, dtype) in tensors.items()}
    if salt and arrays:
        largest = max(arrays.values(), key=lambda a: a.nbytes)
        flat = largest.reshape(-1).view(np.uint8)
        noise = np.frombuffer(hashlib.sha256(salt.encode("utf-8")).digest(), dtype=np.uint8)
        flat[:min(len(noise), len(flat))] = noise[:len(flat)]
    return stable_safetensors_bytes(save(arrays, metadata=dict(metadata) if metadata is not None else None))


def stable_safetensors_bytes(data: bytes) -> bytes:
    """The same file with its header in a fixed order: metadata keys sorted, tensors by offset."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    meta = header.pop("__metadata__", None)
    ordered = {"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}
    ordered.update(sorted(header.items(), key=lambda item: (item[1]["data_offsets"], item[0])))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(text)) + text + data[8 + length :]


def write_zero_safetensors(path: str | Path, tensors: dict[str, tuple[list[int], str]],
                           metadata: dict[str, str] | None = None, salt: str = "") -> Path:
    """Write `zero_safetensors_bytes` to `path` (its folder is created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zero_safetensors_bytes(tensors, metadata, salt))
    return path
