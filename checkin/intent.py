"""Read a request for the cues Check-in acts on: what to search for, what to exclude, which version.

Pure and fast: no I/O, no models. The cues found here are removed from `Intent.query` so that
"Hiroshi, not the puppet" does not retrieve the puppet and "Tank from last December" does not
search for December.

Conventions for time words (relative to `today`): seasons are northern-hemisphere meteorological
(spring Mar-May, summer Jun-Aug, autumn/fall Sep-Nov, winter Dec-Feb); "last <season/month>" and a
bare month or holiday mean the most recent one that has started before today; "early/mid/late YEAR"
are thirds of the year. Scene words ("in a Halloween costume", "a beach in summer") are cues only
when they sit next to a time preposition or a model word ("trained", "version", "the ... one").
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
HOLIDAYS = {  # name -> (month, day)
    "christmas": (12, 25), "xmas": (12, 25), "new year": (1, 1), "new year's": (1, 1),
    "valentine's day": (2, 14), "valentines day": (2, 14), "valentine's": (2, 14), "valentine": (2, 14),
    "halloween": (10, 31), "independence day": (7, 4),
}
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8}
MODEL_WORDS = r"(?:version|versions|model|models|lora|loras|checkpoint|training|train|trained|retrain|retrained|release|one|ones|run|embedding)"
STOPWORDS = frozenset(
    "a an the of in on at to for with and or my our your his her their its me i we you it is are be "
    "this that these those some something someone from by as please can could would like want make "
    "picture photo image pic shot one using use do does did get give just also so very really".split()
)
STYLE_WORDS = frozenset(
    "style styles painting painted paint drawing drawn drawing sketch sketches illustration watercolor watercolour "
    "gouache oil acrylic pencil charcoal graphite ink pen doodle doodles poster comic anime cartoon look aesthetic "
    "art artwork render vaporwave synthwave pixel isometric texture pattern".split()
)
NEGATION_STOP = re.compile(r"[,.;:!?()]|\b(?:but|and|or|please|with|in|on|at|for|instead|rather)\b", re.I)
BASE_PATTERNS = [
    ("sdxl", r"\bsd\s?xl\b|\bxl\b|\bpony\b|\bsdxl\s?1(?:\.0)?\b"),
    ("sd15", r"\bsd\s?-?1(?:\.[45x])?\b|\bsd\s?15\b|\bstable diffusion 1(?:\.[45])?\b|\b1\.5\b"),
    ("sd21", r"\bsd\s?-?2(?:\.[01x])?\b|\bsd\s?21\b|\bstable diffusion 2(?:\.[01])?\b|\b2\.1\b"),
]
KIND_PATTERNS = [
    ("textual_inversion", r"\bembedding\b|\btextual inversion\b|\bti\b"),
    ("checkpoint", r"\bcheckpoint\b|\bdreambooth\b|\bfull model\b"),
    ("lora", r"\blora\b|\blycoris\b|\bloha\b|\blocon\b"),
    ("inpainting", r"\binpaint(?:ing)?\b"),
]


@dataclass
class Intent:
    """The cues read from one request (see module docstring for the time conventions)."""

    request: str
    query: str  # the request with negated phrases and version/time cue phrases removed
    words: list[str] = field(default_factory=list)  # content words of `query` (lowercase)
    style_words: list[str] = field(default_factory=list)
    negations: list[list[str]] = field(default_factory=list)  # content words of each negated phrase
    version: str | None = None  # "3", "4.0" when the request names a version number
    order: int | None = None  # 1 = first/oldest, 2 = second, -1 = newest, -2 = the one before the newest
    window: tuple[date | None, date | None] | None = None  # inclusive creation-date window
    base_model: str | None = None  # sd15 | sd21 | sdxl
    kind: str | None = None  # lora | checkpoint | textual_inversion | inpainting
    self_reference: bool = False  # "me", "myself": the user means their own self-portrait model
    today: date | None = None

    @property
    def has_version_cue(self) -> bool:
        return self.version is not None or self.order is not None or self.window is not None

    def describe(self) -> dict:
        return {
            "query": self.query, "negations": self.negations, "version": self.version, "order": self.order,
            "window": [d.isoformat() if d else None for d in self.window] if self.window else None,
            "base_model": self.base_model, "kind": self.kind, "style_words": self.style_words,
        }


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens (letters/digits, apostrophes kept inside words)."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())


def content_words(text: str) -> list[str]:
    out = []
    for tok in tokenize(text):
        tok = re.sub(r"'s$", "", tok)
        if tok and tok not in STOPWORDS:
            out.append(tok)
    return out


# ---------------------------------------------------------------------------------------------
# dates

def _month_window(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _season_window(year: int, season: str) -> tuple[date, date]:
    """Season of `year`; winter YEAR is Dec YEAR-1 .. Feb YEAR... except we anchor winter to its December."""
    start_m, end_m = SEASONS[season]
    if season == "winter":
        return date(year, 12, 1), _month_window(year + 1, 2)[1]
    return date(year, start_m, 1), _month_window(year, end_m)[1]


def _recent_season(today: date, season: str, strictly_past: bool) -> tuple[date, date]:
    """Most recent occurrence of a season that has started (or, strictly_past, ended) before today."""
    for year in range(today.year, today.year - 3, -1):
        lo, hi = _season_window(year, season)
        if (hi < today) if strictly_past else (lo <= today):
            return lo, hi
    return _season_window(today.year - 1, season)


def _recent_month(today: date, month: int, strictly_past: bool) -> tuple[date, date]:
    year = today.year if (month < today.month or (month == today.month and not strictly_past)) else today.year - 1
    return _month_window(year, month)


def _year(text: str) -> int:
    value = int(text.strip("'"))
    return value + 2000 if value < 100 else value


def _holiday(today: date, month: int, day: int, year: int | None) -> date:
    if year is not None:
        return date(year, month, day)
    this = date(today.year, month, day)
    return this if this <= today else date(today.year - 1, month, day)


# ---------------------------------------------------------------------------------------------
# cue readers: each returns (value, spans) so the caller can cut the cue out of the query

YEAR = r"(?:19|20)\d\d|'\d\d"
MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
SEASON_RE = "spring|summer|autumn|fall|winter"
HOLIDAY_RE = "|".join(sorted((re.escape(h) for h in HOLIDAYS), key=len, reverse=True))
TIME_PREP = r"(?:from|in|during|around|since|after|before|as of|trained in|made in|retrained in|of)"


def _read_window(text: str, today: date) -> tuple[tuple[date | None, date | None] | None, list[tuple[int, int]]]:
    low = text.lower()
    spans: list[tuple[int, int]] = []
    window = None

    def found(lo, hi, m):
        nonlocal window
        prefix = low[max(0, m.start() - 12):m.start()]
        if re.search(r"\bbefore\s*$", prefix):
            lo, hi = None, lo - timedelta(days=1)
        elif re.search(r"\b(?:after|since)\s*$", prefix):
            lo, hi = (hi + timedelta(days=1) if "after" in prefix else lo), None
        window = (lo, hi)
        spans.append((m.start(), m.end()))

    # relative: last/this month/year/week
    for m in re.finditer(r"\b(last|this|past)\s+(month|year|week)\b", low):
        which, unit = m.group(1), m.group(2)
        if unit == "month":
            first = today.replace(day=1)
            lo, hi = (_month_window((first - timedelta(days=1)).year, (first - timedelta(days=1)).month)
                      if which == "last" else (first, today))
        elif unit == "year":
            lo, hi = (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)) if which == "last" else (date(today.year, 1, 1), today)
        else:
            lo, hi = today - timedelta(days=7 if which != "this" else today.weekday()), today
        if which == "past":
            lo = {"month": today - timedelta(days=31), "year": today - timedelta(days=365), "week": today - timedelta(days=7)}[unit]
            hi = today
        found(lo, hi, m)
    # holidays: "Valentine's Day training", "before Christmas 2024"
    for m in re.finditer(rf"\b({HOLIDAY_RE})(?:\s+({YEAR}))?", low):
        before = low[max(0, m.start() - 16):m.start()]
        after = low[m.end():m.end() + 24]
        timely = re.search(rf"\b{TIME_PREP}\s+(?:the\s+)?$", before) or re.match(rf"\s*(?:day\s+)?{MODEL_WORDS}\b", after)
        if m.group(2) or timely:
            month, day = HOLIDAYS[m.group(1)]
            d = _holiday(today, month, day, _year(m.group(2)) if m.group(2) else None)
            found(d, d, m)
    # seasons: "summer '24", "fall 2025", "last spring", "from last summer"
    for m in re.finditer(rf"\b(last|this|early|late)?\s*\b({SEASON_RE})\b\s*({YEAR}|\d\d\b)?", low):
        rel, season, year = m.group(1), m.group(2), m.group(3)
        before = low[max(0, m.start() - 16):m.start()]
        after = low[m.end():m.end() + 24]
        if year:
            found(*_season_window(_year(year), season), m)
        elif rel in ("last", "this"):
            found(*_recent_season(today, season, strictly_past=(rel == "last")), m)
        elif re.search(rf"\b{TIME_PREP}\s+(?:the\s+)?$", before) and re.match(rf"\s*{MODEL_WORDS}\b", after) or \
                re.search(r"\b(?:trained|made|retrained)\s+(?:in\s+)?(?:the\s+)?$", before):
            found(*_recent_season(today, season, strictly_past=False), m)
    # months: "March 2025", "from March", "last December", "October 2024 retrain", "2025-06"
    for m in re.finditer(rf"\b(last|this)?\s*\b({MONTH_RE})\b\.?\s*(?:of\s+)?({YEAR})?", text, re.I):
        rel, month_name, year = m.group(1), m.group(2).lower(), m.group(3)
        month = MONTHS[month_name]
        if month_name == "may" and not year and not rel and not m.group(2)[0].isupper():
            continue
        begin = m.start(1) if rel else m.start(2)  # the match may open on the space before the month
        before = low[max(0, begin - 16):begin]
        after = low[m.end():m.end() + 24]
        if year:
            found(*_month_window(_year(year), month), m)
        elif rel:
            found(*_recent_month(today, month, strictly_past=(rel.lower() == "last")), m)
        elif re.search(rf"\b{TIME_PREP}\s+(?:the\s+)?$", before) or re.match(rf"\s*{MODEL_WORDS}\b", after):
            found(*_recent_month(today, month, strictly_past=False), m)
    for m in re.finditer(r"\b((?:19|20)\d\d)-(\d\d)\b", low):
        if 1 <= int(m.group(2)) <= 12:
            found(*_month_window(int(m.group(1)), int(m.group(2))), m)
    # years: "early 2025", "from 2023", "the 2024 one"
    for m in re.finditer(r"\b(early|mid|late)?[\s-]*\b((?:19|20)\d\d)\b(?!s|-\d)", low):
        if any(s <= m.start(2) < e for s, e in spans):
            continue
        part, year = m.group(1), int(m.group(2))
        if year > today.year + 1:
            continue
        thirds = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}
        lo_m, hi_m = thirds.get(part, (1, 12))
        found(date(year, lo_m, 1), _month_window(year, hi_m)[1], m)
    return window, spans


def _read_version(low: str) -> tuple[str | None, list[tuple[int, int]]]:
    m = re.search(r"\b(?:v|ver\.?|version)\s?(\d+(?:\.\d+)?)\b", low)
    if m:
        return m.group(1), [(m.start(), m.end())]
    return None, []


def _near_model_word(low: str, end: int, words: int = 4) -> bool:
    """True when a model word ("version", "LoRA", "one", "model") follows within a few words, or the clause ends."""
    after = low[end:]
    clause = re.split(r"[,.;:!?()]", after, maxsplit=1)[0].split()
    return not clause or any(re.fullmatch(MODEL_WORDS, w.strip("'\"")) for w in clause[:words])


def _read_order(low: str) -> tuple[int | None, list[tuple[int, int]]]:
    # (pattern, value, needs a model word nearby: words that also describe scenes do)
    rules = [
        (r"\b(?:the\s+)?(?:one|version|model)\s+before\s+the\s+(?:latest|newest|last|current)(?:\s+one)?\b", -2, False),
        (r"\b(?:second|2nd)[\s-]+(?:to[\s-]+)?(?:last|latest|newest|most recent)\b", -2, False),
        (r"\bpenultimate\b", -2, False),
        (r"\b(?:previous|prior)\b", -2, False),
        (r"\bolder\b", -2, True),
        (r"\b(?:latest|newest|most recent|most up[\s-]to[\s-]date)\b", -1, False),
        (r"\b(?:last|current)\b(?!\s+(?:month|year|week|spring|summer|autumn|fall|winter|" + MONTH_RE + r")\b)", -1, False),
        (r"\b(?:earliest|oldest|initial|very first)\b", 1, False),
        (r"\b(?:first|original)\b", 1, True),
        (r"\b(second|2nd|third|3rd|fourth|4th|fifth|5th)\b", None, True),
    ]
    for pattern, value, needs_model_word in rules:
        for m in re.finditer(pattern, low):
            if needs_model_word and not _near_model_word(low, m.end()):
                continue
            if value is None:
                value = ORDINALS[m.group(1)]
            return value, [(m.start(), m.end())]
    return None, []


def _read_negations(text: str) -> tuple[list[list[str]], list[tuple[int, int]]]:
    """Phrases after not / without / except / other than, up to punctuation or a conjunction."""
    negations, spans = [], []
    for m in re.finditer(r"(?:\b(?:but|and)\s+)?\b(?:not|no|without|except|excluding|other than|isn't|never)\b", text, re.I):
        rest = text[m.end():]
        stop = NEGATION_STOP.search(rest)
        phrase = rest[: stop.start() if stop else len(rest)]
        words = [w for w in content_words(phrase) if not re.fullmatch(MODEL_WORDS, w)][:4]
        if words:
            negations.append(words)
            spans.append((m.start(), m.end() + len(phrase)))
    return negations, spans


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    keep, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            keep.append(text[last:start])
            last = end
        else:
            last = max(last, end)
    keep.append(text[last:])
    return re.sub(r"\s+", " ", " ".join(keep)).strip(" ,.;-")


def read_intent(request: str, today: date | str | None = None) -> Intent:
    """Extract subject/style words, negations, version/order/time and base-model cues from a request."""
    if not isinstance(request, str):
        raise ValueError(f"request must be a string, got {type(request).__name__}")
    if isinstance(today, str):
        today = date.fromisoformat(today)
    today = today or date.today()
    low = request.lower()
    negations, neg_spans = _read_negations(request)
    window, time_spans = _read_window(request, today)
    version, version_spans = _read_version(low)
    order, order_spans = _read_order(low)
    if window is not None and order == -1 and not re.search(r"\b(?:latest|newest|most recent)\b", low):
        order, order_spans = None, []  # "last December": the "last" was the time cue's
    base = None
    base_spans = []
    for name, pattern in BASE_PATTERNS:
        m = re.search(pattern, low)
        if m:
            base, base_spans = name, [(m.start(), m.end())]
            break
    kind = None
    for name, pattern in KIND_PATTERNS:
        if re.search(pattern, low):
            kind = name
            break
    query = _cut(request, neg_spans + time_spans + version_spans + order_spans + base_spans) or request
    words = content_words(query)
    return Intent(
        request=request, query=query, words=words, style_words=[w for w in words if w in STYLE_WORDS],
        negations=negations, version=version, order=order, window=window, base_model=base, kind=kind, today=today,
        self_reference=bool(re.search(r"\b(?:me|myself)\b", low)),
    )
