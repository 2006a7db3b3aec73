"""The cadence engine against real 2026 calendar data. Every status, every policy kind."""
import random
from datetime import date, datetime, timedelta

import pytest

from pubwatch import rules
from pubwatch.periods import Period
from pubwatch.registry import Contact, SourceConfig, Unit
from pubwatch.rules import Policies, PolicyError, evaluate_unit, needs_escalation, streak
from pubwatch.types import COVERS_ALL, PORTAL, TZ, WECHAT, AttemptFact, Outcome, PostFact, Status
from pubwatch.workdays import CalendarDataMissing, WorkCalendar

CAL = WorkCalendar()
POLICIES = rules.load_policies()
W47 = Period.parse("2026-W47")            # Mon 16 Nov .. Sun 22 Nov 2026, ordinary week


def at(y, m, d, h=10, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def make_unit(uid="jyj", category="department", columns=(("gzdt", "工作动态", "news"),),
              wechat=("rss",), **kw):
    sources = [SourceConfig(id=f"{uid}.portal.{cid}", unit_id=uid, channel=PORTAL, type="portal",
                            name=name, url=f"http://127.0.0.1/{cid}/", column_type=ctype)
               for cid, name, ctype in columns]
    sources += [SourceConfig(id=f"{uid}.wechat.{sid}", unit_id=uid, channel=WECHAT, type=sid,
                             name="县教育局", column_type="news") for sid in wechat]
    contacts = (Contact("leader", "王局长", email="l@example.org"), Contact("staff", "李", email="s@example.org"))
    return Unit(id=uid, name=f"单位{uid}", category=category, contacts=contacts, sources=tuple(sources), **kw)


def post(source_id, when, title="工作动态", url=None, **kw):
    channel = WECHAT if ".wechat." in source_id else PORTAL
    return PostFact(source_id=source_id, channel=channel, url=url or f"http://x/{source_id}/{when.isoformat()}",
                    title=title, published=when, first_seen=when + timedelta(hours=3), **kw)


def ok(source_id, when, **kw):
    """A successful read; unless told otherwise its listing reached the column's whole history."""
    channel = WECHAT if ".wechat." in source_id else PORTAL
    kw.setdefault("covered_from", COVERS_ALL)
    return AttemptFact(source_id=source_id, channel=channel, started_at=when, outcome=Outcome.OK, **kw)


def fail(source_id, when, outcome=Outcome.HTTP_ERROR, message="HTTP 503 Service Unavailable"):
    channel = WECHAT if ".wechat." in source_id else PORTAL
    return AttemptFact(source_id=source_id, channel=channel, started_at=when, outcome=outcome, message=message)


def all_ok(unit, when):
    return [ok(s.id, when) for s in unit.sources]


def verdicts(unit, period, posts, attempts, as_of, policies=POLICIES, calendar=CAL):
    return evaluate_unit(unit, period, posts, attempts, as_of=as_of, policies=policies, calendar=calendar)


def pick(vs, rule, channel):
    found = [v for v in vs if v.rule == rule and v.channel == channel]
    assert len(found) == 1, [(v.rule, v.channel) for v in vs]
    return found[0]


def policies_with(**overrides):
    data = {"settings": overrides.pop("settings", {}), "defaults": overrides}
    return Policies(data)


WEEKLY_ONLY = policies_with(weekly={"kind": "weekly", "min_posts": 1})


# ------------------------------------------------------------------------------ weekly
def test_weekly_met_with_evidence():
    u = make_unit()
    posts = [post("jyj.portal.gzdt", at(2026, 11, 18), title="召开教育工作会议", url="http://x/a"),
             post("jyj.wechat.rss", at(2026, 11, 20))]
    vs = verdicts(u, W47, posts, all_ok(u, at(2026, 11, 23, 9)), at(2026, 11, 23, 12))
    v = pick(vs, "weekly", PORTAL)
    assert v.status == Status.MET and v.count == 1 and v.required == 1
    assert v.evidence["posts"] == [{"title": "召开教育工作会议", "url": "http://x/a",
                                    "published": "2026-11-18T10:00:00+08:00"}]
    assert v.evidence["last_post"]["date"] == "2026-11-18"
    assert v.evidence["longest_gap_days"] == 4               # Nov 18 -> Nov 22 (no earlier post known)
    assert pick(vs, "weekly", WECHAT).status == Status.MET
    assert v.deadline == date(2026, 11, 22) and v.period == "2026-W47"


def test_weekly_missed_only_when_every_source_verified_after_the_week():
    u = make_unit()
    old = post("jyj.portal.gzdt", at(2026, 11, 10))          # last week's post: not counted
    vs = verdicts(u, W47, [old], all_ok(u, at(2026, 11, 23, 1)), at(2026, 11, 23, 12))
    v = pick(vs, "weekly", PORTAL)
    assert v.status == Status.MISSED and v.count == 0
    assert "本周发文0篇" in v.reason and "未达标" in v.reason
    assert v.evidence["last_post"]["date"] == "2026-11-10"
    assert v.evidence["days_out_of_compliance"] == 7
    assert v.evidence["longest_gap_days"] == 12              # Nov 10 -> end of Sunday Nov 22


def test_source_failed_all_week_is_unknown_never_missed():
    u = make_unit()
    attempts = [fail("jyj.portal.gzdt", at(2026, 11, d)) for d in range(16, 24)] + \
               [ok("jyj.wechat.rss", at(2026, 11, 23, 2))]
    vs = verdicts(u, W47, [], attempts, at(2026, 11, 23, 12))
    v = pick(vs, "weekly", PORTAL)
    assert v.status == Status.UNKNOWN
    assert "门户网站「工作动态」栏目本周抓取失败: HTTP错误: HTTP 503 Service Unavailable" in v.reason
    assert v.evidence["failed_attempts"]["count"] == 8
    assert v.evidence["failed_attempts"]["by_outcome"] == {"http_error": 8}
    assert pick(vs, "weekly", WECHAT).status == Status.MISSED


def test_met_despite_failures():
    u = make_unit(wechat=())
    attempts = [fail("jyj.portal.gzdt", at(2026, 11, 23, 1), Outcome.BLOCKED, "WAF 412")]
    vs = verdicts(u, W47, [post("jyj.portal.gzdt", at(2026, 11, 17))], attempts, at(2026, 11, 23, 12))
    assert pick(vs, "weekly", PORTAL).status == Status.MET


def test_verified_attempt_before_week_end_does_not_prove_absence():
    u = make_unit(wechat=())
    vs = verdicts(u, W47, [], [ok("jyj.portal.gzdt", at(2026, 11, 22, 23, 0))], at(2026, 11, 23, 12))
    v = pick(vs, "weekly", PORTAL)
    assert v.status == Status.UNKNOWN and "尚无成功抓取" in v.reason


def test_no_attempt_at_all_is_unknown():
    u = make_unit(wechat=())
    assert pick(verdicts(u, W47, [], [], at(2026, 11, 23, 12)), "weekly", PORTAL).status == Status.UNKNOWN


def test_wechat_needs_every_source_and_fresh_feed():
    u = make_unit(columns=(), wechat=("rss", "wechat_api"))
    after = at(2026, 11, 23, 8)
    # API fine, RSS bridge fetched OK but its own update time is before the week's end.
    attempts = [ok("jyj.wechat.wechat_api", after),
                ok("jyj.wechat.rss", after, source_updated=at(2026, 11, 21, 6))]
    v = pick(verdicts(u, W47, [], attempts, at(2026, 11, 23, 12)), "weekly", WECHAT)
    assert v.status == Status.UNKNOWN and "等待微信公众号「县教育局」数据源 rss更新" in v.reason
    attempts[1] = ok("jyj.wechat.rss", after, source_updated=at(2026, 11, 23, 7))
    assert pick(verdicts(u, W47, [], attempts, at(2026, 11, 23, 12)), "weekly", WECHAT).status == Status.MISSED
    attempts[0] = fail("jyj.wechat.wechat_api", after, Outcome.SOURCE_ERROR, "48001 api unauthorized")
    v = pick(verdicts(u, W47, [], attempts, at(2026, 11, 23, 12)), "weekly", WECHAT)
    assert v.status == Status.UNKNOWN and "48001" in v.reason


def test_wechat_duplicates_from_two_bridges_count_once():
    u = make_unit(columns=(), wechat=("rss", "wechat_api"))
    t = at(2026, 11, 18, 20)
    posts = [post("jyj.wechat.rss", t, title="教育简讯", url="https://mp.weixin.qq.com/s/abc"),
             post("jyj.wechat.wechat_api", t, title="教育简讯", url="https://mp.weixin.qq.com/s/abc"),
             post("jyj.wechat.wechat_api", t + timedelta(minutes=5), title="教育简讯 ", url="https://mp.weixin.qq.com/s/other")]
    two = policies_with(weekly={"kind": "weekly", "min_posts": 2})
    v = pick(verdicts(u, W47, posts, all_ok(u, at(2026, 11, 23, 8)), at(2026, 11, 23, 12), two), "weekly", WECHAT)
    assert v.count == 1 and v.status == Status.MISSED


def test_at_risk_on_reminder_day_and_pending_before():
    u = make_unit(wechat=())
    fresh = [ok("jyj.portal.gzdt", at(2026, 11, 20, 8))]
    v = pick(verdicts(u, W47, [], fresh, at(2026, 11, 20, 9)), "weekly", PORTAL)    # Friday
    assert v.status == Status.AT_RISK and v.deadline == date(2026, 11, 20)
    assert "尚未达标" in v.reason
    wed = [ok("jyj.portal.gzdt", at(2026, 11, 18, 8))]
    v = pick(verdicts(u, W47, [], wed, at(2026, 11, 18, 9)), "weekly", PORTAL)
    assert v.status == Status.PENDING and v.evidence["pending"] is True
    # stale attempts (older than freshness_hours) cannot support an at_risk
    v = pick(verdicts(u, W47, [], wed, at(2026, 11, 20, 9)), "weekly", PORTAL)
    assert v.status == Status.UNKNOWN and "pending" not in v.evidence
    # a post already there on Friday: met, even though the week is still open
    v = pick(verdicts(u, W47, [post("jyj.portal.gzdt", at(2026, 11, 19))], [], at(2026, 11, 20, 9)), "weekly", PORTAL)
    assert v.status == Status.MET


def test_at_risk_national_day_week_uses_wednesday():
    u = make_unit(wechat=())
    week = Period.parse("2026-W40")                        # Sep 28 .. Oct 4, Oct 1-7 holiday
    as_of = at(2026, 9, 30, 10)
    v = pick(verdicts(u, week, [], [ok("jyj.portal.gzdt", at(2026, 9, 30, 7))], as_of), "weekly", PORTAL)
    assert v.status == Status.AT_RISK and v.deadline == date(2026, 9, 30)
    v = pick(verdicts(u, week, [], [ok("jyj.portal.gzdt", at(2026, 9, 29, 7))], at(2026, 9, 29, 10)), "weekly", PORTAL)
    assert v.status == Status.PENDING


def test_spring_festival_week_exempt_or_evaluated():
    u = make_unit(wechat=())
    week = Period.parse("2026-W08")                        # Feb 16-22: no working day at all
    attempts = [ok("jyj.portal.gzdt", at(2026, 2, 23, 9))]
    v = pick(verdicts(u, week, [], attempts, at(2026, 2, 24)), "weekly", PORTAL)
    assert v.status == Status.EXEMPT and "无工作日" in v.reason
    evaluate = policies_with(settings={"holiday_week": "evaluate"}, weekly={"kind": "weekly"})
    assert pick(verdicts(u, week, [], attempts, at(2026, 2, 24), evaluate), "weekly", PORTAL).status == Status.MISSED
    # the week before (make-up Saturday Feb 14) is an ordinary evaluated week
    prev = Period.parse("2026-W07")
    v = pick(verdicts(u, prev, [post("jyj.portal.gzdt", at(2026, 2, 14))], [], at(2026, 2, 16)), "weekly", PORTAL)
    assert v.status == Status.MET


def test_labour_day_week_is_not_exempt():
    u = make_unit(wechat=())
    week = Period.week_of(date(2026, 5, 4))                # Mon/Tue holiday, Sat 9 make-up day
    v = pick(verdicts(u, week, [], [ok("jyj.portal.gzdt", at(2026, 5, 11, 1))], at(2026, 5, 11, 9)), "weekly", PORTAL)
    assert v.status == Status.MISSED


def test_joined_mid_period_and_future_unit():
    u = make_unit(wechat=(), start_date=date(2026, 11, 19))
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 23, 1))]
    v = pick(verdicts(u, W47, [], attempts, at(2026, 11, 23, 9)), "weekly", PORTAL)
    assert v.status == Status.EXEMPT and "期中" in v.reason
    nxt = W47.next()
    v = pick(verdicts(u, nxt, [], [ok("jyj.portal.gzdt", at(2026, 11, 30, 1))], at(2026, 11, 30, 9)), "weekly", PORTAL)
    assert v.status == Status.MISSED
    later = make_unit(wechat=(), start_date=date(2026, 12, 1))
    v = pick(verdicts(later, W47, [], attempts, at(2026, 11, 23, 9)), "weekly", PORTAL)
    assert v.status == Status.EXEMPT and "起纳入监管" in v.reason


