"""Fault injection, end to end: crawl_unit → store → evaluate_period, on SQLite and PostgreSQL.

Every scenario runs the same week (2026-W47, Mon 16 – Sun 22 November 2026) with three units:
- `good`  posts in the week → MET;
- `quiet` verified, no post in the week → MISSED (the control: the harness *can* accuse);
- `bad`   crawled fine on Wednesday (two W46 posts stored), then on Monday after the week its source
          hits the fault. It must come out UNKNOWN — never MISSED — with the honest outcome recorded,
          its Wednesday posts still stored, and the other two units unaffected. Then the site heals
          and a re-crawl stores its new post exactly once.
Real HTTP on 127.0.0.1 (tests/httpfaults.py and a raw socket server for transport-level faults),
the real fetcher, the real store.
"""
from __future__ import annotations

import gc
import html
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
import yaml

from httpfaults import RIVERS_412, FaultServer, Reply, closed_port
from pubwatch.crawl import crawl_unit
from pubwatch.evaluate import evaluate_period
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.store.models import CrawlAttempt, Post
from pubwatch.periods import Period
from pubwatch.registry import Registry, parse_registry
from pubwatch.store import Store
from pubwatch.types import TZ, Outcome, Status

W47 = Period.parse("2026-W47")
WED = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)      # a mid-week crawl that worked
MON = datetime(2026, 11, 23, 6, 30, tzinfo=TZ)      # the crawl after the week: the one that verifies it
HEAL = MON + timedelta(hours=2)
ROOT = Path(__file__).resolve().parents[1]

OLD_POSTS = [("t20261111_1", "县某局召开安全生产专题会议", datetime(2026, 11, 11, 9, tzinfo=TZ)),
             ("t20261105_2", "县某局开展政策宣讲进基层活动", datetime(2026, 11, 5, 9, tzinfo=TZ))]
NEW_POST = ("t20261119_3", "县某局召开第四季度重点工作推进会", datetime(2026, 11, 19, 9, tzinfo=TZ))


# ---------------------------------------------------------------------------------------------
# Pages, feeds, registry
# ---------------------------------------------------------------------------------------------
def list_page(posts, *, title: str = "工作动态") -> str:
    """A TRS-style column list page (title + date per row)."""
    lis = "\n".join(f'<li><a href="./{d:%Y%m}/{slug}.html" target="_blank" title="{html.escape(t)}">'
                    f"{html.escape(t)}</a><span>{d:%Y-%m-%d}</span></li>" for slug, t, d in posts)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}_某某县人民政府</title>
