"""PortalColumn against real local HTTP servers, the real fetcher and the real list parser."""
from __future__ import annotations

import html
from datetime import date, datetime, timedelta

import pytest

from httpfaults import RIVERS_412, FaultServer, closed_port
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.registry import SourceConfig
from pubwatch.sources.base import SOURCE_TYPES, CrawlContext
from pubwatch.sources.portal import PortalColumn
from pubwatch.types import TZ, Outcome

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)       # Friday of 2026-W47
SINCE = date(2026, 11, 9)
PER_PAGE = 10


def fetcher(**kw) -> Fetcher:
    base = dict(allow_private=("127.0.0.1",), per_host_interval=0.0, backoff=0.01, timeout=2.0,
                retries=0, respect_robots=False)
    base.update(kw)
    return Fetcher(FetchSettings(**base))


def column(url: str, **options) -> PortalColumn:
    cfg = SourceConfig(id="jyj.portal.gzdt", unit_id="jyj", channel="portal", type="portal", name="工作动态",
                       url=url, options={"profile": "auto", **options})
    return PortalColumn(cfg)


def ctx(f: Fetcher, **kw) -> CrawlContext:
    base = dict(fetcher=f, now=NOW, since=SINCE)
    base.update(kw)
    return CrawlContext(**base)


def posts(n: int, newest: date = date(2026, 11, 19), step_days: int = 1) -> list[tuple[str, str, date]]:
    """(slug, title, date) newest first."""
    out = []
    for i in range(n):
        d = newest - timedelta(days=i * step_days)
        out.append((f"t{d:%Y%m%d}_{i}", f"县教育局召开第{n - i}次教育工作推进会", d))
    return out


