"""A crawl proves "no post" only as far back as its listing reached — never a false "missed" for a
week the crawler never saw (a busy column read back 3 weeks says nothing about 4 weeks ago)."""
from datetime import datetime, timedelta

from pubwatch import jobs
from pubwatch.crawl import coverage
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult, Status
from tests.conftest import TEST_AS_OF

T = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)


def item(days_ago, pinned=False):
    return ListItem(f"t{days_ago}", f"https://x.gov.cn/{days_ago}.html", T - timedelta(days=days_ago), pinned)


def test_coverage_rules():
    ok = SourceResult(Outcome.OK, [item(1), item(9), item(400, pinned=True)])
    assert coverage(ok, {}, None, T) == T - timedelta(days=9)                      # first read: its oldest item
    # the next read reaches back past the previous successful one: coverage chains
    assert coverage(ok, {"covered_from": (T - timedelta(days=60)).isoformat()}, T - timedelta(days=2), T) \
        == T - timedelta(days=60)
    # …but not when there is a gap between what was read and the previous read
    assert coverage(ok, {"covered_from": "all"}, T - timedelta(days=20), T) == T - timedelta(days=9)
    assert coverage(ok, {"covered_from": "all"}, T - timedelta(days=2), T) == COVERS_ALL
    assert coverage(SourceResult(Outcome.NOT_MODIFIED), {"covered_from": "all"}, T, T) == COVERS_ALL
    # An empty list proves only what its source confirmed (two empty reads a day apart, #15) —
    # never the column's whole history.
    assert coverage(SourceResult(Outcome.OK, []), {}, None, T) == T
    assert coverage(SourceResult(Outcome.OK, [], covered_from=T - timedelta(days=3)), {}, None, T) \
        == T - timedelta(days=3)
    assert coverage(SourceResult(Outcome.SUSPECT_EMPTY, []), {"covered_from": "all"}, T, T) is None
    undated = SourceResult(Outcome.OK, [ListItem("t", "https://x.gov.cn/a.html", None)])
    assert coverage(undated, {}, None, T) == T


def test_a_week_the_crawl_never_reached_is_unknown_not_missed(demo_runtime):
    # hbj posts six times a week: its first crawl paged back over the 5 weeks the office evaluates
    # (to 2026-10-12; the 4th page reaches 10-06), so W40 was never seen.
    verdicts = jobs.evaluate(demo_runtime, "2026-W40", as_of=TEST_AS_OF, unit_ids=["hbj", "czj"])
    hbj = next(v for v in verdicts if v.unit_id == "hbj" and v.channel == "portal" and v.rule == "weekly")
    assert hbj.status is Status.UNKNOWN and "回溯" in hbj.reason
    # czj's page 1 reaches back into September: its empty weeks are proven, and missed
    w45 = jobs.evaluate(demo_runtime, "2026-W45", as_of=TEST_AS_OF, unit_ids=["czj"])
    assert next(v for v in w45 if v.channel == "portal" and v.rule == "weekly").status is Status.MISSED
