"""Airflow plugin: the weekly job's timetable — 09:00 Beijing time on each week's reminder day.

A thin adapter over `pubwatch.schedule` (which day a week fires, from the working-day calendar;
tested without Airflow). Registered through `PubwatchTimetablePlugin.timetables`, so the
dag-processor can serialize a DAG using it and the scheduler can deserialize it (Airflow 3.3 looks
custom timetables up by import path among the plugins' `timetables`). dags/pubwatch_glue.py
imports the class from this module (module name `pubwatch_timetable`, as the plugins manager
loads it), so both sides agree on the import path.

Like a cron `CronTriggerTimetable` with a zero-length interval: the logical date is the trigger
time (the reminder day 09:00 +08:00); with catchup=False unpausing starts the latest past slot
(the DAG's run mode sends nothing from a run that starts > 6 h late).
"""
from __future__ import annotations

import sys
import time as time_
from datetime import datetime, time
from pathlib import Path
from typing import Any

INCLUDE = Path(__file__).resolve().parents[1] / "include"
if str(INCLUDE) not in sys.path and (INCLUDE / "pubwatch").is_dir():
    sys.path.insert(0, str(INCLUDE))

import pendulum  # noqa: E402

from airflow.plugins_manager import AirflowPlugin  # noqa: E402
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable  # noqa: E402


CALENDAR_TTL = 600.0


def _pendulum(value: datetime) -> pendulum.DateTime:
    return pendulum.from_timestamp(value.timestamp(), tz="UTC")


def _utcnow() -> pendulum.DateTime:
    return pendulum.now("UTC")


class ReminderDayTimetable(Timetable):
    """每周提醒日 09:00 (北京时间): Friday, or the last working day before a holiday Friday; no run in
    a week without working days (春节)."""

    periodic = True
    can_be_scheduled = True

    def __init__(self, at: time | str = "09:00") -> None:
        self.at = at if isinstance(at, time) else time.fromisoformat(str(at))
        self._calendar = None
        self._calendar_at = 0.0
        from pubwatch.schedule import describe

        self.description = describe(self.at)

    # ------------------------------------------------------------------ the calendar, lazily
    @property
    def calendar(self):
        """The working-day calendar, re-read every CALENDAR_TTL seconds: the scheduler keeps a
        deserialized DAG for long, and a holiday data file added for next year must count without
        a restart (before it, that year is the provisional calendar)."""
        now = time_.monotonic()
        if self._calendar is None or now - self._calendar_at > CALENDAR_TTL:
            from pubwatch.workdays import WorkCalendar

            self._calendar, self._calendar_at = WorkCalendar(), now
        return self._calendar

    def _next(self, after: datetime, *, inclusive: bool = False) -> pendulum.DateTime | None:
        from pubwatch.schedule import next_run

        run = next_run(self.calendar, after, inclusive=inclusive, at=self.at)
        return _pendulum(run) if run else None

    def _previous(self, before: datetime) -> pendulum.DateTime | None:
        from pubwatch.schedule import previous_run

        run = previous_run(self.calendar, before, inclusive=True, at=self.at)
        return _pendulum(run) if run else None

    # ------------------------------------------------------------------ Timetable API
    @property
    def summary(self) -> str:
        return self.description

    def serialize(self) -> dict[str, Any]:
        return {"at": self.at.strftime("%H:%M")}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> "ReminderDayTimetable":
        return cls(at=data.get("at", "09:00"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReminderDayTimetable) and other.at == self.at

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.at))

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        return DataInterval.exact(run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        now = _utcnow()
        if restriction.catchup:               # also how `airflow backfill create` walks its range
            if last_automated_data_interval is not None:
                nxt = self._next(last_automated_data_interval.end)
            else:
                nxt = self._next(restriction.earliest or now, inclusive=True)
        else:
            candidates = [self._previous(now)]          # the latest past slot, as cron timetables do
            if last_automated_data_interval is not None:
                candidates.append(self._next(last_automated_data_interval.end))
            elif restriction.earliest is None:
                candidates.append(self._next(now, inclusive=True))
            if restriction.earliest is not None:
                candidates.append(self._next(restriction.earliest, inclusive=True))
            present = [c for c in candidates if c is not None]
            nxt = max(present) if present else None
        if nxt is None or (restriction.latest is not None and nxt > restriction.latest):
            return None
        return DagRunInfo.exact(nxt)


class PubwatchTimetablePlugin(AirflowPlugin):
    name = "pubwatch_timetable"
    timetables = [ReminderDayTimetable]
