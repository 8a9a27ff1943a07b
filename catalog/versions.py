"""Versions and dates of a model file, read from its name, its metadata and its sidecars' words: which of
several files of one concept is newest, and when it was made."""
from __future__ import annotations

import datetime as dt
import os
import re

from catalog.card import Card
from catalog.names import clean_value, nfc

_VERSION_TOKEN = re.compile(r"(?<![A-Za-z0-9])[vV](?:er(?:sion)?)?[ ._-]?(\d+(?:\.\d+)*)(?![\d])")
_VERSION_WORD = re.compile(r"\bversion\s*(\d+(?:\.\d+)*)\b", re.I)
_CIVITAI_FILE = re.compile(r"^[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*_[vV](\d+)([A-Za-z].*)?$")


def version_from_text(text: str | None, anywhere: bool = True) -> tuple[str, float] | None:
    """('v5.0', 5.0) from 'v5.0 XL', 'Ziggy XL v6', 'version 3'; anywhere=False: only at the start."""
    if not text:
        return None
    text = nfc(text)
    if not anywhere:
        m = re.match(r"\s*[vV](?:er(?:sion)?)?[ ._-]?(\d+(?:\.\d+)*)(?![\d])", text) or \
            re.match(r"\s*version\s*(\d+(?:\.\d+)*)", text, re.I)
    else:
        m = _VERSION_TOKEN.search(text) or _VERSION_WORD.search(text)
    if not m:
        return None
    label = m.group(0).strip(" ._-")
    try:
        number = float(".".join(m.group(1).split(".")[:2]))
    except ValueError:
        return None
    return label, number


def version_from_civitai_label(label: str | None) -> tuple[str, float] | None:
    """Civitai version names: 'v5.0 XL', 'v2 Pony', 'LoCon v1', '1.5'."""
    label = clean_value(label)
    if not label:
        return None
    found = version_from_text(label)
    if found:
        return label, found[1]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)", label)
    return (label, float(m.group(1))) if m else None


def version_from_filename(stem: str) -> tuple[str, float] | None:
    """Version in a file name; Civitai download names drop the dot ('gouacheHills_v50XL' = v5.0)."""
    m = _CIVITAI_FILE.match(stem)
    if m:
        digits = m.group(1)
        number = float(digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}")
        return f"v{digits}{m.group(2) or ''}", number
    return version_from_text(stem)


def iso_from_unix(value) -> str | None:
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not 946684800 <= seconds <= 4102444800:  # 2000..2100: anything else is not a real date
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_text(value) -> str | None:
    """Normalise '2024-02-24T12:27:36.445Z' / '2025-03-29T10:34:16' / '2025-03-29' to ISO UTC."""
    text = clean_value(value)
    if not text:
        return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?", text)
    if not m:
        return None
    year, month, day, hh, mm, ss, tz = m.groups()
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    if hh is None:
        return date.isoformat()
    stamp = dt.datetime(date.year, date.month, date.day, int(hh), int(mm), int(ss or 0))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        stamp = stamp - sign * offset
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_WORD = re.compile(r"\b(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
                         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b", re.I)


def month_from_text(text: str | None) -> int | None:
    """1..12 for the first month named in free text ('retrained in February' -> 2)."""
    for m in _MONTH_WORD.finditer(text or ""):
        if m.group(1) == "may":  # lowercase "may" is the verb
            continue
        return _MONTHS.index(m.group(1)[:3].lower()) + 1
    return None


def corroborated_mtime(path: str, month: int | None) -> str | None:
    """The file mtime as a creation date, only when notes name the same month (a copy resets mtimes)."""
    if month is None:
        return None
    try:
        stamp = dt.datetime.fromtimestamp(os.stat(path).st_mtime, dt.timezone.utc)
    except (OSError, ValueError, OverflowError):
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp.month == month else None


def version_sort_key(card: Card) -> tuple:
    """Order versions of one concept: stated number first, then creation date (newest is max)."""
    number = card.version_number if card.version_number is not None else -1.0
    return (number, card.created or "")
