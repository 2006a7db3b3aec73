"""Issue #15: no false 未达标 on pages pubwatch has never seen.

Every trap runs two crawls through the real stack (FaultServer on 127.0.0.1, the real fetcher, list
parser, crawl_unit, store and evaluate_period, on SQLite and PostgreSQL): a good crawl on Wednesday
of 2026-W47, then the faulty page on Monday after the week. The faulty read must leave the week
无法核实 — never 未达标 — with the reason shown, must not reach back into weeks nobody verified
(W44), must store nothing it did not prove to be the unit's, and must not stay in the history after
the site heals. The pages are in tests/fixtures/traps/ (see its README): the broken page exactly as
the CMS serves it; the Wednesday page is the same template with the column's entries filled in.

Statuses are asserted before outcome names so that, run against the code before #15, each trap
fails on its verdict (未达标 where nobody verified, 达标 from the homepage's news), not on a name.
"""
from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa
import yaml

from httpfaults import FaultServer, Reply
from pubwatch.evaluate import evaluate_period
from pubwatch.periods import Period
from pubwatch.sources.listparse import parse_list
from pubwatch.store import MIGRATIONS_DIR, Store, upgrade
from pubwatch.types import OUTCOME_LABELS, TZ, Outcome, Status
from test_faults import (HEAL, MON, NEW_POST, OLD_POSTS, WED, Week, attempts, crawl_all, list_page, post_urls,
                         registry, unit_entry)
from test_portal_source import serve_column

ROOT = Path(__file__).resolve().parents[1]
TRAPS = ROOT / "tests" / "fixtures" / "traps"
W44, W47, W48, W49 = (Period.parse(k) for k in ("2026-W44", "2026-W47", "2026-W48", "2026-W49"))
SUSPECT, REDIRECTED, PARSE_FAILED = "suspect_empty", "redirected", "parse_failed"
JSON_SPEC = {"list": "data.list", "title": "docTitle", "url": "docUrl", "date": "pubDate"}
GBK = {"Content-Type": "text/html"}                    # GBK bytes; the charset comes from <meta>


def trap_text(name: str) -> str:
    raw = (TRAPS / name).read_bytes()
    return raw.decode("gbk") if "_gbk" in name else raw.decode("utf-8")


def _li(posts) -> str:
    return "\n".join(f'<li><a href="./{d:%Y%m}/{slug}.html" target="_blank" title="{html.escape(t)}">'
                     f"{html.escape(t)}</a><span>{d:%Y-%m-%d}</span></li>" for slug, t, d in posts)


# ---------------------------------------------------------------------------------------------
# The same CMS page with the column's entries (Wednesday, after healing) or as the fixture (the fault)
# ---------------------------------------------------------------------------------------------
def trs(posts) -> dict:
    page = trap_text("trs_nodata_gbk.html")
    if posts:
        page = page.replace('<ul class="list">\n</ul>\n<div class="nodata">暂无信息</div>',
                            f'<ul class="list">\n{_li(posts)}\n</ul>')
    return {"body": page.encode("gbk"), "headers": GBK}


def xxgk_table(posts) -> dict:
    page = trap_text("xxgk_table_nodata_gbk.html")
    if posts:
        rows = "\n".join(f'<tr><td>{i}</td><td class="bt"><a href="./{d:%Y%m}/{slug}.html" target="_blank" '
                         f'title="{html.escape(t)}">{html.escape(t)}</a></td><td>{d:%Y-%m-%d}</td>'
                         f"<td>{d:%Y-%m-%d}</td></tr>" for i, (slug, t, d) in enumerate(posts, 1))
        page = (page.replace('<tr><td colspan="4" class="nodata" align="center">暂无数据</td></tr>', rows)
                .replace("共 0 条记录", f"共 {len(posts)} 条记录"))
    return {"body": page.encode("gbk"), "headers": GBK}