<meta name="ColumnName" content="{title}"></head><body>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; {title}</div>
<div class="list-right"><ul class="list">
{lis}
</ul><div class="page"><script>createPageHTML(1, 0, "index", "html");</script></div></div>
<div class="footer">主办：某某县人民政府办公室</div></body></html>"""


def rss(posts, *, built: datetime | None = None) -> str:
    built = built or max(d for _, _, d in posts)
    items = "\n".join(f"<item><title>{html.escape(t)}</title><link>https://mp.weixin.qq.com/s/{slug}</link>"
                      f"<pubDate>{format_datetime(d)}</pubDate></item>" for slug, t, d in posts)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>县某局</title>'
            f"<link>https://mp.weixin.qq.com/</link><lastBuildDate>{format_datetime(built)}</lastBuildDate>"
            f"{items}</channel></rss>")


def unit_entry(uid: str, *, portal: str | list[str] | None = None, feed: str | None = None) -> dict:
    entry = {"id": uid, "name": f"县{uid}局", "category": "department",
             "contacts": {"leader": {"name": "王建国", "email": f"leader.{uid}@county.example.gov.cn"},
                          "staff": {"name": "张丽", "email": f"xxy.{uid}@county.example.gov.cn"}}}
    if portal:
        urls = [portal] if isinstance(portal, str) else portal
        entry["portal"] = {"columns": [{"id": f"c{i}", "name": "工作动态", "url": u, "profile": "auto"}
                                       for i, u in enumerate(urls)]}
    if feed:
        entry["wechat"] = {"account": f"县{uid}局", "sources": [{"type": "rss", "url": feed}]}
    return entry


def registry(entries: list[dict]) -> Registry:
    reg = parse_registry({"units": entries})
    assert not reg.errors, reg.errors
    return reg


def fetcher(**kw) -> Fetcher:
    base = dict(allow_private=("127.0.0.1", "::1"), per_host_interval=0.0, backoff=0.01, timeout=0.6,
                retries=1, respect_robots=False, max_retry_after=2.0)
    base.update(kw)
    return Fetcher(FetchSettings(**base))


def crawl_all(store: Store, reg: Registry, now: datetime, f: Fetcher | None = None) -> dict[str, dict]:
    store.sync_units(reg.units)
    own = f is None
    f = f or fetcher()
    try:
        return {u.id: crawl_unit(store, u, fetcher=f, now=now, run_id=f"run-{now:%m%d%H%M}").to_dict()
                for u in reg.units}
    finally:
        if own:
            f.close()


def weekly(store: Store, reg: Registry, as_of: datetime) -> dict[tuple[str, str], object]:
    vs = evaluate_period(store, reg.units, W47, as_of=as_of)
    return {(v.unit_id, v.channel): v for v in vs if v.rule == "weekly"}


def post_urls(store: Store, unit_id: str) -> list[str]:
    with store.Session() as s:
        return list(s.scalars(sa.select(Post.url).where(Post.unit_id == unit_id)))


def attempts(store: Store, unit_id: str) -> list[CrawlAttempt]:
    with store.Session() as s:
        return list(s.scalars(sa.select(CrawlAttempt).where(CrawlAttempt.unit_id == unit_id)
                              .order_by(CrawlAttempt.id)))


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


# ---------------------------------------------------------------------------------------------
# Raw sockets: faults http.server cannot produce (short bodies, endless bodies)
# ---------------------------------------------------------------------------------------------
class RawServer:
    """Answers every connection with `respond(conn)` on 127.0.0.1 (one thread per connection)."""

    def __init__(self, respond: Callable[[socket.socket], None]):
        self.respond = respond
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = False

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.respond(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> "RawServer":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = True
        self.sock.close()


def short_body(conn: socket.socket) -> None:
    """Content-Length promises 20 000 bytes; the server dies after 3 000 (a crashed upstream)."""
    body = list_page([NEW_POST] + OLD_POSTS).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 20000\r\n\r\n"
                 + body[:3000])


def endless_body(conn: socket.socket) -> None:
    """A 50 MB page, generated on the fly (so the server side holds no 50 MB buffer)."""
    total = 50_000_000
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {total}\r\n\r\n"
                 .encode())
    row = ("<li><a href='./x.html'>县某局召开会议</a><span>2026-11-19</span></li>\n" * 200).encode()
    sent = 0
    while sent < total:
        piece = row[:total - sent]
        conn.sendall(piece)
        sent += len(piece)


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------
class Week:
    """good / quiet / bad units on one FaultServer; `bad` gets a fault on Monday."""

    def __init__(self, store: Store, srv: FaultServer, *, channel: str = "portal"):
        self.store, self.srv, self.channel = store, srv, channel
        self.bad_options: dict = {}          # registry options of bad's portal column (e.g. moved_to)
        srv.route("/good/", body=list_page([NEW_POST] + OLD_POSTS))
        srv.route("/quiet/", body=list_page(OLD_POSTS))
        if channel == "portal":
            srv.route("/bad/", body=list_page(OLD_POSTS))
        else:
            srv.route("/bad.xml", body=rss(OLD_POSTS, built=WED - timedelta(hours=2)),
                      headers={"Content-Type": "application/rss+xml; charset=utf-8"})

    def reg(self, bad_url: str | None = None) -> Registry:
        if self.channel == "portal":
            bad = unit_entry("bad", portal=bad_url or self.srv.url("/bad/"))
            bad["portal"]["columns"][0].update(self.bad_options)
        else:
            bad = unit_entry("bad", feed=bad_url or self.srv.url("/bad.xml"))
            bad["wechat"]["sources"][0].update(self.bad_options)
        return registry([unit_entry("good", portal=self.srv.url("/good/")),
                         unit_entry("quiet", portal=self.srv.url("/quiet/")), bad])

    def wednesday(self) -> None:
        out = crawl_all(self.store, self.reg(), WED)
        assert [s["outcome"] for u in out.values() for s in u["sources"]] == ["ok"] * 3
        assert len(post_urls(self.store, "bad")) == 2

    def monday(self, bad_url: str | None = None, f: Fetcher | None = None) -> dict:
        out = crawl_all(self.store, self.reg(bad_url), MON, f)
        return out["bad"]["sources"][0]

    def judge(self, as_of: datetime = MON + timedelta(hours=1)) -> dict:
        v = weekly(self.store, self.reg(), as_of)
        assert v[("good", "portal")].status is Status.MET
        assert v[("quiet", "portal")].status is Status.MISSED
        return v

    def heal_and_recrawl(self) -> None:
        if self.channel == "portal":
            self.srv.route("/bad/", body=list_page([NEW_POST] + OLD_POSTS))
        else:
            self.srv.route("/bad.xml", body=rss([NEW_POST] + OLD_POSTS, built=HEAL - timedelta(hours=1)),
                           headers={"Content-Type": "application/rss+xml; charset=utf-8"})
        out = crawl_all(self.store, self.reg(), HEAL)
        assert out["bad"]["sources"][0]["outcome"] == "ok"
        v = weekly(self.store, self.reg(), HEAL + timedelta(hours=1))
        assert v[("bad", self.channel)].status is Status.MET
        urls = post_urls(self.store, "bad")
        assert len(urls) == len(set(urls)) == 3, urls          # nothing lost, nothing twice


def assert_unknown_not_missed(week: Week, src: dict, outcome: Outcome, words: tuple[str, ...]) -> None:
    assert src["outcome"] == outcome.value, src
    for w in words:
        assert w in src["message"], (w, src["message"])
    v = week.judge()
    bad = v[("bad", week.channel)]
    assert bad.status is Status.UNKNOWN, bad
    assert "不作未达标处理" in bad.reason
    assert len(post_urls(week.store, "bad")) == 2              # Wednesday's posts are still there
    last = attempts(week.store, "bad")[-1]
    assert last.outcome == outcome.value and last.finished_at is not None


def test_control_a_verified_quiet_week_is_missed(store, srv):
    """Without a fault the same `bad` unit *is* missed: the fault tests below can fail."""
    week = Week(store, srv)
    week.wednesday()
    src = week.monday()
    assert src["outcome"] == "ok"
    assert week.judge()[("bad", "portal")].status is Status.MISSED


# Each: (id, install(srv) -> URL for bad on Monday (None = unchanged), expected outcome, words in message,
#        requests the server must have seen on /bad/ on Monday (None = not checked)).
FAULTS = [
    ("refused", lambda srv: f"http://127.0.0.1:{closed_port()}/bad/", Outcome.UNREACHABLE, ("连接被拒绝",), None),
    ("dns", lambda srv: "http://portal-gone.invalid/bad/", Outcome.UNREACHABLE, ("域名解析失败",), None),
    ("timeout", lambda srv: srv.route("/bad/", Reply(delay=1.2, body=list_page([NEW_POST]))),
     Outcome.UNREACHABLE, ("timeout",), 2),
    ("slow-drip", lambda srv: srv.route("/bad/", Reply(body=list_page([NEW_POST]) * 3, drip=(0.1, 200))),
     Outcome.UNREACHABLE, ("timeout",), 2),
    ("500", lambda srv: srv.route("/bad/", Reply(status=500, body="<h1>Internal Server Error</h1>")),
     Outcome.HTTP_ERROR, ("HTTP 500",), 2),
    ("502", lambda srv: srv.route("/bad/", Reply(status=502, body="<center>nginx</center>")),
     Outcome.HTTP_ERROR, ("HTTP 502",), 2),
    ("503", lambda srv: srv.route("/bad/", Reply(status=503, body="<h1>503</h1>")),
     Outcome.HTTP_ERROR, ("HTTP 503",), 2),
    ("503-retry-after", lambda srv: srv.route("/bad/", Reply(status=503, body="busy", headers={"Retry-After": "1"})),
     Outcome.HTTP_ERROR, ("HTTP 503",), 2),
    ("redirect-loop", lambda srv: (srv.route("/bad/", redirect="/bad2/"), srv.route("/bad2/", redirect="/bad/")),
     Outcome.HTTP_ERROR, ("重定向循环",), 1),
    ("redirect-to-metadata-ip", lambda srv: srv.route("/bad/", redirect="http://169.254.169.254/latest/meta-data/"),
     Outcome.CONFIG_ERROR, ("169.254.169.254", "已拒绝访问"), 1),
    ("waf-412", lambda srv: srv.route("/bad/", Reply(status=412, body=RIVERS_412)),
     Outcome.BLOCKED, ("瑞数", "白名单"), 1),
    ("layout-changed", lambda srv: srv.route("/bad/", body="<html><head><title>网站改版升级中</title></head><body>"
                                                          "<div class='notice'><p>本站正在升级改版，敬请期待。</p>"
                                                          "<a href='/'>返回首页</a></div></body></html>"),
     Outcome.PARSE_FAILED, (), 1),
    ("gzip-bomb", lambda srv: srv.route("/bad/", gzip_bomb=50_000_000), Outcome.HTTP_ERROR, ("上限",), 1),
]


@pytest.mark.parametrize("name,install,outcome,words,hits", FAULTS, ids=[f[0] for f in FAULTS])
def test_portal_fault_is_unknown_never_missed(store, srv, name, install, outcome, words, hits):
    week = Week(store, srv)
    week.wednesday()
    before = len(srv.hits("/bad/"))
    url = install(srv)
    src = week.monday(url if isinstance(url, str) else None)
    assert_unknown_not_missed(week, src, outcome, words)
    if hits is not None:
        assert len(srv.hits("/bad/")) - before == hits          # retried only when retrying can help
    week.heal_and_recrawl()


def test_transient_503_with_retry_after_recovers_within_the_run(store, srv):
    week = Week(store, srv)
    week.wednesday()
    srv.route("/bad/", [Reply(status=503, body="busy", headers={"Retry-After": "1"}),
                        Reply(body=list_page([NEW_POST] + OLD_POSTS))])
    src = week.monday()
    assert src["outcome"] == "ok" and src["requests"] == 2 and src["items_new"] == 1
    assert week.judge()[("bad", "portal")].status is Status.MET


def _moved_domain(week: Week) -> dict:
    """Wednesday on 127.0.0.1; Monday the column answers 301 to `localhost` (another server), and the
    registry names that address as the column's new one (`moved_to`: a redirect to another path is
    otherwise a failed read, #15 — see tests/test_empty_reads.py)."""
    week.wednesday()
    with FaultServer() as other:
        other.route("/new/gzdt/", body=list_page([NEW_POST] + OLD_POSTS))
        week.srv.route("/bad/", Reply(status=301, redirect=f"http://localhost:{other.port}/new/gzdt/"))
        week.bad_options = {"moved_to": f"http://localhost:{other.port}/new/gzdt/"}
        src = week.monday()
        assert len(other.hits("/new/gzdt/")) == 1
    return src