def test_joined_mid_month_prorated_quota():
    town = make_unit(category="town", wechat=(), start_date=date(2026, 11, 16))
    prorate = Policies({"settings": {"joined_mid_period": "prorate"},
                        "categories": {"town": {"monthly_quota": {"min_posts": 30}}}})
    month = Period.parse("2026-11")
    posts = [post("jyj.portal.gzdt", at(2026, 11, 16) + timedelta(hours=i)) for i in range(15)]
    v = pick(verdicts(town, month, posts, [ok("jyj.portal.gzdt", at(2026, 12, 1, 1))], at(2026, 12, 1, 9), prorate),
             "monthly_quota", "unit")
    assert v.required == 15 and v.status == Status.MET          # 15 of 30 days -> 15 posts


def test_suspended_channel_exempt():
    u = make_unit(suspended=frozenset({WECHAT}))
    vs = verdicts(u, W47, [], all_ok(u, at(2026, 11, 23, 1)), at(2026, 11, 23, 9))
    assert pick(vs, "weekly", WECHAT).status == Status.EXEMPT
    assert pick(vs, "weekly", PORTAL).status == Status.MISSED


def test_weekly_column_types_filter():
    u = make_unit(wechat=(), columns=(("gzdt", "工作动态", "news"), ("tzgg", "通知公告", "notice")))
    only_news = policies_with(weekly={"kind": "weekly", "column_types": ["news"]})
    posts = [post("jyj.portal.tzgg", at(2026, 11, 17))]
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 23, 1)), fail("jyj.portal.tzgg", at(2026, 11, 23, 1))]
    v = pick(verdicts(u, W47, posts, attempts, at(2026, 11, 23, 9), only_news), "weekly", PORTAL)
    assert v.status == Status.MISSED and v.count == 0          # the failing notice column is irrelevant
    v = pick(verdicts(u, W47, posts, attempts, at(2026, 11, 23, 9), WEEKLY_ONLY), "weekly", PORTAL)
    assert v.status == Status.MET


