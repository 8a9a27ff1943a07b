"""What a model file is called, and text read from it made clean.

`file_stem` is the one home of the file-stem rule: the stem, or the folder's name for generic stems and
diffusers folders, NFC-normalized; card names, FTS words, embedding text and Check-in read a file's name
through it."""
from __future__ import annotations

import os
import re
import unicodedata

# names trainers and exporters give every file: the folder they sit in is the model's name
GENERIC_STEMS = {"pytorch_lora_weights", "adapter_model", "learned_embeds", "last", "model",
                 "diffusion_pytorch_model", "pytorch_model", "lora", "embeddings"}


def nfc(text: str) -> str:
    """NFC, with undecodable bytes of non-UTF-8 file names shown as U+FFFD (storable, printable)."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return unicodedata.normalize("NFC", text)


def file_stem(path: str, is_folder: bool = False) -> str:
    """The file's name without its extension; the folder's name for a folder or a generic stem (pytorch_lora_weights)."""
    folder, name = os.path.split(os.path.normpath(str(path)))
    if is_folder:
        return nfc(name)
    stem = os.path.splitext(name)[0]
    parent = os.path.basename(folder)
    if stem.lower() in GENERIC_STEMS and parent:
        return nfc(parent)
    return nfc(stem)


def clean_value(text) -> str | None:
    """A metadata value as text, or None for empty and the placeholders trainers write (none, null, n/a)."""
    if text is None:
        return None
    text = nfc(str(text)).strip()
    return text if text and text.lower() not in {"none", "null", "n/a"} else None


def split_list(text: str | None) -> list[str]:
    """Comma-separated trigger words, trimmed, de-duplicated, order kept."""
    if not text:
        return []
    out: list[str] = []
    for part in re.split(r"[,\n]", text):
        word = nfc(part).strip().strip("\"'`")
        if word and word.lower() != "none" and word not in out:
            out.append(word)
    return out
