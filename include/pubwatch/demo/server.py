"""The bundled demo county portal: a real HTTP server on 127.0.0.1.

It serves, for the demo registry (include/units.yaml), per-unit column lists in three CMS styles —
TRS WCM (UTF-8, `createPageHTML` pagination), 大汉 JCMS (GBK, `<datastore>` records) and a 信息公开
table (GBK; 发布机构 and 成文日期 columns next to 发布日期) — article pages with `<meta name="PubDate">`, one RSS feed per WeChat account, a unit
whose site answers 503, and one behind an anti-bot 412 challenge. ETag / Last-Modified revalidation
works like a real CMS behind nginx, so a steady-state re-crawl costs one request per column.
"""
from __future__ import annotations

import hashlib
import html
import re
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from . import content
from .content import DemoPost, posts_for, scenario_of
from .fake_wechat import FakeArticle, FakeWeChatAPI, fake_article_url, render_feed

PAGE_SIZE = 10
TRS_UNITS = {"jyj", "wjw", "mzj", "czj", "nyncj", "hbj", "tjj", "tyjrj", "wlj", "gaj", "sjj"}
JCMS_UNITS = {"zjj": 10231, "cgz": 10457, "lqz": 10462}
TABLE_UNITS = {"smx"}
RSS_STYLE = {"tyjrj": "wechat2rss", "wlj": "rsshub", "cgz": "rsshub-atom"}
# hbj's account is read from two sources at once: the official API lists its 发布 posts (even
# sequence numbers here), a bridge feed lists its 群发 posts (odd ones) — merged, counted once.
TWO_SOURCE_UNITS = {"hbj"}
DEMO_APPID, DEMO_SECRET = "wx_demo_hbj", "demo-not-a-real-secret"
SITE_NAME = "某某县人民政府"

WAF_412 = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta content="{{v7qbD3Ym0.RkjTnGu6hP" r='m'><script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};
$_ts.nsd=62839;$_ts.cd="qGcrrAAlEDaEqG";</script><script type="text/javascript" charset="utf-8"
src="/4QbVtADbnLVIc/d.FxJzG50F.dfe1675.js" r='m'></script></head><body></body></html>"""

ERROR_503 = """<html><head><title>503 Service Temporarily Unavailable</title></head><body>
<center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>"""


def _trs_list(unit: str, posts: list[DemoPost], page: int, nodate: bool) -> str:
    total_pages = max(1, -(-len(posts) // PAGE_SIZE))
    chunk = posts[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    items = []
    for p in chunk:
        href = f"./{p.published:%Y%m}/t{p.slug}.html"
        date_html = "" if nodate else f"<span>{p.published:%Y-%m-%d}</span>"
        items.append(f'<li><a href="{href}" target="_blank" title="{html.escape(p.title)}">'
                     f"{html.escape(p.title)}</a>{date_html}</li>")
    name = content.UNIT_SHORT.get(unit, unit)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>工作动态_{name}_{SITE_NAME}</title>
<meta name="ColumnName" content="工作动态"><meta name="SiteName" content="{SITE_NAME}"></head>
<body>
<div class="header"><div class="nav"><ul>
<li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/zwfw/">政务服务</a></li>
<li><a href="/hdjl/">互动交流</a></li></ul></div></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="../">{name}</a> &gt; 工作动态</div>
<div class="main"><div class="left-menu"><ul><li><a href="../tzgg/">通知公告</a></li>
<li><a href="./">工作动态</a></li><li><a href="../zcwj/">政策文件</a></li></ul></div>
<div class="list-right"><ul class="list">
{chr(10).join(items)}
</ul>
<div class="page"><script type="text/javascript">
var currentPage = {page};var countPage = {total_pages};
createPageHTML({total_pages}, {page}, "index", "html");
</script></div></div></div>
<div class="footer">主办：{SITE_NAME}办公室 网站标识码：1234000000 ICP备案号：皖ICP备00000000号</div>
</body></html>"""


