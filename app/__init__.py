"""The application core, Qt-free: every user action as one function the window and the CLI both call."""