def test_redirect_to_another_host_is_followed_and_posts_kept(store, srv):
    """A portal moved to a new domain (here: `localhost` instead of 127.0.0.1, another server)."""
    week = Week(store, srv)
    src = _moved_domain(week)
    assert src["outcome"] == "ok"
    assert week.judge()[("bad", "portal")].status is Status.MET
    urls = post_urls(store, "bad")
    assert len(urls) == len(set(urls))


def test_portal_moving_domain_does_not_duplicate_old_posts(store, srv):
    src = _moved_domain(Week(store, srv))
    assert src["items_new"] == 1, "the two Wednesday posts were stored again under the new host"
    urls = post_urls(store, "bad")
    assert len(urls) == 3 and all("localhost" in u for u in urls)      # the posts took their new URLs


def test_short_body_from_a_dying_upstream_is_unreachable(store, srv):
    """Content-Length says 20 000, the connection closes after 3 000: no partial page is trusted."""
    week = Week(store, srv)
    week.wednesday()
    with RawServer(short_body) as raw:
        src = week.monday(raw.url("/bad/"))
        assert raw.hits == 2                                      # retried once
    assert_unknown_not_missed(week, src, Outcome.UNREACHABLE, ())
    week.heal_and_recrawl()


def test_truncated_html_keeps_the_rows_before_the_cut(store, srv):
    """A CMS that stops rendering mid-list (complete HTTP response, broken HTML): rows that made
    it are stored; nothing is invented from the cut row."""
    week = Week(store, srv)
    week.wednesday()
    page = list_page([NEW_POST] + OLD_POSTS)
    cut = page.index(OLD_POSTS[1][1])                    # inside the third row's title
    srv.route("/bad/", body=page[:cut])
    src = week.monday()
    assert src["outcome"] == "ok", src
    assert week.judge()[("bad", "portal")].status is Status.MET
    titles = {t for _, t, _ in [NEW_POST] + OLD_POSTS}
    with store.Session() as s:
        stored = set(s.scalars(sa.select(Post.title).where(Post.unit_id == "bad")))
    assert stored <= titles and NEW_POST[1] in stored