def _jcms_list(unit: str, colid: int, posts: list[DemoPost]) -> str:
    records = "\n".join(
        f'<record><![CDATA[\n<li><a href="/art/{p.published:%Y/%m/%d}/art_{colid}_{p.seq}.html" target="_blank" '
        f'title="{html.escape(p.title)}">{html.escape(p.title)}</a><span class="date">{p.published:%Y-%m-%d}</span></li>\n]]></record>'
        for p in posts[:45])
    name = content.UNIT_SHORT[unit]
    return f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>{name} 工作动态</title></head><body>
<div id="top"><a href="/">网站首页</a> | <a href="/col/col1/index.html">机构概况</a></div>
<table width="100%"><tr><td class="bt_link">您当前的位置：<a href="/">首页</a> &gt; {name} &gt; 工作动态</td></tr></table>
<div id="{colid}"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=1&path=/&columnid={colid}&unitid=38447&webname=%E6%9F%90%E5%8E%BF&permissiontype=0"></a>]]></nextgroup>
<recordset>
{records}
</recordset></datastore></script></div>
<script language="javascript" src="/module/jslib/jquery/jpage/jquery.page.min.js"></script>
<script>$(document).ready(function(){{ $('#{colid}').jpage({{dataStore: dataStore, perPage: 15, totalRecord: {min(len(posts), 45)}}}); }});</script>
</body></html>"""


def _table_list(unit: str, posts: list[DemoPost]) -> str:
    """A 信息公开目录 table as county platforms print it: 序号 / 信息名称 / 发布机构 / 成文日期 /
    发布日期. The 成文日期 (the document's own date) is a few days before publication: a reader that
    takes the first column matching 发布 (发布机构) or the first date of a row gets the wrong week."""
    name = content.UNIT_SHORT[unit]
    rows = "\n".join(
        f"<tr>\n<td>{i + 1}</td>\n"
        f'<td class="title"><a href="/art/{unit}/{p.slug}.html" target="_blank">{html.escape(p.title)}</a></td>\n'
        f"<td>{html.escape(name)}</td>\n"
        f"<td>{p.published - timedelta(days=1 + p.seq % 4):%Y年%m月%d日}</td>\n"
        f"<td>{p.published:%Y年%m月%d日}</td>\n</tr>" for i, p in enumerate(posts[:30]))
    return f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>{name}信息公开</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/xxgk/">信息公开</a></div>
<h3>{name} &gt; 工作动态</h3>
<table class="xxgk-table" width="100%" cellspacing="0">
<tr><th>序号</th><th>信息名称</th><th>发布机构</th><th>成文日期</th><th>发布日期</th></tr>
{rows}
</table></body></html>"""


def _article(p: DemoPost) -> str:
    name = content.UNIT_SHORT.get(p.unit_id, p.unit_id)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="{html.escape(p.title)}">
<meta name="PubDate" content="{p.published:%Y-%m-%d %H:%M}">
<meta name="ContentSource" content="{name}">
<title>{html.escape(p.title)}</title></head><body>
<h1>{html.escape(p.title)}</h1>
<div class="info">发布时间：{p.published:%Y-%m-%d %H:%M} 来源：{name}</div>
<div class="content"><p>近日，{name}{html.escape(p.title[len(name):])}，会议强调要提高政治站位，压实工作责任。</p></div>
</body></html>"""


def _feed_posts(unit: str, posts: list[DemoPost]) -> list[dict]:
    return [{"title": p.title, "url": fake_article_url(f"{unit}-{p.seq}"), "published": p.published}
            for p in posts[:20]]


def _api_articles(unit: str, posts: list[DemoPost]) -> list[FakeArticle]:
    return [FakeArticle(titles=[p.title], published=p.published, urls=[fake_article_url(f"{unit}-{p.seq}")],
                        article_id=f"{unit}-{p.seq}") for p in posts]


class DemoPortal:
    """Start with `.start()`, read `.base_url`, stop with `.stop()` (or use as a context manager)."""

    def __init__(self, as_of: datetime | None = None, host: str = "127.0.0.1", port: int = 0):
        self.as_of = as_of or content.default_as_of()
        self.host, self.port = host, port
        self.request_log: list[tuple[str, str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.extra_routes: dict[str, Callable] = {}   # path prefix -> handler(portal, handler) (fake APIs)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "demo portal not started"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment the demo registry (include/units.yaml) expands."""
        import json

        monday = content.week_monday(self.as_of)
        conn = json.dumps({"conn_type": "generic", "login": DEMO_APPID, "password": DEMO_SECRET})
        return {"PUBWATCH_DEMO_BASE": self.base_url, "PUBWATCH_DEMO_WEEK_START": monday.isoformat(),
                "AIRFLOW_CONN_PUBWATCH_WX_HBJ": conn}

    # ---------------------------------------------------------------- routing
    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        parts = [p for p in path.split("/") if p]
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /admin/\n"
        if len(parts) == 3 and parts[1] == "gzdt" and parts[0] in TRS_UNITS:
            return self._trs(parts[0], parts[2])
        if len(parts) == 4 and parts[1] == "gzdt" and parts[0] in TRS_UNITS:
            return self._trs_article(parts[0], parts[3])
        if len(parts) == 3 and parts[0] == "col":
            unit = next((u for u, c in JCMS_UNITS.items() if f"col{c}" == parts[1]), None)
            if unit:
                return 200, _html_headers("gb2312"), _jcms_list(unit, JCMS_UNITS[unit], self._posts(unit, "portal")).encode("gb18030")
        if len(parts) == 5 and parts[0] == "art" and parts[4].startswith("art_"):
            m = re.match(r"art_(\d+)_(\d+)\.html$", parts[4])
            unit = next((u for u, c in JCMS_UNITS.items() if m and str(c) == m.group(1)), None)
            if unit:
                post = next((p for p in self._posts(unit, "portal") if p.seq == int(m.group(2))), None)
                if post:
                    return 200, _html_headers("utf-8"), _article(post).encode()
        if len(parts) == 3 and parts[1] == "xxgk" and parts[0] in TABLE_UNITS:
            return 200, _html_headers("gbk"), _table_list(parts[0], self._posts(parts[0], "portal")).encode("gb18030")
        if len(parts) == 3 and parts[0] == "art" and parts[1] in TABLE_UNITS:
            post = next((p for p in self._posts(parts[1], "portal") if f"{p.slug}.html" == parts[2]), None)
            if post:
                return 200, _html_headers("utf-8"), _article(post).encode()
        if len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
            return self._feed(parts[1][:-4])
        return 404, _html_headers("utf-8"), "<html><body><h1>404 页面不存在</h1></body></html>".encode()

    def _posts(self, unit: str, channel: str) -> list[DemoPost]:
        return posts_for(unit, channel, self.as_of)

    def _trs(self, unit: str, page_name: str):
        scenario = scenario_of(unit, "portal")
        if scenario == "down":
            return 503, {**_html_headers("utf-8"), "Retry-After": "1"}, ERROR_503.encode()
        if scenario == "waf":
            return 412, _html_headers("utf-8"), WAF_412.encode()
        m = re.fullmatch(r"index(?:_(\d+))?\.html", page_name)
        if not m:
            return 404, _html_headers("utf-8"), b"not found"
        page = int(m.group(1) or 0)
        posts = self._posts(unit, "portal")
        if page and page * PAGE_SIZE >= len(posts):
            return 404, _html_headers("utf-8"), b"not found"
        return 200, _html_headers("utf-8"), _trs_list(unit, posts, page, scenario == "nodate").encode()

    def _trs_article(self, unit: str, name: str):
        post = next((p for p in self._posts(unit, "portal") if f"t{p.slug}.html" == name), None)
        if post is None:
            return 404, _html_headers("utf-8"), b"not found"
        return 200, _html_headers("utf-8"), _article(post).encode()

    def _feed(self, unit: str):
        posts = self._posts(unit, "wechat")
        if scenario_of(unit, "wechat") is None:
            return 404, _html_headers("utf-8"), b"no such feed"
        if unit in TWO_SOURCE_UNITS:
            posts = [p for p in posts if p.seq % 2 == 1]
        built = posts[0].published if scenario_of(unit, "wechat") == "stale" and posts else self.as_of
        style = RSS_STYLE.get(unit, "we-mp-rss")
        body = render_feed(style, content.UNIT_SHORT[unit], _feed_posts(unit, posts), built)
        ctype = "application/atom+xml" if "atom" in style else "application/rss+xml"
        return 200, {"Content-Type": f"{ctype}; charset=utf-8"}, body

    def wechat_api(self) -> FakeWeChatAPI:
        """The fake official API for the two-source units (their 发布 posts)."""
        articles = [a for unit in sorted(TWO_SOURCE_UNITS)
                    for a in _api_articles(unit, [p for p in self._posts(unit, "wechat") if p.seq % 2 == 0])]
        return FakeWeChatAPI(articles, appid=DEMO_APPID, secret=DEMO_SECRET)

    def serve_bulk(self) -> "DemoPortal":
        """Bulk mode: also serve /bulk/<i>/index.html for any column number i (TRS style, deterministic
        posts, ETag revalidation) — for bench/bench_scale.py and the registry of `write_bulk_registry`."""
        self.extra_routes["/bulk/"] = bulk_route(self)
        return self

    # ---------------------------------------------------------------- server
    def start(self) -> "DemoPortal":
        if self._server is not None:      # already serving (start() then `with portal:`)
            return self
        portal = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _serve(self, head_only: bool):
                parts = urlsplit(self.path)
                for prefix, fn in portal.extra_routes.items():
                    if parts.path.startswith(prefix):
                        status, headers, body = fn(self, parts)
                        break
                else:
                    status, headers, body = portal.route(parts.path, parse_qs(parts.query))
                headers = dict(headers)
                if status == 200:
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    headers["ETag"] = etag
                    headers["Last-Modified"] = format_datetime(portal.as_of.astimezone(timezone.utc), usegmt=True)
                    if self.headers.get("If-None-Match") == etag:
                        status, body = 304, b""
                portal.request_log.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head_only and status != 304:
                    self.wfile.write(body)

            def do_GET(self):
                self._serve(False)

            def do_HEAD(self):
                self._serve(True)

            def do_POST(self):
                self._serve(False)

        self.extra_routes.setdefault("/wxapi", self.wechat_api().portal_route("/wxapi"))
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="demo-portal")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "DemoPortal":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _html_headers(charset: str) -> dict[str, str]:
    return {"Content-Type": f"text/html; charset={charset}"}


