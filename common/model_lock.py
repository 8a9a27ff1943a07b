"""One lock for building torch models anywhere in the process.

accelerate's empty-weights initialisation (used by diffusers and transformers while they load)
patches `torch.nn.Module` for the whole process, not one thread: a sentence embedder built while
a diffusers pipeline loads on another thread comes out on the meta device ("Cannot copy out of
meta tensor"). Every model construction takes this lock; inference does not need it.
"""
from __future__ import annotations

import threading

MODEL_LOAD_LOCK = threading.RLock()