def test_suspicious_dates_counted_and_listed_or_not():
    u = make_unit(wechat=())
    p = post("jyj.portal.gzdt", at(2026, 11, 17), date_suspicious=True)
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 23, 1))]
    v = pick(verdicts(u, W47, [p], attempts, at(2026, 11, 23, 9), WEEKLY_ONLY), "weekly", PORTAL)
    assert v.status == Status.MET and v.evidence["suspicious_posts"][0]["date_suspicious"] is True
    strict = policies_with(settings={"count_suspicious": False}, weekly={"kind": "weekly"})
    v = pick(verdicts(u, W47, [p], attempts, at(2026, 11, 23, 9), strict), "weekly", PORTAL)
    assert v.status == Status.MISSED and len(v.evidence["suspicious_posts"]) == 1


# ------------------------------------------------------------------------------ monthly quota
def test_monthly_quota_town_30_over_both_channels():
    town = make_unit(category="town")
    month = Period.parse("2026-11")
    posts = [post("jyj.portal.gzdt", at(2026, 11, 2) + timedelta(hours=5 * i)) for i in range(20)]
    posts += [post("jyj.wechat.rss", at(2026, 11, 10) + timedelta(hours=5 * i)) for i in range(9)]
    attempts = all_ok(town, at(2026, 12, 1, 2))
    v = pick(verdicts(town, month, posts, attempts, at(2026, 12, 1, 9)), "monthly_quota", "unit")
    assert (v.status, v.count, v.required) == (Status.MISSED, 29, 30)
    posts.append(post("jyj.wechat.rss", at(2026, 11, 30, 23)))
    v = pick(verdicts(town, month, posts, attempts, at(2026, 12, 1, 9)), "monthly_quota", "unit")
    assert v.status == Status.MET and len(v.evidence["posts"]) == 5
    dept = make_unit(category="department")
    assert pick(verdicts(dept, month, posts[:10], attempts, at(2026, 12, 1, 9)), "monthly_quota", "unit").required == 10


