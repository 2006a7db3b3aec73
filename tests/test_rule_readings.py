"""Each local rule text, one precise reading (issue #21) — a table per rule.

Every expected verdict below was worked out by hand from the rule's sentence, not from the code:

* 保证每10天内都能更新信息 (rolling_window, days 10): for every day of the period, the 10 days ending
  that day contain a post. A post on day a and the next on day b: the days a+10 .. b-1 are breached.
* 超过2周未更新 / 监测时间点前2周内无信息更新 (staleness, 14 days): stale at every moment whose last post
  is more than 14 days old; a period is 未达标 if the channel was stale at any moment in it.
* 更新间隔时间不得超过14天 (max_gap, 14 days): one silence longer than 14 days is one breach, in the
  period of the last day a post was still in time (last post + 14 days) — never in two periods.

Weekdays in 2026: Mondays are Oct 5, 12, 19, 26, Nov 2, 9, 16 (W47), 23, 30, Dec 7, 14, 21, 28.
Posts are at 10:00 local unless said otherwise; every source is read successfully the morning after
the period (its listing reaching the whole history) unless the row says otherwise.
"""
from datetime import date, datetime, timedelta

import pytest

from pubwatch.periods import Period
from pubwatch.registry import Contact, SourceConfig, Unit
from pubwatch.rules import Policies, evaluate_unit
from pubwatch.scoring import score_units
from pubwatch.types import COVERS_ALL, PORTAL, TZ, WECHAT, AttemptFact, Outcome, PostFact, Status
from pubwatch.workdays import WorkCalendar

CAL = WorkCalendar()
M, X, U, R, P, E = Status.MET, Status.MISSED, Status.UNKNOWN, Status.AT_RISK, Status.PENDING, Status.EXEMPT
COLUMN = "u.portal.gzdt"
ACCOUNT = "u.wechat.rss"


def at(m, d, h=10, mi=0, y=2026):
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def unit(**kw):
    sources = (SourceConfig(COLUMN, "u", PORTAL, "portal", "工作动态", "http://127.0.0.1/gzdt/", column_type="news"),
               SourceConfig(ACCOUNT, "u", WECHAT, "rss", "县教育局", column_type="news"))
    contacts = (Contact("leader", "王局长", email="l@example.org"), Contact("staff", "李", email="s@example.org"))
    return Unit(id="u", name="县教育局", category="department", contacts=contacts, sources=sources, **kw)


def posts_of(source_id, *moments):
    channel = WECHAT if ".wechat." in source_id else PORTAL
    return [PostFact(source_id, channel, f"http://x/{source_id}/{t.isoformat()}", "工作动态", t, t) for t in moments]


def read(source_id, when, covered_from=COVERS_ALL):
    channel = WECHAT if ".wechat." in source_id else PORTAL
    return AttemptFact(source_id, channel, when, Outcome.OK, covered_from=covered_from)


def policy(**cfg):
    return Policies({"defaults": cfg})


def judge(policies, period_key, posts, as_of=None, attempts=None, rule=None, channel=PORTAL, **unit_kw):
    period = Period.parse(period_key)
    as_of = as_of or period.end_dt + timedelta(hours=9)
    if attempts is None:
        when = min(as_of - timedelta(hours=1), period.end_dt + timedelta(hours=1))
        attempts = [read(COLUMN, when), read(ACCOUNT, when)]
    vs = evaluate_unit(unit(**unit_kw), period, posts, attempts, as_of=as_of, policies=policies, calendar=CAL)
    found = [v for v in vs if v.channel == channel and (rule is None or v.rule == rule)]
    assert len(found) == 1, [(v.rule, v.channel) for v in vs]
    return found[0]


# ------------------------------------------------------------------------------ rolling window
ROLLING = policy(rolling_window={"kind": "rolling_window", "days": 10, "min_posts": 1, "channels": ["portal"]})

