"""The CLIP BPE tokenizer, built offline from the vocabulary file that open-clip-torch ships.

Stable Diffusion 1.x/2.x/XL all use OpenAI's CLIP BPE (49,408 tokens). We never import
open_clip (it needs torchvision); we only read its `bpe_simple_vocab_16e6.txt.gz`, convert it
once to `vocab.json` + `merges.txt` in the cache dir, and build a transformers CLIPTokenizer.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import os
from pathlib import Path

from common import paths

VOCAB_SIZE = 49408
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


class TokenizerFilesMissing(FileNotFoundError):
    pass


def bpe_vocab_path() -> Path:
    """Locate open_clip's BPE file without importing the package."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerFilesMissing("open-clip-torch is not installed (needed for the CLIP BPE vocabulary file)")
    path = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise TokenizerFilesMissing(f"CLIP BPE vocabulary not found at {path}")
    return path


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode map (the first 256 vocabulary entries)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_tokenizer_files(out_dir: Path) -> Path:
    """Write vocab.json, merges.txt and tokenizer configs for CLIPTokenizer into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(bpe_vocab_path(), "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += [BOS, EOS]
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    (out_dir / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False), encoding="utf-8")
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    (out_dir / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}), encoding="utf-8"
    )
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CLIPTokenizer",
                "model_max_length": 77,
                "bos_token": BOS,
                "eos_token": EOS,
                "pad_token": EOS,
                "unk_token": EOS,
                "do_lower_case": True,
            }
        ),
        encoding="utf-8",
    )
    return out_dir


def tokenizer_dir() -> Path:
    """Folder with the converted tokenizer files (built on first use, under the cache dir)."""
    out = paths.cache_dir() / "clip_tokenizer"
    if (out / "merges.txt").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    import shutil
    import tempfile

    tmp = out.with_name(f"{out.name}{paths.TMP_MARK}{os.getpid()}")
    try:  # built beside and renamed: a full disk never leaves a half tokenizer that looks complete
        shutil.rmtree(tmp, ignore_errors=True)
        write_tokenizer_files(tmp)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
        return out
    except OSError:  # a full or read-only cache: this process uses one temp copy
        shutil.rmtree(tmp, ignore_errors=True)
        global _TEMP_COPY
        if _TEMP_COPY is None:
            _TEMP_COPY = write_tokenizer_files(Path(tempfile.mkdtemp(prefix="personalq-tokenizer-")))
        return _TEMP_COPY


_TEMP_COPY: Path | None = None


@functools.lru_cache(maxsize=4)
def _load(folder: str):
    from transformers import CLIPTokenizer

    folder_path = Path(folder)
    vocab = json.loads((folder_path / "vocab.json").read_text(encoding="utf-8"))
    merges = [tuple(line.split()) for line in (folder_path / "merges.txt").read_text(encoding="utf-8").splitlines()[1:] if line]
    # transformers 5.x: the old vocab_file/merges_file keywords silently build a 2-token tokenizer
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        model_max_length=77,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
    )


def load_clip_tokenizer():
    """A CLIPTokenizer with OpenAI's exact token ids, model_max_length 77, no network."""
    return _load(str(tokenizer_dir()))
