"""Which day the weekly job fires (pubwatch.schedule, no Airflow): each week's reminder day 09:00
Beijing time — Friday, the last working day before a holiday Friday, no run in the Spring Festival
week — on REAL 2026 data (chinesecalendar 1.11.0)."""
from datetime import datetime, time, timedelta, timezone

import pytest

from pubwatch import schedule
from pubwatch.periods import Period
from pubwatch.types import TZ
from pubwatch.workdays import WorkCalendar


@pytest.fixture()
def cal(monkeypatch):
    monkeypatch.delenv("PUBWATCH_HOLIDAYS_DIR", raising=False)
    return WorkCalendar()


def at9(y, m, d):
    return datetime(y, m, d, 9, 0, tzinfo=TZ)


def test_an_ordinary_week_runs_on_friday_0900_beijing(cal):
    assert schedule.run_of_week(cal, Period.parse("2026-W47")) == at9(2026, 11, 20)
    run = schedule.next_run(cal, datetime(2026, 11, 16, 0, 0, tzinfo=TZ))
    assert run == at9(2026, 11, 20) and run.utcoffset() == timedelta(hours=8)
    assert run.astimezone(timezone.utc).hour == 1


def test_holiday_fridays_move_the_run_earlier(cal):
    # 2026-W39: Friday 25 Sep is 中秋节 → Thursday; W40: Oct 1-7 国庆节 → Wednesday 30 Sep;
    # W41: back to Friday 9 Oct (the make-up Saturday 10 Oct is not a reminder day).
    runs = schedule.runs_between(cal, datetime(2026, 9, 21, tzinfo=TZ), datetime(2026, 10, 11, 23, tzinfo=TZ))
    assert runs == [at9(2026, 9, 24), at9(2026, 9, 30), at9(2026, 10, 9)]
    assert schedule.run_of_week(cal, Period.week_of(datetime(2026, 10, 2, tzinfo=TZ))) == at9(2026, 9, 30)


def test_the_spring_festival_week_has_no_run(cal):
    assert schedule.run_of_week(cal, Period.parse("2026-W08")) is None
    runs = schedule.runs_between(cal, datetime(2026, 2, 2, tzinfo=TZ), datetime(2026, 3, 1, 23, tzinfo=TZ))
    assert runs == [at9(2026, 2, 6), at9(2026, 2, 13), at9(2026, 2, 27)]      # W06, W07, —, W09
    assert schedule.next_run(cal, at9(2026, 2, 13)) == at9(2026, 2, 27)
    assert schedule.previous_run(cal, at9(2026, 2, 26)) == at9(2026, 2, 13)


def test_next_and_previous_at_the_boundaries(cal):
    friday = at9(2026, 11, 20)
    assert schedule.next_run(cal, friday) == at9(2026, 11, 27)                  # strictly after
    assert schedule.next_run(cal, friday, inclusive=True) == friday
    assert schedule.next_run(cal, friday - timedelta(seconds=1)) == friday
    assert schedule.previous_run(cal, friday) == friday                         # at or before
    assert schedule.previous_run(cal, friday, inclusive=False) == at9(2026, 11, 13)
    # naive datetimes are UTC, as Airflow's are; Friday 01:00 UTC is the run itself
    assert schedule.next_run(cal, datetime(2026, 11, 20, 1, 0), inclusive=True) == friday


def test_n_weeks_are_at_most_n_runs_across_years(cal):
    start, end = datetime(2025, 12, 29, tzinfo=TZ), datetime(2027, 1, 3, 23, tzinfo=TZ)
    runs = schedule.runs_between(cal, start, end)
    weeks = {Period.week_of(r).key for r in runs}
    assert len(runs) == len(weeks) == 52                   # 53 ISO weeks of 2026, minus the Spring Festival
    for r in runs:
        assert r.time() == time(9, 0) and cal.is_workday(r.date()) and r.weekday() <= 4
        assert r.date() == cal.reminder_day(Period.week_of(r))


def test_another_run_time_and_the_chinese_description(cal):
    assert schedule.next_run(cal, at9(2026, 11, 16), at=time(14, 30)) == datetime(2026, 11, 20, 14, 30, tzinfo=TZ)
    assert schedule.describe() == "每周提醒日 09:00 (北京时间)"