@pytest.mark.parametrize("header", ["text/html; charset=utf-8", "text/html; charset=iso-8859-1", "text/html"])
def test_gbk_page_behind_a_wrong_charset_header_is_not_mojibake(store, srv, header):
    week = Week(store, srv)
    week.wednesday()
    page = list_page([NEW_POST] + OLD_POSTS).replace('<meta charset="utf-8">', '<meta charset="gb2312">')
    srv.route("/bad/", Reply(body=page.encode("gbk"), headers={"Content-Type": header}))
    src = week.monday()
    assert src["outcome"] == "ok" and src["items_new"] == 1
    with store.Session() as s:
        titles = set(s.scalars(sa.select(Post.title).where(Post.unit_id == "bad")))
    assert titles == {t for _, t, _ in [NEW_POST] + OLD_POSTS}       # one post each, readable Chinese
    assert week.judge()[("bad", "portal")].status is Status.MET


def test_utf8_meta_over_gbk_bytes_is_decoded_as_gbk(store, srv):
    week = Week(store, srv)
    week.wednesday()
    page = list_page([NEW_POST] + OLD_POSTS)                   # says utf-8 in <meta>, bytes are GBK
    srv.route("/bad/", Reply(body=page.encode("gbk"), headers={"Content-Type": "text/html"}))
    src = week.monday()
    assert src["outcome"] == "ok" and src["items_new"] == 1
    with store.Session() as s:
        assert NEW_POST[1] in set(s.scalars(sa.select(Post.title).where(Post.unit_id == "bad")))


def _bounded(fn: Callable[[], dict], limit_bytes: int) -> tuple[dict, int]:
    gc.collect()
    tracemalloc.start()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"peak Python allocation {peak / 1e6:.1f} MB"
    return out, peak


def test_50mb_page_is_cut_at_the_cap_with_bounded_memory(store, srv):
    week = Week(store, srv)
    week.wednesday()
    with RawServer(endless_body) as raw:
        f = fetcher(max_bytes=2_000_000, timeout=10.0, retries=0)
        src, peak = _bounded(lambda: week.monday(raw.url("/bad/"), f), 25_000_000)
        f.close()
    assert_unknown_not_missed(week, src, Outcome.HTTP_ERROR, ("上限",))