ROLLING_TABLE = [
    # id, posts (days), period, expected; (old reading: the 10 days ending Sunday only)
    ("silence 14..28 Nov: W47 windows all reach the 13th", [(11, 13), (11, 29)], "2026-W47", M),
    ("silence 14..28 Nov: 23..28 breached (old: met, 16-day gap passed)", [(11, 13), (11, 29)], "2026-W48", X),
    ("silence 12..26 Nov: 21, 22 breached in W47", [(11, 11), (11, 27)], "2026-W47", X),
    ("silence 12..26 Nov: 23..26 breached in W48 too (old: met)", [(11, 11), (11, 27)], "2026-W48", X),
    ("gap of 10 days (9 silent) is within the rule", [(11, 16), (11, 26)], "2026-W48", M),
    ("gap of 11 days: day 26 breached (old: met)", [(11, 16), (11, 27)], "2026-W48", X),
    ("silence over a month end: Nov 4..7 breached (old: met)", [(10, 25), (11, 8)], "2026-W45", X),
    ("the week before that silence's breach", [(10, 25), (11, 8)], "2026-W44", M),
    ("silence Dec 19..30: W52's windows all reach the 18th", [(12, 18), (12, 31)], "2026-W52", M),
    ("silence Dec 19..30: Dec 28..30 breached in W53 (old: met)", [(12, 18), (12, 31)], "2026-W53", X),
]


@pytest.mark.parametrize("case,days,period,expected", ROLLING_TABLE, ids=[r[0] for r in ROLLING_TABLE])
def test_rolling_window_every_day_of_the_period(case, days, period, expected):
    posts = posts_of(COLUMN, *(at(m, d) for m, d in days))
    assert judge(ROLLING, period, posts, rule="rolling_window").status == expected


def test_rolling_window_breach_is_final_in_an_open_week_and_warns_before():
    posts = posts_of(COLUMN, at(11, 11))
    # Nov 11 + 10 = Nov 21: the last day a post keeps every window filled; breached at its end.
    v = judge(ROLLING, "2026-W47", posts, as_of=at(11, 22, 9), attempts=[read(COLUMN, at(11, 22, 8))])
    assert v.status == X                                     # old: at_risk/pending until Sunday's end
    assert v.deadline == date(2026, 11, 21) and "11月12日至11月21日连续10天未更新" in v.reason
    v = judge(ROLLING, "2026-W47", posts, as_of=at(11, 18, 9), attempts=[read(COLUMN, at(11, 18, 8))])
    assert (v.status, v.deadline) == (R, date(2026, 11, 21))  # 3 days before: 预警 with the day to post by
    assert "请于11月21日前更新" in v.reason
    v = judge(ROLLING, "2026-W47", posts, as_of=at(11, 17, 9), attempts=[read(COLUMN, at(11, 17, 8))])
    assert v.status == P


def test_rolling_window_new_unit_counts_from_its_joining_day():
    # Joined Monday Nov 16 (the period's start, so not exempt): the windows of W47 all reach back
    # before it joined — not judged. Old reading: the window Nov 13..22 was "silent": 未达标.
    v = judge(ROLLING, "2026-W47", [], start_date=date(2026, 11, 16))
    assert v.status == M
    # From then on its silence counts: Nov 16..25 are ten silent days, breached on the 25th.
    v = judge(ROLLING, "2026-W48", [], start_date=date(2026, 11, 16))
    assert (v.status, v.deadline) == (X, date(2026, 11, 25))
    v = judge(ROLLING, "2026-W47", [], start_date=date(2026, 11, 18))
    assert v.status == E


# ------------------------------------------------------------------------------ staleness
STALE = policy(staleness={"kind": "staleness", "max_age": {"news": "14d"}, "wechat_max_age": "14d"})