def jcms(posts, fixture: str = "jcms_emptied_utf8.html") -> dict:
    page = trap_text(fixture)
    if posts:
        records = "\n".join(f'<record><![CDATA[\n<li><a href="/bad/{d:%Y%m}/{slug}.html" target="_blank" '
                            f'title="{html.escape(t)}">{html.escape(t)}</a><span class="bt-data-time">{d:%Y-%m-%d}'
                            "</span></li>]]></record>" for slug, t, d in posts)
        page = (page.replace("<recordset>\n</recordset>", f"<recordset>\n{records}\n</recordset>")
                .replace("totalRecord: 0", f"totalRecord: {len(posts)}"))
        page = "\n".join(line for line in page.splitlines() if "xtwh-tip" not in line)
    return {"body": page}


def search_list(posts) -> dict:
    page = trap_text("search_none_utf8.html")
    if posts:
        page = page.replace('<ul class="xxgk-ul">\n</ul>\n<div class="no-data">未找到相关内容</div>',
                            f'<ul class="xxgk-ul">\n{_li(posts)}\n</ul>')
    return {"body": page}


def json_list(posts) -> dict:
    rows = [{"docTitle": t, "docUrl": f"/bad/{d:%Y%m}/{slug}.html", "pubDate": f"{d:%Y-%m-%d %H:%M:%S}"}
            for slug, t, d in posts]
    body = {"code": 200, "msg": "success", "data": {"pageNo": 1, "pageSize": 15, "total": len(rows), "list": rows}}
    return {"body": json.dumps(body, ensure_ascii=False), "headers": {"Content-Type": "application/json;charset=UTF-8"}}


def plain(posts) -> dict:
    return {"body": list_page(posts)}


def fixture_reply(name: str, headers: dict | None = None) -> Callable[[FaultServer], None]:
    def install(srv: FaultServer) -> None:
        body = (TRAPS / name).read_bytes()
        srv.route("/bad/", body=body, headers=headers or ({"Content-Type": "application/json;charset=UTF-8"}
                                                          if name.endswith(".json") else GBK if "_gbk" in name
                                                          else {}))
    return install


def to_homepage(srv: FaultServer) -> None:
    srv.route("/", body=trap_text("homepage_utf8.html"))
    srv.route("/bad/", Reply(status=302, redirect="/"))


def to_login(srv: FaultServer) -> None:
    srv.route("/sso/login", body=trap_text("login_utf8.html"))
    srv.route("/bad/", Reply(status=302, redirect="/sso/login?service=%2Fbad%2F"))


OTHER_UNIT = [("t20261120_9", "县水利局开展冬季水利工程安全检查", datetime(2026, 11, 20, 9, tzinfo=TZ)),
              ("t20261117_8", "县人社局举办农民工专场招聘会", datetime(2026, 11, 17, 9, tzinfo=TZ))]


def to_other_column(srv: FaultServer) -> None:
    srv.route("/zwgk/tzgg/", body=list_page(OTHER_UNIT, title="通知公告"))
    srv.route("/bad/", Reply(status=301, redirect="/zwgk/tzgg/"))


@dataclass
class Trap:
    name: str
    good: Callable                      # posts -> route kwargs for /bad/
    install: Callable[[FaultServer], None]
    outcome: str
    words: tuple[str, ...]              # in the attempt's message and in the verdict's reason
    options: dict = field(default_factory=dict)


TRAP_LIST = [
    Trap("暂无信息-trs-gbk", trs, fixture_reply("trs_nodata_gbk.html"), SUSPECT, ("暂无信息", "此前有2条")),
    Trap("暂无数据-xxgk-table-gbk", xxgk_table, fixture_reply("xxgk_table_nodata_gbk.html"), SUSPECT,
         ("暂无数据", "此前有2条")),
    Trap("系统维护中-jcms", lambda p: jcms(p, "jcms_maintenance_utf8.html"),
         fixture_reply("jcms_maintenance_utf8.html"), SUSPECT, ("系统维护",)),
    Trap("未找到相关内容-search-list", search_list, fixture_reply("search_none_utf8.html"), SUSPECT,
         ("未找到相关内容",)),
    Trap("soft-404-with-200", plain, fixture_reply("soft404_200_utf8.html"), SUSPECT, ("已被删除",)),
    Trap("json-code-500-系统繁忙", json_list, fixture_reply("json_busy.json"), SUSPECT, ("code=500", "系统繁忙"),
         {"profile": "json", "json": JSON_SPEC}),
    Trap("jcms-emptied-where-items-were", jcms, fixture_reply("jcms_emptied_utf8.html"), SUSPECT, ("此前有2条",)),
    Trap("js-template-暂无数据", plain, fixture_reply("js_nodata_template_utf8.html"), PARSE_FAILED,
         ("不是栏目列表",)),
    Trap("sidebar-暂无数据-list-gone", plain, fixture_reply("sidebar_nodata_utf8.html"), PARSE_FAILED,
         ("不是栏目列表",)),
    Trap("redirect-to-homepage", plain, to_homepage, REDIRECTED, ("网站首页", "moved_to")),
    Trap("redirect-to-login", plain, to_login, REDIRECTED, ("/sso/login", "moved_to")),
    Trap("redirect-to-another-column", plain, to_other_column, REDIRECTED, ("/zwgk/tzgg/",)),
]


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