def test_gzip_bomb_memory_stays_bounded(store, srv):
    week = Week(store, srv)
    week.wednesday()
    srv.route("/bad/", gzip_bomb=50_000_000)
    f = fetcher(max_bytes=2_000_000, retries=0)
    src, peak = _bounded(lambda: week.monday(None, f), 25_000_000)
    f.close()
    assert_unknown_not_missed(week, src, Outcome.HTTP_ERROR, ("上限",))


# ---------------------------------------------------------------------------------------------
# WeChat feeds
# ---------------------------------------------------------------------------------------------
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>
<link>https://mp.weixin.qq.com/s/x</link><pubDate>Thu, 19 Nov 2026 09:00:00 +0800</pubDate></item></channel></rss>"""

FEED_FAULTS = [
    ("malformed-xml", "<?xml version='1.0'?><rss version='2.0'><channel><title>x</title><item><title>a&b</titl",
     Outcome.PARSE_FAILED, ("不是有效的 XML",)),
    ("html-instead-of-feed", "<html><body><h1>登录已过期, 请重新扫码</h1></body></html>",
     Outcome.PARSE_FAILED, ("不是 RSS/Atom",)),
    ("entity-expansion", BILLION_LAUGHS, Outcome.PARSE_FAILED, ("ENTITY",)),
    ("empty-atom", '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                   "<title>县某局</title><updated>2026-11-23T05:00:00+08:00</updated></feed>",
     Outcome.PARSE_FAILED, ("没有任何条目",)),
]


@pytest.mark.parametrize("name,body,outcome,words", FEED_FAULTS, ids=[f[0] for f in FEED_FAULTS])
def test_feed_fault_is_unknown_never_missed(store, srv, name, body, outcome, words):
    week = Week(store, srv, channel="wechat")
    week.wednesday()
    srv.route("/bad.xml", body=body, headers={"Content-Type": "application/xml; charset=utf-8"})
    tracemalloc.start()
    src = week.monday()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 30_000_000
    assert_unknown_not_missed(week, src, outcome, words)
    week.heal_and_recrawl()


def test_stale_bridge_feed_is_unknown(store, srv):
    """An expired bridge login keeps serving its old feed with HTTP 200: STALE, not "no posts"."""
    week = Week(store, srv, channel="wechat")
    week.wednesday()
    src = week.monday()                    # the Wednesday feed, unchanged, built 5 days before Monday
    assert_unknown_not_missed(week, src, Outcome.STALE, ())
    week.heal_and_recrawl()


# ---------------------------------------------------------------------------------------------
# The tracking DB restarts mid-run (PostgreSQL: backends terminated between steps)
# ---------------------------------------------------------------------------------------------
def _terminate_backends(url: str) -> int:
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        n = c.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    return int(n or 0)


@pytest.mark.postgres
def test_postgres_backends_killed_between_steps_next_step_recovers(pg_url, srv):
    from conftest import _reset_pg
    from pubwatch import store as store_mod

    _reset_pg(pg_url)
    store_mod.upgrade(pg_url)
    store = Store(pg_url)
    try:
        week = Week(store, srv)
        week.wednesday()                                   # pooled connections now exist
        assert _terminate_backends(pg_url) >= 1            # "the DB restarted"
        src = week.monday()                                # pool_pre_ping replaces the dead connections
        assert src["outcome"] == "ok"
        assert _terminate_backends(pg_url) >= 1
        v = week.judge()                                   # evaluate + save_verdicts after another restart
        assert v[("bad", "portal")].status is Status.MISSED
        assert _terminate_backends(pg_url) >= 1
        week.heal_and_recrawl()
        with store.Session() as s:
            dup = s.execute(sa.select(Post.unit_id, Post.url, sa.func.count()).group_by(Post.unit_id, Post.url)
                            .having(sa.func.count() > 1)).all()
            running = s.scalar(sa.select(sa.func.count()).select_from(CrawlAttempt)
                               .where(CrawlAttempt.outcome == "running"))
        assert dup == [] and running == 0
    finally:
        store.close()


@pytest.mark.postgres
def test_control_without_pre_ping_a_restart_breaks_the_next_query(pg_url):
    """Shows the test above can fail: the same kill breaks an engine without pool_pre_ping."""
    eng = sa.create_engine(pg_url, pool_pre_ping=False)
    with eng.connect() as c:
        c.execute(sa.text("SELECT 1"))
    _terminate_backends(pg_url)
    with pytest.raises(sa.exc.OperationalError):
        with eng.connect() as c:
            c.execute(sa.text("SELECT 1"))
    eng.dispose()


# ---------------------------------------------------------------------------------------------
# A task killed (SIGKILL) and retried
# ---------------------------------------------------------------------------------------------
CRAWL_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import datetime
    from pubwatch import jobs
    rt = jobs.Runtime(db_url=sys.argv[1], registry_path=sys.argv[2])
    print(jobs.crawl(rt, "bad", now=datetime.fromisoformat(sys.argv[3]), run_id="killed"), flush=True)
