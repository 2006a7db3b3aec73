"""人工复核 (#20): a supervisor's review of a verdict is kept with its trail, survives re-evaluation and
backfill, and is the status everything downstream uses — board, circular, scores, streaks, notices."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from pubwatch import reviews
from pubwatch.evaluate import evaluate_period, streaks
from pubwatch.periods import Period
from pubwatch.registry import parse_registry
from pubwatch.reviews import ReviewError, current_reviews, record_review, review_history
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult, Status

REG = parse_registry({"units": [
    {"id": uid, "name": name, "category": "department",
     "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
     "portal": {"columns": [{"id": "gzdt", "url": f"https://www.example.gov.cn/{uid}/gzdt/"}]}}
    for uid, name in [("ok", "按时单位"), ("late", "迟报单位"), ("down", "宕机单位")]]})
W = Period.parse("2026-W46")          # Nov 9-15; "late" missed W45 and W46
AS_OF = datetime(2026, 11, 16, 7, 30, tzinfo=TZ)   # Monday after the week
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=TZ)


def seed(store, *, weeks_back=8):
    """Weekly crawls of each unit's one column; "late" posts nothing in W45 and W46, "down" answers 503
    for W46 and has no post at all."""
    store.sync_units(REG.units)
    for unit in REG.units:
        col = unit.sources_of("portal")[0]
        week = W
        for k in range(weeks_back):
            at = datetime.combine(week.end, datetime.min.time(), TZ) + timedelta(days=1, hours=6, minutes=30)
            a = store.start_attempt(col, started_at=at, run_id="seed")
            if unit.id == "down" and k == 0:
                store.finish_attempt(a, col, SourceResult(Outcome.HTTP_ERROR, message="HTTP 503", http_status=503),
                                     finished_at=at, items_new=0)
            else:
                posts = [] if (unit.id == "late" and k in (0, 1)) or unit.id == "down" else [
                    ListItem(f"{unit.name}动态{k}", f"https://www.example.gov.cn/{unit.id}/gzdt/t{k}.html",
                             datetime.combine(week.start + timedelta(days=2), datetime.min.time(), TZ)
                             .replace(hour=10))]
                new = store.upsert_posts(col, posts, seen_at=at, attempt_id=a)
                store.finish_attempt(a, col, SourceResult(Outcome.OK, posts), finished_at=at, items_new=new,
                                     covered_from=COVERS_ALL)
            week = week.previous()


def weekly(verdicts, unit_id, channel="portal"):
    return next(v for v in verdicts if v.unit_id == unit_id and v.channel == channel and v.rule == "weekly")


def evaluate_weeks(store, *weeks):
    for p in weeks:
        evaluate_period(store, REG.units, p, as_of=AS_OF if p == W else p.end_dt + timedelta(days=1))


def review(store, **kw):
    args = dict(unit_id="late", period=W.key, channel="portal", status="met",
                reason="单位提供了群发截图, 11月12日已发布", reviewer="督查员甲", now=NOW)
    args.update(kw)
    return record_review(store, REG, **args)


# --------------------------------------------------------------------------------- the record
def test_a_review_is_stored_and_laid_over_the_computed_verdict(store):
    seed(store)
    evaluate_weeks(store, W.previous(), W)
    assert weekly(store.verdicts(W.key), "late").status is Status.MISSED
    r = review(store, evidence_url=None)
    assert (r.status, r.previous_status, r.reviewer, r.created_at) == (Status.MET, Status.MISSED, "督查员甲", NOW)
    v = weekly(store.verdicts(W.key), "late")
    assert v.status is Status.MET and v.reason == "人工复核: 单位提供了群发截图, 11月12日已发布"
    assert v.evidence["computed_status"] == "missed" and v.evidence["review"]["reviewer"] == "督查员甲"
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED
    assert weekly(store.verdicts(W.key), "ok").evidence.get("review") is None
    assert current_reviews(store, W.key) == {("late", "portal", W.key, "weekly"): r}


def test_a_later_review_supersedes_and_both_are_kept(store):
    seed(store)
    evaluate_weeks(store, W)
    first = review(store)
    second = review(store, status="exempt", reason="该周网站改版, 经领导同意免检", reviewer="督查员乙",
                    now=NOW + timedelta(hours=2))
    assert second.previous_status is Status.MET               # what it corrected: the first review
    assert [r.id for r in review_history(store, "late")] == [first.id, second.id]
    assert review_history(store, "late", W.previous().key) == []
    assert current_reviews(store, W.key)[("late", "portal", W.key, "weekly")] == second
    assert weekly(store.verdicts(W.key), "late").status is Status.EXEMPT


def test_a_review_survives_re_evaluation_and_backfill(store):
    seed(store)
    evaluate_weeks(store, W)
    review(store)
    evaluate_weeks(store, W)                                   # the next run, same knowledge
    evaluate_period(store, REG.units, W, as_of=AS_OF + timedelta(days=30))   # a backfill, later knowledge
    assert weekly(store.verdicts(W.key), "late").status is Status.MET
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED
    assert store.status_history(["late"], [W.key], "weekly")[("late", "portal")][W.key] == "met"
    assert store.status_history(["late"], [W.key], "weekly", reviewed=False)[("late", "portal")][W.key] == "missed"


@pytest.mark.parametrize(("change", "field"), [
    ({"unit_id": "nobody"}, "unit"),
    ({"period": "2026-W99"}, "period"),
    ({"period": "last week"}, "period"),
    ({"period": "2026-W40"}, "period"),                      # never evaluated
    ({"channel": "weibo"}, "channel"),
    ({"channel": "wechat"}, "channel"),                      # the unit has no WeChat verdict
    ({"rule": "no_such_rule"}, "rule"),
    ({"status": "at_risk"}, "status"),
    ({"status": "good"}, "status"),
    ({"reason": "  \t "}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reviewer": ""}, "reviewer"),
    ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
    ({"evidence_url": "ftp://example.gov.cn/a"}, "evidence_url"),
    ({"evidence_url": "https://www.example.gov.cn/late/a.html", "published": date(2026, 11, 20)}, "published"),
])
def test_bad_input_is_refused_naming_the_field(store, change, field):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    with pytest.raises(ReviewError) as err:
        review(store, **change)
    assert err.value.field == field and f"字段 {field}:" in str(err.value)
    assert review_history(store) == []


def test_chinese_status_words_and_a_unit_name_are_accepted(store):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    r = review(store, unit_id="迟报单位", status="免检")
    assert (r.unit_id, r.status) == ("late", Status.EXEMPT)
