"""Start the desktop app: QApplication, theme that follows the system, the main window."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def create_app(argv: list[str] | None = None):
    """The QApplication (reused if one exists), named and themed."""
    from PySide6.QtWidgets import QApplication

    from desktop import theme

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "personalq", *(argv or [])])
    app.setApplicationName("PersonalQ")
    app.setOrganizationName("PersonalQ")
    app.setApplicationDisplayName("PersonalQ")
    app.setWindowIcon(theme.app_icon())
    theme.apply_theme(app)
    return app


def run_app(argv: list[str] | None = None) -> int:
    """Open the window and run the event loop; returns the exit code."""
    qt_args = [a for a in (argv or []) if a not in ("-v", "--verbose")]
    app = create_app(qt_args)
    from desktop.main_window import MainWindow

    window = MainWindow()
    window.show()
    code = app.exec()
    window.shutdown()
    return int(code)


if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