""")


def _wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "include")}


def test_crawl_killed_mid_run_then_retried(db_url, srv, tmp_path):
    """Column 1 stored, column 2 hanging when the worker is SIGKILLed: the half-written attempt is
    ignored (the unit is UNKNOWN, not MISSED); the retry stores nothing twice."""
    store = Store(db_url)
    try:
        srv.route("/good/", body=list_page([NEW_POST] + OLD_POSTS))
        srv.route("/quiet/", body=list_page(OLD_POSTS))
        srv.route("/bad/c0/", body=list_page(OLD_POSTS))
        srv.route("/bad/c1/", body=list_page(OLD_POSTS))
        entries = [unit_entry("good", portal=srv.url("/good/")), unit_entry("quiet", portal=srv.url("/quiet/")),
                   unit_entry("bad", portal=[srv.url("/bad/c0/"), srv.url("/bad/c1/")])]
        reg = registry(entries)
        crawl_all(store, reg, WED)
        crawl_all(store, registry(entries[:2]), MON)
        path = tmp_path / "units.yaml"
        path.write_text(yaml.safe_dump({"fetch": {"allow_private": ["127.0.0.1"], "per_host_interval": 0,
                                                  "respect_robots": False, "timeout": 60, "retries": 0},
                                        "units": entries}, allow_unicode=True), encoding="utf-8")
        # Monday: column 0 has the week's post; column 1 hangs long enough to be killed.
        srv.route("/bad/c0/", body=list_page([NEW_POST] + OLD_POSTS))
        srv.route("/bad/c1/", Reply(delay=30, body=list_page(OLD_POSTS)))
        before = len(srv.hits("/bad/c1/"))
        proc = subprocess.Popen([sys.executable, "-c", CRAWL_SCRIPT, db_url, str(path), MON.isoformat()],
                                env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_for(lambda: len(srv.hits("/bad/c1/")) > before)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        outcomes = [a.outcome for a in attempts(store, "bad") if a.started_at >= MON]
        assert outcomes == ["ok", "running"]                      # column 1 half-written
        v = weekly(store, reg, MON + timedelta(hours=1))
        assert v[("bad", "portal")].status is Status.MET          # column 0's post counts already
        # Make the surviving evidence insufficient: the unit must then be unknown, never missed.
        with store.Session.begin() as s:
            s.execute(sa.delete(Post).where(Post.unit_id == "bad", Post.url.like("%20261119%")))
        v = weekly(store, reg, MON + timedelta(hours=1))
        assert v[("bad", "portal")].status is Status.UNKNOWN, v[("bad", "portal")]
        # The retry (Airflow's task retry): both columns answer; nothing stored twice.
        srv.route("/bad/c1/", body=list_page(OLD_POSTS))
        done = subprocess.run([sys.executable, "-c", CRAWL_SCRIPT, db_url, str(path), HEAL.isoformat()],
                              env=_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        urls = post_urls(store, "bad")
        assert len(urls) == len(set(urls)) == 5                   # 2 + 2 old posts (two columns) + the new one
        assert weekly(store, reg, HEAL + timedelta(hours=1))[("bad", "portal")].status is Status.MET
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Notices: SMTP refusing mid-batch, webhook errors, a sender killed while sending
# ---------------------------------------------------------------------------------------------
NOTICE_UNITS = ["u1", "u2", "u3", "u4"]
FROM = "gongkai@county.example.gov.cn"


def _notice_plan():
    from pubwatch.notices.dispatch import plan_unit_notices
    from pubwatch.types import Verdict

    reg = registry([unit_entry(u, portal=f"https://www.example.gov.cn/{u}/") for u in NOTICE_UNITS])
    closed = [Verdict(u, "portal", "2026-W47", "weekly", Status.MISSED, 0, 1) for u in NOTICE_UNITS]
    return plan_unit_notices(reg, closed_period="2026-W47", closed=closed, current_period="2026-W48", current=[],
                             reminder_due=False, streaks={}, escalate_after=9,
                             base_ctx={"office": {"name": "某某县人民政府办公室", "short": "县政务公开办"},
                                       "period_label": "2026年第47周", "deadline": W47.end})


def _deliver(store, planned, channels, run_id):
    from pubwatch.jobs import _make_message
    from pubwatch.notices.dispatch import deliver
    from pubwatch.notices.ledger import Ledger
    from pubwatch.notices.render import render

    return deliver(Ledger(store), planned, channels, render=render, make_message=_make_message, run_id=run_id)


class FlakySMTP:
    """aiosmtpd handler: accepts `accept` messages, then answers 421 (service shutting down), or
    sleeps `hang` seconds before accepting."""

    def __init__(self, accept: int = 10**6, hang: float = 0.0):
        self.accept, self.hang = accept, hang
        self.received: list = []
        self.entered = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.entered += 1
        if self.hang:
            await asyncio.sleep(self.hang)
        if len(self.received) >= self.accept:
            return "421 4.3.2 Service shutting down, try again later"
        self.received.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    handlers = []

    def start(handler):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        c = Controller(handler, hostname="127.0.0.1", port=port)
        c.start()
        handlers.append(c)
        return port

    yield start
    for c in handlers:
        c.stop()


def _rcpts(handler: FlakySMTP) -> list[str]:
    return sorted(r for e in handler.received for r in e.rcpt_tos if r.startswith("xxy."))


def test_smtp_refusing_mid_batch_nothing_lost_nothing_twice(store, smtp):
    from pubwatch.notices.channels import EmailChannel

    flaky = FlakySMTP(accept=2)
    port = smtp(flaky)
    planned = _notice_plan()
    ch = {"email": EmailChannel("127.0.0.1", port, security="none", timeout=5, from_addr=FROM)}
    first = _deliver(store, planned, ch, "r1")
    assert len(first.sent) == 2 and len(first.failed) == 2
    assert all("421" in f for f in first.failed)
    flaky.accept = 10**6                                   # the mail server recovers
    second = _deliver(store, planned, ch, "r2")
    assert len(second.sent) == 2 and len(second.already) == 2
    third = _deliver(store, planned, ch, "r3")
    assert third.sent == [] and len(third.already) == 4
    assert _rcpts(flaky) == sorted(f"xxy.{u}@county.example.gov.cn" for u in NOTICE_UNITS)   # each exactly once
    from pubwatch.notices.ledger import Ledger

    rows = Ledger(store).rows(period="2026-W47")
    assert sorted((r.unit_id, r.status) for r in rows) == [(u, "sent") for u in NOTICE_UNITS]


def test_webhook_errors_are_retried_next_run_and_sent_once(store):
    from pubwatch.notices.channels import WeComRobotChannel
    from webhookrecv import WebhookReceiver

    with WebhookReceiver() as hook:
        hook.script((502, "<html>Bad Gateway</html>"), (200, {"errcode": -1, "errmsg": "system busy"}),
                    (200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
        ch = {"wecom": WeComRobotChannel(hook.url_for("/cgi-bin/webhook/send", key="hook-key-S3CRET"),
                                         min_interval=0, rate_wait=0, timeout=5)}
        planned = _notice_plan()
        first = _deliver(store, planned, ch, "r1")
        assert len(first.failed) == 2 and len(first.unconfirmed) == 1 and len(first.sent) == 1
        assert "502" in first.unconfirmed[0]                           # a 5xx may have posted: not resent
        assert not any("hook-key-S3CRET" in f for f in first.failed + first.unconfirmed)
        second = _deliver(store, planned, ch, "r2")
        assert len(second.sent) == 1 and len(second.already) == 1     # only the -1 (busy) one is retried
        assert any("dead" in s for s in second.skipped) and any("ambiguous" in s for s in second.skipped)
        ok_units = [r.json["markdown"]["content"] for r in hook.requests
                    if r.json and r.json.get("msgtype") == "markdown"]
        assert len(hook.requests) == 5                                 # 4 first run + 1 retry
        assert len(ok_units) == 5


SEND_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    from test_faults import _deliver, _notice_plan
    from pubwatch.notices.channels import EmailChannel
    from pubwatch.store import Store
    store = Store(sys.argv[1])
    _deliver(store, _notice_plan()[:1], {"email": EmailChannel("127.0.0.1", int(sys.argv[2]), security="none",
                                                                timeout=60, from_addr="gk@example.gov.cn")}, "killed")
""")


