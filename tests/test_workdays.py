"""WorkCalendar on REAL 2026 data (chinesecalendar 1.11.0) and on data files."""
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from pubwatch.periods import Period
from pubwatch.workdays import (DEFAULT_HOLIDAYS_DIR, CalendarDataError, CalendarDataMissing,
                               WorkCalendar, cli_calendar)

SAMPLE = DEFAULT_HOLIDAYS_DIR / "example-year.yaml.sample"


@pytest.fixture()
def cal(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBWATCH_HOLIDAYS_DIR", raising=False)
    return WorkCalendar()


def test_spring_festival_2026(cal):
    # 2月15日至23日放假调休; 2月14日(周六)、2月28日(周六)上班.
    for d in Period.parse("2026-W08").dates():           # Feb 16-22
        assert not cal.is_workday(d) and cal.holiday_name(d) == "春节"
    assert cal.is_workday(date(2026, 2, 14)) and cal.holiday_name(date(2026, 2, 14)) is None
    assert cal.makeup_workday_name(date(2026, 2, 14)) == "春节"
    assert cal.is_workday(date(2026, 2, 28))
    assert not cal.is_workday(date(2026, 2, 23))
    assert cal.reminder_day(Period.parse("2026-W08")) is None
    assert cal.working_days(date(2026, 2, 16), date(2026, 2, 22)) == []
    # W07: Mon 9 .. Fri 13 + make-up Saturday 14; Sunday 15 is already the holiday.
    assert cal.count_working_days(date(2026, 2, 9), date(2026, 2, 15)) == 6
    assert cal.reminder_day(Period.parse("2026-W07")) == date(2026, 2, 13)
    # W09: Mon 23 is still a holiday, Sat 28 is a make-up day.
    assert cal.working_days(date(2026, 2, 23), date(2026, 3, 1)) == [
        date(2026, 2, 24), date(2026, 2, 25), date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28)]


def test_national_day_2026(cal):
    week = Period.week_of(date(2026, 10, 1))               # Mon 28 Sep .. Sun 4 Oct
    assert cal.working_days(week.start, week.end) == [date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30)]
    assert cal.reminder_day(week) == date(2026, 9, 30)    # Friday Oct 2 is a holiday
    assert cal.holiday_name(date(2026, 10, 7)) == "国庆节"
    assert cal.is_workday(date(2026, 9, 20)) and cal.is_workday(date(2026, 10, 10))
    assert cal.reminder_day(Period.week_of(date(2026, 10, 5))) == date(2026, 10, 9)


def test_labour_day_2026(cal):
    week = Period.week_of(date(2026, 5, 1))                # Apr 27 .. May 3
    assert cal.reminder_day(week) == date(2026, 4, 30)
    nxt = week.next()                                      # May 4 .. 10: Mon/Tue off, Sat 9 on
    assert cal.working_days(nxt.start, nxt.end) == [date(2026, 5, d) for d in (6, 7, 8, 9)]
    assert cal.holiday_name(date(2026, 5, 4)) == "劳动节"


def test_mid_autumn_friday_holiday(cal):
    assert cal.reminder_day(Period.week_of(date(2026, 9, 25))) == date(2026, 9, 24)


def test_ordinary_weekend_is_not_a_named_holiday(cal):
    assert not cal.is_workday(date(2026, 3, 7)) and cal.holiday_name(date(2026, 3, 7)) is None


def test_add_working_days_over_national_day(cal):
    # Formed Wed 30 Sep 2026: Oct 1-7 off, Oct 8, 9, 10 (make-up Sat) are working days.
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert cal.add_working_days(date(2026, 9, 30), 0) == date(2026, 9, 30)
    assert cal.add_working_days(date(2026, 10, 8), -1) == date(2026, 9, 30)
    deadline = cal.add_working_days(date(2026, 9, 30), 20)
    assert cal.count_working_days(date(2026, 10, 1), deadline) == 20 and cal.is_workday(deadline)


def test_2027_without_data_is_provisional_never_a_stop(cal):
    """A year without data gets the statutory holidays of the national regulation (2024 revision),
    weekend ones made up on the next working day, no 调休 — and says it is provisional (#17.4)."""
    assert cal.is_workday(date(2027, 1, 4)) and not cal.has_year(2027) and cal.is_provisional(2027)
    assert cal.has_year(2026) and not cal.is_provisional(2026)
    off = {d: cal.holiday_name(d) for d in Period.parse("2027").dates() if cal.holiday_name(d)}
    expected = {date(2027, 1, 1): "元旦",
                # 除夕 Fri 5 Feb to 初三 Mon 8 Feb; Sat 6 and Sun 7 made up on Tue 9 and Wed 10
                **{date(2027, 2, d): "春节" for d in (5, 6, 7, 8, 9, 10)},
                date(2027, 4, 5): "清明节",
                **{date(2027, 5, d): "劳动节" for d in (1, 2, 3, 4)},      # Sat 1, Sun 2 -> Mon 3, Tue 4
                date(2027, 6, 9): "端午节", date(2027, 9, 15): "中秋节",
                **{date(2027, 10, d): "国庆节" for d in (1, 2, 3, 4, 5)}}  # Sat 2, Sun 3 -> Mon 4, Tue 5
    assert off == expected
    assert cal.reminder_day(Period.week_of(date(2027, 2, 8))) == date(2027, 2, 12)
    assert cal.reminder_day(Period.parse("2026-W53")) == date(2026, 12, 31)
    assert cal.provisional_years(date(2026, 12, 28), date(2027, 1, 3)) == [2027]
    assert "暂定" in cal.source_of(2027)
    strict = WorkCalendar(provisional=False)
    with pytest.raises(CalendarDataMissing) as info:
        strict.is_workday(date(2027, 1, 4))
    msg = str(info.value)
    assert "2027.yaml" in msg and "缺少 2027 年" in msg and "No holiday data for 2027" in msg