STALENESS_TABLE = [
    # id, posts (moments), period, as_of (None: closed, read next morning), expected
    ("last post Nov 8 10:00: stale from Nov 22 10:00", [at(11, 8)], "2026-W47", None, X),
    ("last post Nov 9 10:00: stale only from Nov 23 10:00", [at(11, 9)], "2026-W47", None, M),
    ("...and the next week it is", [at(11, 9)], "2026-W48", None, X),
    ("stale Nov 16..20, posted Friday (old: met, fresh at the end)", [at(11, 1), at(11, 20)], "2026-W47", None, X),
    ("date-only posts 14 days apart are never stale", [at(11, 8, 0), at(11, 22, 0)], "2026-W47", None, M),
    ("stale over Sunday, posted Monday 09:00 (old: W48 met)", [at(11, 8, 20), at(11, 23, 9)], "2026-W48", None, X),
    ("stale over the month end: Nov 29 10:00 .. Dec 3 10:00", [at(11, 15), at(12, 3)], "2026-W48", None, X),
    ("...W49 too (old: met, fresh on Sunday)", [at(11, 15), at(12, 3)], "2026-W49", None, X),
    ("last post Nov 12: W47 met at its end", [at(11, 12)], "2026-W47", at(11, 27, 9), M),
    ("last post Nov 12, checked Fri Nov 27: stale since the 26th (old: 进行中)", [at(11, 12)], "2026-W48",
     at(11, 27, 9), X),
    ("last post Nov 12, checked Mon Nov 23: 预警 (old: 进行中)", [at(11, 12)], "2026-W48", at(11, 23, 9), R),
    ("last post Nov 12, checked Sun Nov 22: nothing can happen in W47", [at(11, 12)], "2026-W47", at(11, 22, 9), M),
    ("last post Oct 25, checked Oct 30 (W44): stale only from Nov 8", [at(10, 25)], "2026-W44", at(10, 30, 9), M),
]


@pytest.mark.parametrize("case,moments,period,as_of,expected", STALENESS_TABLE, ids=[r[0] for r in STALENESS_TABLE])
def test_staleness_at_any_moment(case, moments, period, as_of, expected):
    attempts = None if as_of is None else [read(COLUMN, as_of - timedelta(hours=1))]
    v = judge(STALE, period, posts_of(COLUMN, *moments), as_of=as_of, attempts=attempts, rule="staleness:news")
    assert v.status == expected


def test_staleness_open_week_breach_deadline_and_warning():
    posts = posts_of(ACCOUNT, at(11, 12))
    v = judge(STALE, "2026-W48", posts, as_of=at(11, 27, 9), attempts=[read(ACCOUNT, at(11, 27, 8))],
              rule="staleness:wechat", channel=WECHAT)
    assert v.status == X and "自11月26日10:00起超期" in v.reason and v.deadline == date(2026, 11, 26)
    v = judge(STALE, "2026-W48", posts, as_of=at(11, 23, 9), attempts=[read(ACCOUNT, at(11, 23, 8))],
              rule="staleness:wechat", channel=WECHAT)
    assert (v.status, v.deadline) == (R, date(2026, 11, 26)) and "请于11月26日10:00前更新" in v.reason
    # A read on the morning of the 26th cannot vouch for that day yet: the breach (10:00) is not
    # proven, the silence so far is — 预警, "待数据源确认", never 未达标 on what we did not see.
    v = judge(STALE, "2026-W48", posts, as_of=at(11, 26, 12), attempts=[read(ACCOUNT, at(11, 26, 11))],
              rule="staleness:wechat", channel=WECHAT)
    assert v.status == R and "待数据源确认" in v.reason


def test_staleness_new_unit_counts_from_its_joining_day_after_the_joining_week():
    kw = dict(rule="staleness:wechat", channel=WECHAT, start_date=date(2026, 11, 18))
    assert judge(STALE, "2026-W47", [], **kw).status == E
    assert judge(STALE, "2026-W48", [], **kw).status == M       # silent since Nov 18: stale after Dec 2 00:00
    v = judge(STALE, "2026-W49", [], **kw)
    assert v.status == X and "纳入监管" in v.reason


