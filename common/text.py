"""Text from outside (argv, file names, requests) made safe to process and to print.

Python hands argv and file names over with undecodable bytes as lone surrogates
(surrogateescape); they must stay that way to open the file, but they cannot reach a tokenizer,
SQLite or a terminal. Printing: control characters (a newline in a file name, ANSI escapes in a
request) are shown escaped so one entry stays one line and nothing drives the terminal.
"""
from __future__ import annotations

import re

# C0 and C1 controls and DEL; tab is escaped too (it breaks aligned tables)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def has_surrogates(text: str) -> bool:
    return bool(_SURROGATES.search(text))


def unsurrogate(text: str) -> str:
    """Undecodable bytes (surrogate escapes) as `\\xff` text; valid text is unchanged."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def escape_controls(text: str) -> str:
    """One printable line: undecodable bytes as `\\xff`, control characters as `\\n`, `\\x1b`…"""
    text = unsurrogate(str(text))

    def esc(m: re.Match) -> str:
        ch = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{ord(ch):02x}")

    return _CONTROLS.sub(esc, text)


def clean_request(text: str) -> str:
    """A request as Check-in and the tokenizer may read it: undecodable bytes dropped (they carry no
    words), control characters turned into spaces, runs of spaces collapsed. Never raises."""
    text = _SURROGATES.sub("", str(text))
    text = _ANSI.sub(" ", text)
    text = _CONTROLS.sub(" ", text)
    return re.sub(r" {2,}", " ", text).strip()
