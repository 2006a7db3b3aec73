"""The "wechat_api" source against the fake official API (real HTTP on 127.0.0.1)."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

import pytest

from pubwatch.demo.fake_wechat import FakeArticle, FakeWeChatAPI, fake_article_url
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.registry import SourceConfig
from pubwatch.sources import CrawlContext
from pubwatch.sources.wechat.api import WeChatApiSource, clear_token_cache
from pubwatch.types import TZ, Outcome

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=TZ)
APPID, SECRET = "wx1234567890abcdef", "s3cr3t-appsecret-0123456789"


def articles(n: int, *, multi_every: int = 0) -> list[FakeArticle]:
    """n publishes, one a day going back from NOW; every `multi_every`-th has two articles."""
    out = []
    for k in range(n):
        titles = [f"第{k}次发布 工作动态"] + ([f"第{k}次发布 副条"] if multi_every and k % multi_every == 0 else [])
        out.append(FakeArticle(titles=titles, published=NOW - timedelta(days=k, hours=3), article_id=f"A{k:03d}"))
    return out


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def fetcher():
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, retries=0, timeout=5)) as f:
        yield f


def make(base: str, **options) -> WeChatApiSource:
    opts = {"conn_id": "wechat_jyj", "busy_backoff": 0, **options}
    return WeChatApiSource(SourceConfig(id="jyj.wechat.api", unit_id="jyj", channel="wechat", type="wechat_api",
                                        name="某某县教育局", url=base, options=opts))


def secrets(conn_id: str) -> dict:
    assert conn_id == "wechat_jyj"
    return {"login": APPID, "password": SECRET, "extra": {}}


def run(api: FakeWeChatAPI, fetcher, since: date | None = None, **options):
    with api.serve() as base:
        src = make(base, **options)
        return src.fetch(CrawlContext(fetcher=fetcher, now=NOW, since=since, get_secret=secrets))


def fake(arts=None) -> FakeWeChatAPI:
    return FakeWeChatAPI(arts if arts is not None else articles(30, multi_every=5), appid=APPID, secret=SECRET)


def batch_calls(api: FakeWeChatAPI) -> list[dict]:
    return [b for (m, p), b in zip(api.calls, api.bodies) if p == "/cgi-bin/freepublish/batchget"]


def test_happy_path_pages_until_since(fetcher):
    api = fake()
    res = run(api, fetcher, since=date(2026, 2, 20), page_size=5)
    assert res.outcome is Outcome.OK, res.message
    calls = batch_calls(api)
    assert [c["offset"] for c in calls] == [0, 5, 10, 15]           # page 4 is wholly older than since
    assert all(c["count"] == 5 and c["no_content"] == 1 for c in calls)
    assert api.calls[0] == ("POST", "/cgi-bin/stable_token")
    # every news_item is a post: 20 publishes read, 4 of them with two articles
    assert len(res.items) == 20 + 4 and res.pages == 4
    first = res.items[0]
    assert first.title == "第0次发布 工作动态" and first.published == NOW - timedelta(hours=3)
    assert first.url.startswith("https://mp.weixin.qq.com/s?__biz=") and "chksm" not in first.url
    assert first.published.tzinfo is TZ


def test_reads_to_total_without_since(fetcher):
    res = run(fake(articles(7)), fetcher)
    assert res.outcome is Outcome.OK and len(res.items) == 7 and res.pages == 1
    assert res.state["total_count"] == 7


def test_token_is_cached_across_fetches(fetcher):
    api = fake(articles(3))
    with api.serve() as base:
        for _ in range(3):
            assert make(base).fetch(CrawlContext(fetcher=fetcher, now=NOW, get_secret=secrets)).outcome is Outcome.OK
    assert sum(1 for _, p in api.calls if "token" in p) == 1


def test_token_expiry_mid_paging_refreshes_once(fetcher):
    api = fake()
    api.expire_token_after = 2          # the third batchget with the first token answers 42001
    res = run(api, fetcher, since=date(2026, 2, 20), page_size=5)
    assert res.outcome is Outcome.OK, res.message
    assert len(res.items) == 24
    assert [p for _, p in api.calls].count("/cgi-bin/stable_token") == 2
    offsets = [c["offset"] for c in batch_calls(api)]
    assert offsets == [0, 5, 10, 10, 15]                              # page 3 retried with the new token


def test_token_rejected_twice_is_a_source_error(fetcher):
    api = fake()
    api.expire_token_after = 0
    res = run(api, fetcher)
    assert res.outcome is Outcome.SOURCE_ERROR and "42001" in res.message


@pytest.mark.parametrize("errcode,outcome,message", [
    (45009, Outcome.SOURCE_ERROR, "接口调用次数超限(45009), 明日自动重试"),
    (40164, Outcome.SOURCE_ERROR, "服务器IP不在公众号白名单(40164), 请在公众号后台把 203.0.113.7 加入IP白名单"),
    (48001, Outcome.SOURCE_ERROR, "公众号未认证或无此接口权限(48001)"),
    (40013, Outcome.CONFIG_ERROR, None),
])
def test_errcodes_become_honest_outcomes(fetcher, errcode, outcome, message):
    api = fake()
    api.queued_errors = [errcode]
    res = run(api, fetcher)
    assert res.outcome is outcome and res.items == []
    assert res.message == message if message else str(errcode) in res.message
    assert len(batch_calls(api)) == 1                   # not retried


def test_quota_mid_paging_keeps_what_was_read(fetcher):
    api = fake()
    api.errors_at = {3: 45009}
    res = run(api, fetcher, since=date(2026, 1, 1), page_size=5)
    assert res.outcome is Outcome.SOURCE_ERROR and "45009" in res.message
    assert len(res.items) == 12 and res.pages == 2 and "已保留" in res.message


def test_busy_is_retried_then_succeeds(fetcher):
    api = fake(articles(3))
    api.queued_errors = [-1, -1]
    res = run(api, fetcher, busy_retries=2)
    assert res.outcome is Outcome.OK and len(res.items) == 3
    assert len(batch_calls(api)) == 3


def test_busy_that_persists_is_a_source_error(fetcher):
    api = fake(articles(3))
    api.queued_errors = [-1, -1, -1, -1]
    res = run(api, fetcher, busy_retries=2)
    assert res.outcome is Outcome.SOURCE_ERROR and "微信系统繁忙(-1)" in res.message
    assert len(batch_calls(api)) == 3


def test_wrong_secret_is_a_config_error_and_never_leaks(fetcher, caplog):
    api = FakeWeChatAPI(articles(3), appid=APPID, secret="the-real-one")
    caplog.set_level(logging.DEBUG)
    res = run(api, fetcher)
    assert res.outcome is Outcome.CONFIG_ERROR and "40125" in res.message
    blob = res.message + json.dumps(res.state) + caplog.text
    assert SECRET not in blob


def test_stable_token_missing_falls_back_to_get_token(fetcher, caplog):
    api = fake(articles(2))
    api.stable_token_enabled = False
    caplog.set_level(logging.DEBUG)
    res = run(api, fetcher)
    assert res.outcome is Outcome.OK and len(res.items) == 2
    assert ("GET", "/cgi-bin/token") in api.calls
    assert SECRET not in caplog.text and "TOKEN_" not in caplog.text + res.message


def test_access_token_never_in_messages(fetcher):
    api = fake()
    api.queued_errors = [99999]
    res = run(api, fetcher)
    assert res.outcome is Outcome.SOURCE_ERROR and "99999" in res.message
    assert "TOKEN_" not in res.message and SECRET not in res.message


def test_missing_credentials_are_config_errors(fetcher):
    api = fake(articles(1))
    with api.serve() as base:
        src = make(base)
        no_lookup = src.fetch(CrawlContext(fetcher=fetcher, now=NOW))
        empty = src.fetch(CrawlContext(fetcher=fetcher, now=NOW, get_secret=lambda c: {"login": APPID}))

        def boom(conn_id):
            raise KeyError(f"connection {conn_id} not found ({SECRET})")
        failing = src.fetch(CrawlContext(fetcher=fetcher, now=NOW, get_secret=boom))
    assert {no_lookup.outcome, empty.outcome, failing.outcome} == {Outcome.CONFIG_ERROR}
    assert SECRET not in failing.message and "找不到连接 wechat_jyj" in failing.message
    assert not api.calls


def test_api_unreachable(fetcher):
    from httpfaults import closed_port
    src = make(f"http://127.0.0.1:{closed_port()}")
    res = src.fetch(CrawlContext(fetcher=fetcher, now=NOW, get_secret=secrets))
    assert res.outcome is Outcome.UNREACHABLE and SECRET not in res.message


def test_deleted_news_items_are_not_posts(fetcher):
    arts = [FakeArticle(titles=["保留", "已删除"], published=NOW - timedelta(hours=1), deleted=(1,))]
    res = run(fake(arts), fetcher)
    assert [i.title for i in res.items] == ["保留"]


def test_edited_post_listed_twice_is_one_post(fetcher):
    url = fake_article_url("same")
    arts = [FakeArticle(titles=["修改后的标题"], published=NOW - timedelta(hours=1), urls=[url + "&scene=1"]),
            FakeArticle(titles=["原标题"], published=NOW - timedelta(hours=5), urls=[url])]
    from pubwatch.sources.wechat import merge_items
    res = run(fake(arts), fetcher)
    merged = merge_items([res.items])
    assert len(merged) == 1
    assert merged[0].title == "修改后的标题" and merged[0].published == NOW - timedelta(hours=5)


def test_two_sources_of_one_account_merge_to_each_post_once(fetcher):
    """The API lists 发布 posts, a WeRead bridge lists 群发 posts; one post is in both (the API
    with its /s?__biz link, the bridge with a /s/<id> short link)."""
    from httpfaults import FaultServer

    from pubwatch.demo.fake_wechat import render_feed
    from pubwatch.sources.wechat import merge_items
    from pubwatch.sources.wechat.rss import RssSource

    api_arts = [FakeArticle(titles=[f"发布{k}"], published=NOW - timedelta(days=k, hours=2), article_id=f"P{k}")
                for k in range(3)]
    shared = FakeArticle(titles=["两边都有的一篇"], published=NOW - timedelta(days=1, hours=7), article_id="S")
    api = fake(api_arts + [shared])
    bridge_posts = [{"title": f"群发{k}", "url": f"https://mp.weixin.qq.com/s/Mass{k}xxxxxxxxxxxxxxxx",
                     "published": NOW - timedelta(days=k, hours=5)} for k in range(3)]
    bridge_posts.append({"title": "两边都有的一篇", "url": "https://mp.weixin.qq.com/s/SharedShortLink000000",
                         "published": shared.published.replace(second=30)})
    with FaultServer() as srv, api.serve() as base:
        srv.route("/feed.xml", body=render_feed("wechat2rss", "某某县教育局", bridge_posts, NOW),
                  headers={"Content-Type": "application/rss+xml"})
        feed_src = RssSource(SourceConfig(id="jyj.wechat.rss", unit_id="jyj", channel="wechat", type="rss",
                                          name="某某县教育局", url=srv.url("/feed.xml")))
        ctx = CrawlContext(fetcher=fetcher, now=NOW, since=date(2026, 2, 20), get_secret=secrets)
        from_api = make(base).fetch(ctx)
        from_feed = feed_src.fetch(ctx)
    assert from_api.outcome is Outcome.OK and from_feed.outcome is Outcome.OK
    assert len(from_api.items) == 4 and len(from_feed.items) == 4
    merged = merge_items([from_api.items, from_feed.items])
    assert len(merged) == 7
    both = [m for m in merged if m.title == "两边都有的一篇"]
    assert len(both) == 1 and both[0].url.startswith("https://mp.weixin.qq.com/s?__biz=")
    assert both[0].published == shared.published
    # merging again (e.g. the next crawl) changes nothing
    assert merge_items([merged, from_feed.items]) == merged


def test_ip_whitelist_on_the_token_call_does_not_fall_back(fetcher):
    api = fake()
    api.token_errors = [40164]
    res = run(api, fetcher)
    assert res.outcome is Outcome.SOURCE_ERROR and "203.0.113.7" in res.message
    assert [p for _, p in api.calls] == ["/cgi-bin/stable_token"]
