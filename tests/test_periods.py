"""Periods: ISO weeks, months, quarters, years in Asia/Shanghai."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from pubwatch.periods import KINDS, Period, weeks_between
from pubwatch.types import TZ

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def test_week_bounds_and_label():
    p = Period.week_of(date(2026, 11, 18))
    assert (p.kind, p.key, p.start, p.end) == ("week", "2026-W47", date(2026, 11, 16), date(2026, 11, 22))
    assert p.label == "2026年第47周(11月16日-11月22日)"
    assert p.start_dt == datetime(2026, 11, 16, tzinfo=TZ)
    assert p.end_dt == datetime(2026, 11, 23, tzinfo=TZ)


def test_iso_week_across_new_year():
    p = Period.parse("2026-W01")
    assert (p.start, p.end) == (date(2025, 12, 29), date(2026, 1, 4))
    assert Period.week_of(date(2021, 1, 3)).key == "2020-W53"
    assert Period.parse("2020-W53").next().key == "2021-W01"


@pytest.mark.parametrize("key,start,end,label", [
    ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "2026年11月"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024年2月"),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "2026年第四季度"),
    ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "2026年第一季度"),
    ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026年度"),
])
def test_parse_other_kinds(key, start, end, label):
    p = Period.parse(key)
    assert (p.start, p.end, p.label, p.key) == (start, end, label, key)


@pytest.mark.parametrize("bad", ["2026-W54", "2026-13", "2026-Q5", "26", "2026/11", "", "2026-W1"])
def test_parse_rejects_bad_keys(bad):
    with pytest.raises(ValueError, match="周期"):
        Period.parse(bad)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown period kind"):
        Period.of("fortnight", date(2026, 1, 1))


def test_contains_uses_shanghai_time():
    p = Period.week_of(date(2026, 11, 16))
    # Sunday 16:30 UTC is Monday 00:30 in Shanghai: next week.
    assert not p.contains(datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc))
    assert p.contains(datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc))
    assert p.contains(date(2026, 11, 22)) and not p.contains(date(2026, 11, 23))


def test_previous_next_month_and_quarter():
    assert Period.parse("2026-01").previous().key == "2025-12"
    assert Period.parse("2026-12").next().key == "2027-01"
    assert Period.parse("2026-Q1").previous().key == "2025-Q4"
    assert Period.parse("2026").next().key == "2027"


def test_weeks_between():
    weeks = weeks_between(date(2026, 2, 1), date(2026, 2, 28))
    assert [w.key for w in weeks] == ["2026-W05", "2026-W06", "2026-W07", "2026-W08", "2026-W09"]
    assert weeks_between(date(2026, 2, 2), date(2026, 2, 1)) == []


@given(dates, st.sampled_from(KINDS))
def test_every_date_in_exactly_one_period(d, kind):
    p = Period.of(kind, d)
    assert p.contains(d)
    assert not p.previous().contains(d) and not p.next().contains(d)
    assert p.previous().end + timedelta(days=1) == p.start
    assert p.next().start == p.end + timedelta(days=1)
    assert Period.parse(p.key) == p


@given(dates)
def test_week_is_monday_to_sunday(d):
    p = Period.week_of(d)
    assert p.start.weekday() == 0 and p.end.weekday() == 6 and p.days == 7
    assert p.key == "%04d-W%02d" % d.isocalendar()[:2]


@given(dates, dates)
def test_weeks_between_cover_range(a, b):
    a, b = min(a, b), max(a, b)
    if (b - a).days > 400:
        b = a + timedelta(days=400)
    weeks = weeks_between(a, b)
    assert weeks[0].contains(a) and weeks[-1].contains(b)
    assert all(w1.next() == w2 for w1, w2 in zip(weeks, weeks[1:]))
