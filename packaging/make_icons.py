"""Render packaging/icons/personalq.svg to the PNG sizes Linux desktops look for (and .ico/.icns inputs).

`python packaging/make_icons.py` rewrites packaging/icons/personalq-<size>.png; the PNGs are
committed so a build needs no Qt SVG at build time. Uses QtSvg offscreen.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int, out: Path) -> Path:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"not a valid SVG: {svg}")
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise OSError(f"could not write {out}")
    return out


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QImage text needs an app)
    svg = ICONS / "personalq.svg"
    for size in SIZES:
        print(render(svg, size, ICONS / f"personalq-{size}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
