"""The "rss" WeChat source: bridge feeds (we-mp-rss, wechat2rss, RSSHub) over real HTTP on 127.0.0.1."""
from __future__ import annotations

import json
import resource
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from httpfaults import FaultServer, Reply, closed_port

from pubwatch.demo.fake_wechat import FEED_STYLES, fake_article_url, render_feed
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.registry import SourceConfig
from pubwatch.sources import CrawlContext
from pubwatch.sources.wechat.rss import FeedRejected, RssSource, cli_parse_feed, parse_feed
from pubwatch.types import TZ, Outcome

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=TZ)
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


@pytest.fixture
def fetcher():
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, retries=0,
                               respect_robots=False, timeout=5)) as f:
        yield f


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def rss_source(url: str, **options):
    return RssSource(SourceConfig(id="u.wechat.rss", unit_id="u", channel="wechat", type="rss",
                                    name="某某县教育局", url=url, options=options))


def ctx(fetcher, **kw):
    return CrawlContext(fetcher=fetcher, now=kw.pop("now", NOW), **kw)


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


# ---------------------------------------------------------------- parsing real bridge shapes
def test_we_mp_rss_naive_times_are_shanghai_and_duplicates_collapse():
    feed = parse_feed(fixture("we_mp_rss.xml"))
    assert feed.entries == 4
    assert [i.title for i in feed.items] == ["县教育局召开2026年春季开学工作部署会", '【安全教育】开学第一课 "安全"先行',
                                             "寒假作业展评活动圆满结束"]
    first = feed.items[0]
    assert first.published == datetime(2026, 3, 2, 18, 30, tzinfo=TZ)   # not 02:30 next day (naive ≠ UTC)
    assert feed.updated == datetime(2026, 3, 3, 8, 0, 5, tzinfo=TZ)
    undated = feed.items[2]
    assert undated.published is None and feed.undated == 1
    assert undated.url == "https://mp.weixin.qq.com/s/Zz9yXw8vU7tS6rQ5pO4nMl"   # scene/#wechat_redirect dropped


def test_wechat2rss_links_are_canonical_and_entities_unescaped():
    feed = parse_feed(fixture("wechat2rss.xml"))
    urls = [i.url for i in feed.items]
    assert urls[0] == ("https://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=1"
                       "&sn=0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert all("chksm" not in u and "#" not in u and u.startswith("https://") for u in urls)
    assert feed.items[0].title == '县卫健局开展"世界防治结核病日"宣传活动'
    assert feed.items[2].title == "县人民医院获评省级胸痛中心"          # escaped <b> tags stripped
    assert feed.items[0].published == datetime(2026, 3, 2, 20, 15, tzinfo=TZ)
    assert feed.updated == datetime(2026, 3, 3, 7, 12, 44, tzinfo=TZ)


@pytest.mark.parametrize("name", ["rsshub_wechat.xml", "rsshub_wechat.atom"])
def test_rsshub_rss_and_atom_agree(name):
    feed = parse_feed(fixture(name))
    assert [(i.title, i.published) for i in feed.items] == [
        ("民生 县民政局 走访慰问困难群众 送去温暖", datetime(2026, 3, 2, 10, 30, tzinfo=TZ)),
        ("县民政局召开养老服务工作推进会", datetime(2026, 2, 27, 16, 0, tzinfo=TZ)),
    ]
    assert feed.updated == datetime(2026, 3, 3, 9, 2, 3, tzinfo=TZ)
    assert all(i.published.tzinfo is TZ for i in feed.items)


def test_gbk_feed_with_plain_local_times():
    feed = parse_feed(fixture("gbk_feed.xml"))
    assert [(i.title, i.published) for i in feed.items] == [("乡镇动态：春耕备耕忙", datetime(2026, 3, 2, 19, 45, tzinfo=TZ))]
    assert feed.updated == datetime(2026, 3, 2, 21, 0, tzinfo=TZ)


def test_malformed_and_non_feed_documents_are_rejected():
    with pytest.raises(FeedRejected, match="不是有效的 XML"):
        parse_feed(fixture("malformed.xml"))
    with pytest.raises(FeedRejected, match="不是 RSS/Atom"):
        parse_feed(b"<html><body><h1>502 Bad Gateway</h1></body></html>")


def test_entity_expansion_feed_is_refused_without_expanding():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FeedRejected, match="实体声明"):
        parse_feed(fixture("entity_bomb.xml"))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000     # 20^6 * 69 bytes would be ~4 GB if expanded


