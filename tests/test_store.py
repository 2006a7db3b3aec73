"""The tracking store on SQLite and PostgreSQL: migrations, post upserts, attempts, verdicts, ledger."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pubwatch.store.models import Post
from pubwatch.notices.ledger import DEAD, FAILED, SENDING, SENT, Ledger, NoticeKey
from pubwatch.registry import parse_registry
from pubwatch.store import Store, upgrade
from pubwatch.types import TZ, ListItem, Outcome, SourceResult, Status, Verdict

REG = parse_registry({"units": [{
    "id": "jyj", "name": "县教育局", "category": "department",
    "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
    "portal": {"columns": [{"id": "gzdt", "url": "https://www.example.gov.cn/jyj/gzdt/"}]},
    "wechat": {"account": "县教育局", "sources": [{"type": "rss", "url": "https://rss.example.cn/jyj.xml"}]}}]})
UNIT = REG.units[0]
COLUMN = UNIT.sources_of("portal")[0]
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)


def items(n, start=0):
    return [ListItem(title=f"标题{i}", url=f"https://www.example.gov.cn/jyj/gzdt/t{i}.html",
                     published=T0 - timedelta(days=i)) for i in range(start, start + n)]


def test_upgrade_is_idempotent(db_url):
    upgrade(db_url)
    upgrade(db_url)
    assert Store(db_url).counts()["posts"] == 0


def test_posts_are_upserted_never_duplicated_never_lost(store):
    store.sync_units(REG.units)
    a1 = store.start_attempt(COLUMN, started_at=T0, run_id="r1")
    assert store.upsert_posts(COLUMN, items(5), seen_at=T0, attempt_id=a1) == 5
    store.finish_attempt(a1, COLUMN, SourceResult(Outcome.OK, items(5)), finished_at=T0, items_new=5)
    later = T0 + timedelta(days=1)
    a2 = store.start_attempt(COLUMN, started_at=later, run_id="r2")
    edited = [ListItem(title="标题0(更新)", url=items(1)[0].url, published=T0)]
    assert store.upsert_posts(COLUMN, edited + items(3, start=5), seen_at=later, attempt_id=a2) == 3
    assert store.counts()["posts"] == 8
    facts = store.post_facts(["jyj"], T0 - timedelta(days=30), T0 + timedelta(days=1))["jyj"]
    assert len(facts) == 8
    first = next(f for f in facts if f.url.endswith("t0.html"))
    assert first.title == "标题0(更新)"
    assert first.first_seen == T0            # re-crawls never move first-seen
    mem = store.source_memory(COLUMN)
    assert len(mem.known_urls) == 8 and mem.previous_items == 5


def test_parallel_upserts_of_the_same_posts_insert_once(store):
    store.sync_units(REG.units)
    errors = []

    def run():
        try:
            s = Store(engine=store.engine)
            s.upsert_posts(COLUMN, items(20), seen_at=T0, attempt_id=None)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert store.counts()["posts"] == 20


def test_attempts_keep_outcome_and_message(store):
    store.sync_units(REG.units)
    a = store.start_attempt(COLUMN, started_at=T0, run_id="r")
    store.finish_attempt(a, COLUMN, SourceResult(Outcome.HTTP_ERROR, message="HTTP 503", http_status=503,
                                                 requests=3), finished_at=T0 + timedelta(seconds=2), items_new=0)
    facts = store.attempt_facts(["jyj"], T0 - timedelta(hours=1), T0 + timedelta(hours=1))["jyj"]
    assert [(f.outcome, f.message) for f in facts] == [(Outcome.HTTP_ERROR, "HTTP 503")]
    row = store.last_attempts(["jyj"])[COLUMN.id]
    assert row.last_outcome == "http_error" and row.last_ok_at is None


def test_verdicts_upsert_unique_per_unit_channel_period_rule(store):
    v = Verdict("jyj", "portal", "2026-W47", "weekly", Status.MISSED, 0, 1, "本周无更新")
    store.save_verdicts([v], as_of=T0)
    v2 = Verdict("jyj", "portal", "2026-W47", "weekly", Status.MET, 1, 1, "")
    store.save_verdicts([v2], as_of=T0)
    rows = store.evaluations("2026-W47")
    assert [(r.status, r.count) for r in rows] == [("met", 1)]
    # a rule that stopped applying is removed when the unit is re-evaluated
    store.save_verdicts([], as_of=T0, replace_units=["jyj"], period="2026-W47")
    assert store.evaluations("2026-W47") == []


def test_ledger_sends_at_most_once_and_retries_failures(store):
    ledger = Ledger(store)
    key = NoticeKey("jyj", "2026-W47", "overdue", "email")
    row = ledger.ensure(key, recipients="z@x.cn", subject="通报", run_id="r1")
    again = ledger.ensure(key, recipients="z@x.cn", subject="通报", run_id="r2")
    assert row.id == again.id and store.counts()["notices"] == 1
    assert ledger.claim(row.id) is True
    assert ledger.claim(row.id) is False          # a second worker cannot claim a row being sent
    ledger.mark_failed(row.id, "451 try later", retryable=True)
    assert [r.status for r in ledger.retryable()] == [FAILED]
    assert ledger.claim(row.id) is True
    ledger.mark_sent(row.id, "250 OK")
    assert ledger.claim(row.id) is False
    assert ledger.rows(period="2026-W47")[0].status == SENT


def test_ledger_permanent_failure_and_unconfirmed_rows(store):
    ledger = Ledger(store)
    a = ledger.ensure(NoticeKey("jyj", "2026-W47", "reminder", "wecom"), recipients="", subject="s", run_id=None)
    ledger.claim(a.id)
    ledger.mark_failed(a.id, "invalid webhook key", retryable=False)
    assert ledger.rows(period="2026-W47")[0].status == DEAD
    b = ledger.ensure(NoticeKey("czj", "2026-W47", "reminder", "email"), recipients="", subject="s", run_id=None)
    ledger.claim(b.id)   # crash: never marked
    stuck = ledger.unconfirmed(older_than=timedelta(seconds=-1))
    assert [r.id for r in stuck] == [b.id] and stuck[0].status == SENDING


def test_naive_datetimes_are_refused(store):
    store.sync_units(REG.units)
    with pytest.raises(Exception):
        store.start_attempt(COLUMN, started_at=datetime(2026, 1, 1), run_id=None)


def test_times_round_trip_as_aware_utc(store):
    store.sync_units(REG.units)
    a = store.start_attempt(COLUMN, started_at=T0, run_id=None)
    store.finish_attempt(a, COLUMN, SourceResult(Outcome.OK), finished_at=T0, items_new=0)
    f = store.attempt_facts(["jyj"], T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))["jyj"][0]
    assert f.started_at == T0 and f.started_at.tzinfo is not None
    assert f.started_at.astimezone(timezone.utc).hour == 1


def _moved(item: ListItem, url: str, published: datetime | None = None) -> ListItem:
    return ListItem(title=item.title, url=url, published=published or item.published)


def test_a_portal_moving_to_a_new_address_keeps_one_post_per_article(store):
    store.sync_units(REG.units)
    old = items(3)
    store.upsert_posts(COLUMN, old, seen_at=T0, attempt_id=None)
    later = T0 + timedelta(days=7)
    # https + a new domain + a new CMS path, and the new site shows the date without the time.
    moved = [_moved(it, f"https://jyj.example.gov.cn/xwzx/gzdt/{i}.shtml",
                    datetime.combine(it.published.date(), datetime.min.time(), TZ)) for i, it in enumerate(old)]
    fresh = ListItem("新文章", "https://jyj.example.gov.cn/xwzx/gzdt/9.shtml", later)
    assert store.upsert_posts(COLUMN, [fresh] + moved, seen_at=later, attempt_id=None) == 1
    facts = store.post_facts(["jyj"], T0 - timedelta(days=30), later + timedelta(days=1))["jyj"]
    assert sorted(p.url for p in facts) == sorted([fresh.url] + [m.url for m in moved])
    assert {p.first_seen for p in facts if p.url != fresh.url} == {T0}          # the old posts, kept
    with store.Session() as s:
        ev = s.scalar(sa.select(Post.evidence).where(Post.url == moved[0].url))
    assert ev["previous_urls"] == [old[0].url]
    # The next crawl finds them by their new URLs.
    assert store.upsert_posts(COLUMN, moved, seen_at=later, attempt_id=None) == 0


def test_look_alikes_on_one_site_or_still_listed_stay_two_posts(store):
    store.sync_units(REG.units)
    first = ListItem("关于召开工作会议的通知", "https://www.example.gov.cn/jyj/gzdt/a.html", T0)
    store.upsert_posts(COLUMN, [first], seen_at=T0, attempt_id=None)
    same_site = _moved(first, "https://www.example.gov.cn/jyj/gzdt/b.html")          # same origin
    assert store.upsert_posts(COLUMN, [same_site], seen_at=T0, attempt_id=None) == 1
    other_site = _moved(first, "https://new.example.gov.cn/c.html")
    # Both old addresses are still listed next to the new one: three different posts.
    assert store.upsert_posts(COLUMN, [first, same_site, other_site], seen_at=T0, attempt_id=None) == 1
    undated = ListItem(first.title, "https://other.example.gov.cn/d.html", None)
    assert store.upsert_posts(COLUMN, [undated], seen_at=T0, attempt_id=None) == 1
    other_day = _moved(first, "https://third.example.gov.cn/e.html", T0 + timedelta(days=1))
    assert store.upsert_posts(COLUMN, [other_day], seen_at=T0, attempt_id=None) == 1
    assert store.counts()["posts"] == 5


def test_a_new_post_keeps_what_the_source_said_about_its_date(store):
    store.sync_units(REG.units)
    it = ListItem("县教育局召开会议", "https://www.example.gov.cn/jyj/gzdt/t1.html", T0,
                  extra={"list_date": "2025-11-18T00:00:00+08:00", "article_date": T0.isoformat(),
                         "date_from": "article", "date_check": "out_of_order", "unrelated": "x"})
    assert store.upsert_posts(COLUMN, [it], seen_at=T0, attempt_id=None) == 1
    from pubwatch.store.models import Post

    with store.Session() as s:
        post = s.query(Post).one()
    assert post.evidence == {"dates": {"list_date": "2025-11-18T00:00:00+08:00", "article_date": T0.isoformat(),
                                       "date_from": "article", "date_check": "out_of_order"}}