def trs_page(items: list[tuple[str, str, date]], page: int, total: int, *, dates: bool = True,
             pinned: tuple[str, str, date] | None = None) -> str:
    lis = []
    if pinned:
        slug, title, d = pinned
        lis.append(f'<li class="top"><span class="zd">[置顶]</span><a href="./{d:%Y%m}/{slug}.html" '
                   f'title="{html.escape(title)}">{html.escape(title)}</a><span>{d:%Y-%m-%d}</span></li>')
    for slug, title, d in items:
        when = f"<span>{d:%Y-%m-%d}</span>" if dates else ""
        lis.append(f'<li><a href="./{d:%Y%m}/{slug}.html" target="_blank" title="{html.escape(title)}">'
                   f"{html.escape(title)}</a>{when}</li>")
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态_某某县教育局_某某县人民政府</title>
<meta name="ColumnName" content="工作动态"></head><body>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="../">教育局</a> &gt; 工作动态</div>
<div class="list-right"><ul class="list">
{chr(10).join(lis)}
</ul>
<div class="page"><script type="text/javascript">
var currentPage = {page};var countPage = {total};
createPageHTML({total}, {page}, "index", "html");
</script></div></div>
<div class="footer">主办：某某县人民政府办公室</div></body></html>"""


def serve_column(srv: FaultServer, all_posts, *, dates: bool = True, pinned=None, etag: str | None = None,
                 base: str = "/jyj/gzdt/") -> str:
    total = max(1, -(-len(all_posts) // PER_PAGE))
    for page in range(total):
        chunk = all_posts[page * PER_PAGE:(page + 1) * PER_PAGE]
        name = "index.html" if page == 0 else f"index_{page}.html"
        body = trs_page(chunk, page, total, dates=dates, pinned=pinned if page == 0 else None)
        srv.route(base + name, body=body, etag=etag if page == 0 else None)
        if page == 0:
            srv.route(base, body=body, etag=etag)
    return srv.url(base)


def article(title: str, when: datetime | None) -> str:
    meta = f'<meta name="PubDate" content="{when:%Y-%m-%d %H:%M}">' if when else ""
    info = f"发布时间：{when:%Y-%m-%d %H:%M}" if when else "来源：教育局"
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8">{meta}<title>{title}</title></head><body>'
            f'<h1>{title}</h1><div class="info">{info}</div><div class="content"><p>会议强调要压实责任。</p></div></body></html>')


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


# -- the good path ---------------------------------------------------------------------------------
def test_registered_and_first_crawl_reads_items_and_keeps_validators(srv):
    url = serve_column(srv, posts(6), etag='"abc"')
    assert SOURCE_TYPES["portal"] is PortalColumn
    with fetcher() as f:
        res = column(url).fetch(ctx(f))
    assert res.outcome is Outcome.OK, res.message
    assert len(res.items) == 6 and res.pages == 1 and res.requests == 1
    first = res.items[0]
    assert first.url == srv.url("/jyj/gzdt/202611/t20261119_0.html") and first.published.date() == date(2026, 11, 19)
    assert res.state == {"validators": {url: {"etag": '"abc"', "last_modified": None}},
                         "list_container": "html:div.list-right>ul.list"}


def test_steady_state_recrawl_is_one_request_not_modified(srv):
    url = serve_column(srv, posts(6), etag='"abc"')
    with fetcher() as f:
        first = column(url).fetch(ctx(f))
        again = column(url).fetch(ctx(f, state=first.state, previous_items=len(first.items),
                                      known_urls=frozenset(i.url for i in first.items)))
    assert again.outcome is Outcome.NOT_MODIFIED and again.items == [] and again.requests == 1
    assert srv.hits("/jyj/gzdt/")[-1].headers.get("If-None-Match") == '"abc"'


# -- incremental pagination -------------------------------------------------------------------------
def test_pagination_stops_once_the_period_is_covered(srv):
    url = serve_column(srv, posts(40))                  # 4 pages, one post a day from 11-19 back
    with fetcher() as f:
        res = column(url).fetch(ctx(f, since=date(2026, 11, 5)))   # 11-19..11-10 on p1, 11-04 on p2
    assert res.outcome is Outcome.OK, res.message
    assert res.pages == 2 and len(res.items) == 20
    assert srv.hits("/jyj/gzdt/index_2.html") == []


def test_pagination_stops_at_a_known_url(srv):
    all_posts = posts(40, step_days=0)                  # all on one day: dates never close the period
    url = serve_column(srv, all_posts)
    known = frozenset({srv.url(f"/jyj/gzdt/202611/{all_posts[15][0]}.html")})
    with fetcher() as f:
        res = column(url).fetch(ctx(f, since=date(2026, 11, 1), known_urls=known))
    assert res.outcome is Outcome.OK and res.pages == 2 and len(res.items) == 20
    assert srv.hits("/jyj/gzdt/index_2.html") == []


def test_pinned_old_item_does_not_stop_pagination_and_max_pages_caps(srv):
    pinned = ("t20250101_top", "关于进一步做好政务公开工作的通知", date(2025, 1, 1))
    url = serve_column(srv, posts(40, step_days=0), pinned=pinned)
    with fetcher() as f:
        res = column(url, max_pages=3).fetch(ctx(f, since=date(2026, 11, 1)))
    assert res.outcome is Outcome.OK and res.pages == 3
    assert any(i.pinned for i in res.items) and "max_pages" in res.message
    assert srv.hits("/jyj/gzdt/index_3.html") == []


def test_failing_later_page_keeps_items_and_reports_the_failure(srv):
    url = serve_column(srv, posts(30, step_days=0))
    srv.route("/jyj/gzdt/index_1.html", status=500)
    with fetcher() as f:
        res = column(url).fetch(ctx(f, since=date(2026, 11, 1)))
    assert res.outcome is Outcome.HTTP_ERROR and res.http_status == 500 and "第2页" in res.message
    assert len(res.items) == 10 and res.state == {}


# -- failures are honest outcomes --------------------------------------------------------------------
def test_fetch_failures_map_to_their_outcomes(srv):
    srv.route("/down/", status=503)
    srv.route("/waf/", status=412, body=RIVERS_412)
    srv.route("/robots.txt", body="User-agent: *\nDisallow: /waf/\nDisallow: /secret/\n")
    cases = [
        (srv.url("/down/"), {}, Outcome.HTTP_ERROR),
        (srv.url("/waf/"), {}, Outcome.BLOCKED),
        (f"http://127.0.0.1:{closed_port()}/col/", {}, Outcome.UNREACHABLE),
        ("http://www.nowhere.invalid/col/", {}, Outcome.UNREACHABLE),
        (srv.url("/secret/"), {"respect_robots": True}, Outcome.BLOCKED),
        (srv.url("/down/"), {"allow_private": ()}, Outcome.CONFIG_ERROR),
    ]
    for url, settings, outcome in cases:
        with fetcher(**settings) as f:
            res = column(url).fetch(ctx(f))
        assert res.outcome is outcome, (url, res.message)
        assert res.message and res.items == []


def test_page_that_is_not_a_list_is_parse_failed(srv):
    srv.route("/moved/", body="""<html><head><meta charset="utf-8"><title>某某县人民政府</title></head><body>
