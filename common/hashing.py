"""File hashes the ecosystem uses to recognise a model: SHA-256, Civitai's AutoV2 short form and A1111's
"addnet" hash of a safetensors file's tensors (Civitai's AutoV3), which A1111 writes as `Lora hashes`."""
from __future__ import annotations

import hashlib
import os
import struct

DEFAULT_CHUNK = 1 << 20  # 1 MiB reads: fast on disks, small enough to cancel between chunks


def sha256_file(path, chunk: int = DEFAULT_CHUNK, progress=None) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so multi-GB checkpoints do not fill memory;
    `progress(done_bytes, total_bytes)` after each chunk."""
    if chunk <= 0:
        raise ValueError(f"chunk must be positive, got {chunk}")
    digest = hashlib.sha256()
    total = os.path.getsize(path) if progress else 0
    done = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
            if progress:
                done += len(block)
                progress(done, total)
    return digest.hexdigest()


def autov2(sha256: str) -> str:
    """Civitai/A1111 AutoV2 short hash: the first 10 hex digits of the SHA-256 (lower case)."""
    sha = (sha256 or "").strip().lower()
    if len(sha) < 10 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha[:10]


def addnet_sha256(path, chunk: int = DEFAULT_CHUNK) -> str:
    """SHA-256 of a safetensors file's bytes after its JSON header (A1111 `addnet_hash_safetensors`): the
    same LoRA with other metadata hashes the same. Any other file: the plain SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        head = f.read(8)
        size = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if str(path).lower().endswith(".safetensors") and 0 <= size <= os.path.getsize(path) - 8:
            f.seek(8 + size)
        else:
            return sha256_file(path, chunk)
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