@pytest.mark.parametrize("style", FEED_STYLES)
def test_renderers_round_trip_through_the_parser(style):
    posts = [{"title": "县局召开<b>专题</b>会议 &amp; 部署", "url": fake_article_url("p1"),
              "published": datetime(2026, 3, 2, 9, 30, tzinfo=TZ)},
             {"title": "无日期的一条", "url": "https://mp.weixin.qq.com/s/NoDate0000000000000000", "published": None}]
    feed = parse_feed(render_feed(style, "某某县教育局", posts, datetime(2026, 3, 3, 8, 0, tzinfo=TZ)))
    assert feed.updated == datetime(2026, 3, 3, 8, 0, tzinfo=TZ)
    assert [i.published for i in feed.items] == [datetime(2026, 3, 2, 9, 30, tzinfo=TZ), None]
    assert feed.items[0].url.startswith("https://mp.weixin.qq.com/s?__biz=") and "chksm" not in feed.items[0].url
    assert feed.items[0].title == "县局召开专题会议 & 部署"


# ---------------------------------------------------------------- the source over HTTP
def test_happy_path_then_conditional_get(server, fetcher):
    server.route("/feed.xml", body=fixture("wechat2rss.xml"), headers=RSS, etag='"v1"')
    src = rss_source(server.url("/feed.xml"))
    first = src.fetch(ctx(fetcher))
    assert first.outcome is Outcome.OK, first.message
    assert len(first.items) == 3 and first.pages == 1
    assert first.source_updated == datetime(2026, 3, 3, 7, 12, 44, tzinfo=TZ)
    assert first.state["etag"] == '"v1"'
    second = src.fetch(ctx(fetcher, state=first.state, previous_items=3))
    assert second.outcome is Outcome.NOT_MODIFIED and second.items == []
    assert server.hits("/feed.xml")[-1].headers.get("If-None-Match") == '"v1"'
    assert second.state == first.state and second.source_updated == first.source_updated


def test_stale_bridge_serving_an_old_feed_with_200(server, fetcher):
    server.route("/stale.xml", body=fixture("stale_we_mp_rss.xml"), headers=RSS)
    res = rss_source(server.url("/stale.xml")).fetch(ctx(fetcher))
    assert res.outcome is Outcome.STALE
    assert res.message.startswith("数据源最后更新于2026-02-23 10:00, 超过48小时未刷新, 可能登录失效")
    assert len(res.items) == 1                       # what it does list is still kept
    assert res.source_updated == datetime(2026, 2, 23, 10, 0, tzinfo=TZ)


def test_stale_threshold_is_an_option_and_a_fresh_item_is_not_stale(server, fetcher):
    server.route("/stale.xml", body=fixture("stale_we_mp_rss.xml"), headers=RSS)
    lenient = rss_source(server.url("/stale.xml"), stale_after_hours=24 * 14).fetch(ctx(fetcher))
    assert lenient.outcome is Outcome.OK
    # an old build date but a recent item: the bridge did refresh (some bridges never bump the date)
    body = render_feed("we-mp-rss", "x", [{"title": "新", "url": "https://mp.weixin.qq.com/s/Fresh1",
                                            "published": datetime(2026, 3, 3, 9, 0, tzinfo=TZ)}],
                       datetime(2026, 2, 1, 0, 0, tzinfo=TZ))
    server.route("/mixed.xml", body=body, headers=RSS)
    assert rss_source(server.url("/mixed.xml")).fetch(ctx(fetcher)).outcome is Outcome.OK


def test_stale_is_still_detected_when_the_bridge_answers_304(server, fetcher):
    server.route("/stale.xml", body=fixture("stale_we_mp_rss.xml"), headers=RSS, etag='"s1"')
    src = rss_source(server.url("/stale.xml"))
    first = src.fetch(ctx(fetcher, now=datetime(2026, 2, 23, 12, 0, tzinfo=TZ)))
    assert first.outcome is Outcome.OK
    later = src.fetch(ctx(fetcher, state=first.state, previous_items=1))
    assert later.outcome is Outcome.STALE and later.http_status == 304


