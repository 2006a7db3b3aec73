"""What confirming list dates from article pages costs (issue #15): extra requests per new post, and
requests per column on a re-crawl without new posts.

A local portal on 127.0.0.1 serves columns in seven layouts, each with its own posts and an article
page per post (<meta name="PubDate"> and a 发布时间 line):

  table_fbjg    信息公开 table 序号/信息名称/发布机构/成文日期/发布日期   certain: no article read
  cards_split   news cards, day and year-month in two elements, summaries with other dates   certain
  gkmlpt_json   gkmlpt-style JSON: date (成文), created_at, first_publish_time, publish_time   certain
  undated       TRS list without dates                                  every new post: one article
  two_dates     table without a header, 成文 and 发布 dates per row      unsure: one article per new post
  placeholder   a list where some posts show 1900-01-01                 those posts: one article
  created_only  JSON with created_at only                               unsure: one article per new post

Rounds, through the real Fetcher and PortalColumn (known URLs carried between rounds as the store
would): 1) first sight of every column (articles capped by max_articles), 2) a day later, NEW posts
per column, 3) again without new posts (the server answers 304 to If-None-Match), 4) again without
new posts from a CMS that sends no validators (every list page is a full 200). Printed: requests,
extra (article) requests per new post by layout, requests per column, and the share of new posts
whose final date is the true publication day. No assertions.

    .venv/bin/python bench/bench_article_dates.py [--columns-per-layout N] [--new N]
"""
from __future__ import annotations

import argparse
import hashlib
import html
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "include"))

from pubwatch.http import Fetcher, FetchSettings  # noqa: E402
from pubwatch.registry import SourceConfig  # noqa: E402
from pubwatch.sources.base import CrawlContext  # noqa: E402
from pubwatch.sources.portal import PortalColumn  # noqa: E402
from pubwatch.types import TZ  # noqa: E402

LAYOUTS = ("table_fbjg", "cards_split", "gkmlpt_json", "undated", "two_dates", "placeholder", "created_only")
HISTORY = 15                      # posts on a column before the first crawl (one list page)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)


@dataclass
class P:
    slug: str
    title: str
    published: datetime           # the truth


def _h(*parts) -> int:
    return int(hashlib.md5("/".join(map(str, parts)).encode()).hexdigest(), 16)


