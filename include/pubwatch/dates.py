"""Dates as Chinese government portals print them.

Handled: 2026-11-20, 2026/11/20, 2026.11.20, 2026年11月20日, an optional time (09:30, 09:30:00,
09时30分), ISO 8601 with T and an offset, month-day only ([11-20], (11-20), 11-20, 11/20 — two digits each —, 11月20日),
full-width digits and punctuation (NFKC), and labelled dates ("发布时间：…", "日期:…"), a labelled
date winning over other dates in the same text.

A labelled date also says what its label means (`scan_labelled`): a publication label (发布时间),
a plain 日期/时间, or a document's own date (成文日期/印发日期) — list parsers rank them. A date whose
day and year-month sit in two elements ("05" + "2026-11") is read by `scan_split_date` from the
pieces' texts. `plausible` says whether a day can be a publication date at all (not before 2000,
not after the read + TOLERANCE): CMS placeholders such as 1900-01-01 are not.

Dates without a year get the latest year that does not put them after the reference day (+1 day of
tolerance for clock and time-zone skew); in a newest-first list, `infer_years` lets the year go
down when the month-day jumps up (December after January). Everything returned is aware, in
Asia/Shanghai; a date without a time is midnight. Impossible dates (2026-02-30) give None.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Sequence

from .types import TZ

__all__ = ["DateMatch", "scan_date", "scan_labelled", "scan_split_date", "find_date", "infer_year",
           "infer_years", "normalize_text", "plausible", "TOLERANCE", "DISORDER_DAYS", "EARLIEST",
           "LABEL_PUBLISHED", "LABEL_PLAIN", "LABEL_WRITTEN"]

TOLERANCE = timedelta(days=1)      # a date may be at most this far after the reference day
DISORDER_DAYS = 7                  # a newest-first list may be out of order by this much
EARLIEST = date(2000, 1, 1)        # no county portal post is older: 1900-01-01, 1970-01-01 are placeholders

_TIME = (r"(?:\s*(?:T|\s)?\s*(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2}))?"
         r"(?:\s*秒)?(?:\.\d+)?(?:\s*(?P<tz>Z|[+-]\d{2}:?\d{2}))?(?!\d))?")
_FULL = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)(?:\s*日)?"
    + _TIME)
_MONTH_DAY = re.compile(
    r"(?<![\d\-/.年])(?<!\d:)(?:(?P<m>\d{2})\s*[-/]\s*(?P<d>\d{2})|(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*日?)"
    r"(?![\d:])" + _TIME)
_STRONG_LABEL = r"(?:发布时间|发布日期|发表时间|发表日期|公开日期|公开时间|信息时间|上传时间|更新时间|更新日期|发稿时间)"
_WEAK_LABEL = r"(?:(?<!成文)(?<!发文)(?<!印发)日期|(?<!浏览)时间)"
_LATE_LABEL = r"(?:成文日期|发文日期|印发日期)"
_LABELS = [re.compile(lab + r"\s*[:]?\s*[\[(【]?\s*") for lab in (_STRONG_LABEL, _WEAK_LABEL, _LATE_LABEL)]
LABEL_PUBLISHED, LABEL_PLAIN, LABEL_WRITTEN = "published", "plain", "written"
_LABEL_KINDS = (LABEL_PUBLISHED, LABEL_PLAIN, LABEL_WRITTEN)
# A day and a year-month in two elements, read from the pieces joined by one space: "05 2026-11",
# "2026.11 05", "09-30 2018", "2026 11-05", "05 11月" (no year).
_SPLIT = [
    (re.compile(r"^(?P<d>\d{1,2})\s*日?\s+(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?$"), True),
    (re.compile(r"^(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?\s+(?P<d>\d{1,2})\s*日?$"), True),
    (re.compile(r"^(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?\s+(?P<y>(?:19|20)\d{2})\s*年?$"), True),
    (re.compile(r"^(?P<y>(?:19|20)\d{2})\s*年?\s+(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?$"), True),
    (re.compile(r"^(?P<d>\d{1,2})\s*日?\s+(?P<m>\d{1,2})\s*月$"), False),
]


@dataclass(frozen=True)
class DateMatch:
    """A date found in text; `year` is None for month-day-only dates."""

    year: int | None
    month: int
    day: int
    clock: time | None = None
    tzinfo: timezone | None = None   # an explicit offset (ISO), else Asia/Shanghai
    start: int = 0                   # position in the normalized text
    end: int = 0

    def on(self, year: int) -> datetime | None:
        """This match as an aware Asia/Shanghai datetime in `year` (None if not a real date)."""
        try:
            day = date(year, self.month, self.day)
        except ValueError:
            return None
        naive = datetime.combine(day, self.clock or time())
        if self.tzinfo is not None:
            return naive.replace(tzinfo=self.tzinfo).astimezone(TZ)
        return naive.replace(tzinfo=TZ)


def normalize_text(text: str) -> str:
    """Full-width digits/punctuation and no-break spaces to ASCII (NFKC)."""
    return unicodedata.normalize("NFKC", text)


def _clock(m: re.Match) -> tuple[time | None, timezone | None]:
    if m.group("H") is None:
        return None, None
    h, mi, s = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    if h > 23 or mi > 59 or s > 59:
        return None, None
    tz = m.group("tz")
    offset = None
    if tz:
        if tz == "Z":
            offset = timezone.utc
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return time(h, mi, s), offset


def _build(m: re.Match, has_year: bool) -> DateMatch | None:
    year = int(m.group("y")) if has_year else None
    groups = m.groupdict()
    month = int(groups["m"] or groups["m2"])
    day = int(groups["d"] or groups["d2"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year is not None:
        try:
            date(year, month, day)
        except ValueError:
            return None
    elif month == 2 and day > 29 or day > 30 and month in (4, 6, 9, 11):
        return None
    clock, tz = _clock(m)
    return DateMatch(year, month, day, clock, tz, m.start(), m.end())


def _first(pattern: re.Pattern, text: str, has_year: bool, pos: int = 0,
           anchored: bool = False) -> DateMatch | None:
    if anchored:
        m = pattern.match(text, pos)
        return _build(m, has_year) if m else None
    for m in pattern.finditer(text, pos):
        found = _build(m, has_year)
        if found:
            return found
    return None


def scan_date(text: str, *, month_day: bool = True, labelled_only: bool = False) -> DateMatch | None:
    """The date a piece of text states: a labelled one first, else (unless `labelled_only`) the
    first full date, else (if `month_day`) the first month-day. `text` may be raw (it is
    NFKC-normalized here)."""
    if not text:
        return None
    text = normalize_text(text)
    for label in _LABELS:
        for lm in label.finditer(text):
            found = _first(_FULL, text, True, lm.end(), anchored=True)
            if found is None and month_day:
                found = _first(_MONTH_DAY, text, False, lm.end(), anchored=True)
            if found:
                return found
    if labelled_only:
        return None
    found = _first(_FULL, text, True)
    if found is None and month_day:
        found = _first(_MONTH_DAY, text, False)
    return found


def scan_labelled(text: str, *, month_day: bool = True) -> tuple[DateMatch, str] | None:
    """The first labelled date of `text` and what its label means: LABEL_PUBLISHED (发布时间,
    公开日期, 更新时间 …), LABEL_PLAIN (日期, 时间) or LABEL_WRITTEN (成文日期, 印发日期, 发文日期)."""
    if not text:
        return None
    text = normalize_text(text)
    for label, kind in zip(_LABELS, _LABEL_KINDS):
        for lm in label.finditer(text):
            found = _first(_FULL, text, True, lm.end(), anchored=True)
            if found is None and month_day:
                found = _first(_MONTH_DAY, text, False, lm.end(), anchored=True)
            if found:
                return found, kind
    return None


def scan_split_date(pieces: Sequence[str]) -> DateMatch | None:
    """A date printed in two or three elements, e.g. ["05", "2026-11"] (day, year-month) or
    ["09-30", "2018"]; None unless the pieces together are exactly such a date."""
    if not 2 <= len(pieces) <= 3:
        return None
    text = normalize_text(" ".join(p.strip() for p in pieces if p.strip()))
    if len(text) > 24:
        return None
    for pattern, has_year in _SPLIT:
        m = pattern.match(text)
        if not m:
            continue
        year = int(m.group("y")) if has_year else None
        month, day = int(m.group("m")), int(m.group("d"))
        try:
            date(year or 2000, month, day)
        except ValueError:
            return None
        return DateMatch(year, month, day, None, None, 0, len(text))
    return None


def plausible(when: date | datetime, reference: date | None = None) -> bool:
    """True if `when` can be a publication date read on `reference` (default today): not before
    EARLIEST (2000-01-01) and not after reference + TOLERANCE. Aware datetimes are compared by their
    Asia/Shanghai day."""
    if isinstance(when, datetime):
        when = (when.astimezone(TZ) if when.tzinfo is not None else when).date()
    return EARLIEST <= when <= (reference or _today()) + TOLERANCE


def _today() -> date:
    return datetime.now(TZ).date()


def infer_year(month: int, day: int, reference: date | None = None) -> date | None:
    """Latest date with this month-day not after reference + TOLERANCE (None for e.g. 02-30)."""
    limit = (reference or _today()) + TOLERANCE
    for year in range(limit.year, limit.year - 9, -1):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if d <= limit:
            return d
    return None


def infer_years(month_days: Sequence[tuple[int, int] | date], reference: date | None = None
                ) -> list[date | None]:
    """Years for a newest-first list of (month, day) pairs; full `date`s pass through as anchors.

    The first yearless entry (or one after an anchor) gets the latest year not after the
    reference; each next one keeps the previous entry's year unless that would put it more than
    DISORDER_DAYS after the previous entry or after the reference — then the year goes down
    (Dec after Jan). Small disorder (11-21 listed below 11-20) keeps the year.
    """
    reference = reference or _today()
    limit = reference + TOLERANCE
    out: list[date | None] = []
    prev: date | None = None
    for entry in month_days:
        if isinstance(entry, date):
            out.append(entry)
            prev = entry
            continue
        month, day = entry
        if prev is None:
            got = infer_year(month, day, reference)
        else:
            got = _year_after(month, day, prev, limit)
        out.append(got)
        if got is not None:
            prev = got
    return out


def _year_after(month: int, day: int, prev: date, limit: date) -> date | None:
    for year in range(min(prev.year, limit.year), prev.year - 9, -1):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if d <= limit and d <= prev + timedelta(days=DISORDER_DAYS):
            return d
    return None


def find_date(text: str, reference: date | None = None) -> datetime | None:
    """The date stated in `text` as an aware Asia/Shanghai datetime (midnight if no time)."""
    found = scan_date(text)
    if found is None:
        return None
    if found.year is not None:
        return found.on(found.year)
    inferred = infer_year(found.month, found.day, reference)
    return found.on(inferred.year) if inferred else None

