"""The weekly timetable (plugins/pubwatch_timetable.py): the Airflow adapter over pubwatch.schedule —
next_dagrun_info as the scheduler and `airflow backfill create` call it, its Chinese description,
serialization, and its registration by the plugin."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
import pubwatch_timetable  # noqa: E402
from pubwatch_timetable import ReminderDayTimetable  # noqa: E402

from airflow.timetables.base import DataInterval, TimeRestriction  # noqa: E402

pytestmark = pytest.mark.airflow


def utc(*args):
    return pendulum.datetime(*args, tz="UTC")


def beijing(*args):
    return pendulum.datetime(*args, tz="Asia/Shanghai")


def walk(tt, earliest, latest):
    """What `airflow backfill create` does: next_dagrun_info with catchup=True over [earliest, latest]."""
    out, last = [], None
    while True:
        info = tt.next_dagrun_info(last_automated_data_interval=last,
                                   restriction=TimeRestriction(earliest, latest, catchup=True))
        if info is None:
            return out
        out.append(info)
        last = info.data_interval


def test_runs_over_the_national_day_and_mid_autumn_weeks():
    infos = walk(ReminderDayTimetable(), utc(2026, 9, 21), utc(2026, 10, 12))
    assert [i.logical_date for i in infos] == [beijing(2026, 9, 24, 9), beijing(2026, 9, 30, 9),
                                               beijing(2026, 10, 9, 9)]
    for i in infos:      # zero-length interval like the cron trigger timetable: logical date = trigger time
        assert i.run_after == i.logical_date == i.data_interval.start == i.data_interval.end


def test_no_run_in_the_spring_festival_week():
    infos = walk(ReminderDayTimetable(), utc(2026, 2, 9), utc(2026, 3, 2))
    assert [i.logical_date for i in infos] == [beijing(2026, 2, 13, 9), beijing(2026, 2, 27, 9)]


def test_four_weeks_are_four_runs():
    infos = walk(ReminderDayTimetable(), utc(2026, 10, 19), utc(2026, 11, 16))
    assert [i.logical_date.date().isoformat() for i in infos] == ["2026-10-23", "2026-10-30", "2026-11-06",
                                                                  "2026-11-13"]


def test_scheduler_without_catchup(monkeypatch):
    tt = ReminderDayTimetable()
    monkeypatch.setattr(pubwatch_timetable, "_utcnow", lambda: beijing(2026, 11, 23, 10))   # a Monday
    no_catchup = TimeRestriction(utc(2026, 1, 1), None, catchup=False)
    # first time / after an unpause: the latest past slot, like Airflow's cron timetables (the run mode
    # then sends nothing from it: it starts > 6 h late)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=no_catchup)
    assert first.logical_date == beijing(2026, 11, 20, 9)
    after = tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=no_catchup)
    assert after.logical_date == beijing(2026, 11, 27, 9)
    # the National Day week, seen from the Monday before it
    monkeypatch.setattr(pubwatch_timetable, "_utcnow", lambda: beijing(2026, 9, 28, 8))
    last = DataInterval.exact(beijing(2026, 9, 24, 9))
    nxt = tt.next_dagrun_info(last_automated_data_interval=last, restriction=no_catchup)
    assert nxt.logical_date == beijing(2026, 9, 30, 9)
    assert tt.next_dagrun_info(last_automated_data_interval=last,
                               restriction=TimeRestriction(utc(2026, 1, 1), utc(2026, 9, 29), catchup=False)) is None


def test_manual_runs_keep_their_time():
    tt = ReminderDayTimetable()
    when = beijing(2026, 11, 24, 15, 30)
    assert tt.infer_manual_data_interval(run_after=when) == DataInterval(when, when)


def test_describes_itself_in_chinese_and_round_trips():
    tt = ReminderDayTimetable()
    assert tt.description == tt.summary == "每周提醒日 09:00 (北京时间)"
    data = json.loads(json.dumps(tt.serialize()))
    assert data == {"at": "09:00"}
    back = ReminderDayTimetable.deserialize(data)
    assert back == tt and back.summary == tt.summary
    assert ReminderDayTimetable.deserialize({"at": "14:30"}).description == "每周提醒日 14:30 (北京时间)"


SERIALIZE = r"""
import json, pendulum
from airflow import plugins_manager
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
bag = DagBag(dag_folder=%(dags)r)
assert bag.import_errors == {}, bag.import_errors
data = json.loads(json.dumps(DagSerialization.to_dict(bag.dags["pubwatch_weekly"]), default=str))
dag = DagSerialization.from_dict(data)
infos = dag.iter_dagrun_infos_between(pendulum.datetime(2026, 10, 19, tz="UTC"), pendulum.datetime(2026, 11, 16, tz="UTC"))
print(json.dumps({"registered": sorted(plugins_manager.get_timetables_plugins()),
                  "timetable": data["dag"]["timetable"], "summary": dag.timetable.summary,
                  "runs": [i.logical_date.isoformat() for i in infos]}, ensure_ascii=False))
"""


def test_the_plugin_registers_it_so_the_weekly_dag_serializes(tmp_path):
    """What the dag-processor (serialize) and the scheduler/backfill (deserialize, iterate) do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": str(ROOT / "include")})
    out = subprocess.run([sys.executable, "-c", SERIALIZE % {"dags": str(ROOT / "dags")}], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "pubwatch_timetable.ReminderDayTimetable" in result["registered"]
    assert result["timetable"] == {"__type": "pubwatch_timetable.ReminderDayTimetable", "__var": {"at": "09:00"}}
    assert result["summary"] == "每周提醒日 09:00 (北京时间)"
    assert result["runs"] == ["2026-10-23T01:00:00+00:00", "2026-10-30T01:00:00+00:00",
                              "2026-11-06T01:00:00+00:00", "2026-11-13T01:00:00+00:00"]


def test_a_holiday_file_added_later_counts_without_a_restart(tmp_path, monkeypatch):
    """The scheduler keeps its deserialized timetable: the calendar is re-read after CALENDAR_TTL."""
    monkeypatch.setenv("PUBWATCH_HOLIDAYS_DIR", str(tmp_path))
    tt = ReminderDayTimetable()
    week = (utc(2027, 3, 1), utc(2027, 3, 8))                      # 2027-W09: no data, provisional
    assert walk(tt, *week)[0].logical_date == beijing(2027, 3, 5, 9)
    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays:\n  - {name: 测试, date: 2027-03-05}\n",
                                        encoding="utf-8")
    assert walk(tt, *week)[0].logical_date == beijing(2027, 3, 5, 9)    # cached for a while
    monkeypatch.setattr(pubwatch_timetable, "CALENDAR_TTL", 0.0)
    assert walk(tt, *week)[0].logical_date == beijing(2027, 3, 4, 9)    # Friday off: Thursday