# ---------------------------------------------------------------- bulk mode (bench/bench_scale.py)
BULK_PREFIX = "/bulk/"
BULK_RATES = (1, 2, 3, 5)   # posts per week of a column, picked by a hash of its number (a busy one needs page 2)


def bulk_posts(column: int, as_of: datetime) -> list[DemoPost]:
    """Bulk column `column`'s posts, newest first, none after `as_of`; the same on every call."""
    from datetime import time, timedelta

    from ..types import TZ

    rate = BULK_RATES[int(hashlib.md5(f"bulk/{column}".encode()).hexdigest(), 16) % len(BULK_RATES)]
    monday0 = content.week_monday(as_of)
    out: list[DemoPost] = []
    for week in range(-content.HISTORY_WEEKS, 1):
        monday = monday0 + timedelta(weeks=week)
        for i in range(rate):
            h = int(hashlib.md5(f"bulk/{column}/{week}/{i}".encode()).hexdigest(), 16)
            published = datetime.combine(monday + timedelta(days=h % 5), time(8 + h % 10, (h >> 8) % 60), TZ)
            if published > as_of:
                continue
            seq = (week + content.HISTORY_WEEKS) * 10 + i
            action = content.ACTIONS[(h >> 16) % len(content.ACTIONS)].format(
                t=content.TOPICS[(h >> 24) % len(content.TOPICS)])
            out.append(DemoPost(f"bulk{column}", "portal", seq, f"第{column}栏目{action}", published))
    out.sort(key=lambda p: (p.published, p.seq), reverse=True)
    return out