def test_warning_from_november_until_next_years_data_arrives(tmp_path):
    cal = WorkCalendar(tmp_path)
    assert cal.coverage_warnings(date(2026, 10, 31)) == []
    [warning] = cal.coverage_warnings(date(2026, 11, 1))
    assert "2027年节假日安排尚未录入" in warning and "暂定" in warning and str(tmp_path / "2027.yaml") in warning
    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays:\n  - {name: 元旦, date: 2027-01-01}\n",
                                        encoding="utf-8")
    fresh = WorkCalendar(tmp_path)
    assert fresh.coverage_warnings(date(2026, 12, 5)) == [] and not fresh.is_provisional(2027)


def _install_sample(directory: Path, year: int = 2026) -> Path:
    target = directory / f"{year}.yaml"
    shutil.copy(SAMPLE, target)
    return target


def test_data_file_matches_library_for_every_day_of_2026(tmp_path, cal):
    _install_sample(tmp_path)
    from_file = WorkCalendar(tmp_path, use_library=False)
    for d in Period.parse("2026").dates():
        assert from_file.is_workday(d) == cal.is_workday(d), d
        assert from_file.holiday_name(d) == cal.holiday_name(d), d
    assert "2026年部分节假日" in from_file.source_of(2026)


def test_data_file_for_new_year_via_env(tmp_path, monkeypatch):
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\nholidays:\n  - {name: 元旦, date: 2027-01-01}\n"
        "workdays:\n  - {name: 测试, date: 2027-01-09}\n", encoding="utf-8")
    monkeypatch.setenv("PUBWATCH_HOLIDAYS_DIR", str(tmp_path))
    cal = WorkCalendar()
    assert not cal.is_workday(date(2027, 1, 1)) and cal.holiday_name(date(2027, 1, 1)) == "元旦"
    assert cal.is_workday(date(2027, 1, 4)) and cal.is_workday(date(2027, 1, 9))
    assert not cal.is_workday(date(2027, 1, 10))
    assert cal.is_workday(date(2026, 2, 14))                # 2026 still from the library
    assert not cal.is_provisional(2027) and cal.is_provisional(2028)   # the file replaced the guess


@pytest.mark.parametrize("body,needle", [
    ("year: 2026\n", "year 应为 2027"),
    ("year: 2027\nholidays:\n  - {date: 2027-01-01}\n", "name"),
    ("year: 2027\nholidays:\n  - {name: x, date: 2027-13-01}\n", "YYYY-MM-DD"),
    ("year: 2027\nholidays:\n  - {name: x, from: 2027-01-05, to: 2027-01-01}\n", "区间"),
    ("year: 2027\nholidays:\n  - {name: x, date: 2027-01-02}\nworkdays:\n  - {name: y, date: 2027-01-02}\n", "同时"),
    ("[1, 2]\n", "映射"),
])
def test_bad_data_file_is_named(tmp_path, body, needle):
    (tmp_path / "2027.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(CalendarDataError, match=needle) as info:
        WorkCalendar(tmp_path).is_workday(date(2027, 1, 4))
    assert "2027.yaml" in str(info.value)


def test_sample_is_not_loaded():
    assert not (DEFAULT_HOLIDAYS_DIR / "2027.yaml").exists()
    assert SAMPLE.is_file()


def test_cli_calendar(capsys, monkeypatch):
    monkeypatch.delenv("PUBWATCH_HOLIDAYS_DIR", raising=False)
    assert cli_calendar(["2026-10-01"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"week": "2026-W40", "start": "2026-09-28", "end": "2026-10-04",
                   "working_days": ["2026-09-28", "2026-09-29", "2026-09-30"],
                   "reminder_day": "2026-09-30", "provisional": False, "sources": ["chinesecalendar 1.11.0"]}
    assert cli_calendar(["2026-12-31"]) == 0                  # the week of 2026-12-28 works today (#17.4)
    w53 = json.loads(capsys.readouterr().out)
    assert w53["week"] == "2026-W53" and w53["provisional"] is True and w53["reminder_day"] == "2026-12-31"
    assert cli_calendar(["2026-02-18"]) == 0
    assert json.loads(capsys.readouterr().out)["reminder_day"] is None


@pytest.mark.parametrize("argv,needle", [(["2026-02-30"], "YYYY-MM-DD"),
                                          (["x"], "YYYY-MM-DD"), ([], "usage")])
def test_cli_calendar_errors(capsys, monkeypatch, argv, needle):
    monkeypatch.delenv("PUBWATCH_HOLIDAYS_DIR", raising=False)
    assert cli_calendar(argv) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.out == ""