def test_monthly_quota_at_risk_within_warn_lead():
    dept = make_unit(category="department", wechat=())
    month = Period.parse("2026-11")
    fresh = [ok("jyj.portal.gzdt", at(2026, 11, 25, 8))]
    v = pick(verdicts(dept, month, [], fresh, at(2026, 11, 25, 9)), "monthly_quota", "unit")
    assert v.status == Status.AT_RISK and v.deadline == date(2026, 11, 30)
    early = [ok("jyj.portal.gzdt", at(2026, 11, 10, 8))]
    assert pick(verdicts(dept, month, [], early, at(2026, 11, 10, 9)), "monthly_quota", "unit").status == Status.PENDING


def test_monthly_quota_per_channel_and_topic_quota():
    u = make_unit(columns=(("gzdt", "工作动态", "news"), ("tpgj", "脱贫攻坚", "other")))
    pol = Policies({"categories": {"department": {"monthly_quota": {
        "min_posts": 2, "scope": "channel", "topics": [{"column": "tpgj", "min_posts": 1}]}}}})
    month = Period.parse("2026-11")
    posts = [post("jyj.portal.gzdt", at(2026, 11, 3)), post("jyj.portal.tzgg", at(2026, 11, 4)),
             post("jyj.portal.gzdt", at(2026, 11, 5)), post("jyj.wechat.rss", at(2026, 11, 6))]
    attempts = [ok("jyj.portal.gzdt", at(2026, 12, 1, 1)), ok("jyj.wechat.rss", at(2026, 12, 1, 1)),
                fail("jyj.portal.tpgj", at(2026, 12, 1, 1), Outcome.UNREACHABLE, "timeout")]
    vs = verdicts(u, month, posts, attempts, at(2026, 12, 1, 9), pol)
    assert pick(vs, "monthly_quota", PORTAL).status == Status.MET
    assert pick(vs, "monthly_quota", WECHAT).status == Status.MISSED
    topic = pick(vs, "topic_quota:tpgj", PORTAL)
    assert topic.status == Status.UNKNOWN and "「脱贫攻坚」栏目本月抓取失败: 无法访问: timeout" in topic.reason
    attempts[2] = ok("jyj.portal.tpgj", at(2026, 12, 1, 1))
    topic = pick(verdicts(u, month, posts, attempts, at(2026, 12, 1, 9), pol), "topic_quota:tpgj", PORTAL)
    assert topic.status == Status.MISSED and "「脱贫攻坚」发文0篇" in topic.reason