def bulk_route(portal: DemoPortal) -> Callable:
    """Handler for /bulk/<i>/index[_n].html and /bulk/<i>/<yyyymm>/t<slug>.html (DemoPortal.extra_routes)."""
    def handle(_handler, parts) -> tuple[int, dict[str, str], bytes]:
        bits = [b for b in parts.path.split("/") if b]
        if len(bits) in (3, 4) and bits[1].isdigit():
            column = int(bits[1])
            posts = bulk_posts(column, portal.as_of)
            m = re.fullmatch(r"index(?:_(\d+))?\.html", bits[2]) if len(bits) == 3 else None
            if m:
                page = int(m.group(1) or 0)
                if not page or page * PAGE_SIZE < len(posts):
                    return 200, _html_headers("utf-8"), _trs_list(f"bulk{column}", posts, page, False).encode()
            post = next((p for p in posts if len(bits) == 4 and f"t{p.slug}.html" == bits[3]), None)
            if post:
                return 200, _html_headers("utf-8"), _article(post).encode()
        return 404, _html_headers("utf-8"), "<html><body><h1>404 页面不存在</h1></body></html>".encode()
    return handle


PRODUCTION_FETCH = {"per_host_interval": 1.0, "max_concurrency": 4, "timeout": 15, "retries": 2,
                    "backoff": 1.0, "allow_private": ["127.0.0.0/8"]}