def test_malformed_feed_is_parse_failed(server, fetcher):
    server.route("/bad.xml", body=fixture("malformed.xml"), headers=RSS)
    res = rss_source(server.url("/bad.xml")).fetch(ctx(fetcher))
    assert res.outcome is Outcome.PARSE_FAILED and "XML" in res.message


def test_entity_bomb_over_http_is_parse_failed(server, fetcher):
    server.route("/bomb.xml", body=fixture("entity_bomb.xml"), headers=RSS)
    res = rss_source(server.url("/bomb.xml")).fetch(ctx(fetcher))
    assert res.outcome is Outcome.PARSE_FAILED and res.items == []


def test_empty_feed_where_items_used_to_be(server, fetcher):
    body = render_feed("rsshub", "某某县", [], NOW)
    server.route("/empty.xml", body=body, headers=RSS)
    src = rss_source(server.url("/empty.xml"))
    # A brand-new account (or a bridge just set up): unproven until empty again a day later (#15).
    first = src.fetch(ctx(fetcher))
    assert first.outcome is Outcome.SUSPECT_EMPTY and "订阅源为空" in first.message
    again = src.fetch(ctx(fetcher, now=NOW + timedelta(days=1), state=first.state, previous_items=0))
    assert again.outcome is Outcome.OK and again.covered_from == NOW
    res = src.fetch(ctx(fetcher, previous_items=12))
    assert res.outcome is Outcome.PARSE_FAILED and "上次有12条" in res.message


def test_unreachable_and_http_errors_are_honest(server, fetcher):
    down = rss_source(f"http://127.0.0.1:{closed_port()}/feed.xml").fetch(ctx(fetcher))
    assert down.outcome is Outcome.UNREACHABLE and down.message
    server.route("/gone.xml", Reply(status=500, body="oops"))
    err = rss_source(server.url("/gone.xml")).fetch(ctx(fetcher))
    assert err.outcome is Outcome.HTTP_ERROR and err.http_status == 500


def test_undated_items_are_kept_with_a_note(server, fetcher):
    server.route("/f.xml", body=fixture("we_mp_rss.xml"), headers=RSS)
    res = rss_source(server.url("/f.xml")).fetch(ctx(fetcher))
    assert res.outcome is Outcome.OK and "1条没有发布时间" in res.message
    assert sum(1 for i in res.items if i.published is None) == 1


# ---------------------------------------------------------------- CLI
def test_cli_parse_feed_prints_json_lines(capsys):
    assert cli_parse_feed([str(FEEDS / "we_mp_rss.xml")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"title": "县教育局召开2026年春季开学工作部署会",
                        "url": "https://mp.weixin.qq.com/s/3Yk2aQx9_b7LmNoPqRsTuv",
                        "published": "2026-03-02T18:30:00+08:00"}
    assert lines[2]["published"] is None


def test_cli_parse_feed_errors(capsys, tmp_path):
    assert cli_parse_feed([str(FEEDS / "malformed.xml")]) == 1
    assert cli_parse_feed([str(tmp_path / "missing.xml")]) == 2
    assert "无法读取" in capsys.readouterr().err


def test_cli_output_is_utf8_not_escaped(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys; from pubwatch.sources.wechat.rss import cli_parse_feed;"
                          f"sys.exit(cli_parse_feed([{str(FEEDS / 'gbk_feed.xml')!r}]))"],
                         capture_output=True, env={"PYTHONPATH": str(Path(__file__).parents[1] / "include"),
                                                   "PYTHONIOENCODING": "utf-8"}, check=True)
    assert "春耕备耕忙".encode() in out.stdout and b"\\u" not in out.stdout


def test_entity_text_inside_an_item_is_just_text():
    body = render_feed("rsshub", "x", [{"title": "XML 教程: <!ENTITY> 是什么", "url": "https://mp.weixin.qq.com/s/Xml1",
                                        "published": NOW}], NOW)
    assert [i.title for i in parse_feed(body).items] == ["XML 教程: 是什么"]
