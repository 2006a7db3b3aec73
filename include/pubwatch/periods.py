"""Reporting periods in Asia/Shanghai: ISO weeks (Monday-Sunday), months, quarters, years.

A `Period` is a closed range of calendar dates [start, end]; `start_dt`/`end_dt` give the aware
datetime range [start 00:00, day-after-end 00:00) in Asia/Shanghai. Keys round-trip:
`Period.parse(p.key) == p`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, time, timedelta

from .types import TZ

KINDS = ("week", "month", "quarter", "year")
_QUARTER_CN = {1: "一", 2: "二", 3: "三", 4: "四"}
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR_RE = re.compile(r"^(\d{4})$")


def _as_local_date(value: date | datetime) -> date:
    """A date as-is; an aware datetime converted to Asia/Shanghai; a naive one taken as local."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ)
        return value.date()
    return value


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=TZ)


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period. Construct with the class methods, not directly.

    Ordering is by (kind, key), which is chronological within one kind.
    """

    kind: str          # "week" | "month" | "quarter" | "year"
    key: str           # "2026-W47" | "2026-11" | "2026-Q4" | "2026"
    start: date
    end: date          # inclusive (Sunday for weeks)

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def week_of(cls, d: date | datetime) -> Period:
        d = _as_local_date(d)
        start = d - timedelta(days=d.weekday())
        iso_year, iso_week, _ = start.isocalendar()
        return cls("week", f"{iso_year:04d}-W{iso_week:02d}", start, start + timedelta(days=6))

    @classmethod
    def month_of(cls, d: date | datetime) -> Period:
        d = _as_local_date(d)
        start = d.replace(day=1)
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        return cls("month", f"{d.year:04d}-{d.month:02d}", start, nxt - timedelta(days=1))

    @classmethod
    def quarter_of(cls, d: date | datetime) -> Period:
        d = _as_local_date(d)
        q = (d.month - 1) // 3 + 1
        start = date(d.year, 3 * q - 2, 1)
        end = date(d.year, 12, 31) if q == 4 else date(d.year, 3 * q + 1, 1) - timedelta(days=1)
        return cls("quarter", f"{d.year:04d}-Q{q}", start, end)

    @classmethod
    def year_of(cls, d: date | datetime) -> Period:
        d = _as_local_date(d)
        return cls("year", f"{d.year:04d}", date(d.year, 1, 1), date(d.year, 12, 31))

    @classmethod
    def of(cls, kind: str, d: date | datetime) -> Period:
        makers = {"week": cls.week_of, "month": cls.month_of, "quarter": cls.quarter_of,
                  "year": cls.year_of}
        if kind not in makers:
            raise ValueError(f"未知周期类型 {kind!r} (unknown period kind; use one of {', '.join(KINDS)})")
        return makers[kind](d)

    @classmethod
    def parse(cls, key: str) -> Period:
        """'2026-W47' | '2026-11' | '2026-Q4' | '2026' -> Period; ValueError on anything else."""
        text = str(key).strip()
        try:
            if m := _WEEK_RE.match(text):
                year, week = int(m.group(1)), int(m.group(2))
                return cls.week_of(date.fromisocalendar(year, week, 1))
            if m := _MONTH_RE.match(text):
                year, month = int(m.group(1)), int(m.group(2))
                return cls.month_of(date(year, month, 1))
            if m := _QUARTER_RE.match(text):
                return cls.quarter_of(date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1))
            if m := _YEAR_RE.match(text):
                return cls.year_of(date(int(m.group(1)), 1, 1))
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"无效的周期 {key!r}: {exc} (invalid period key)") from None
        raise ValueError(f"无法识别的周期 {key!r}; 应为 2026-W47 / 2026-11 / 2026-Q4 / 2026 之一 "
                         f"(unrecognised period key)")

    # ----- properties ---------------------------------------------------------------------
    @cached_property
    def start_dt(self) -> datetime:
        return _midnight(self.start)

    @cached_property
    def end_dt(self) -> datetime:
        """Exclusive end: midnight after the last day, Asia/Shanghai."""
        return _midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week = self.key.split("-W")
            return (f"{year}年第{int(week)}周({self.start.month}月{self.start.day}日-"
                    f"{self.end.month}月{self.end.day}日)")
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarter":
            return f"{self.start.year}年第{_QUARTER_CN[(self.start.month - 1) // 3 + 1]}季度"
        return f"{self.start.year}年度"

    # ----- navigation ---------------------------------------------------------------------
    def contains(self, value: date | datetime) -> bool:
        return self.start <= _as_local_date(value) <= self.end

    def previous(self) -> Period:
        return Period.of(self.kind, self.start - timedelta(days=1))

    def next(self) -> Period:
        return Period.of(self.kind, self.end + timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def weeks(self) -> list[Period]:
        """ISO weeks overlapping this period, in order."""
        return weeks_between(self.start, self.end)

    def __str__(self) -> str:
        return self.key


def weeks_between(a: date | datetime, b: date | datetime) -> list[Period]:
    """Every ISO week overlapping [a, b] (inclusive), oldest first; [] if b < a."""
    a, b = _as_local_date(a), _as_local_date(b)
    if b < a:
        return []
    out = []
    week = Period.week_of(a)
    while week.start <= b:
        out.append(week)
        week = week.next()
    return out