def bulk_registry(base_urls: list[str], columns: int, *, per_unit: int = 1,
                  fetch: dict | None = None) -> dict:
    """A registry (as units.yaml data) for `columns` bulk columns, `per_unit` columns per unit; unit u
    lives on host base_urls[u % len(base_urls)] (all its columns on one host, like a county portal).
    Fetch settings default to production politeness (1 request/s per host, 4 in flight)."""
    n_units = -(-columns // per_unit)
    units = []
    for u in range(n_units):
        base = base_urls[u % len(base_urls)].rstrip("/")
        cols = [{"id": f"c{i}", "name": f"工作动态{i}", "type": "news", "profile": "trs",
                 "url": f"{base}{BULK_PREFIX}{i}/index.html"}
                for i in range(u * per_unit, min(columns, (u + 1) * per_unit))]
        units.append({"id": f"b{u:05d}", "name": f"批量单位{u:05d}", "category": "department",
                      "contacts": {"leader": {"name": "分管领导", "email": f"leader.b{u:05d}@county.example.gov.cn"},
                                   "staff": {"name": "信息员", "email": f"xxy.b{u:05d}@county.example.gov.cn"}},
                      "portal": {"columns": cols}})
    return {"office": {"name": "批量测试县人民政府办公室", "short": "县政务公开办"},
            "fetch": dict(fetch or PRODUCTION_FETCH), "units": units}


def write_bulk_registry(path, base_urls: list[str], columns: int, *, per_unit: int = 1,
                        fetch: dict | None = None):
    """Write `bulk_registry(...)` as YAML to `path`; returns the path."""
    from pathlib import Path

    import yaml

    out = Path(path)
    out.write_text(yaml.safe_dump(bulk_registry(base_urls, columns, per_unit=per_unit, fetch=fetch),
                                  allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out
