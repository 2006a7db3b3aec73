"""The production stack, natively: PostgreSQL metadata DB, LocalExecutor, SimpleAuthManager, and
scheduler + dag-processor + api-server as separate processes (tests/nativestack.py).

a) pubwatch_weekly triggered through the REST API for the demo Friday 09:00 (+08:00) with the blank
   fields the trigger form sends (units/period null) → accepted and success; a bad period → 400;
b) one `airflow backfill create` over the four weeks before the demo week → exactly 4 runs (the custom
   timetable: one per week, on its reminder day — the old weekday cron made 20), success;
c) the tracking DB (its own fresh PostgreSQL database) holds the right weekly verdicts for the demo's
   closed week and each backfilled week, and neither the manual run nor the backfill sent anything
   but outbox copies;
d) every process group and both databases are removed, also on failure.

The demo portal runs in this test process; its env (base URL, demo week, the fake WeChat API's
connection) is exported to the Airflow processes, with PUBWATCH_SIMULATED_CLOCK=1 so a run crawls
and evaluates "as of" its logical date, as `make run` does. The scheduler runs with
use_job_schedule=False (tests/nativestack.py): unpausing must not start the latest *real* slot,
which would depend on today's date. A fast test checks the one library fix this test found
(jobs.latest_as_of: a backfill of an older week must not overwrite a newer verdict).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import _pg_available as pg_available
from nativestack import NativeStack, fresh_pg_database
from pubwatch.demo import DemoPortal
from pubwatch.types import TZ

DAG = "pubwatch_weekly"
DEMO_FRIDAY = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)            # 2026-W47; its closed week is W46
BACKFILL_FRIDAYS = [DEMO_FRIDAY - timedelta(weeks=k) for k in (4, 3, 2, 1)]   # 10-23, 10-30, 11-06, 11-13
# The trigger form's payload with `units` and `period` left blank (the Airflow 3 UI sends null).
BLANK_FORM = {"units": None, "period": None, "crawl": True, "send": False, "dry_run": False}


def week_key(d: datetime) -> str:
    iso = d.astimezone(TZ).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def weekly_statuses(url: str, period: str) -> dict[tuple[str, str], str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            rows = c.execute(sa.text("SELECT unit_id, channel, status FROM evaluations "
                                     "WHERE period = :p AND rule = 'weekly'"), {"p": period})
            return {(r.unit_id, r.channel): r.status for r in rows}
    finally:
        eng.dispose()


def notices(url: str) -> list[dict]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.text(
                "SELECT unit_id, period, kind, channel, status, run_id FROM notices"))]
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def databases():
    if not pg_available():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    with fresh_pg_database("airflow_native") as meta, fresh_pg_database("pubwatch_native") as track:
        yield meta, track


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.postgres
def test_rest_trigger_and_backfill_on_the_native_stack(databases, tmp_path):
    meta_url, track_url = databases
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with DemoPortal(as_of=DEMO_FRIDAY) as portal:
        env = {**portal.env(), "PUBWATCH_DB_URL": track_url, "PUBWATCH_VAR_DIR": str(tmp_path / "var"),
               "PUBWATCH_RETRY_DELAY_SECONDS": "1", "PUBWATCH_SIMULATED_CLOCK": "1"}
        stack = NativeStack(tmp_path / "airflow", meta_url, env=env)
        try:
            stack.start()
            timings.update(stack.timings)

            # a) REST: JWT, unpause, trigger for the demo Friday with blank fields, wait ---------------
            t = time.monotonic()
            stack.wait_for_dag(DAG)
            timings["dag parsed"] = time.monotonic() - t
            stack.wait_for_dag("pubwatch_crawl")           # with its early-warning task
            dag = stack.api("GET", f"/api/v2/dags/{DAG}").json()
            assert dag["timetable_summary"] == "每周提醒日 09:00 (北京时间)", dag
            stack.api("PATCH", f"/api/v2/dags/{DAG}", json={"is_paused": False})
            bad = stack.api("POST", f"/api/v2/dags/{DAG}/dagRuns", ok=(400,),
                            json={"logical_date": DEMO_FRIDAY.isoformat(), "conf": {**BLANK_FORM, "period": "上周"}})
            assert "period" in bad.text or "上周" in bad.text, bad.text        # params are validated
            t = time.monotonic()
            created = stack.api("POST", f"/api/v2/dags/{DAG}/dagRuns",
                                json={"logical_date": DEMO_FRIDAY.isoformat(), "conf": BLANK_FORM}).json()
            assert created["run_type"] == "manual" and created["state"] == "queued"
            manual_id = created["dag_run_id"]
            [manual] = stack.wait_for_runs(DAG, [manual_id], timeout=150)
            timings["manual run"] = time.monotonic() - t
            assert manual["state"] == "success", stack.failed_tasks(DAG, manual_id)
            assert stack.failed_tasks(DAG, manual_id) == []
            crawl_s = sorted(t["duration"] for t in stack.api(
                "GET", f"/api/v2/dags/{DAG}/dagRuns/{manual_id}/taskInstances", params={"limit": 100}
            ).json()["task_instances"] if t["task_id"] == "crawl_unit")
            assert len(crawl_s) == 15                   # blank units = every demo unit, one mapped crawl each
            print(f"crawl_unit tasks: min {crawl_s[0]:.1f} s, median {crawl_s[7]:.1f} s, max {crawl_s[-1]:.1f} s")

            # b) backfill: the four weeks before the demo week, in one command ------------------------
            # Dates are midnight UTC: [Mon 10-19, Mon 11-16) holds the reminder days 10-23 … 11-13, each
            # 09:00 +08:00 (01:00 UTC) — 4 runs, where the weekday cron made 20.
            t = time.monotonic()
            stack.airflow("backfill", "create", "--dag-id", DAG, "--from-date", "2026-10-19",
                          "--to-date", "2026-11-16", "--max-active-runs", "1")
            backfills = [r for r in stack.dag_runs(DAG) if r["run_type"] == "backfill"]
            assert sorted(datetime.fromisoformat(r["logical_date"]) for r in backfills) == BACKFILL_FRIDAYS
            backfill_ids = [r["dag_run_id"] for r in backfills]
            done = stack.wait_for_runs(DAG, backfill_ids, timeout=480)
            for run in done:
                assert run["state"] == "success", stack.failed_tasks(DAG, run["dag_run_id"])
            stack.wait_for_backfill(DAG, timeout=60)
            timings["4 backfill runs"] = time.monotonic() - t
            runs = stack.dag_runs(DAG)
            assert sorted(r["run_type"] for r in runs) == ["backfill"] * 4 + ["manual"]
        finally:
            t = time.monotonic()
            stack.stop()
            timings["stop"] = time.monotonic() - t
            print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    for name, proc in stack.procs.items():
        assert proc.poll() is not None, f"{name} still running"

    # c) the tracking DB --------------------------------------------------------------------------
    closed = weekly_statuses(track_url, week_key(DEMO_FRIDAY - timedelta(weeks=1)))   # W46
    assert closed[("jyj", "portal")] == "met" and closed[("jyj", "wechat")] == "met"
    assert closed[("czj", "portal")] == "missed" and closed[("czj", "wechat")] == "missed"
    assert closed[("wjw", "portal")] == "missed"
    assert closed[("gaj", "portal")] == "unknown"      # 503 all along: never "missed"
    assert closed[("sjj", "portal")] == "unknown"      # WAF challenge: never "missed"
    for friday in BACKFILL_FRIDAYS:
        week = weekly_statuses(track_url, week_key(friday - timedelta(weeks=1)))
        print(week_key(friday - timedelta(weeks=1)), json.dumps({f"{u}/{c}": s for (u, c), s in sorted(week.items())},
                                                                 ensure_ascii=False))
        assert week, f"no weekly evaluation for the week before {friday:%Y-%m-%d}"
        # the first read of a column pages back over the last 5 weeks (#15.7), so W42 is verified too
        assert week[("jyj", "portal")] == "met"
        assert week[("gaj", "portal")] == "unknown" and week[("sjj", "portal")] == "unknown"
        # czj stopped posting three weeks before the demo week (W44): missed from then on
        assert week[("czj", "portal")] == ("met" if friday in BACKFILL_FRIDAYS[:2] else "missed")
    sent = notices(track_url)
    assert sent, "the manual run writes outbox copies"
    assert {n["channel"] for n in sent} == {"outbox"}
    assert {n["run_id"] for n in sent} <= {manual_id, *backfill_ids}
    assert any(n["run_id"] == manual_id and n["kind"] == "overdue" for n in sent)
    print(f"total {time.monotonic() - t0:.1f} s")


def test_an_older_run_never_regresses_a_newer_verdict(demo_env, sqlite_url):
    """What the backfill above exercises, without Airflow: after the demo Friday's run (W46 closed:
    czj missed), a backfill for the Friday before re-evaluates W46 as its *current* week. It must keep
    the verdict made with later knowledge, not write "unknown"/"at risk" of a week still open."""
    from pubwatch import jobs

    rt = jobs.Runtime(db_url=sqlite_url)
    try:
        for unit in jobs.prepare(rt)["units"]:
            jobs.crawl(rt, unit["unit_id"], now=DEMO_FRIDAY)
        jobs.evaluate_week(rt, DEMO_FRIDAY)
        before = weekly_statuses(sqlite_url, "2026-W46")
        assert before[("czj", "portal")] == "missed" and before[("jyj", "portal")] == "met"
        jobs.evaluate_week(rt, DEMO_FRIDAY - timedelta(weeks=1))        # the backfill of 11-13
        assert weekly_statuses(sqlite_url, "2026-W46") == before
        assert weekly_statuses(sqlite_url, "2026-W45")[("czj", "portal")] == "missed"
    finally:
        rt.close()