def test_sender_killed_while_sending_is_unconfirmed_not_resent(db_url, smtp):
    from datetime import timedelta as td

    from pubwatch.notices.channels import EmailChannel
    from pubwatch.notices.ledger import SENDING, Ledger

    hanging = FlakySMTP(hang=6)
    port = smtp(hanging)
    proc = subprocess.Popen([sys.executable, "-c", SEND_SCRIPT, db_url, str(port), str(ROOT / "tests")],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: hanging.entered >= 1)                 # the message is on the wire
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    store = Store(db_url)
    try:
        ledger = Ledger(store)
        rows = ledger.rows(period="2026-W47")
        assert [(r.unit_id, r.status) for r in rows] == [("u1", SENDING)]
        assert [r.unit_id for r in ledger.unconfirmed(older_than=td(0))] == ["u1"]
        healthy = FlakySMTP()
        ch = {"email": EmailChannel("127.0.0.1", smtp(healthy), security="none", timeout=5, from_addr=FROM)}
        again = _deliver(store, _notice_plan(), ch, "after-crash")
        assert any(s.startswith("u1/") and "sending" in s for s in again.skipped)
        assert _rcpts(healthy) == sorted(f"xxy.{u}@county.example.gov.cn" for u in NOTICE_UNITS[1:])
        assert ledger.rows(unit_id="u1")[0].status == SENDING     # still surfaced, never blindly resent
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Ambiguous failures: the payload may have arrived — never resent by itself (#19)
# ---------------------------------------------------------------------------------------------
class DropAfterData:
    """aiosmtpd handler that queues the message, then drops the connection before answering 250."""

    def __init__(self):
        self.received: list = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        server.transport.close()
        return "250 OK"


class RefuseRcpt:
    """Answers 451 to every RCPT: a clear, temporary failure before anything was sent."""

    def __init__(self):
        self.received: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "451 4.3.0 try again later"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope)
        return "250 OK"


