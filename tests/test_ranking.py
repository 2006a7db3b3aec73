"""Scores, rankings by category and 发文 totals over a month / quarter / year."""

from openpyxl import load_workbook

from pubwatch.ranking import periods_within, ranking, write_ranking_xlsx
from pubwatch.periods import Period


def test_periods_within_a_quarter():
    keys = {p.key for p in periods_within(Period.parse("2026-Q4"))}
    assert {"2026-Q4", "2026-10", "2026-11", "2026-12", "2026-W40", "2026-W52"} <= keys
    assert "2026-W53" not in keys            # ends in January 2027


def test_ranking_by_category_with_totals(demo_runtime, tmp_path):
    result = ranking(demo_runtime, "2026-11")
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