def verdict(store: Store, week: Week, period: Period, as_of: datetime, unit: str = "bad",
            channel: str = "portal"):
    vs = evaluate_period(store, week.reg().units, period, as_of=as_of)
    return next(v for v in vs if v.unit_id == unit and v.channel == channel and v.rule == "weekly")


# ---------------------------------------------------------------------------------------------
# The fixtures themselves: what the parser recognises in each page
# ---------------------------------------------------------------------------------------------
PARSED = [  # file, is_list, empty, words in error, words in notice
    ("trs_nodata_gbk.html", True, True, "", "暂无信息"),
    ("xxgk_table_nodata_gbk.html", True, True, "", "暂无数据"),
    ("search_none_utf8.html", True, True, "", "未找到相关内容"),
    ("jcms_emptied_utf8.html", True, True, "", ""),
    ("jcms_maintenance_utf8.html", False, False, "系统维护", ""),
    ("soft404_200_utf8.html", False, False, "已被删除", ""),
    ("json_busy.json", False, False, "code=500 系统繁忙", ""),
    ("js_nodata_template_utf8.html", False, False, "", ""),     # "暂无数据" only inside <script>
    ("sidebar_nodata_utf8.html", False, False, "", ""),         # "暂无数据" only in a sidebar widget
    ("login_utf8.html", False, False, "", ""),
]


@pytest.mark.parametrize("name,is_list,empty,error,notice", PARSED, ids=[p[0] for p in PARSED])
def test_trap_pages_are_recognised_for_what_they_are(name, is_list, empty, error, notice):
    parsed = parse_list((TRAPS / name).read_bytes(), "http://www.example.gov.cn/bad/",
                        json_spec=JSON_SPEC if name.endswith(".json") else None)
    assert (parsed.is_list, parsed.empty, parsed.items) == (is_list, empty, [])
    assert error in parsed.error and (bool(parsed.error) == bool(error))
    assert notice in parsed.notice and (bool(parsed.notice) == bool(notice))
    assert bool(parsed.container) == empty                # an empty list knows where it is


def test_error_words_in_a_post_title_do_not_make_a_list_an_error_page():
    page = list_page([("t1", "县数据局开展政务云平台系统升级维护工作", datetime(2026, 11, 19, tzinfo=TZ)),
                      ("t2", "关于网站页面不存在问题整改情况的通报", datetime(2026, 11, 18, tzinfo=TZ))])
    parsed = parse_list(page, "http://www.example.gov.cn/bad/")
    assert parsed.is_list and len(parsed.items) == 2 and parsed.error == ""


