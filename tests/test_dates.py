"""Chinese portal date formats, year inference, and properties (hypothesis)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from pubwatch.dates import DISORDER_DAYS, find_date, infer_year, infer_years, scan_date
from pubwatch.types import TZ

REF = date(2026, 11, 25)


def at(y, m, d, hh=0, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


@pytest.mark.parametrize("text,expected", [
    ("2026-11-20", at(2026, 11, 20)),
    ("2026/11/20", at(2026, 11, 20)),
    ("2026.11.20", at(2026, 11, 20)),
    ("2026-1-5", at(2026, 1, 5)),
    ("2026年11月20日", at(2026, 11, 20)),
    ("2026 年 11 月 2 日", at(2026, 11, 2)),
    ("2026-11-20 09:30", at(2026, 11, 20, 9, 30)),
    ("2026-11-20 09:30:15", at(2026, 11, 20, 9, 30, 15)),
    ("2026年11月20日 09:30", at(2026, 11, 20, 9, 30)),
    ("2026年11月20日09时30分", at(2026, 11, 20, 9, 30)),
    ("2026-11-20T09:30:00+08:00", at(2026, 11, 20, 9, 30)),
    ("2026-11-20T01:30:00Z", at(2026, 11, 20, 9, 30)),
    ("2026-11-20T09:30:00.123+0800", at(2026, 11, 20, 9, 30)),
    ("[11-20]", at(2026, 11, 20)),
    ("(11-20)", at(2026, 11, 20)),
    ("11-20", at(2026, 11, 20)),
    ("11/20", at(2026, 11, 20)),
    ("11月20日", at(2026, 11, 20)),
    ("3月5日", at(2026, 3, 5)),
    ("11-20 08:15", at(2026, 11, 20, 8, 15)),
    ("２０２６－１１－２０", at(2026, 11, 20)),            # full-width digits and dash
    ("２０２６年１１月２０日　１０：０５", at(2026, 11, 20, 10, 5)),
    ("［１１－２０］", at(2026, 11, 20)),
    ("发布时间：2026-11-20 09:30", at(2026, 11, 20, 9, 30)),
    ("日期:2026-11-19", at(2026, 11, 19)),
    ("日期：11-19", at(2026, 11, 19)),
    ("来源：县教育局 发布时间：2026-11-20 浏览次数：123", at(2026, 11, 20)),
    ("2026-10-01 专题 发布日期：2026-11-03", at(2026, 11, 3)),           # the labelled one wins
    ("成文日期：2026-11-01 发布日期：2026-11-03", at(2026, 11, 3)),
    ("成文日期：2026-11-01", at(2026, 11, 1)),
    ("关于2026年国庆节放假的通知2026-09-28", at(2026, 9, 28)),
    ("2026-11-20&nbsp;".replace("&nbsp;", "\xa0"), at(2026, 11, 20)),
    ("2026-11-20 25:61", at(2026, 11, 20)),                              # bad clock → midnight
])
def test_formats(text, expected):
    assert find_date(text, REF) == expected


@pytest.mark.parametrize("text", [
    "2026-02-30", "2026-13-01", "02-30", "13-05", "04-31", "", "暂无信息", "第3-5期",
    "电话：0931-8888888", "2026年11月", "版本 1.2.3", "09:30-10:00", "〔2026〕12号",
])
def test_not_a_date(text):
    assert find_date(text, REF) is None


def test_year_inference_around_new_year():
    assert find_date("12-30", date(2027, 1, 3)) == at(2026, 12, 30)
    assert find_date("01-02", date(2027, 1, 3)) == at(2027, 1, 2)
    assert find_date("11-26", REF) == at(2026, 11, 26)     # tomorrow: within the 1-day tolerance
    assert find_date("11-27", REF) == at(2025, 11, 27)
    assert find_date("02-29", REF) == at(2024, 2, 29)       # latest leap year not after the reference


def test_month_day_without_reference_is_not_in_the_future():
    today = datetime.now(TZ).date()
    found = find_date("12-31")
    assert found is not None and found.date() <= today + timedelta(days=1)


def test_scan_date_reports_missing_year_and_position():
    found = scan_date("通知公告 [11-20]")
    assert (found.year, found.month, found.day) == (None, 11, 20)
    assert scan_date("2026-11-20 x", month_day=False).year == 2026
    assert scan_date("[11-20]", month_day=False) is None


def test_infer_years_newest_first_across_new_year():
    got = infer_years([(1, 5), (1, 2), (12, 30), (12, 1), (6, 1), (1, 3), (12, 20)], date(2027, 1, 10))
    assert got == [date(2027, 1, 5), date(2027, 1, 2), date(2026, 12, 30), date(2026, 12, 1),
                   date(2026, 6, 1), date(2026, 1, 3), date(2025, 12, 20)]


def test_infer_years_tolerates_small_disorder_and_uses_anchors():
    got = infer_years([(11, 20), (11, 21), (11, 18)], REF)
    assert got == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 18)]
    got = infer_years([date(2025, 3, 1), (2, 10), (12, 5)], REF)
    assert got == [date(2025, 3, 1), date(2025, 2, 10), date(2024, 12, 5)]
    assert infer_years([(2, 30), (1, 1)], REF) == [None, date(2026, 1, 1)]


def test_infer_year_invalid():
    assert infer_year(2, 30, REF) is None


# ---------------------------------------------------------------- properties
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31))
FORMATS = [
    "{d:%Y-%m-%d}", "{d:%Y/%m/%d}", "{d:%Y.%m.%d}", "{d.year}年{d.month}月{d.day}日",
    "发布时间：{d:%Y-%m-%d} {t}", "[{d:%Y-%m-%d}]", "日期:{d:%Y年%m月%d日}", "{d:%Y-%m-%d}T{t}+08:00",
]


@given(d=days, fmt=st.sampled_from(FORMATS), hh=st.integers(0, 23), mm=st.integers(0, 59),
       title=st.sampled_from(["", "关于开展安全生产检查的通知 ", "县政府召开常务会议 "]))
@settings(max_examples=300, deadline=None)
def test_round_trip_full_dates(d, fmt, hh, mm, title):
    t = f"{hh:02d}:{mm:02d}"
    found = find_date(title + fmt.format(d=d, t=t), REF)
    assert found is not None and found.date() == d
    if "{t}" in fmt:
        assert (found.hour, found.minute) == (hh, mm)


@given(d=days, ref=days, style=st.sampled_from(["[{d:%m-%d}]", "{d:%m-%d}", "{d.month}月{d.day}日", "({d:%m/%d})"]))
@settings(max_examples=300, deadline=None)
def test_month_day_never_after_reference(d, ref, style):
    found = find_date(style.format(d=d), ref)
    assert found is not None
    assert ref - timedelta(days=366 * 8) <= found.date() <= ref + timedelta(days=1)
    assert (found.month, found.day) == (d.month, d.day)
    if d <= ref and (ref - d).days < 364 and not (d.month, d.day) == (2, 29):   # 1-day tolerance
        assert found.date() == d


@given(start=days, gaps=st.lists(st.integers(0, 365 - DISORDER_DAYS - 2), max_size=25),
       lead=st.integers(0, 300))
@settings(max_examples=300, deadline=None)
def test_infer_years_recovers_a_descending_list(start, gaps, lead):
    true = [start]
    for g in gaps:
        true.append(true[-1] - timedelta(days=g))
    ref = start + timedelta(days=lead)
    got = infer_years([(x.month, x.day) for x in true], ref)
    assert all(g is not None and g <= ref + timedelta(days=1) for g in got)
    assert got == true


# ---------------------------------------------------------------- meaning and plausibility (issue #15)
from pubwatch.dates import EARLIEST, plausible, scan_labelled, scan_split_date  # noqa: E402


@pytest.mark.parametrize("pieces,expected", [
    (["05", "2026-11"], (2026, 11, 5)), (["5", "2026年11月"], (2026, 11, 5)), (["2026.11", "05"], (2026, 11, 5)),
    (["2026-11", "05日"], (2026, 11, 5)), (["09-30", "2026"], (2026, 9, 30)), (["2026", "09-30"], (2026, 9, 30)),
    (["05", "11月"], (None, 11, 5)), (["１５", "２０２６－１１"], (2026, 11, 15)),
])
def test_split_dates(pieces, expected):
    m = scan_split_date(pieces)
    assert m is not None and (m.year, m.month, m.day) == expected


@pytest.mark.parametrize("pieces", [["31", "2026-11"], ["05"], ["2026-11"], ["县教育局", "2026-11"],
                                    ["05", "2026-11", "浏览 35"], ["30", "02月"]])
def test_not_split_dates(pieces):
    assert scan_split_date(pieces) is None


@pytest.mark.parametrize("text,kind,day", [
    ("发布时间：2026-11-20", "published", 20), ("公开日期:2026-11-20", "published", 20),
    ("日期：2026-11-20", "plain", 20), ("报名时间：2026-12-01至12-05", "plain", 1),
    ("成文日期：2026-11-16", "written", 16), ("印发日期：2026年11月16日", "written", 16),
    ("成文日期：2026-11-16 发布日期：2026-11-20", "published", 20),
])
def test_labels_say_what_the_date_means(text, kind, day):
    m, got = scan_labelled(text)
    assert got == kind and m.day == day


def test_plausible_publication_dates():
    assert EARLIEST == date(2000, 1, 1)
    assert not plausible(date(1900, 1, 1), REF) and not plausible(date(1999, 12, 31), REF)
    assert plausible(date(2000, 1, 1), REF) and plausible(REF, REF) and plausible(REF + timedelta(days=1), REF)
    assert not plausible(REF + timedelta(days=2), REF)
    assert not plausible(at(1970, 1, 1, 8), REF)
    assert plausible(datetime(2026, 11, 26, 15, 59, tzinfo=timezone.utc), REF)       # 11-26 23:59 in Shanghai
    assert not plausible(datetime(2026, 11, 26, 16, 0, tzinfo=timezone.utc), REF)    # 11-27 00:00 in Shanghai