<div id="app"></div><p>网站正在升级改版, 请稍后访问。</p>
<script src="/static/js/app.7f3a.js"></script></body></html>""")
    with fetcher() as f:
        res = column(srv.url("/moved/")).fetch(ctx(f, previous_items=12))
    assert res.outcome is Outcome.PARSE_FAILED and "改版" in res.message and res.items == []


def test_empty_shell_is_parse_failed_and_a_column_saying_empty_is_unproven(srv):
    srv.route("/shell/", body=trs_page([], 0, 1))             # the list area is simply gone
    srv.route("/none/", body=trs_page([], 0, 1).replace('<ul class="list">', '<ul class="list"><li>暂无信息</li>'))
    with fetcher() as f:
        shell = column(srv.url("/shell/"), allow_empty=True).fetch(ctx(f, previous_items=12))
        none = column(srv.url("/none/")).fetch(ctx(f, previous_items=12))
    assert shell.outcome is Outcome.PARSE_FAILED and "改版" in shell.message
    # #15: "暂无信息" where 12 items were listed is not "no posts" (it used to be OK, covering all history).
    assert none.outcome is Outcome.SUSPECT_EMPTY and none.items == [] and "此前有12条" in none.message
    assert "validators" not in none.state and none.covered_from is None


def test_never_raises_even_with_a_broken_fetcher():
    res = column("http://127.0.0.1:9/x/").fetch(CrawlContext(fetcher=None, now=NOW))
    assert res.outcome is Outcome.SOURCE_ERROR and "AttributeError" in res.message


# -- dates from the article when the list has none -----------------------------------------------------
def test_article_date_fallback_for_new_undated_items(srv):
    items = posts(4)
    url = serve_column(srv, items, dates=False)
    slugs = [s for s, _, _ in items]
    srv.route(f"/jyj/gzdt/202611/{slugs[0]}.html", body=article("会议一", datetime(2026, 11, 19, 10, 30)))
    srv.route(f"/jyj/gzdt/202611/{slugs[1]}.html", body=article("会议二", None))      # no date anywhere
    srv.route(f"/jyj/gzdt/202611/{slugs[2]}.html", body=article("会议三", datetime(2026, 11, 17, 9, 0)))
    known = frozenset({srv.url(f"/jyj/gzdt/202611/{slugs[3]}.html")})
    with fetcher() as f:
        res = column(url, max_articles=2).fetch(ctx(f, known_urls=known))
    assert res.outcome is Outcome.OK, res.message
    by_slug = {i.url.rsplit("/", 1)[1][:-5]: i for i in res.items}
    assert by_slug[slugs[0]].published == datetime(2026, 11, 19, 10, 30, tzinfo=TZ)
    assert by_slug[slugs[1]].published is None                     # kept, counted as 未注明发布时间
    assert by_slug[slugs[2]].published is None and "上限2条" in res.message   # over the cap
    assert by_slug[slugs[3]].published is None                     # known: never reopened
    assert srv.hits(f"/jyj/gzdt/202611/{slugs[3]}.html") == []
    assert srv.hits(f"/jyj/gzdt/202611/{slugs[2]}.html") == []
    assert res.requests == 3
