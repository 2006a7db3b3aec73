"""Backfill: crawl the demo portal once, then evaluate past periods from the store in any order.

Runs on SQLite and PostgreSQL (db_url). Also: the history-tail post query (`Store.rule_post_facts`,
what evaluate_period uses) gives the rules exactly the verdicts the full look-back gives.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from pubwatch import rules
from pubwatch.crawl import crawl_unit
from pubwatch.evaluate import recent_from, streaks
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.jobs import Runtime
from pubwatch.jobs import evaluate as run_evaluate
from pubwatch.periods import Period
from pubwatch.registry import Contact, SourceConfig, Unit, load_registry
from pubwatch.store import Store, upgrade
from pubwatch.types import COVERS_ALL, PORTAL, TZ, WECHAT, ListItem, Outcome, SourceResult, Status
from pubwatch.workdays import WorkCalendar

from conftest import TEST_AS_OF, _reset_pg

W47 = Period.parse("2026-W47")
PAST_WEEKS = [Period.parse(f"2026-W{n}") for n in range(39, 47)]       # the 8 closed weeks before W47


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def crawled(request, demo_portal, tmp_path_factory):
    """The demo registry crawled once (per backend, for this module) at the demo's Friday, ten weeks
    of history picked up. Tests only evaluate, which is idempotent, so they can share it."""
    tmp = tmp_path_factory.mktemp("backfill")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'pubwatch.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    upgrade(url)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in demo_portal.env().items():
            mp.setenv(k, v)
        mp.setenv("PUBWATCH_VAR_DIR", str(tmp / "var"))
        registry = load_registry()
        store = Store(url)
        crawl_demo(store, registry, since=(TEST_AS_OF - timedelta(days=75)).date())
        rt = Runtime(url)
        rt.__dict__["registry"] = registry
        yield store, rt
        store.close()


def crawl_demo(store: Store, registry, **kw) -> None:
    """Every unit of `registry` crawled once at the demo Friday (TEST_AS_OF)."""
    store.sync_units(registry.units)
    fetcher = Fetcher(FetchSettings.from_mapping(registry.settings["fetch"]))
    try:
        for unit in registry.units:
            crawl_unit(store, unit, fetcher=fetcher, now=TEST_AS_OF, run_id="test", **kw)
    finally:
        fetcher.close()


def snapshot(store: Store, periods) -> list[tuple]:
    return sorted((r.unit_id, r.channel, r.period, r.rule, r.status, r.count, r.required, r.reason,
                   repr(sorted(r.evidence.items())), r.deadline)
                  for p in periods for r in store.evaluations(p.key))


def test_eight_weeks_in_random_order_twice_identical_no_duplicates(crawled):
    store, rt = crawled
    posts_before = store.counts()["posts"]
    results = []
    for seed in (1, 2):
        for p in random.Random(seed).sample(PAST_WEEKS, len(PAST_WEEKS)):
            run_evaluate(rt, p.key, as_of=TEST_AS_OF)
        results.append(snapshot(store, PAST_WEEKS))
    assert results[0] == results[1]
    keys = [(r[0], r[1], r[2], r[3]) for r in results[0]]
    assert len(keys) == len(set(keys))
    assert store.counts()["posts"] == posts_before                   # evaluating never writes posts
    weekly = {(r[0], r[1], r[2]): r[4] for r in results[0] if r[3] == "weekly"}
    # the demo's scenarios, week by week
    assert all(weekly[("jyj", c, p.key)] == "met" for c in (PORTAL, WECHAT) for p in PAST_WEEKS)
    assert weekly[("wjw", PORTAL, "2026-W46")] == "missed" and weekly[("wjw", PORTAL, "2026-W45")] == "met"
    assert [weekly[("czj", PORTAL, f"2026-W{n}")] for n in (43, 44, 45, 46)] == ["met", "missed", "missed", "missed"]
    assert weekly[("hbj", PORTAL, "2026-W46")] == "met"


def test_unknown_is_never_missed_and_never_extends_a_streak(crawled):
    store, rt = crawled
    for p in PAST_WEEKS:
        run_evaluate(rt, p.key, as_of=TEST_AS_OF)
    rows = [r for p in PAST_WEEKS for r in store.evaluations(p.key)]
    for uid in ("gaj", "sjj"):                   # portal down / behind a WAF for the whole crawl
        portal = [r for r in rows if r.unit_id == uid and r.channel == PORTAL]
        assert portal and all(r.status == "unknown" for r in portal), [(r.rule, r.status) for r in portal]
        assert all("无法核实" in r.reason for r in portal)
    units = rt.registry.units
    s = streaks(store, units, PAST_WEEKS[-1])
    assert s.get(("gaj", PORTAL), 0) == 0 and s.get(("sjj", PORTAL), 0) == 0
    assert s[("czj", PORTAL)] == 3


def test_unit_that_joined_later_is_exempt_before(crawled):
    store, rt = crawled
    lqz = rt.registry.unit("lqz")
    assert lqz.start_date == W47.start
    for p in PAST_WEEKS + [W47]:
        run_evaluate(rt, p.key, as_of=TEST_AS_OF, unit_ids=["lqz"])
    before = [r for p in PAST_WEEKS for r in store.evaluations(p.key, ["lqz"])]
    assert before and all(r.status == "exempt" and "纳入监管" in r.reason for r in before)
    joined = {(r.channel, r.rule): r.status for r in store.evaluations(W47.key, ["lqz"])}
    assert joined[(PORTAL, "weekly")] == "met" and joined[(WECHAT, "weekly")] == "met"
    october = run_evaluate(rt, "2026-10", as_of=TEST_AS_OF, unit_ids=["lqz"])
    assert october and all(v.status is Status.EXEMPT for v in october)


def test_month_quarter_and_year_periods(crawled, tmp_path, monkeypatch):
    """Periods other than weeks: monthly quotas; quarterly / yearly policies when configured."""
    store, rt = crawled
    month = run_evaluate(rt, "2026-11", as_of=TEST_AS_OF)
    assert {v.rule for v in month} >= {"monthly_quota"}
    assert {v.period for v in month} == {"2026-11"}
    assert len({(v.unit_id, v.channel, v.rule) for v in month}) == len(month)
    # The shipped policies have no quarterly or yearly rule: such periods evaluate to nothing, quietly.
    assert run_evaluate(rt, "2026-Q4", as_of=TEST_AS_OF) == []
    # An office that configures them gets verdicts (count per quarter / per year).
    pol = tmp_path / "policies.yaml"
    extra = ("  quarterly_quota: {kind: monthly_quota, period: quarter, min_posts: 20, scope: unit}\n"
             "  yearly_quota: {kind: monthly_quota, period: year, min_posts: 60, scope: channel}\n")
    shipped = rules.DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
    pol.write_text(shipped.replace("\ncategories:", "\n" + extra + "categories:", 1), encoding="utf-8")
    monkeypatch.setenv("PUBWATCH_POLICIES", str(pol))
    rt2 = Runtime(rt.db_url)
    rt2.__dict__["registry"] = rt.registry
    quarter = run_evaluate(rt2, "2026-Q4", as_of=TEST_AS_OF)
    year = run_evaluate(rt2, "2026", as_of=TEST_AS_OF)
    assert quarter and {v.period for v in quarter} == {"2026-Q4"}
    assert year and {v.period for v in year} == {"2026"}
    jyj_q = [v for v in quarter if v.unit_id == "jyj"]
    assert jyj_q and jyj_q[0].count >= 10                              # Oct 1 - Nov 20 on both channels
    assert store.evaluations("2026-Q4") and store.evaluations("2026")


# ------------------------------------------------------------------------------ old vs new post path
def _scale_units(n: int) -> list[Unit]:
    contacts = (Contact("leader", "甲", email="a@example.org"), Contact("staff", "乙", email="b@example.org"))
    out = []
    for i in range(n):
        uid = f"s{i}"
        out.append(Unit(uid, f"单位{i}", ("department", "town", "institution", "party")[i % 4], contacts, (
            SourceConfig(f"{uid}.portal.gzdt", uid, PORTAL, "portal", "工作动态", f"http://p/{uid}/gzdt/"),
            SourceConfig(f"{uid}.portal.tzgg", uid, PORTAL, "portal", "通知公告", f"http://p/{uid}/tzgg/",
                         column_type="notice"),
            SourceConfig(f"{uid}.wechat.rss", uid, WECHAT, "rss", f"公众号{i}", f"http://r/{uid}"),
            SourceConfig(f"{uid}.wechat.api", uid, WECHAT, "wechat_api", f"公众号{i}", ""))))
    return out


def _seed_random_history(store: Store, units: list[Unit], rnd: random.Random) -> None:
    """Two years of sparse, bursty posts with back-dated ones, pinned ones and WeChat articles seen
    by both sources (same title and day, different URLs); weekly OK attempts, some failures."""
    store.sync_units(units)
    start = datetime(2024, 10, 1, tzinfo=TZ)
    for unit in units:
        quiet = rnd.random() < 0.3
        for src in unit.sources:
            items, suspicious = [], []
            for k in range(rnd.randrange(0, 40)):
                span = 700 if not quiet else 400
                t = start + timedelta(days=rnd.randrange(span), hours=rnd.randrange(8, 20), minutes=rnd.choice((0, 30)))
                title = f"{unit.name}文{rnd.randrange(12)}" if src.channel == WECHAT else f"{src.name}{k}"
                it = ListItem(title, f"{src.url or 'http://api/' + unit.id}/{k}-{rnd.randrange(10**6)}.html", t,
                              pinned=rnd.random() < 0.03)
                items.append(it)
                if rnd.random() < 0.15:
                    suspicious.append(it.url)
            at = datetime(2026, 11, 23, 6, 30, tzinfo=TZ)
            a = store.start_attempt(src, started_at=at, run_id="seed")
            store.upsert_posts(src, items, seen_at=at, attempt_id=a)
            outcome = Outcome.UNREACHABLE if rnd.random() < 0.1 else Outcome.OK
            store.finish_attempt(a, src, SourceResult(outcome, items), finished_at=at, items_new=len(items),
                                 covered_from=COVERS_ALL)
            if suspicious:
                from sqlalchemy import update

                from pubwatch.store.models import Post
                with store.Session.begin() as s:
                    s.execute(update(Post).where(Post.url.in_(suspicious)).values(date_suspicious=True))


def test_history_tail_gives_the_same_verdicts_as_the_full_look_back(store, tmp_path):
    units = _scale_units(40)
    _seed_random_history(store, units, random.Random(7))
    for count_suspicious in (True, False):
        _compare_paths(store, units, count_suspicious, tmp_path)


def _compare_paths(store: Store, units: list[Unit], count_suspicious: bool, tmp_path) -> None:
    text = rules.DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
    text = text.replace("count_suspicious: true ", f"count_suspicious: {str(count_suspicious).lower()} ")
    text = text.replace("enabled: false", "enabled: true")                  # rolling_window and max_gap too
    pol_path = tmp_path / "p.yaml"
    pol_path.write_text(text, encoding="utf-8")
    policies, cal = rules.load_policies(pol_path), WorkCalendar()
    periods = [Period.parse(k) for k in ("2026-W47", "2026-W40", "2026-W05", "2025-W27", "2026-11", "2026-02",
                                         "2025-07", "2026-Q4", "2026")]
    for period in periods:
        as_of = period.end_dt + timedelta(days=2)
        p_from, p_to = rules.post_window(period, policies)
        a_from, a_to = rules.attempt_window(period, as_of, policies)
        ids = [u.id for u in units]
        full = store.post_facts(ids, p_from, p_to)
        tail = store.rule_post_facts(ids, p_from, max(p_from, recent_from(period, policies)), p_to)
        attempts = store.attempt_facts(ids, a_from, a_to)
        for unit in units:
            old = rules.evaluate_unit(unit, period, full.get(unit.id, []), attempts.get(unit.id, []), as_of=as_of,
                                      policies=policies, calendar=cal)
            new = rules.evaluate_unit(unit, period, tail.get(unit.id, []), attempts.get(unit.id, []), as_of=as_of,
                                      policies=policies, calendar=cal)
            assert new == old, (period.key, unit.id)
        if period.kind == "week":
            assert sum(map(len, tail.values())) < sum(map(len, full.values()))


def test_tail_falls_back_to_full_history_when_dedupe_hides_every_recent_post(store):
    """Two WeChat sources saw one article; the earlier copy is flagged suspicious, so the dedupe
    keeps the suspicious one and no non-suspicious post survives in the tail: fetch everything."""
    unit = _scale_units(1)[0]
    store.sync_units([unit])
    rss, api = unit.sources_of(WECHAT)
    at = datetime(2026, 11, 23, 6, 30, tzinfo=TZ)
    old_post = ListItem("旧文", "http://r/s0/old.html", datetime(2026, 3, 2, 9, tzinfo=TZ))
    twin_a = ListItem("同一篇", "http://api/s0/a.html", datetime(2026, 6, 1, 9, tzinfo=TZ))
    twin_b = ListItem("同一篇", "http://r/s0/b.html", datetime(2026, 6, 1, 10, tzinfo=TZ))
    store.upsert_posts(rss, [old_post, twin_b], seen_at=at, attempt_id=None)
    store.upsert_posts(api, [twin_a], seen_at=at, attempt_id=None)
    from sqlalchemy import update

    from pubwatch.store.models import Post
    with store.Session.begin() as s:
        s.execute(update(Post).where(Post.url == twin_a.url).values(date_suspicious=True))
    period = Period.parse("2026-W47")
    start = period.start_dt - timedelta(days=730)
    tail = store.rule_post_facts([unit.id], start, period.start_dt, period.end_dt)[unit.id]
    assert {p.url for p in tail} == {old_post.url, twin_a.url, twin_b.url}


def test_tail_gives_a_wechat_account_whole_days_whatever_the_portal_columns_hold(store):
    """The tail is cut per portal column and per WeChat account: a column whose last post is months
    old must not drag a partial day of older WeChat posts into the account's tail (the same-title
    dedupe across two bridges decides on whole days)."""
    unit = _scale_units(1)[0]
    store.sync_units([unit])
    gzdt = unit.sources_of(PORTAL)[0]
    rss, api = unit.sources_of(WECHAT)
    at = datetime(2026, 11, 23, 6, 30, tzinfo=TZ)
    store.upsert_posts(gzdt, [ListItem("旧动态", "http://p/s0/gzdt/1.html", datetime(2026, 3, 2, 9, tzinfo=TZ))],
                       seen_at=at, attempt_id=None)
    day_before = [ListItem("前一天早", "http://r/s0/a.html", datetime(2026, 11, 9, 8, tzinfo=TZ)),
                  ListItem("前一天晚", "http://r/s0/b.html", datetime(2026, 11, 9, 20, tzinfo=TZ))]
    latest = ListItem("最近一篇", "http://r/s0/c.html", datetime(2026, 11, 10, 12, tzinfo=TZ))
    store.upsert_posts(rss, day_before + [latest], seen_at=at, attempt_id=None)
    store.upsert_posts(api, [ListItem("最近一篇", "http://api/s0/c.html", datetime(2026, 11, 10, 12, tzinfo=TZ))],
                       seen_at=at, attempt_id=None)
    period = Period.parse("2026-W47")
    tail = store.rule_post_facts([unit.id], period.start_dt - timedelta(days=730), period.start_dt,
                                 period.end_dt)[unit.id]
    wechat = sorted(p.title for p in tail if p.channel == WECHAT)
    assert wechat == ["最近一篇", "最近一篇"]                        # whole day 11-10 only, nothing of 11-09
    assert [p.title for p in tail if p.channel == PORTAL] == ["旧动态"]