# ------------------------------------------------------------------------------ staleness
STALE_ONLY = policies_with(staleness={"kind": "staleness"})


def test_staleness_news_notice_and_empty_column():
    u = make_unit(wechat=(), columns=(("gzdt", "工作动态", "news"), ("tzgg", "通知公告", "notice"),
                                      ("zcwj", "政策文件", "policy"), ("rsxx", "人事信息", "personnel")))
    posts = [post("jyj.portal.gzdt", at(2026, 11, 8)),        # 15 days before 23 Nov 00:00 -> stale
             post("jyj.portal.tzgg", at(2026, 6, 1)),         # within 6 months
             post("jyj.portal.rsxx", at(2025, 11, 24))]       # within 1 year
    attempts = all_ok(u, at(2026, 11, 23, 1))
    vs = verdicts(u, W47, posts, attempts, at(2026, 11, 23, 9), STALE_ONLY)
    news = pick(vs, "staleness:news", PORTAL)
    assert news.status == Status.MISSED and "「工作动态」(最后更新 2026-11-08)" in news.reason
    assert news.evidence["days_out_of_compliance"] == 1      # only at the end of Sunday 22
    assert pick(vs, "staleness:notice", PORTAL).status == Status.MET
    assert pick(vs, "staleness:personnel", PORTAL).status == Status.MET
    empty = pick(vs, "staleness:policy", PORTAL)
    assert empty.status == Status.MISSED and "空白栏目" in empty.reason
    assert empty.evidence["empty_columns"] == ["政策文件"]
    posts[0] = post("jyj.portal.gzdt", at(2026, 11, 9))
    assert pick(verdicts(u, W47, posts, attempts, at(2026, 11, 23, 9), STALE_ONLY),
                "staleness:news", PORTAL).status == Status.MET


def test_staleness_six_months_counts_calendar_months():
    u = make_unit(wechat=(), columns=(("tzgg", "通知公告", "notice"),))
    attempts = all_ok(u, at(2026, 11, 23, 1))
    for published, expected in ((at(2026, 5, 23, 0, 0), Status.MET), (at(2026, 5, 22, 23, 59), Status.MISSED)):
        v = pick(verdicts(u, W47, [post("jyj.portal.tzgg", published)], attempts, at(2026, 11, 23, 9), STALE_ONLY),
                 "staleness:notice", PORTAL)
        assert v.status == expected, published


def test_staleness_wechat_and_unknown_when_unverified():
    u = make_unit(columns=())
    posts = [post("jyj.wechat.rss", at(2026, 11, 1))]
    v = pick(verdicts(u, W47, posts, all_ok(u, at(2026, 11, 23, 1)), at(2026, 11, 23, 9), STALE_ONLY),
             "staleness:wechat", WECHAT)
    assert v.status == Status.MISSED and "超过14天未更新" in v.reason and "最后更新 2026-11-01" in v.reason
    v = pick(verdicts(u, W47, posts, [fail("jyj.wechat.rss", at(2026, 11, 23, 1), Outcome.STALE, "bridge stale")],
                      at(2026, 11, 23, 9), STALE_ONLY), "staleness:wechat", WECHAT)
    assert v.status == Status.UNKNOWN


