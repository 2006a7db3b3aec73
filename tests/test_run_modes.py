"""Who may send: scheduled runs send (unless they start > 6 h late: catch-up / unpause), manual and
backfill runs only write the outbox unless params say send=true, dry_run never sends."""
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))
import pubwatch_glue as glue  # noqa: E402

NOW = datetime.now(timezone.utc)


def ctx(run_type, logical, **params):
    run = SimpleNamespace(run_type=run_type, logical_date=logical, run_after=logical, run_id=f"{run_type}__x")
    return {"params": {"send": False, "dry_run": False, **params}, "dag_run": run, "logical_date": logical}


@pytest.mark.parametrize("context, sends", [
    (ctx("scheduled", NOW - timedelta(minutes=5)), True),
    (ctx("scheduled", NOW - timedelta(hours=7)), False),          # late slot after an unpause: no stale notices
    (ctx("scheduled", NOW - timedelta(minutes=5), dry_run=True), False),
    (ctx("manual", NOW - timedelta(days=3)), False),
    (ctx("manual", NOW - timedelta(days=3), send=True), True),
    (ctx("manual", NOW, send=True, dry_run=True), False),
    (ctx("backfill", NOW - timedelta(days=30)), False),
    (ctx("backfill", NOW - timedelta(days=30), send=True), True),
])
def test_run_mode(context, sends):
    mode = glue.run_mode(context)
    assert mode["send"] is sends, mode["why"]
    assert mode["why"]


def test_historic_runs_do_not_crawl_and_evaluate_at_their_logical_time():
    backfill = ctx("backfill", datetime(2026, 11, 13, 1, 0, tzinfo=timezone.utc))
    assert glue._historic(backfill)
    assert glue.as_of(backfill) == datetime(2026, 11, 13, 1, 0, tzinfo=timezone.utc)
    past_week = ctx("manual", NOW, period="2026-W46")
    assert glue.as_of(past_week).date().isoformat() == "2026-11-20"      # the Friday after that week
    live = ctx("scheduled", NOW - timedelta(minutes=1))
    assert not glue._historic(live) and glue.as_of(live) >= NOW


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_period_is_the_runs_own_weeks(blank):
    """The trigger form sends null for a blank field; the REST API may send "" — the same thing."""
    logical = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
    manual = ctx("manual", logical, period=blank, units=None, crawl=False)
    assert not glue._historic(manual)
    assert glue.as_of(manual) == logical
    assert glue.selected_units(manual["params"]) is None
    assert glue.selected_units({"units": ["县教育局", " ", ""]}) == ["县教育局"]