class Portal:
    def __init__(self, layouts: tuple[str, ...], per_layout: int):
        self.columns: dict[str, tuple[str, list[P]]] = {}
        for layout in layouts:
            for i in range(per_layout):
                cid = f"{layout}{i}"
                posts = [self._post(cid, k, T0 - timedelta(days=2 * k + 1, hours=_h(cid, k) % 8))
                         for k in range(HISTORY)]
                self.columns[cid] = (layout, posts)
        self.etag = True
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True     # one small answer, no 40 ms delayed-ACK stalls

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                status, ctype, body = portal.route(self.path.split("?", 1)[0])
                headers = {"Content-Type": ctype}
                if status == 200 and portal.etag and not self.path.endswith(".html"):
                    tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        status, body = 304, b""
                with portal._lock:
                    portal.log.append((self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _post(cid: str, k: int, when: datetime) -> P:
        topics = ("冬季安全生产", "森林草原防火", "校园食品安全", "农村人居环境整治", "就业援助月", "医保基金监管")
        return P(f"t{when:%Y%m%d}_{_h(cid, k, when) % 10**6}", f"县教育局召开{topics[_h(cid, k) % 6]}工作推进会（第{k}次）", when)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def add_posts(self, n: int, now: datetime) -> None:
        for cid, (layout, posts) in self.columns.items():
            for j in range(n):
                posts.insert(0, self._post(cid, 1000 + len(posts), now - timedelta(hours=1 + 3 * j)))

    # -- pages ------------------------------------------------------------------------------------
    def route(self, path: str) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] in self.columns:
            layout, posts = self.columns[parts[0]]
            if len(parts) == 2 and parts[1].endswith(".html") and parts[1] != "index.html":
                post = next((p for p in posts if f"{p.slug}.html" == parts[1]), None)
                if post:
                    return 200, "text/html; charset=utf-8", article(post).encode()
            if parts[1] in ("index.html", "list.json"):
                body = LIST[layout](parts[0], posts[:HISTORY])
                ctype = "application/json; charset=utf-8" if parts[1].endswith(".json") else "text/html; charset=utf-8"
                return 200, ctype, body.encode()
        return 404, "text/html; charset=utf-8", b"<html><body>404</body></html>"


def article(p: P) -> str:
    return (f'<html><head><meta charset="utf-8"><meta name="PubDate" content="{p.published:%Y-%m-%d %H:%M}">'
            f"<title>{html.escape(p.title)}</title></head><body><h1>{html.escape(p.title)}</h1>"
            f'<div class="info">发布时间：{p.published:%Y-%m-%d %H:%M} 来源：县教育局</div>'
            f"<div class=\"content\"><p>会议要求于{p.published + timedelta(days=10):%Y年%m月%d日}前完成。</p></div></body></html>")


def _page(rows: str) -> str:
    return (f'<html><head><meta charset="utf-8"><title>工作动态_县教育局</title></head><body>'
            f'<div class="nav"><a href="/">首页</a> <a href="/zwgk/">政务公开</a></div>'
            f'<div class="position">当前位置：<a href="/">首页</a> &gt; 工作动态</div>{rows}'
            f'<div class="footer">主办：某某县人民政府办公室</div></body></html>')


def table_fbjg(cid: str, posts: list[P]) -> str:
    rows = "\n".join(f"<tr>\n<td>{i + 1}</td>\n<td><a href='./{p.slug}.html'>{html.escape(p.title)}</a></td>\n"
                     f"<td>县教育局</td>\n<td>{p.published - timedelta(days=3):%Y-%m-%d}</td>\n<td>{p.published:%Y-%m-%d}</td>\n</tr>"
                     for i, p in enumerate(posts))
    return _page("<table class='xxgk'><tr><td>序号</td><td>信息名称</td><td>发布机构</td><td>成文日期</td>"
                 f"<td>发布日期</td></tr>\n{rows}</table>")


def two_dates(cid: str, posts: list[P]) -> str:
    rows = "\n".join(f"<tr>\n<td><a href='./{p.slug}.html'>{html.escape(p.title)}</a></td>\n"
                     f"<td>{p.published - timedelta(days=3):%Y-%m-%d}</td>\n<td>{p.published:%Y-%m-%d}</td>\n</tr>"
                     for p in posts)
    return _page(f"<table class='xxgk'>{rows}</table>")


def cards_split(cid: str, posts: list[P]) -> str:
    cards = "\n".join(f"<li><div class='date'><span>{p.published:%d}</span><em>{p.published:%Y-%m}</em></div>"
                      f"<div class='txt'><h3><a href='./{p.slug}.html'>{html.escape(p.title)}</a></h3>"
                      f"<p>{p.published - timedelta(days=2):%m月%d日}，会议要求各单位于{p.published + timedelta(days=10):%Y年%m月%d日}前完成整改，"
                      f"并按时报送工作进展情况。</p></div></li>" for p in posts)
    return _page(f"<ul class='news-list'>{cards}</ul>")


def undated(cid: str, posts: list[P]) -> str:
    lis = "\n".join(f"<li><a href='./{p.slug}.html' title='{html.escape(p.title)}'>{html.escape(p.title)}</a></li>"
                    for p in posts)
    return _page(f"<ul class='list'>{lis}</ul><script>var countPage = 1;createPageHTML(1, 0, 'index', 'html');</script>")


def placeholder(cid: str, posts: list[P]) -> str:
    lis = "\n".join(f"<li><a href='./{p.slug}.html'>{html.escape(p.title)}</a>"
                    f"<span>{'1900-01-01' if _h(p.slug) % 3 == 0 else f'{p.published:%Y-%m-%d}'}</span></li>"
                    for p in posts)
    return _page(f"<ul class='list'>{lis}</ul>")


def gkmlpt_json(cid: str, posts: list[P]) -> str:
    arts = [{"id": _h(p.slug) % 10**7, "title": p.title, "url": f"./{p.slug}.html", "publisher": "县教育局",
             "date": int((p.published - timedelta(days=4)).timestamp()),
             "created_at": f"{p.published - timedelta(days=2):%Y-%m-%d %H:%M:%S}",
             "first_publish_time": int(p.published.timestamp()),
             "publish_time": int((p.published + timedelta(days=1)).timestamp()),
             "display_publish_time": int(p.published.timestamp())} for p in posts]
    return json.dumps({"classify": {"id": 1, "name": "工作动态", "post_count": len(posts)}, "articles": arts,
                       "total": len(posts)}, ensure_ascii=False)


def created_only(cid: str, posts: list[P]) -> str:
    rows = [{"title": p.title, "url": f"./{p.slug}.html",
             "created_at": f"{p.published - timedelta(days=2):%Y-%m-%d %H:%M:%S}"} for p in posts]
    return json.dumps({"code": 0, "data": {"list": rows, "total": len(rows)}}, ensure_ascii=False)


LIST = {"table_fbjg": table_fbjg, "cards_split": cards_split, "gkmlpt_json": gkmlpt_json, "undated": undated,
        "two_dates": two_dates, "placeholder": placeholder, "created_only": created_only}


def crawl(portal: Portal, fetcher: Fetcher, now: datetime, known: dict[str, set[str]],
          state: dict[str, dict]) -> dict[str, dict]:
    out = {}
    for cid, (layout, _) in portal.columns.items():
        name = "list.json" if layout in ("gkmlpt_json", "created_only") else "index.html"
        cfg = SourceConfig(id=f"bench.portal.{cid}", unit_id="bench", channel="portal", type="portal",
                           name=cid, url=portal.url(f"/{cid}/{name}"), options={"profile": "auto"})
        ctx = CrawlContext(fetcher=fetcher, now=now, since=(now - timedelta(days=21)).date(),
                           known_urls=frozenset(known[cid]), state=state.get(cid) or {},
                           previous_items=len(known[cid]) or None)
        res = PortalColumn(cfg).fetch(ctx)
        new = [it for it in res.items if it.url not in known[cid]]
        known[cid].update(it.url for it in res.items)
        if res.state:
            state[cid] = res.state
        out[cid] = {"layout": layout, "outcome": res.outcome.value, "requests": res.requests, "new": new,
                    "message": res.message}
    return out


def report(name: str, portal: Portal, rounds: dict[str, dict]) -> dict[str, float]:
    by = defaultdict(Counter)
    truth = {p.slug: p.published.date() for _, posts in portal.columns.values() for p in posts}
    for r in rounds.values():
        c = by[r["layout"]]
        c["columns"] += 1
        c["requests"] += r["requests"]
        c["new"] += len(r["new"])
        c["articles"] += max(0, r["requests"] - 1)
        c["ok"] += r["outcome"] in ("ok", "not_modified")
        for it in r["new"]:
            slug = it.url.rsplit("/", 1)[-1].removesuffix(".html")
            c["dated_right"] += it.published is not None and it.published.astimezone(TZ).date() == truth.get(slug)
    total = Counter()
    print(f"\n{name}")
    print(f"  {'layout':13s} {'cols':>4s} {'req':>5s} {'req/col':>7s} {'new':>5s} {'extra/new':>9s} {'dated right':>11s}")
    for layout in LAYOUTS:
        c = by[layout]
        if not c["columns"]:
            continue
        total.update(c)
        per_new = f"{c['articles'] / c['new']:.2f}" if c["new"] else "—"
        right = f"{100 * c['dated_right'] / c['new']:.0f}%" if c["new"] else "—"
        print(f"  {layout:13s} {c['columns']:4d} {c['requests']:5d} {c['requests'] / c['columns']:7.2f} "
              f"{c['new']:5d} {per_new:>9s} {right:>11s}")
    per_new = total["articles"] / total["new"] if total["new"] else 0.0
    right = 100 * total["dated_right"] / total["new"] if total["new"] else 100.0
    print(f"  {'all':13s} {total['columns']:4d} {total['requests']:5d} {total['requests'] / total['columns']:7.2f} "
          f"{total['new']:5d} {per_new if total['new'] else 0:9.2f} {right:10.0f}%   (outcome ok: {total['ok']}/{total['columns']})")
    return {"req_per_column": total["requests"] / total["columns"], "extra_per_new": per_new, "dated_right": right}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--columns-per-layout", type=int, default=20)
    ap.add_argument("--new", type=int, default=2, help="new posts per column before round 2")
    args = ap.parse_args()
    portal = Portal(LAYOUTS, args.columns_per_layout)
    known: dict[str, set[str]] = defaultdict(set)
    state: dict[str, dict] = {}
    settings = FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0.0, retries=0, timeout=5,
                             respect_robots=False)
    started = time.perf_counter()
    with Fetcher(settings) as fetcher:
        first = report("1) first sight (all posts new; articles capped by max_articles=20 per column)", portal,
                       crawl(portal, fetcher, T0, known, state))
        portal.add_posts(args.new, T0 + timedelta(days=1))
        second = report(f"2) a day later, {args.new} new posts per column", portal,
                        crawl(portal, fetcher, T0 + timedelta(days=1, hours=1), known, state))
        third = report("3) again, no new posts (ETag → 304)", portal,
                       crawl(portal, fetcher, T0 + timedelta(days=1, hours=2), known, state))
        portal.etag = False
        fourth = report("4) again, no new posts, a CMS without validators (200 every time)", portal,
                        crawl(portal, fetcher, T0 + timedelta(days=1, hours=3), known, state))
    print(f"\nwall: {time.perf_counter() - started:.1f} s, {len(portal.log)} requests served")
    print(f"RESULT article_requests_per_new_post {second['extra_per_new']:.2f}")
    print(f"RESULT new_posts_dated_right_pct {second['dated_right']:.0f}")
    print(f"RESULT first_sight_requests_per_column {first['req_per_column']:.2f}")
    print(f"RESULT recrawl_no_new_posts_requests_per_column_304 {third['req_per_column']:.2f}")
    print(f"RESULT recrawl_no_new_posts_requests_per_column_200 {fourth['req_per_column']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