# ------------------------------------------------------------------------------ rolling window
def test_rolling_window_crosses_period_boundary():
    u = make_unit(wechat=())
    pol = policies_with(rolling_window={"kind": "rolling_window", "min_posts": 1, "days": 10})
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 23, 1))]
    # window for W47 = Nov 13 .. Nov 22; a post on Friday Nov 13 (previous week) counts
    v = pick(verdicts(u, W47, [post("jyj.portal.gzdt", at(2026, 11, 13))], attempts, at(2026, 11, 23, 9), pol),
             "rolling_window", PORTAL)
    assert v.status == Status.MET and v.evidence["window"] == ["2026-11-13", "2026-11-22"]
    v = pick(verdicts(u, W47, [post("jyj.portal.gzdt", at(2026, 11, 12, 23))], attempts, at(2026, 11, 23, 9), pol),
             "rolling_window", PORTAL)
    assert v.status == Status.MISSED


def test_rolling_window_working_days_over_national_day():
    u = make_unit(wechat=())
    pol = policies_with(rolling_window={"kind": "rolling_window", "min_posts": 1, "days": 5, "working_days": True})
    week = Period.parse("2026-W41")                          # Oct 5 .. 11: 8, 9, 10 are working days
    attempts = [ok("jyj.portal.gzdt", at(2026, 10, 12, 1))]
    # last 5 working days up to Oct 11: Sep 29, 30, Oct 8, 9, 10
    v = pick(verdicts(u, week, [post("jyj.portal.gzdt", at(2026, 9, 29))], attempts, at(2026, 10, 12, 9), pol),
             "rolling_window", PORTAL)
    assert v.status == Status.MET and v.evidence["window"][0] == "2026-09-29"
    v = pick(verdicts(u, week, [post("jyj.portal.gzdt", at(2026, 9, 28))], attempts, at(2026, 10, 12, 9), pol),
             "rolling_window", PORTAL)
    assert v.status == Status.MISSED


# ------------------------------------------------------------------------------ max gap
GAP = policies_with(max_gap={"kind": "max_gap", "max_days": 14})
NOV = Period.parse("2026-11")


def test_max_gap_mid_period_silence_caught_even_with_final_post():
    u = make_unit(wechat=())
    posts = [post("jyj.portal.gzdt", at(2026, 10, 30)), post("jyj.portal.gzdt", at(2026, 11, 3)),
             post("jyj.portal.gzdt", at(2026, 11, 20)), post("jyj.portal.gzdt", at(2026, 11, 30))]
    v = pick(verdicts(u, NOV, posts, [ok("jyj.portal.gzdt", at(2026, 12, 1, 1))], at(2026, 12, 1, 9), GAP),
             "max_gap", PORTAL)
    assert v.status == Status.MISSED and v.count == 17 and v.evidence["longest_gap_days"] == 17
    assert v.evidence["days_out_of_compliance"] == 3 and "最长更新间隔17天" in v.reason


def test_max_gap_left_edge_is_last_post_before_period():
    u = make_unit(wechat=())
    posts = [post("jyj.portal.gzdt", at(2026, 10, 15)), post("jyj.portal.gzdt", at(2026, 11, 10)),
             post("jyj.portal.gzdt", at(2026, 11, 24))]
    v = pick(verdicts(u, NOV, posts, [ok("jyj.portal.gzdt", at(2026, 12, 1, 1))], at(2026, 12, 1, 9), GAP),
             "max_gap", PORTAL)
    # The silence Oct 15 -> Nov 10 (26 days) crossed the limit at the end of Oct 29: one breach,
    # October's. November shows it (longest gap, left edge) but does not count it again.
    assert v.status == Status.MET and v.evidence["longest_gap_days"] == 26
    assert v.evidence["left_edge"] == "2026-10-15"
    assert v.evidence["counted_earlier"] == [{"since": "2026-10-15", "crossed": "2026-10-29", "period": "2026-10"}]
    assert "不在本期重复计算" in v.reason
    v = pick(verdicts(u, Period.parse("2026-10"), posts, [ok("jyj.portal.gzdt", at(2026, 11, 1, 1))],
                      at(2026, 11, 1, 9), GAP), "max_gap", PORTAL)
    assert v.status == Status.MISSED and v.deadline == date(2026, 10, 29)
    posts[0] = post("jyj.portal.gzdt", at(2026, 10, 28))
    v = pick(verdicts(u, NOV, posts, [ok("jyj.portal.gzdt", at(2026, 12, 1, 1))], at(2026, 12, 1, 9), GAP),
             "max_gap", PORTAL)
    assert v.status == Status.MET and v.evidence["longest_gap_days"] == 14


