"""Early warnings (the TRS 预警 model): any day, not only Fridays — once per unit, period and rule."""
from datetime import date, datetime

from pubwatch import jobs
from pubwatch.notices.ledger import Ledger
from pubwatch.types import TZ, Status, Verdict


def test_warning_goes_out_on_a_tuesday_once(demo_runtime):
    rt = demo_runtime
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    v = Verdict("jyj", "unit", "2026-11", "monthly_quota", Status.AT_RISK, count=7, required=10,
                reason="本月已报送7条, 要求至少10条, 请于11月30日前补足", deadline=date(2026, 11, 30))
    rt.store.save_verdicts([v], as_of=tuesday)
    first = jobs.notify_week(rt, tuesday, send=False, run_id="tue")
    assert "jyj/2026-11/warn:monthly_quota/outbox" in first["previewed"] and first["sent"] == []
    assert any("提醒日" in s for s in first["skipped"])       # Friday reminders wait for Friday
    again = jobs.notify_week(rt, datetime(2026, 11, 25, 9, 0, tzinfo=TZ), send=False, run_id="wed")
    assert not any("warn:" in s for s in again["sent"] + again["previewed"])
    rows = [r for r in Ledger(rt.store).rows(unit_id="jyj") if r.kind.startswith("warn:")]
    assert [(r.period, r.kind) for r in rows] == [("2026-11", "warn:monthly_quota")]
    text = (rt.store and __import__("pubwatch.config", fromlist=["x"]).outbox_dir() / "2026-11")
    assert any("县教育局" in p.read_text(encoding="utf-8") for p in text.glob("jyj-warn*.txt"))


def test_met_or_unknown_never_warns(demo_runtime):
    rt = demo_runtime
    tuesday = datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    rt.store.save_verdicts([
        Verdict("gaj", "unit", "2026-11", "monthly_quota", Status.UNKNOWN, reason="门户网站无法访问"),
        Verdict("mzj", "unit", "2026-11", "monthly_quota", Status.MET, count=12, required=10),
    ], as_of=tuesday)
    out = jobs.notify_week(rt, tuesday, send=False, run_id="tue")
    assert not any(s.startswith(("gaj/", "mzj/")) and "warn:" in s for s in out["sent"])


TUESDAY_0630 = datetime(2026, 11, 24, 6, 30, tzinfo=TZ)


def crawl_all(rt, now):
    fetcher = rt.fetcher()
    try:
        for unit in rt.registry.units:
            jobs.crawl(rt, unit.id, fetcher=fetcher, now=now)
    finally:
        fetcher.close()


def test_the_daily_crawl_evaluates_the_open_periods_and_warns_on_working_days(demo_runtime):
    """pubwatch_crawl's chain without Airflow: crawl on Tuesday 06:30 → evaluate the open week and
    month → the monthly quota warning goes out that day, once; a Saturday run sends none."""
    rt = demo_runtime
    crawl_all(rt, TUESDAY_0630)
    evaluated = jobs.evaluate_open(rt, TUESDAY_0630)
    assert (evaluated["current"]["period"], evaluated["month"]["period"]) == ("2026-W48", "2026-11")
    assert evaluated["month"]["counts"]["at_risk"] >= 1
    [quota] = [v for v in rt.store.verdicts("2026-11") if v.unit_id == "tjj" and v.rule == "monthly_quota"]
    assert quota.status is Status.AT_RISK                  # 统计局: portal only, 2 a week < 10 a month
    first = jobs.notify_early_warnings(rt, TUESDAY_0630, send=False, run_id="crawl-tue-0630")
    assert "tjj/2026-11/warn:monthly_quota/outbox" in first["previewed"]
    assert not any("/reminder/" in s or "/overdue/" in s for s in first["sent"] + first["previewed"])   # weekly notices: reminder day
    evening = datetime(2026, 11, 24, 17, 30, tzinfo=TZ)
    jobs.evaluate_open(rt, evening)
    again = jobs.notify_early_warnings(rt, evening, send=False, run_id="crawl-tue-1730")
    assert again["sent"] == [] and "tjj/2026-11/warn:monthly_quota/outbox" in again["already"]
    saturday = jobs.notify_early_warnings(rt, datetime(2026, 11, 28, 6, 30, tzinfo=TZ), send=False, run_id="sat")
    assert saturday["sent"] == [] and "不是工作日" in saturday["skipped"][0]


def test_evaluating_the_open_periods_never_regresses_a_later_verdict(demo_runtime):
    """A crawl-DAG evaluation (or its backfill) at an earlier time keeps what a later one decided."""
    rt = demo_runtime
    crawl_all(rt, TUESDAY_0630)
    jobs.evaluate_open(rt, datetime(2026, 11, 26, 17, 30, tzinfo=TZ))
    later = {(v.unit_id, v.rule, v.channel): v.status for v in rt.store.verdicts("2026-W48")}
    jobs.evaluate_open(rt, TUESDAY_0630)
    assert {(v.unit_id, v.rule, v.channel): v.status for v in rt.store.verdicts("2026-W48")} == later


def test_the_crawl_task_follows_the_run_mode(demo_runtime, monkeypatch):
    """glue.early_warnings_for_run: a manual run (send off) writes the outbox only."""
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
    import pubwatch_glue as glue

    rt = demo_runtime
    crawl_all(rt, TUESDAY_0630)
    monkeypatch.setenv("PUBWATCH_DB_URL", rt.db_url)
    monkeypatch.setenv("PUBWATCH_SIMULATED_CLOCK", "1")        # evaluate as of the logical date
    run = SimpleNamespace(run_type="manual", logical_date=TUESDAY_0630, run_after=TUESDAY_0630, run_id="manual__t")
    out = glue.early_warnings_for_run({"params": {"send": False, "dry_run": False}, "dag_run": run,
                                       "logical_date": TUESDAY_0630})
    assert out["previewed"] >= 1 and out["sent"] == 0 and out["evaluated"]["month"]["period"] == "2026-11"
    assert {n.channel for n in Ledger(rt.store).rows() if n.kind.startswith("warn:")} == {"outbox"}
