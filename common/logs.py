"""Logging to a rotating file under the data dir (and to stderr when verbose)."""
from __future__ import annotations

import logging
import logging.handlers
import os

from common import paths

_configured = False


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger once per process."""
    global _configured
    root = logging.getLogger()
    if _configured:
        if verbose:
            root.setLevel(logging.DEBUG)
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # Library chatter (deprecations, "requires torchvision") goes to the log file, not the user's terminal.
    logging.captureWarnings(True)
    if not verbose:  # read by diffusers/transformers when they are first imported
        os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        handler = logging.handlers.RotatingFileHandler(
            paths.log_dir() / "personalq.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
    except OSError:  # read-only data dir: keep going, log to stderr only
        pass
    if verbose:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        root.addHandler(stream)
    _configured = True