def test_max_gap_working_days_over_holiday():
    u = make_unit(wechat=())
    oct_ = Period.parse("2026-10")
    posts = [post("jyj.portal.gzdt", at(2026, 9, 24)), post("jyj.portal.gzdt", at(2026, 9, 30)),
             post("jyj.portal.gzdt", at(2026, 10, 16)), post("jyj.portal.gzdt", at(2026, 10, 29)),
             post("jyj.portal.gzdt", at(2026, 10, 31))]
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 1, 1))]
    days = policies_with(max_gap={"kind": "max_gap", "max_days": 14})
    work = policies_with(max_gap={"kind": "max_gap", "max_days": 10, "working_days": True})
    assert pick(verdicts(u, oct_, posts, attempts, at(2026, 11, 1, 9), days), "max_gap", PORTAL).status == Status.MISSED
    v = pick(verdicts(u, oct_, posts, attempts, at(2026, 11, 1, 9), work), "max_gap", PORTAL)
    # Sep 30 -> Oct 16 is 16 calendar days but 8 working days (Oct 8, 9, 10, 12..16);
    # Oct 16 -> Oct 29 is 9 working days: the longest.
    assert v.status == Status.MET and v.evidence["longest_gap_days"] == 9
    assert v.evidence["gap_unit"] == "working_days"


def test_max_gap_open_period_already_failed_is_missed():
    u = make_unit(wechat=())
    posts = [post("jyj.portal.gzdt", at(2026, 10, 31))]
    as_of = at(2026, 11, 20, 9)
    attempts = [ok("jyj.portal.gzdt", at(2026, 11, 20, 8))]
    v = pick(verdicts(u, NOV, posts, attempts, as_of, GAP), "max_gap", PORTAL)
    assert v.status == Status.MISSED and v.evidence["longest_gap_days"] == 20
    v = pick(verdicts(u, NOV, posts, attempts, at(2026, 11, 10, 9), GAP), "max_gap", PORTAL)
    assert v.status == Status.PENDING and v.evidence.get("pending") is True


# ------------------------------------------------------------------------------ general
def test_deterministic_under_shuffled_input():
    u = make_unit(columns=(("gzdt", "工作动态", "news"), ("tzgg", "通知公告", "notice")), wechat=("rss", "wechat_api"))
    posts = [post(s.id, at(2026, 11, 16) + timedelta(hours=7 * i)) for i, s in enumerate(u.sources * 3)]
    attempts = [fail(s.id, at(2026, 11, 17 + i % 5)) for i, s in enumerate(u.sources * 2)]
    pol = Policies({"defaults": {"weekly": {}, "staleness": {}, "rolling_window": {},
                                 "max_gap": {"period": "week"}}})
    first = verdicts(u, W47, posts, attempts, at(2026, 11, 23, 9), pol)
    for seed in range(5):
        random.Random(seed).shuffle(posts)
        random.Random(seed).shuffle(attempts)
        assert verdicts(u, W47, list(posts), list(attempts), at(2026, 11, 23, 9), pol) == first
    assert [(v.channel, v.rule) for v in first] == sorted((v.channel, v.rule) for v in first)


def test_calendar_without_data_is_loud_only_when_provisional_is_off():
    """A year without data evaluates on the provisional calendar (#17.4); with it switched off the
    rules refuse to guess."""
    u = make_unit(wechat=())
    week = Period.parse("2027-W10")
    args = (u, week, [], [ok("jyj.portal.gzdt", at(2027, 3, 15, 1))], at(2027, 3, 15, 9), WEEKLY_ONLY)
    assert verdicts(*args)[0].status is Status.MISSED
    with pytest.raises(CalendarDataMissing):
        verdicts(*args, calendar=WorkCalendar(provisional=False))