# ---------------------------------------------------------------------------------------------
# #15.4 / #15.5: a good crawl, then the faulty page → 无法核实, never 未达标, and it does not stick
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("trap", TRAP_LIST, ids=[t.name for t in TRAP_LIST])
def test_fault_after_a_good_crawl_is_unknown_never_missed(store, srv, trap):
    week = Week(store, srv)
    week.bad_options = dict(trap.options)
    srv.route("/bad/", **trap.good(OLD_POSTS))
    week.wednesday()                                        # ok ×3, bad's two W45/W46 posts stored
    trap.install(srv)
    src = week.monday()
    bad = week.judge()[("bad", "portal")]                   # (good 达标 and quiet 未达标: the control)
    early = verdict(store, week, W44, MON + timedelta(hours=1))
    assert bad.status is Status.UNKNOWN, (bad.status, bad.reason)
    assert early.status is Status.UNKNOWN, (early.status, early.reason)   # a week nobody ever verified
    assert len(post_urls(store, "bad")) == 2                 # nothing from the faulty page is the unit's
    assert src["outcome"] == trap.outcome, src
    assert "不作未达标处理" in bad.reason and OUTCOME_LABELS[Outcome(trap.outcome)] in bad.reason
    for w in trap.words:
        assert w in src["message"] and w in bad.reason, (w, src["message"], bad.reason)
    last = attempts(store, "bad")[-1]
    assert last.outcome == trap.outcome and last.covered_from is None

    # The site heals: the week is judged on the new read, and the fault left nothing behind.
    srv.route("/bad/", **trap.good([NEW_POST] + OLD_POSTS))
    out = crawl_all(store, week.reg(), HEAL)
    assert out["bad"]["sources"][0]["outcome"] == "ok", out["bad"]
    assert verdict(store, week, W47, HEAL + timedelta(hours=1)).status is Status.MET
    assert verdict(store, week, W44, HEAL + timedelta(hours=1)).status is Status.UNKNOWN
    urls = post_urls(store, "bad")
    assert len(urls) == len(set(urls)) == 3


def test_empty_bridge_feed_with_allow_empty_is_unknown_not_missed(store, srv):
    """The WeChat side: a bridge that lost its data answers a fresh, empty feed. allow_empty let it
    through as "no posts, ever" (coverage: all history); now it is unproven like any empty list."""
    week = Week(store, srv, channel="wechat")
    week.bad_options = {"allow_empty": True}
    week.wednesday()
    srv.route("/bad.xml", body=(TRAPS / "rss_empty_fresh.xml").read_bytes(),
              headers={"Content-Type": "application/rss+xml; charset=utf-8"})
    src = week.monday()
    bad = week.judge()[("bad", "wechat")]
    early = verdict(store, week, W44, MON + timedelta(hours=1), channel="wechat")
    assert bad.status is Status.UNKNOWN and early.status is Status.UNKNOWN, (bad.reason, early.reason)
    assert src["outcome"] == SUSPECT and "订阅源为空" in bad.reason and "此前有2条" in bad.reason
    week.heal_and_recrawl()
    assert verdict(store, week, W44, HEAL + timedelta(hours=1), channel="wechat").status is Status.UNKNOWN


def test_later_page_redirected_to_the_homepage_keeps_page_one_and_adds_nothing(store, srv):
    """Page 2 of a busy column bounces to the homepage: page 1's posts are kept, the homepage's news
    is not taken as the unit's, and the read proves nothing."""
    busy = [(f"t202611{22 - i:02d}_{i}", f"县某局召开第{30 - i}次专题工作会议", datetime(2026, 11, 22 - i, 9, tzinfo=TZ))
            for i in range(15)]
    base = serve_column(srv, busy, base="/busy/")
    srv.route("/", body=trap_text("homepage_utf8.html"))
    srv.route("/busy/index_1.html", Reply(status=302, redirect="/"))
    reg = registry([unit_entry("busy", portal=base)])
    out = crawl_all(store, reg, MON)["busy"]["sources"][0]
    assert out["outcome"] == REDIRECTED and "第2页被重定向" in out["message"]
    urls = post_urls(store, "busy")
    assert len(urls) == 10 and all("/busy/" in u for u in urls)
    assert "/zwdt/" not in " ".join(urls)
    v = evaluate_period(store, reg.units, W47, as_of=MON + timedelta(hours=1))
    assert next(x for x in v if x.channel == "portal" and x.rule == "weekly").status is Status.MET   # its own posts


