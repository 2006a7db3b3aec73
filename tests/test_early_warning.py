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