def test_policy_validation_names_policy_and_field(tmp_path, monkeypatch):
    with pytest.raises(PolicyError, match="策略 weekly: 字段 min_posts"):
        policies_with(weekly={"kind": "weekly", "min_posts": -1})
    with pytest.raises(PolicyError, match="字段 kind"):
        policies_with(daily={"kind": "daily"})
    with pytest.raises(PolicyError, match="策略 staleness: 字段 max_age.news"):
        policies_with(staleness={"max_age": {"news": "two weeks"}})
    with pytest.raises(PolicyError, match="字段 holiday_week"):
        policies_with(settings={"holiday_week": "skip"})
    with pytest.raises(PolicyError, match="字段 scope"):
        Policies({"categories": {"town": {"monthly_quota": {"scope": "both"}}}})
    bad_unit = make_unit(policy={"weekly": {"min_posts": "two"}})
    assert "单位 jyj" in str(POLICIES.check_unit(bad_unit)[0])
    with pytest.raises(PolicyError, match="单位 jyj: 策略 weekly: 字段 min_posts"):
        verdicts(bad_unit, W47, [], [], at(2026, 11, 23, 9))
    # every bad option names the file, where in it, the policy and the field (pydantic, #18)
    bad = tmp_path / "bad.yaml"
    for text, needle in (
            ("settings: {freshness_hours: soon}", "bad.yaml: 策略 settings: 字段 freshness_hours: 应为数字: 'soon'"),
            ("settings: {escalate_after: -1}", "bad.yaml: 策略 settings: 字段 escalate_after: 数值太小"),
            ("categories: {town: {monthly_quota: {topics: [{column: tpgj, min_posts: 0}]}}}",
             "bad.yaml: categories.town: 策略 monthly_quota: 字段 topics\\[0\\].min_posts: 数值太小, 应不小于 1: 0"),
            ("categories: {town: {monthly_quota: {topics: [{min_posts: 2}]}}}",
             "categories.town: 策略 monthly_quota: 字段 topics\\[0\\].column: 缺少 column"),
            ("defaults: {weekly: {channels: [web]}}", "策略 weekly: 字段 channels\\[0\\]: 应为 'portal', 'wechat' 之一: 'web'"),
            ("defaults: {staleness: {max_age: {newz: 14d}}}", "策略 staleness: 字段 max_age.newz: 应为 'news'"),
            ("defaults: {max_gap: {max_days: 5, warn_lead_days: 5}}", "策略 max_gap: 字段 warn_lead_days: 预警提前天数应小于最长间隔 5"),
            ("defaults: {rolling_window: {working_days: yes please}}", "策略 rolling_window: 字段 working_days: 应为 true 或 false"),
            ("defaults: {weekly: {min_post: 2}}", "策略 weekly: 字段 min_post: 未知字段 \\(可用: .*min_posts")):
        bad.write_text(text + "\n", encoding="utf-8")
        with pytest.raises(PolicyError, match=needle):
            rules.load_policies(bad)
    path = tmp_path / "p.yaml"
    path.write_text("settings: {escalate_after: 3}\ndefaults: {weekly: {min_posts: 2}}\n", encoding="utf-8")
    monkeypatch.setenv("PUBWATCH_POLICIES", str(path))
    loaded = rules.load_policies()
    assert loaded.settings["escalate_after"] == 3 and not needs_escalation(2, loaded)


def test_unit_override_deep_merged():
    u = make_unit(wechat=(), policy={"weekly": {"min_posts": 2}, "max_gap": {"enabled": True}})
    posts = [post("jyj.portal.gzdt", at(2026, 11, 17))]
    vs = verdicts(u, W47, posts, [ok("jyj.portal.gzdt", at(2026, 11, 23, 1))], at(2026, 11, 23, 9))
    v = pick(vs, "weekly", PORTAL)
    assert v.required == 2 and v.status == Status.MISSED
    assert {x.rule for x in vs} == {"weekly", "staleness:news"}      # max_gap runs monthly
    assert "max_gap" in {x.rule for x in verdicts(u, NOV, posts, [], at(2026, 12, 1, 9))}


def test_windows():
    a, b = rules.post_window(W47, POLICIES)
    assert b == W47.end_dt and a <= W47.start_dt - timedelta(days=366)
    a, b = rules.attempt_window(W47, at(2026, 11, 23, 9), POLICIES)
    assert a == W47.start_dt and b > at(2026, 11, 23, 9)
    a, b = rules.post_window(NOV, POLICIES)
    assert a <= NOV.start_dt - timedelta(days=14) and b == NOV.end_dt


def test_streak_and_escalation():
    M, X, U, E, R = Status.MET, Status.MISSED, Status.UNKNOWN, Status.EXEMPT, Status.AT_RISK
    assert streak([X, X, M, X]) == 2
    assert streak([X, U, X, E, X, M, X]) == 3       # unknown/exempt neither break nor extend
    assert streak([U, U]) == 0 and streak([]) == 0
    assert streak([R, X, X]) == 2
    assert needs_escalation(2, POLICIES) and not needs_escalation(1, POLICIES)
