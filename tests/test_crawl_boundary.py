"""What a crawl stores is clean, and one source's trouble stays that source's (#19.3):
- titles lose NUL, other control characters and bidi overrides before storage (PostgreSQL refuses
  U+0000 in text: one bad title used to fail the unit's whole crawl, on every run);
- only http(s) links are stored; javascript:/data: items are dropped and the read says so;
- a store error on one source is that source's failed read; the unit's other sources go on;
- an attempt left "running" by a crash is closed as interrupted by the next run."""
from datetime import datetime, timedelta

import pubwatch.crawl as crawl_mod
from pubwatch.crawl import crawl_unit
from pubwatch.store.models import CrawlAttempt, Post
from pubwatch.registry import parse_registry
from pubwatch.types import TZ, ListItem, Outcome, SourceResult

REG = parse_registry({"units": [{
    "id": "jyj", "name": "县教育局", "category": "department",
    "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
    "portal": {"columns": [{"id": "gzdt", "url": "https://www.example.gov.cn/jyj/gzdt/"},
                           {"id": "tzgg", "url": "https://www.example.gov.cn/jyj/tzgg/"}]},
    "wechat": {"account": "县教育局", "sources": [{"type": "rss", "url": "https://rss.example.cn/jyj.xml"}]}}]})
UNIT = REG.units[0]
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=TZ)


class Scripted:
    """A source whose fetch returns what the test says (the crawl, store and attempts are real)."""

    answers: dict = {}

    def __init__(self, cfg):
        self.cfg = cfg

    def fetch(self, ctx):
        return self.answers[self.cfg.id]


def ok(*items):
    return SourceResult(Outcome.OK, list(items), requests=1, pages=1)


def item(title, url, days=1):
    return ListItem(title, url, T0 - timedelta(days=days))


def attempts(store):
    with store.Session() as s:
        return {a.source_id: a for a in s.query(CrawlAttempt).order_by(CrawlAttempt.id)}


def test_dirty_titles_and_links_are_cleaned_before_storage(store, monkeypatch):
    col, notice, feed = (s.id for s in UNIT.sources)
    Scripted.answers = {
        col: ok(item("县教育局\x00召开\u202e会议\u202c", "https://www.example.gov.cn/jyj/gzdt/1.html"),
                item("点我", "java\tscript:alert(1)"), item("数据", "data:text/html;base64,PHNjcmlwdD4=")),
        notice: ok(item("通知\x07公告", "https://www.example.gov.cn/jyj/tzgg/1.html")),
        feed: ok(item("公众号\x1b[31m文章", " https://mp.weixin.qq.com/s/abc\n")),
    }
    monkeypatch.setattr(crawl_mod, "make_source", Scripted)
    store.sync_units(REG.units)
    report = crawl_unit(store, UNIT, fetcher=None, now=T0)
    assert [s.outcome for s in report.sources] == ["ok", "ok", "ok"]
    assert "2条的链接不是 http(s) 地址, 已忽略" in report.sources[0].message
    with store.Session() as s:
        posts = {p.url: p.title for p in s.query(Post)}
    assert posts == {"https://www.example.gov.cn/jyj/gzdt/1.html": "县教育局召开会议",
                     "https://www.example.gov.cn/jyj/tzgg/1.html": "通知公告",
                     "https://mp.weixin.qq.com/s/abc": "公众号[31m文章"}


def test_a_store_error_is_that_sources_failed_read_only(store, monkeypatch):
    col, notice, feed = (s.id for s in UNIT.sources)
    Scripted.answers = {col: ok(item("甲", "https://www.example.gov.cn/jyj/gzdt/1.html")),
                        notice: ok(item("乙", "https://www.example.gov.cn/jyj/tzgg/1.html")),
                        feed: ok(item("丙", "https://mp.weixin.qq.com/s/abc"))}
    monkeypatch.setattr(crawl_mod, "make_source", Scripted)
    real = store.upsert_posts

    def flaky(source, items, **kw):
        if source.id == notice:
            raise RuntimeError("value too long for type character varying(10)")
        return real(source, items, **kw)

    monkeypatch.setattr(store, "upsert_posts", flaky)
    store.sync_units(REG.units)
    report = crawl_unit(store, UNIT, fetcher=None, now=T0)
    assert [s.outcome for s in report.sources] == ["ok", "source_error", "ok"]
    assert "保存失败" in report.sources[1].message
    recorded = attempts(store)
    assert recorded[notice].outcome == "source_error" and recorded[col].outcome == "ok"
    assert all(a.outcome != "running" for a in recorded.values())


def test_an_attempt_left_running_by_a_crash_is_closed_by_the_next_run(store, monkeypatch):
    col, notice, feed = (s.id for s in UNIT.sources)
    store.sync_units(REG.units)
    crashed = store.start_attempt(UNIT.sources[0], started_at=T0, run_id="killed")   # never finished
    Scripted.answers = {sid: ok() for sid in (col, notice, feed)}
    monkeypatch.setattr(crawl_mod, "make_source", Scripted)
    crawl_unit(store, UNIT, fetcher=None, now=T0 + timedelta(minutes=10))            # a parallel run: leave it
    with store.Session() as s:
        assert s.get(CrawlAttempt, crashed).outcome == "running"
    crawl_unit(store, UNIT, fetcher=None, now=T0 + timedelta(hours=3))
    with store.Session() as s:
        row = s.get(CrawlAttempt, crashed)
    assert row.outcome == Outcome.INTERRUPTED.value and "退出" in row.message and row.finished_at is not None