# ------------------------------------------------------------------------------ max gap
GAP = policy(max_gap={"kind": "max_gap", "max_days": 14, "channels": ["portal"]})

MAX_GAP_TABLE = [
    # id, posts (days), period, expected; the other gaps of each row are all within 14 days
    ("Oct 10 -> Nov 12: crossed after Oct 24, October's breach", [(10, 10), (11, 12), (11, 25)], "2026-10", X),
    ("Oct 10 -> Nov 12: not counted again in November (old: missed twice)", [(10, 10), (11, 12), (11, 25)],
     "2026-11", M),
    ("Oct 20 -> Nov 5: crossed after Nov 3, November's", [(10, 8), (10, 20), (11, 5), (11, 18)], "2026-11", X),
    ("Oct 20 -> Nov 5: October had no crossing", [(10, 8), (10, 20), (11, 5), (11, 18)], "2026-10", M),
    ("Oct 17 -> Nov 2: last day in time Oct 31, October's (old: met)", [(10, 5), (10, 17), (11, 2), (11, 14), (11, 26)],
     "2026-10", X),
    ("Oct 17 -> Nov 2: ...not November's (old: missed)", [(10, 5), (10, 17), (11, 2), (11, 14), (11, 26)], "2026-11", M),
    ("Oct 17 -> Nov 1, 15 days: October's (old: met)", [(10, 5), (10, 17), (11, 1), (11, 14), (11, 26)], "2026-10", X),
    ("Oct 17 -> Oct 31, 14 days: within the rule", [(10, 5), (10, 17), (10, 31), (11, 12)], "2026-10", M),
    ("Nov 20 -> Dec 4, 14 days over the month end: not November's", [(11, 8), (11, 20), (12, 4), (12, 16), (12, 28)],
     "2026-11", M),
    ("Nov 20 -> Dec 4, 14 days: not December's", [(11, 8), (11, 20), (12, 4), (12, 16), (12, 28)], "2026-12", M),
    ("Nov 20 -> Dec 5, 15 days: December's", [(11, 8), (11, 20), (12, 5), (12, 17), (12, 29)], "2026-12", X),
    ("Nov 20 -> Dec 5, 15 days: not November's", [(11, 8), (11, 20), (12, 5), (12, 17), (12, 29)], "2026-11", M),
    ("Dec 10, nothing after: crossed after Dec 24", [(11, 28), (12, 10)], "2026-12", X),
]


@pytest.mark.parametrize("case,days,period,expected", MAX_GAP_TABLE, ids=[r[0] for r in MAX_GAP_TABLE])
def test_max_gap_one_breach_in_one_period(case, days, period, expected):
    posts = posts_of(COLUMN, *(at(m, d) for m, d in days))
    assert judge(GAP, period, posts, rule="max_gap").status == expected


def test_max_gap_open_month_breach_final_and_warning():
    posts = posts_of(COLUMN, at(11, 10))                    # in time up to Nov 24
    v = judge(GAP, "2026-11", posts, as_of=at(11, 25, 9), attempts=[read(COLUMN, at(11, 25, 8))])
    assert (v.status, v.deadline) == (X, date(2026, 11, 24))
    v = judge(GAP, "2026-11", posts, as_of=at(11, 21, 9), attempts=[read(COLUMN, at(11, 21, 8))])
    assert (v.status, v.deadline) == (R, date(2026, 11, 24)) and "请于11月24日前更新" in v.reason
    v = judge(GAP, "2026-11", posts, as_of=at(11, 20, 9), attempts=[read(COLUMN, at(11, 20, 8))])
    assert v.status == P
    off = policy(max_gap={"kind": "max_gap", "max_days": 14, "channels": ["portal"], "warn_lead_days": None})
    v = judge(off, "2026-11", posts, as_of=at(11, 23, 9), attempts=[read(COLUMN, at(11, 23, 8))])
    assert v.status == P                                     # warnings can be switched off


