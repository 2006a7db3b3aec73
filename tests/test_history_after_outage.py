"""A unit whose site was down on the first run gets its real history once the site is back (#19).

`jobs.evaluate_week` also evaluates the weeks before the closed one (for streaks and escalation)
when they have no verdicts yet — a new install, a gap in runs. A first run that could not read a
unit (site down, a crawl killed, the database restarting) stored those weeks as 无法核实 for that
unit, and they were never looked at again: after the site came back, 县财政局's three missed weeks
read as a streak of 1 and the 督办提醒 to its 分管领导 was never sent. Found by bench/chaos_run.py
(a lost escalation, and earlier weeks differing from a clean run's).
"""
from __future__ import annotations

import pytest

from conftest import TEST_AS_OF
from pubwatch import jobs
from pubwatch.demo import DemoPortal
from pubwatch.evaluate import streaks
from pubwatch.periods import Period

W46 = Period.parse("2026-W46")


def _down(handler, parts):
    return 503, {"Content-Type": "text/html; charset=utf-8"}, b"<h1>503 Service Unavailable</h1>"


def _crawl_all(rt: jobs.Runtime) -> None:
    for unit in rt.registry.units:
        jobs.crawl(rt, unit.id, now=TEST_AS_OF, run_id="r")


def _weekly(rt: jobs.Runtime, unit_id: str, period: str) -> dict[str, str]:
    return {v.channel: v.status.value for v in rt.store.verdicts(period, [unit_id]) if v.rule == "weekly"}


@pytest.fixture
def portal(monkeypatch, tmp_path):
    with DemoPortal(as_of=TEST_AS_OF) as p:
        for k, v in p.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("PUBWATCH_VAR_DIR", str(tmp_path / "var"))
        yield p


def test_earlier_weeks_unknown_on_the_first_run_are_settled_when_the_site_is_back(db_url, portal):
    rt = jobs.Runtime(db_url)
    try:
        jobs.prepare(rt)
        routes = portal.extra_routes
        portal.extra_routes = {"/czj/": _down, "/feeds/czj.xml": _down, **routes}   # 县财政局's sites are down
        _crawl_all(rt)
        jobs.evaluate_week(rt, TEST_AS_OF)
        assert _weekly(rt, "czj", "2026-W46") == {"portal": "unknown", "wechat": "unknown"}   # the fault bites
        assert _weekly(rt, "czj", "2026-W44") == {"portal": "unknown", "wechat": "unknown"}

        portal.extra_routes = routes                                    # back up: the same Friday, run again
        _crawl_all(rt)
        jobs.evaluate_week(rt, TEST_AS_OF)
        # as a clean run sees it: missed W44–W46 (demo scenario missed_3), met W43
        for week in ("2026-W46", "2026-W45", "2026-W44"):
            assert _weekly(rt, "czj", week) == {"portal": "missed", "wechat": "missed"}, week
        assert _weekly(rt, "czj", "2026-W43") == {"portal": "met", "wechat": "met"}
        assert streaks(rt.store, [rt.registry.unit("czj")], W46)[("czj", "portal")] == 3
        result = jobs.notify_week(rt, TEST_AS_OF, send=False, run_id="r2")
        assert "czj/2026-W46/escalation/outbox" in result["previewed"]
    finally:
        rt.close()


def test_settled_earlier_weeks_are_not_evaluated_again(db_url, portal):
    """Only units with an unsettled week are looked at again: a second run re-evaluates, of an earlier
    week, just the units the demo itself cannot verify (a portal answering 503, a WAF, a stale feed)."""
    rt = jobs.Runtime(db_url)
    try:
        jobs.prepare(rt)
        _crawl_all(rt)
        jobs.evaluate_week(rt, TEST_AS_OF)
        unsettled = {v.unit_id for v in rt.store.verdicts("2026-W44")
                     if v.rule == "weekly" and v.status.value not in ("met", "missed", "exempt")}
        assert 0 < len(unsettled) < len(rt.registry.units)
        before = _runs(rt.store, "2026-W44")
        jobs.evaluate_week(rt, TEST_AS_OF)
        assert _runs(rt.store, "2026-W44")[len(before):] == [len(unsettled)]
    finally:
        rt.close()


def _runs(store, period: str) -> list[int]:
    """Units of each recorded evaluation run of `period`, oldest first (evaluation_runs)."""
    import sqlalchemy as sa

    from pubwatch.store.models import EvaluationRun

    with store.Session() as s:
        return list(s.scalars(sa.select(EvaluationRun.units).where(EvaluationRun.period == period)
                              .order_by(EvaluationRun.id)))