def test_a_declared_move_is_followed_and_an_undeclared_one_is_not(store, srv):
    """moved_to names the column's new address: the same redirect is then the column."""
    week = Week(store, srv)
    week.wednesday()
    srv.route("/xxgk/jyj/gzdt/", body=list_page([NEW_POST] + OLD_POSTS))
    srv.route("/bad/", Reply(status=301, redirect="/xxgk/jyj/gzdt/"))
    assert week.monday()["outcome"] == REDIRECTED
    assert week.judge()[("bad", "portal")].status is Status.UNKNOWN
    week.bad_options = {"moved_to": srv.url("/xxgk/jyj/gzdt/index.html")}
    out = crawl_all(store, week.reg(), HEAL)["bad"]["sources"][0]
    assert out["outcome"] == "ok" and out["items_new"] == 1
    assert verdict(store, week, W47, HEAL + timedelta(hours=1)).status is Status.MET


def test_https_and_index_page_redirects_stay_on_the_column(store, srv):
    week = Week(store, srv)
    week.wednesday()
    srv.route("/bad/index.html", body=list_page([NEW_POST] + OLD_POSTS))
    srv.route("/bad/", Reply(status=302, redirect="/bad/index.html"))
    assert week.monday()["outcome"] == "ok"
    assert week.judge()[("bad", "portal")].status is Status.MET


# ---------------------------------------------------------------------------------------------
# A column that really was emptied: confirmed by two empty reads a day apart, and only from then on
# ---------------------------------------------------------------------------------------------
def test_a_really_emptied_column_is_confirmed_by_two_reads_a_day_apart(store, srv):
    week = Week(store, srv)
    srv.route("/bad/", **trs(OLD_POSTS))
    week.wednesday()
    srv.route("/bad/", **trs([]))                           # emptied for good
    assert week.monday()["outcome"] == SUSPECT
    half_day = crawl_all(store, week.reg(), MON + timedelta(hours=12))["bad"]["sources"][0]
    assert half_day["outcome"] == SUSPECT                   # the same day proves nothing more
    next_day = crawl_all(store, week.reg(), MON + timedelta(days=1, hours=1))["bad"]["sources"][0]
    assert next_day["outcome"] == "ok" and "已确认" in next_day["message"]
    assert attempts(store, "bad")[-1].covered_from == MON   # proven empty since the first empty read only
    # W47 ended before anyone saw the column empty; W48 began 6.5 hours before that first read.
    assert verdict(store, week, W47, MON + timedelta(days=1, hours=2)).status is Status.UNKNOWN
    crawl_all(store, week.reg(), MON + timedelta(days=14))
    assert verdict(store, week, W48, MON + timedelta(days=14, hours=1)).status is Status.UNKNOWN
    w49 = verdict(store, week, W49, MON + timedelta(days=14, hours=1))
    assert w49.status is Status.MISSED and "发文0篇" in w49.reason   # the harness still accuses when it knows


def test_entries_end_an_empty_streak_and_error_pages_never_confirm(store, srv):
    week = Week(store, srv)
    srv.route("/bad/", **trs(OLD_POSTS))
    week.wednesday()
    srv.route("/bad/", **trs([]))
    assert week.monday()["outcome"] == SUSPECT
    srv.route("/bad/", **trs(OLD_POSTS))                    # back, with its entries
    assert crawl_all(store, week.reg(), MON + timedelta(hours=6))["bad"]["sources"][0]["outcome"] == "ok"
    srv.route("/bad/", **trs([]))
    again = crawl_all(store, week.reg(), MON + timedelta(days=1, hours=1))["bad"]["sources"][0]
    assert again["outcome"] == SUSPECT                      # a new streak, not the old one
    fixture_reply("soft404_200_utf8.html")(srv)
    for days in (2, 4, 9):
        out = crawl_all(store, week.reg(), MON + timedelta(days=days))["bad"]["sources"][0]
        assert out["outcome"] == SUSPECT and "已被删除" in out["message"]
    assert all(a.covered_from is None for a in attempts(store, "bad")[1:] if a.outcome != "ok")


