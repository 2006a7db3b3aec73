"""Scores, rankings by category, post totals."""
from datetime import datetime

import pytest

from pubwatch.registry import Contact, SourceConfig, Unit
from pubwatch.rules import Policies, PolicyError, load_policies
from pubwatch.scoring import ScoreTable, post_totals, rank, score_units, totals_text
from pubwatch.types import PORTAL, TZ, WECHAT, PostFact, Status, Verdict

TABLE = Policies({"scoring": {"default": {"met": 0, "missed": -1},
                              "rules": {"weekly": {"met": 0.5, "missed": -1},
                                        "staleness": {"missed": -2},
                                        "staleness:notice": {"missed": -3}}}})


def unit(uid, category="department"):
    c = (Contact("leader", "甲", email="a@example.org"), Contact("staff", "乙", email="b@example.org"))
    s = (SourceConfig(f"{uid}.portal.gzdt", uid, PORTAL, "portal", "工作动态", "http://127.0.0.1/"),
         SourceConfig(f"{uid}.wechat.rss", uid, WECHAT, "rss", "公众号", "http://127.0.0.1/rss"),
         SourceConfig(f"{uid}.wechat.wechat_api", uid, WECHAT, "wechat_api", "公众号"))
    return Unit(uid, f"单位{uid}", category, c, s)


def v(uid, rule, status):
    return Verdict(unit_id=uid, channel=PORTAL, period="2026-W47", rule=rule, status=status)


def test_scores_only_met_and_missed():
    vs = [v("a", "weekly", Status.MET), v("a", "weekly", Status.MET), v("a", "staleness:news", Status.MISSED),
          v("b", "weekly", Status.UNKNOWN), v("b", "weekly", Status.EXEMPT), v("b", "weekly", Status.AT_RISK),
          v("c", "staleness:notice", Status.MISSED), v("c", "monthly_quota", Status.MISSED)]
    assert score_units(vs, TABLE) == {"a": -1.0, "b": 0.0, "c": -4.0}


def test_exact_rule_beats_prefix_and_default():
    t = ScoreTable.from_policies(TABLE)
    assert t.points("staleness:notice", Status.MISSED) == -3
    assert t.points("staleness:news", Status.MISSED) == -2
    assert t.points("staleness:news", Status.MET) == 0            # falls back to default
    assert t.points("max_gap", Status.MISSED) == -1


def test_shipped_table_loads():
    scores = score_units([v("a", "weekly", Status.MISSED)], load_policies())
    assert scores["a"] < 0


@pytest.mark.parametrize("scoring,needle", [({"default": {"late": 1}}, "default.late"),
                                             ({"rules": {"weekly": {"met": "x"}}}, "rules.weekly.met"),
                                             ({"rules": []}, "rules"),
                                             ({"default": {"met": True}}, "default.met: 应为数字"),
                                             ({"defualt": {"met": 1}}, "defualt: 未知字段")])
def test_bad_table_named(scoring, needle):
    with pytest.raises(PolicyError, match=needle):
        score_units([v("a", "weekly", Status.MET)], Policies({"scoring": scoring}))


def test_rank_by_category_with_ties():
    units = [unit("a"), unit("b"), unit("c"), unit("d"), unit("t1", "town"), unit("t2", "town")]
    scores = {"a": 2, "b": 5, "c": 2, "t1": -1, "t2": 3}           # d has no score -> 0
    rows = rank(units, scores)
    assert [(r["unit_id"], r["rank"]) for r in rows] == [("b", 1), ("a", 2), ("c", 2), ("d", 4),
                                                        ("t2", 1), ("t1", 2)]
    assert rows[0]["category_label"] == "县直部门" and rows[4]["category_label"] == "乡镇"
    flat = rank(units, scores, by_category=False)
    assert [(r["unit_id"], r["rank"]) for r in flat] == [("b", 1), ("t2", 2), ("a", 3), ("c", 3),
                                                        ("d", 5), ("t1", 6)]


def test_post_totals_dedupes_and_bounds():
    units = [unit("a"), unit("b")]
    t = datetime(2026, 11, 18, 9, tzinfo=TZ)

    def p(sid, url, when=t, title="x"):
        return PostFact(sid, WECHAT if ".wechat." in sid else PORTAL, url, title, when, when)

    posts = [p("a.portal.gzdt", "u1"), p("a.portal.gzdt", "u1"), p("a.portal.gzdt", "u2"),
             p("a.wechat.rss", "w1", title="简讯"), p("a.wechat.wechat_api", "w1b", title="简讯"),
             p("a.portal.gzdt", "old", datetime(2026, 10, 1, tzinfo=TZ)), p("zz.portal.x", "stranger")]
    totals = post_totals(posts, units, start=datetime(2026, 11, 1, tzinfo=TZ), end=datetime(2026, 12, 1, tzinfo=TZ))
    assert totals == {"a": {PORTAL: 2, WECHAT: 1, "total": 3}, "b": {PORTAL: 0, WECHAT: 0, "total": 0}}
    assert totals_text(totals["a"]) == "门户网站发文2篇、微信公众号发文1篇, 共3篇"
