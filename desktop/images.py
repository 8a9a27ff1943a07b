"""Engine preview images -> QImage, made on the worker thread (QImage is safe off the GUI thread; QPixmap is not)."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def to_qimage(preview):
    """A PIL image or HxWx3 uint8 array -> QImage; None when there is nothing to show."""
    if preview is None:
        return None
    from PySide6.QtGui import QImage

    try:
        import numpy as np

        if hasattr(preview, "convert"):  # PIL
            preview = np.asarray(preview.convert("RGB"))
        arr = np.ascontiguousarray(preview)
        if arr.ndim != 3 or arr.shape[2] != 3:
            return None
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).astype(np.uint8) if arr.dtype.kind == "f" else arr.astype(np.uint8)
        h, w, _ = arr.shape
        return QImage(arr.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    except Exception as exc:  # a bad preview must not stop a generation
        log.debug("preview not shown: %s", exc)
        return None
