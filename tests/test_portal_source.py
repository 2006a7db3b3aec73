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


# -- dates by meaning, confirmed from the article when the list is unsure (issue #15) ------------------
def xxgk_table(rows: list[tuple[str, str, str, str]], *, header: bool = True) -> str:
    """A 信息公开目录 table: (slug, title, 成文日期, 发布日期) rows, newest first."""
    head = ("<tr class='head'><td>序号</td><td>信息名称</td><td>发布机构</td><td>成文日期</td><td>发布日期</td></tr>"
            if header else "")
    body = "\n".join(f"<tr>\n<td>{i + 1}</td>\n<td class='mc'><a href='./{slug}.html' target='_blank'>{html.escape(t)}</a></td>"
                     f"\n<td>县教育局</td>\n<td>{cw}</td>\n<td>{fb}</td>\n</tr>"
                     for i, (slug, t, cw, fb) in enumerate(rows))
    return f"""<html><head><meta charset="utf-8"><title>法定主动公开内容_县教育局</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/xxgk/">信息公开</a></div>
<table class="xxgk-list">{head}
{body}
</table></body></html>"""


TABLE_ROWS = [("t20261120_3", "县教育局关于做好冬季学校安全工作的通知", "2026-11-13", "2026-11-20"),
              ("t20261118_2", "县教育局2026年学生资助政策宣传月活动实施方案", "2026-11-12", "2026-11-18"),
              ("t20261116_1", "县教育局关于公布秋季学期学校作息时间的通知", "2026-11-10", "2026-11-16")]


def test_table_with_issuing_body_and_written_date_columns_needs_no_article(srv):
    srv.route("/xxgk/jyj/", body=xxgk_table(TABLE_ROWS))
    with fetcher() as f:
        res = column(srv.url("/xxgk/jyj/")).fetch(ctx(f))
    assert res.outcome is Outcome.OK, res.message
    assert [i.published.date() for i in res.items] == [date(2026, 11, 20), date(2026, 11, 18), date(2026, 11, 16)]
    assert res.requests == 1 and all(i.extra["date_field"] == "发布日期" for i in res.items)


def test_unsure_list_dates_are_confirmed_from_the_article_once_when_first_seen(srv):
    """Without a header the row shows two dates (成文, 发布): the list takes the later one and marks
    it unsure; the article of each new row is read once, and both dates are kept."""
    srv.route("/xxgk/jyj/", body=xxgk_table(TABLE_ROWS, header=False))
    srv.route("/xxgk/jyj/t20261120_3.html", body=article("通知", datetime(2026, 11, 20, 16, 30)))
    srv.route("/xxgk/jyj/t20261118_2.html", body=article("方案", datetime(2026, 11, 19, 9, 0)))
    known = frozenset({srv.url("/xxgk/jyj/t20261116_1.html")})
    with fetcher() as f:
        res = column(srv.url("/xxgk/jyj/")).fetch(ctx(f, known_urls=known))
        again = column(srv.url("/xxgk/jyj/")).fetch(ctx(f, known_urls=frozenset(i.url for i in res.items)))
    assert res.outcome is Outcome.OK, res.message
    a, b, c = res.items
    assert a.published == datetime(2026, 11, 20, 16, 30, tzinfo=TZ)          # same day, the article's time
    assert a.extra["list_date"] == "2026-11-20T00:00:00+08:00" and a.extra["date_from"] == "article"
    assert a.extra["article_date"] == "2026-11-20T16:30:00+08:00" and a.extra["article_date_from"] == "meta:pubdate"
    assert b.published == datetime(2026, 11, 19, 9, 0, tzinfo=TZ)            # the article wins over an unsure list
    assert b.extra["list_dates"] == ["2026-11-18", "2026-11-12"] and b.extra["date_check"] == "several_dates"
    assert c.published.date() == date(2026, 11, 16) and "article_date" not in c.extra   # known: not reopened
    assert res.requests == 3 and srv.hits("/xxgk/jyj/t20261116_1.html") == []
    assert "2条列表日期存疑" in res.message and "1条改用正文日期" in res.message
    assert again.outcome is Outcome.OK and again.requests == 1                # no new post, no article


def test_placeholder_dates_are_replaced_by_the_article_date_and_said(srv):
    rows = [(s, t, cw, "1900-01-01" if i == 0 else fb) for i, (s, t, cw, fb) in enumerate(TABLE_ROWS)]
    srv.route("/xxgk/jyj/", body=xxgk_table(rows))
    srv.route("/xxgk/jyj/t20261120_3.html", body=article("通知", datetime(2026, 11, 20, 10, 0)))
    with fetcher() as f:
        res = column(srv.url("/xxgk/jyj/")).fetch(ctx(f))
    assert res.outcome is Outcome.OK, res.message
    first = res.items[0]
    assert first.published == datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
    assert first.extra["date_implausible"] == "1900-01-01" and first.extra["list_date"] is None
    assert "1条列表日期不可信" in res.message and "1900-01-01" in res.message
    assert res.requests == 2


def test_a_list_of_placeholder_dates_only_is_parse_failed(srv):
    rows = [(s, t, "1900-01-01", "1900-01-01") for s, t, _, _ in TABLE_ROWS]
    srv.route("/xxgk/jyj/", body=xxgk_table(rows))
    with fetcher() as f:
        res = column(srv.url("/xxgk/jyj/")).fetch(ctx(f))
    assert res.outcome is Outcome.PARSE_FAILED and res.items == []
    assert "全部不可信" in res.message and "1900-01-01" in res.message and res.requests == 1


def test_an_article_with_a_placeholder_date_does_not_date_the_post(srv):
    url = serve_column(srv, posts(3), dates=False)
    for slug, title, d in posts(3):
        srv.route(f"/jyj/gzdt/{d:%Y%m}/{slug}.html", body=article(title, datetime(1900, 1, 1)))
    with fetcher() as f:
        res = column(url).fetch(ctx(f))
    assert res.outcome is Outcome.OK and [i.published for i in res.items] == [None, None, None]
    assert res.requests == 4


def test_a_date_breaking_the_list_order_is_confirmed_from_the_article(srv):
    items = posts(8)
    slug, title, _ = items[3]
    items[3] = (slug, title, date(2025, 11, 16))                  # a typo'd year on the list
    url = serve_column(srv, items)
    srv.route(f"/jyj/gzdt/202511/{slug}.html", body=article(title, datetime(2026, 11, 16, 11, 0)))
    with fetcher() as f:
        res = column(url).fetch(ctx(f))
    odd = res.items[3]
    assert odd.published == datetime(2026, 11, 16, 11, 0, tzinfo=TZ) and odd.extra["date_check"] == "out_of_order"
    assert odd.extra["list_date"] == "2025-11-16T00:00:00+08:00" and res.requests == 2


def test_a_mistyped_old_date_does_not_stop_paging(srv):
    """An item in the middle of page 1 says 2025 by mistake: it does not cover the period, page 2
    is read (it used to stop paging, leaving the older posts of the period unread)."""
    items = posts(PER_PAGE + 4)
    slug, title, _ = items[3]
    items[3] = (slug, title, date(2025, 11, 16))
    url = serve_column(srv, items)
    srv.route(f"/jyj/gzdt/202511/{slug}.html", body=article(title, datetime(2026, 11, 16, 9, 0)))
    with fetcher() as f:
        res = column(url).fetch(ctx(f, since=date(2026, 11, 1)))
    assert res.outcome is Outcome.OK and res.pages == 2 and len(res.items) == PER_PAGE + 4