def test_an_empty_list_container_that_is_gone_is_not_the_column(store, srv):
    """The known list container missing from an "empty" page: not the column's list, never confirmed."""
    week = Week(store, srv)
    srv.route("/bad/", **trs(OLD_POSTS))
    week.wednesday()
    page = trap_text("trs_nodata_gbk.html").replace('<ul class="list">\n</ul>\n', "").replace(
        'class="list-right"', 'class="content-right"')
    srv.route("/bad/", body=page.encode("gbk"), headers=GBK)
    for days in (0, 2):
        out = crawl_all(store, week.reg(), MON + timedelta(days=days))["bad"]["sources"][0]
        assert out["outcome"] == SUSPECT and "列表区域不见了" in out["message"]


# ---------------------------------------------------------------------------------------------
# #15.7: a first read pages back over the weeks the office evaluates
# ---------------------------------------------------------------------------------------------
def test_first_read_pages_back_over_the_five_weeks_the_office_evaluates(store, srv):
    """Two posts a day, none in W43. The first crawl (Monday 2026-11-23) pages back to Monday
    2026-10-19 (five weeks before W48), so W43 is judged at once — 未达标, proven — instead of
    staying 无法核实 for weeks because the first read stopped after 21 days."""
    days = [date(2026, 11, 22) - timedelta(days=i) for i in range(49)]
    days = [d for d in days if not date(2026, 10, 19) <= d <= date(2026, 10, 25)]
    column = [(f"t{d:%Y%m%d}_{k}", f"县某局工作动态{d:%m%d}第{k}条", datetime(d.year, d.month, d.day, tzinfo=TZ))
              for d in days for k in (1, 2)]
    entry = unit_entry("deep", portal=serve_column(srv, column, base="/deep/"))
    entry["portal"]["columns"][0]["max_pages"] = 8
    reg = registry([entry])
    out = crawl_all(store, reg, MON)["deep"]["sources"][0]
    assert out["outcome"] == "ok" and out["requests"] == 6, out
    assert srv.hits("/deep/index_6.html") == []             # stopped once the five weeks were covered
    w43 = evaluate_period(store, reg.units, Period.parse("2026-W43"), as_of=MON + timedelta(hours=1))
    assert next(v for v in w43 if v.rule == "weekly" and v.channel == "portal").status is Status.MISSED
    again = crawl_all(store, reg, MON + timedelta(hours=12))["deep"]["sources"][0]
    assert again["requests"] == 1                           # a routine read stays one request
    from pubwatch.crawl import first_read_since

    assert first_read_since(MON, 5) == date(2026, 10, 19)


def test_first_read_is_still_capped_by_max_pages(store, srv):
    days = [date(2026, 11, 22) - timedelta(days=i) for i in range(49)]
    column = [(f"t{d:%Y%m%d}_{k}", f"县某局工作动态{d:%m%d}第{k}条", datetime(d.year, d.month, d.day, tzinfo=TZ))
              for d in days for k in (1, 2)]
    reg = registry([unit_entry("deep", portal=serve_column(srv, column, base="/deep/"))])
    out = crawl_all(store, reg, MON)["deep"]["sources"][0]
    assert out["requests"] == 5 and "max_pages" in out["message"]       # 5 pages reach back to 10-29 only
    w43 = evaluate_period(store, reg.units, Period.parse("2026-W43"), as_of=MON + timedelta(hours=1))
    assert next(v for v in w43 if v.rule == "weekly" and v.channel == "portal").status is Status.UNKNOWN


# ---------------------------------------------------------------------------------------------
# #15.6: coverage you can trust after upgrades (migration 0006)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare_url(request, tmp_path):
    """An empty database URL (no schema yet), on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    from conftest import _reset_pg

    url = request.getfixturevalue("pg_url")
    _reset_pg(url)
    return url


def _migrate_to(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    command.upgrade(cfg, revision)


def _utc(dt: datetime) -> datetime:
    """As the tracking DB stores times: naive UTC."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None)


