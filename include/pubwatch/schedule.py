"""When the weekly job runs: 09:00 Asia/Shanghai on each week's reminder day (pure, no Airflow).

The reminder day is `WorkCalendar.reminder_day(week)`: Friday if it is a working day, else the
last working day before it (Mon–Thu); a week without one (the Spring Festival week) has no run.
So the weekly job runs once a week and a backfill of N weeks is at most N runs.
`plugins/pubwatch_timetable.py` adapts these functions to an Airflow timetable.

All times are aware datetimes; results are in Asia/Shanghai.
"""
from __future__ import annotations

from datetime import datetime, time, timezone

from .periods import Period
from .types import TZ
from .workdays import WorkCalendar

RUN_TIME = time(9, 0)
# Longer stretches without a reminder day than this mean broken calendar data, not a holiday.
MAX_SEARCH_WEEKS = 60


def _aware(value: datetime) -> datetime:
    """A stdlib aware datetime in Asia/Shanghai (naive = UTC, as Airflow's are)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(value.timestamp(), tz=TZ)


def run_of_week(calendar: WorkCalendar, week: Period, at: time = RUN_TIME) -> datetime | None:
    """The week's run: its reminder day at `at` (Beijing time), or None for a week without one."""
    day = calendar.reminder_day(week)
    return datetime.combine(day, at, TZ) if day else None


def next_run(calendar: WorkCalendar, after: datetime, *, inclusive: bool = False,
             at: time = RUN_TIME) -> datetime | None:
    """The first run later than `after` (or at it, if `inclusive`); None if the calendar has no
    reminder day for MAX_SEARCH_WEEKS weeks."""
    after = _aware(after)
    week = Period.week_of(after)
    for _ in range(MAX_SEARCH_WEEKS):
        run = run_of_week(calendar, week, at)
        if run is not None and (run > after or (inclusive and run == after)):
            return run
        week = week.next()
    return None


def previous_run(calendar: WorkCalendar, before: datetime, *, inclusive: bool = True,
                 at: time = RUN_TIME) -> datetime | None:
    """The last run earlier than `before` (or at it, if `inclusive`)."""
    before = _aware(before)
    week = Period.week_of(before)
    for _ in range(MAX_SEARCH_WEEKS):
        run = run_of_week(calendar, week, at)
        if run is not None and (run < before or (inclusive and run == before)):
            return run
        week = week.previous()
    return None


def runs_between(calendar: WorkCalendar, start: datetime, end: datetime, *,
                 at: time = RUN_TIME) -> list[datetime]:
    """Every run in [start, end], oldest first — what a backfill of that range creates."""
    out: list[datetime] = []
    run = next_run(calendar, start, inclusive=True, at=at)
    while run is not None and run <= _aware(end):
        out.append(run)
        run = next_run(calendar, run, at=at)
    return out


def describe(at: time = RUN_TIME) -> str:
    """The schedule in Chinese, for the Airflow UI."""
    return f"每周提醒日 {at:%H:%M} (北京时间)"
