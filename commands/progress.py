"""Progress on the terminal for the commands: one tqdm bar per phase, or one line per phase when stderr
is not a terminal (a log file gets no carriage returns)."""
from __future__ import annotations


class ProgressBar:
    """`progress(phase, done, total)` as one tqdm bar per phase on a terminal, a line per phase otherwise."""

    PHASES = {"scan": "scanning", "index": "reading headers", "hash": "hashing", "embed": "embedding",
              "gloss": "reading cards", "step": "generating"}
    UNITS = {"hash": "B", "step": " steps"}  # the rest count files

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.phase = None
        self.bar = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        label = self.PHASES.get(phase, phase)
        if phase != self.phase:
            self.finish()
            self.phase = phase
            if not self.tty:
                self.stream.write(f"{label}...\n")
                self.stream.flush()
            else:  # hashing counts bytes; the scan does not know its total
                self.bar = tqdm(total=total or None, desc=label, file=self.stream, leave=True, dynamic_ncols=True,
                                unit=self.UNITS.get(phase, " files"), unit_scale=phase == "hash")
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.update(done - self.bar.n)

    def finish(self) -> None:
        self.phase = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None
