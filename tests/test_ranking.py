"""Scores, rankings by category and 发文 totals over a month / quarter / year."""

from openpyxl import load_workbook

from pubwatch.ranking import periods_within, ranking, write_ranking_xlsx
from pubwatch.periods import Period


def test_periods_within_a_quarter():
    keys = {p.key for p in periods_within(Period.parse("2026-Q4"))}
    assert {"2026-Q4", "2026-10", "2026-11", "2026-12", "2026-W40", "2026-W52"} <= keys
    assert "2026-W53" not in keys            # ends in January 2027


def test_ranking_by_category_with_totals(demo_runtime, tmp_path):
    result = ranking(demo_runtime.store, demo_runtime.registry.units, demo_runtime.policies,
                     Period.parse("2026-11"))
    rows = result["rows"]
    depts = [r for r in rows if r["category"] == "department"]
    towns = [r for r in rows if r["category"] == "town"]
    assert depts and towns and depts[0]["rank"] == 1 and towns[0]["rank"] == 1
    assert depts[-1]["name"] == "县财政局" and depts[-1]["score"] < 0        # missed every week
    scores = [r["score"] for r in depts]
    assert scores == sorted(scores, reverse=True)
    for a, b in zip(depts, depts[1:]):                                    # ties share a rank
        assert (a["rank"] == b["rank"]) == (a["score"] == b["score"])
    gaj = next(r for r in rows if r["unit_id"] == "gaj")
    assert gaj["posts"]["portal"] == 0 and gaj["posts"]["wechat"] > 0   # 503 site: no penalty for it
    assert gaj["score"] > depts[-1]["score"]
    out = write_ranking_xlsx(result, tmp_path / "rank.xlsx")
    ws = load_workbook(out)["排名"]
    assert "2026年11月" in ws["A1"].value
    assert any(row[2] == "县财政局" for row in ws.iter_rows(min_row=3, values_only=True))


def test_periodic_reports_at_the_start_of_a_month(demo_runtime):
    from datetime import datetime

    from pubwatch.jobs import periodic_reports
    from pubwatch.types import TZ

    out = periodic_reports(demo_runtime, datetime(2026, 10, 1, 9, 30, tzinfo=TZ))
    assert [p["period"] for p in out["periods"]] == ["2026-09", "2026-Q3"]
    names = [f.rsplit("/", 1)[-1] for f in out["files"]]
    assert "pubwatch-2026-09.docx" in names and "pubwatch-2026-Q3-排名.xlsx" in names


def test_a_silence_across_a_month_end_ranks_once(sqlite_url):
    """#21: the max_gap silence Oct 10 -> Nov 12 is one breach (October's). A quarter's ranking adds
    up the months' verdicts: it is counted once (the old reading counted it in both months)."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from pubwatch.registry import Contact, SourceConfig, Unit
    from pubwatch.rules import Policies, evaluate_unit
    from pubwatch.store import Store
    from pubwatch.types import COVERS_ALL, PORTAL, TZ, AttemptFact, Outcome, PostFact, Status
    from pubwatch.workdays import WorkCalendar

    src = SourceConfig("u.portal.gzdt", "u", PORTAL, "portal", "工作动态", "http://127.0.0.1/gzdt/")
    unit = Unit("u", "县教育局", "department", (Contact("staff", "李", email="s@example.org"),), (src,))
    policies = Policies({"defaults": {"max_gap": {"kind": "max_gap", "max_days": 14}},
                         "scoring": {"default": {"met": 0, "missed": -1}}})
    posts = [PostFact(src.id, PORTAL, f"http://x/{d}", "动态", datetime(2026, m, d, 10, tzinfo=TZ),
                      datetime(2026, m, d, 10, tzinfo=TZ)) for m, d in ((10, 10), (11, 12), (11, 25), (12, 8), (12, 20))]
    store = Store(sqlite_url)
    try:
        for key in ("2026-10", "2026-11", "2026-12"):
            period = Period.parse(key)
            as_of = period.end_dt + timedelta(hours=9)
            read = AttemptFact(src.id, PORTAL, period.end_dt + timedelta(hours=1), Outcome.OK, covered_from=COVERS_ALL)
            vs = evaluate_unit(unit, period, posts, [read], as_of=as_of, policies=policies, calendar=WorkCalendar())
            store.save_verdicts(vs, as_of=as_of)
        statuses = {key: [v.status for v in store.verdicts(key)] for key in ("2026-10", "2026-11", "2026-12")}
        assert statuses == {"2026-10": [Status.MISSED], "2026-11": [Status.MET], "2026-12": [Status.MET]}
        row = ranking(store, [unit], policies, Period.parse("2026-Q4"))["rows"][0]
        assert (row["unit_id"], row["score"], row["verdicts"]) == ("u", -1.0, 3)
    finally:
        store.close()


def test_no_circular_for_a_period_no_rule_judges(demo_runtime, capsys):
    """A quarter no rule judges (the demo has weekly, staleness and monthly rules only) gets its
    ranking but no circular: a 通报 of "本期共监测0个单位" quoting the weekly rule would go out as if
    every unit had been checked. `pubwatch report` refuses it too (exit 1, a Chinese message)."""
    from datetime import datetime

    from pubwatch.cli import main
    from pubwatch.jobs import periodic_reports
    from pubwatch.types import TZ

    out = periodic_reports(demo_runtime, datetime(2026, 10, 1, 9, 30, tzinfo=TZ))
    assert not demo_runtime.store.verdicts("2026-Q3")
    names = [f.rsplit("/", 1)[-1] for f in out["files"]]
    assert "pubwatch-2026-Q3-排名.xlsx" in names
    assert "pubwatch-2026-Q3.docx" not in names and "pubwatch-2026-Q3.xlsx" not in names
    assert "pubwatch-2026-09.docx" in names
    assert main(["--db-url", demo_runtime.db_url, "report", "--period", "2026-Q3"]) == 1
    assert "没有适用" in capsys.readouterr().err