def _insert_history(url: str, *, covered_from: datetime | None | str = "absent",
                    state: dict | None = None) -> None:
    """A unit `bad` as an old version left it: its Wednesday posts, the source row, and a Monday
    attempt that read the column fine (before coverage existed, or with "all history" coverage)."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine, only=["sources", "crawl_attempts", "posts"])
    with engine.begin() as c:
        c.execute(meta.tables["sources"].insert().values(
            id="bad.portal.c0", unit_id="bad", channel="portal", type="portal", name="工作动态",
            url="http://127.0.0.1:9/bad/", column_type="news", state=state or {}, last_ok_at=_utc(MON),
            last_outcome="ok", last_ok_items=2))
        for slug, title, when in OLD_POSTS:
            c.execute(meta.tables["posts"].insert().values(
                unit_id="bad", channel="portal", url_key=slug, url=f"http://127.0.0.1:9/bad/{slug}.html",
                source_id="bad.portal.c0", column_type="news", title=title, published_at=_utc(when),
                first_seen_at=_utc(WED), last_seen_at=_utc(MON), pinned=False, date_suspicious=False,
                evidence={}))
        row = dict(source_id="bad.portal.c0", unit_id="bad", channel="portal", run_id="old", kind="crawl",
                   started_at=_utc(MON), finished_at=_utc(MON), outcome="ok", message="", items_found=2,
                   items_new=0, requests=1, pages=1)
        if covered_from != "absent":
            row["covered_from"] = _utc(covered_from) if covered_from is not None else None
        c.execute(meta.tables["crawl_attempts"].insert().values(**row))
    engine.dispose()


def _bad_reg():
    return registry([unit_entry("bad", portal="http://127.0.0.1:9/bad/")])


def test_upgrading_a_db_from_before_coverage_leaves_old_weeks_unknown(bare_url):
    """0002-era attempts have no coverage at all: after the upgrade they are NULL — never computed —
    and verify nothing (#15.6; NULL used to read as 'whole history')."""
    _migrate_to(bare_url, "0002")
    _insert_history(bare_url)
    upgrade(bare_url)
    store = Store(bare_url)
    try:
        reg = _bad_reg()
        for period in (W44, W47):
            v = next(x for x in evaluate_period(store, reg.units, period, as_of=MON + timedelta(hours=1))
                     if x.rule == "weekly")
            assert v.status is Status.UNKNOWN and "升级前的记录" in v.reason, (period.key, v.reason)
    finally:
        store.close()


def test_migration_0006_drops_whole_history_coverage_from_unproven_empty_reads(bare_url):
    from pubwatch.types import COVERS_ALL

    _migrate_to(bare_url, "0005")
    _insert_history(bare_url, covered_from=COVERS_ALL,
                    state={"covered_from": "all", "validators": {"http://127.0.0.1:9/bad/": {"etag": '"e1"'}}})
    store = Store(bare_url)
    reg = _bad_reg()
    w44 = lambda: next(x for x in evaluate_period(store, reg.units, W44, as_of=MON + timedelta(hours=1))  # noqa: E731
                       if x.rule == "weekly")
    try:
        assert w44().status is Status.MISSED            # what 0005 data said: 未达标 for a week never seen
        upgrade(bare_url)
        assert w44().status is Status.UNKNOWN
        mem = store.source_memory(reg.units[0].sources[0])
        assert "covered_from" not in mem.state and mem.state["validators"]       # the rest of the state kept
        with store.engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM crawl_attempts WHERE covered_from IS NOT NULL")).scalar() == 0
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# #15.8: `python -m pubwatch evaluate --period P --as-of ISO --json`
# ---------------------------------------------------------------------------------------------
def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PUBWATCH_")}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT / "include")
    return subprocess.run([sys.executable, "-m", "pubwatch", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def test_cli_evaluate_as_of_answers_what_we_knew_then(sqlite_url, srv, tmp_path):
    """On Friday bad's W47 post was not listed yet; Monday's crawl found it (dated Thursday). The
    stored verdict says 达标; `--as-of` Friday 09:00 says what was known then, and changes nothing."""
    week = Week(Store(sqlite_url), srv)
    week.wednesday()
    srv.route("/bad/", body=list_page([NEW_POST] + OLD_POSTS))
    week.monday()
    reg_path = tmp_path / "units.yaml"
    entries = [unit_entry("good", portal=srv.url("/good/")), unit_entry("quiet", portal=srv.url("/quiet/")),
               unit_entry("bad", portal=srv.url("/bad/"))]
    reg_path.write_text(yaml.safe_dump({"fetch": {"allow_private": ["127.0.0.1"]}, "units": entries},
                                       allow_unicode=True), encoding="utf-8")
    env = {"PUBWATCH_DB_URL": sqlite_url, "PUBWATCH_REGISTRY": str(reg_path), "PUBWATCH_VAR_DIR": str(tmp_path)}

    now = _cli("evaluate", "--period", "2026-W47", "--json", env=env)
    assert now.returncode == 0, now.stderr
    stored = {r["unit"]: r for r in map(json.loads, now.stdout.splitlines()) if r["rule"] == "weekly"}
    assert stored["bad"]["status"] == "met"
    before = week.store.evaluations("2026-W47")

    then = _cli("evaluate", "--period", "2026-W47", "--as-of", "2026-11-20T09:00:00+08:00", "--json", env=env)
    assert then.returncode == 0, then.stderr
    rows = [json.loads(line) for line in then.stdout.splitlines()]
    weekly = {r["unit"]: r for r in rows if r["rule"] == "weekly" and r["channel"] == "portal"}
    assert weekly["bad"]["status"] != "met" and weekly["bad"]["count"] == 0      # the post was seen Monday
    assert weekly["good"]["status"] == "met"
    assert all(r["as_of"] == "2026-11-20T09:00:00+08:00" and r["status_label"] for r in rows)
    after = week.store.evaluations("2026-W47")
    assert [(r.unit_id, r.rule, r.status, r.as_of) for r in after] == \
        [(r.unit_id, r.rule, r.status, r.as_of) for r in before]                  # read-only

    naive = _cli("evaluate", "--period", "2026-W47", "--as-of", "2026-11-20 09:00", "--json", env=env)
    assert naive.returncode == 0 and naive.stdout == then.stdout                  # naive = Beijing time
    table = _cli("evaluate", "--period", "2026-W47", "--as-of", "2026-11-20T09:00+08:00", env=env)
    assert table.returncode == 0 and "截至 2026-11-20 09:00" in table.stdout
    bad = _cli("evaluate", "--period", "2026-W47", "--as-of", "last friday", env=env)
    assert bad.returncode == 2 and "--as-of" in bad.stderr and "Traceback" not in bad.stderr
    week.store.close()


def test_board_and_summary_show_the_admin_why(store, srv):
    """The compliance board's unit page lists the read with its Chinese outcome and message, and the
    week's summary lists the unit as 无法核实 (never among the late units) with the reason."""
    from pubwatch import board

    week = Week(store, srv)
    srv.route("/bad/", **trs(OLD_POSTS))
    week.wednesday()
    srv.route("/bad/", **trs([]))
    week.monday()
    week.judge()
    reg = week.reg()
    page = board.unit_page(store, reg, "bad", [W47, W48], today=date(2026, 11, 23))
    shown = [a for a in page.attempts if a.outcome == SUSPECT]
    assert shown and not shown[0].ok and shown[0].outcome_label == "空列表或异常页(未证实)"
    assert "暂无信息" in shown[0].message
    assert [s.last_outcome for s in page.sources] == ["空列表或异常页(未证实)"]
    summary = board.period_summary(store, reg, W47, today=date(2026, 11, 23))
    assert "bad" not in {line.unit_id for lines in summary.late_by_category.values() for line in lines}
    assert any(line.unit_id == "bad" and "空列表或异常页(未证实)" in line.reason for line in summary.unverified)


@pytest.mark.parametrize("moved_to,ok", [("https://www.example.gov.cn/xxgk/gzdt/", True),
                                          (["https://a.gov.cn/x/", "https://b.gov.cn/y/"], True),
                                          ("ftp://x.gov.cn/", False), ([], False), (42, False)])
def test_registry_checks_moved_to(moved_to, ok):
    from pubwatch.registry import parse_registry

    entry = unit_entry("jyj", portal="https://www.example.gov.cn/jyj/gzdt/")
    entry["portal"]["columns"][0]["moved_to"] = moved_to
    reg = parse_registry({"units": [entry]})
    if ok:
        assert not reg.errors and isinstance(reg.units[0].sources[0].options["moved_to"], list)
    else:
        assert [e.field for e in reg.errors] == ["portal.columns[0].moved_to"]