def test_smtp_drop_after_data_is_delivered_exactly_once_across_runs(store, smtp):
    from pubwatch.notices.channels import EmailChannel
    from pubwatch.notices.ledger import AMBIGUOUS, SENT, Ledger

    dropper = DropAfterData()
    ch = {"email": EmailChannel("127.0.0.1", smtp(dropper), security="none", timeout=5, from_addr=FROM)}
    planned = _notice_plan()[:1]
    first = _deliver(store, planned, ch, "r1")
    assert first.sent == [] and first.failed == [] and len(first.unconfirmed) == 1
    assert "未收到服务器确认" in first.unconfirmed[0]
    healthy = FlakySMTP()
    ch = {"email": EmailChannel("127.0.0.1", smtp(healthy), security="none", timeout=5, from_addr=FROM)}
    second = _deliver(store, planned, ch, "r2")                   # the server is fine again: still not resent
    assert second.sent == [] and any("ambiguous" in s for s in second.skipped)
    assert len(dropper.received) == 1 and healthy.received == []  # exactly one copy arrived
    ledger = Ledger(store)
    [row] = ledger.unconfirmed(periods=["2026-W47"])
    assert row.status == AMBIGUOUS
    assert ledger.confirm(row.id, "信息员电话确认已收到").status == SENT
    assert ledger.unconfirmed() == [] and _deliver(store, planned, ch, "r3").sent == []
    with pytest.raises(ValueError):
        ledger.resend(row.id)                                     # a sent notice is not for a person to resend


def test_smtp_failure_before_data_is_retried_and_sent_once(store, smtp):
    from pubwatch.notices.channels import EmailChannel

    ch = {"email": EmailChannel("127.0.0.1", smtp(RefuseRcpt()), security="none", timeout=5, from_addr=FROM)}
    planned = _notice_plan()[:1]
    first = _deliver(store, planned, ch, "r1")
    assert len(first.failed) == 1 and first.unconfirmed == [] and "451" in first.failed[0]
    healthy = FlakySMTP()
    ch = {"email": EmailChannel("127.0.0.1", smtp(healthy), security="none", timeout=5, from_addr=FROM)}
    assert len(_deliver(store, planned, ch, "r2").sent) == 1
    assert _deliver(store, planned, ch, "r3").sent == [] and len(healthy.received) == 1


def test_robot_answering_after_the_timeout_is_delivered_exactly_once(store):
    from pubwatch.notices.channels import WeComRobotChannel
    from pubwatch.notices.ledger import FAILED, Ledger
    from webhookrecv import WebhookReceiver

    with WebhookReceiver() as hook:
        hook.script((200, {"errcode": 0, "errmsg": "ok"}, 1.5))     # processed, answered too late
        ch = {"wecom": WeComRobotChannel(hook.url_for("/cgi-bin/webhook/send", key="hook-key-S3CRET"),
                                         min_interval=0, rate_wait=0, timeout=0.4)}
        planned = _notice_plan()[:1]
        first = _deliver(store, planned, ch, "r1")
        assert len(first.unconfirmed) == 1 and first.failed == [] and "hook-key-S3CRET" not in first.unconfirmed[0]
        second = _deliver(store, planned, ch, "r2")
        assert second.sent == [] and len(hook.requests) == 1      # exactly one post across two runs
        # a person finds it did not show up in the group: resend → the next run posts it once more
        ledger = Ledger(store)
        [row] = ledger.unconfirmed()
        assert ledger.resend(row.id, "群内未见").status == FAILED
        third = _deliver(store, planned, ch, "r3")
        assert len(third.sent) == 1 and len(hook.requests) == 2
        assert _deliver(store, planned, ch, "r4").sent == []


def test_notices_cli_lists_confirms_and_resends(db_url, store, smtp):
    from pubwatch.notices.channels import EmailChannel

    ch = {"email": EmailChannel("127.0.0.1", smtp(DropAfterData()), security="none", timeout=5, from_addr=FROM)}
    _deliver(store, _notice_plan()[:2], ch, "r1")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pubwatch", "notices", "--db-url", db_url, *args],
                              env=_env(), capture_output=True, text=True, timeout=60)

    listed = cli("list")
    assert listed.returncode == 0 and listed.stdout.count("结果不明") == 2
    ids = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    done = cli("confirm", ids[0], "--note", "已电话核实")
    assert done.returncode == 0 and "已发送" in done.stdout
    again = cli("resend", ids[1])
    assert again.returncode == 0 and "发送失败(将重试)" in again.stdout
    assert cli("list").stdout.strip() == "没有待人工确认的通知"
    bad = cli("confirm", ids[0])
    assert bad.returncode == 2 and "无需人工处理" in bad.stderr
    assert cli("confirm", "999999").returncode == 2