def test_max_gap_new_unit_counts_from_its_joining_day():
    kw = dict(rule="max_gap", start_date=date(2026, 11, 18))
    assert judge(GAP, "2026-11", [], **kw).status == E
    v = judge(GAP, "2026-12", [], **kw)                     # silent Nov 18..Dec 1: 14 days, breached
    assert (v.status, v.deadline) == (X, date(2026, 12, 1)) and "纳入监管" in v.reason


def test_a_silence_across_a_month_end_scores_once():
    posts = posts_of(COLUMN, at(10, 10), at(11, 12), at(11, 25))
    verdicts = [judge(GAP, "2026-10", posts, rule="max_gap"), judge(GAP, "2026-11", posts, rule="max_gap")]
    assert [v.status for v in verdicts] == [X, M]
    table = Policies({"scoring": {"default": {"met": 0, "missed": -1}}})
    assert score_units(verdicts, table) == {"u": -1.0}      # old reading: -2.0, one silence counted twice


# ------------------------------------------------------------------------------ proof reaches the stretch
def test_a_read_from_monday_cannot_prove_a_silence_before_it():
    """The source was read only from Monday Nov 16 on; the unit posted on Saturday Nov 14, which we
    never saw. Our last known post is Nov 1. Old reading: verified from the period start, so
    rolling_window and staleness said 未达标 — a false accusation. The stretch they judge begins
    before Monday (the 10 days ending Nov 22 start on Nov 13; 14 days before the week's end start
    on Nov 9): 无法核实, naming the source and how far its reads reach."""
    posts = posts_of(COLUMN, at(11, 1))
    monday = Period.parse("2026-W47").start_dt
    attempts = [read(COLUMN, at(11, 23, 1), covered_from=monday)]
    v = judge(ROLLING, "2026-W47", posts, attempts=attempts, rule="rolling_window")
    assert v.status == U
    assert "门户网站「工作动态」栏目的列表只回溯到 2026-11-16 00:00, 未覆盖 2026-11-13 00:00 起的未更新期间" in v.reason
    v = judge(STALE, "2026-W47", posts, attempts=attempts, rule="staleness:news")
    assert v.status == U and "未覆盖 2026-11-09 00:00 起" in v.reason
    # Reads that do reach the stretch prove it.
    attempts = [read(COLUMN, at(11, 23, 1), covered_from=at(11, 13, 0))]
    assert judge(ROLLING, "2026-W47", posts, attempts=attempts, rule="rolling_window").status == X
    attempts = [read(COLUMN, at(11, 23, 1), covered_from=at(11, 9, 0))]
    assert judge(STALE, "2026-W47", posts, attempts=attempts, rule="staleness:news").status == X


def test_max_gap_proof_reaches_back_to_the_last_post():
    # Known: Oct 20; the reads reach back only to Nov 1 (a post on Oct 31 would be unseen): the
    # silence from Oct 21 is not proven.
    posts = posts_of(COLUMN, at(10, 20))
    attempts = [read(COLUMN, at(12, 1, 1), covered_from=Period.parse("2026-11").start_dt)]
    v = judge(GAP, "2026-11", posts, attempts=attempts, rule="max_gap")
    assert v.status == U and "未覆盖 2026-10-21 00:00 起的未更新期间" in v.reason
    attempts = [read(COLUMN, at(12, 1, 1), covered_from=at(10, 20, 0))]
    assert judge(GAP, "2026-11", posts, attempts=attempts, rule="max_gap").status == X


def test_a_breach_is_proven_by_reads_after_it_even_if_later_reads_fail():
    # Stale from Nov 15 10:00 (last post Nov 1); read fine on Nov 18, failing from then on.
    posts = posts_of(COLUMN, at(11, 1))
    attempts = [read(COLUMN, at(11, 18, 8))] + [
        AttemptFact(COLUMN, PORTAL, at(11, d, 8), Outcome.HTTP_ERROR, "HTTP 503") for d in range(19, 24)]
    assert judge(STALE, "2026-W47", posts, attempts=attempts, rule="staleness:news").status == X
