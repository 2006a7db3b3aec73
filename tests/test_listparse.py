"""parse_list / article_date / cli_parse_list over the saved-page corpus in tests/fixtures/lists.

Every fixture <name>.<ext> has <name>.expected.json (written by hand from the data the page was
built with, not from parser output): each item's title, absolute URL and date, the further pages,
the pinned URLs, and is_list/empty for pages that are not (or are empty) lists.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from pubwatch.sources.listparse import ParsedList, article_date, article_date_found, cli_parse_list, parse_list
from pubwatch.types import TZ

FIXTURES = Path(__file__).parent / "fixtures" / "lists"
CASES = sorted(p.name.removesuffix(".expected.json") for p in FIXTURES.glob("*.expected.json"))


def load(name: str) -> tuple[bytes, dict]:
    spec = json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    return (FIXTURES / spec["file"]).read_bytes(), spec


def parse_fixture(name: str, **kw) -> tuple[ParsedList, dict]:
    body, spec = load(name)
    kw.setdefault("selectors", spec.get("selectors"))
    kw.setdefault("json_spec", spec.get("json_spec"))
    parsed = parse_list(body, spec["url"], reference=date.fromisoformat(spec["reference"]), **kw)
    return parsed, spec


def test_corpus_is_big_enough_and_has_gbk_bytes():
    assert len(CASES) >= 12
    gbk = [n for n in CASES if b"charset=gb" in load(n)[0][:600].lower() or b'encoding="gbk"' in load(n)[0][:100].lower()]
    assert len(gbk) >= 5
    for name in gbk:                    # really GBK on disk, not UTF-8 with a GBK label
        with pytest.raises(UnicodeDecodeError):
            load(name)[0].decode("utf-8")


@pytest.mark.parametrize("name", CASES)
def test_fixture(name):
    parsed, spec = parse_fixture(name)
    assert parsed.is_list == spec.get("is_list", True)
    assert parsed.empty == spec.get("empty", False)
    got = [{"title": i.title, "url": i.url, "published": i.published.date().isoformat() if i.published else None}
           for i in parsed.items]
    assert got == spec["items"]
    assert parsed.next_urls == spec["next_urls"]
    if parsed.is_list:
        assert parsed.profile == spec["profile"]
    if "total_pages" in spec:
        assert parsed.total_pages == spec["total_pages"]
    assert [i.url for i in parsed.items if i.pinned] == spec.get("pinned", [])
    for it in parsed.items:
        assert it.published is None or it.published.tzinfo is not None
        assert it.url.startswith(("http://", "https://"))


NAV_WORDS = ("首页", "政务公开", "网站地图", "联系我们", "工作动态", "通知公告", "更多", "下一页", "尾页", "返回")


@pytest.mark.parametrize("name", CASES)
def test_no_navigation_links_become_items(name):
    parsed, _ = parse_fixture(name)
    for it in parsed.items:
        assert it.title not in NAV_WORDS
        assert not it.url.endswith(("/", "/index.html")), it
        assert "javascript" not in it.url


def test_time_of_day_is_kept_when_the_list_shows_it():
    parsed, _ = parse_fixture("json_api_spec")
    assert parsed.items[0].published == datetime(2026, 11, 24, 16, 5, 11, tzinfo=TZ)
    parsed, _ = parse_fixture("jsonp_autodetect")       # epoch ms, late evening in Shanghai
    assert parsed.items[0].published == datetime(2026, 11, 23, 23, 30, tzinfo=TZ)


def test_str_input_and_forced_encoding_give_the_same_items():
    body, spec = load("trs_gzdt_gbk")
    a = parse_list(body, spec["url"], reference=date(2026, 11, 25))
    b = parse_list(body.decode("gbk"), spec["url"], reference=date(2026, 11, 25))
    c = parse_list(body, spec["url"], reference=date(2026, 11, 25), encoding="gb2312")
    assert a.items == b.items == c.items


def test_explicit_profiles_on_the_same_page():
    parsed, _ = parse_fixture("xxgk_table_gbk", profile="table")
    assert parsed.profile == "table" and len(parsed.items) == 4
    parsed, _ = parse_fixture("trs_gzdt_gbk", profile="generic")
    assert parsed.profile == "generic" and len(parsed.items) == 12
    assert len(parsed.next_urls) == 5                  # pagination is read whatever the item profile
    parsed, _ = parse_fixture("trs_gzdt_gbk", profile="selectors", selectors={"item": ".xxgk_list li", "date": "span.date"})
    assert parsed.profile == "selectors" and len(parsed.items) == 12
    assert parsed.items[3].published.date() == date(2026, 11, 20)


def test_table_prefers_the_publication_column_over_the_written_date():
    parsed, _ = parse_fixture("xxgk_table_gbk")
    assert parsed.items[0].published.date() == date(2026, 11, 20)        # not 成文日期 2026-11-16


def test_truncated_titles_come_from_the_title_attribute():
    parsed, _ = parse_fixture("trs_gzdt_gbk")
    assert not any(i.title.endswith("…") for i in parsed.items)
    assert parsed.items[0].title == "静宁县召开2026年冬季安全生产工作推进会议暨森林草原防火工作部署会"


def test_year_inference_over_a_page_that_crosses_new_year():
    parsed, _ = parse_fixture("trs_tzgg_page2_utf8")
    assert [i.published.year for i in parsed.items] == [2027, 2027, 2026, 2026, 2026, 2026, 2026, 2026]


def test_json_profile_on_non_json_is_not_a_list():
    parsed = parse_list(b"<html><body>oops</body></html>", "http://x.gov.cn/api", profile="json")
    assert not parsed.is_list


def test_json_with_empty_list_is_an_empty_list():
    parsed = parse_list(b'{"code":200,"data":{"list":[],"total":0}}', "http://x.gov.cn/api",
                        json_spec={"list": "data.list", "title": "title", "url": "url", "date": "pubDate"})
    assert parsed.is_list and parsed.empty and parsed.items == []


def test_jcms_with_no_records_is_an_empty_list():
    body = b"""<html><body><div id="1"><script type="text/xml"><datastore><nextgroup><![CDATA[]]></nextgroup>
    <recordset></recordset></datastore></script></div><script>$('#1').jpage({perPage:15,totalRecord:0});</script></body></html>"""
    parsed = parse_list(body, "http://x.gov.cn/col/col1/index.html")
    assert parsed.is_list and parsed.empty and parsed.profile == "jcms"


@pytest.mark.parametrize("body", [b"", b"   ", b"<html></html>", b"\x00\x01\x02", b"{not json"])
def test_garbage_is_not_a_list(body):
    assert parse_list(body, "http://x.gov.cn/a/").is_list is False


def test_unknown_profile_is_an_error():
    with pytest.raises(ValueError):
        parse_list(b"<ul></ul>", "http://x/", profile="bogus")


def test_createpagehtml_with_a_div_id_and_literal_numbers():
    html = ("<ul class='list'>" + "".join(
        f"<li><a href='./t{i}.html'>县政府召开会议第{i}次</a><span>2026-11-{i:02d}</span></li>" for i in range(1, 6))
        + "</ul><script>createPageHTML('page_div',3, 1,'index','htm',45);</script>")
    parsed = parse_list(html, "http://x.gov.cn/c/index.htm", reference=date(2026, 11, 25))
    assert parsed.profile == "trs" and parsed.total_pages == 3
    assert parsed.next_urls == ["http://x.gov.cn/c/index_1.htm", "http://x.gov.cn/c/index_2.htm"]
    last = parse_list(html, "http://x.gov.cn/c/index_2.htm", reference=date(2026, 11, 25))
    assert last.next_urls == []


def test_numbered_pager_without_last_link_gives_only_the_next_page():
    html = ("<div class='list'><ul>" + "".join(
        f"<li><a href='/art/{i}.html'>关于做好第{i}批项目申报工作的通知</a></li>" for i in range(1, 4))
        + "</ul></div><div class='pg'><a href='list.jsp?pageNo=2'>下一页</a></div>")
    parsed = parse_list(html, "http://x.gov.cn/list.jsp?pageNo=1")
    assert parsed.is_list and [i.published for i in parsed.items] == [None, None, None]
    assert parsed.next_urls == ["http://x.gov.cn/list.jsp?pageNo=2"]


# ------------------------------------------------------------------ article_date
def test_article_date_from_meta():
    body, spec = load("article_trs_gbk")
    assert article_date(body, spec["url"]) == datetime.fromisoformat(spec["article_date"])


@pytest.mark.parametrize("meta", [
    '<meta name="publishdate" content="2026-11-19">',
    '<meta name="firstpublishedtime" content="2026-11-19-10:05:00">',
    '<meta property="article:published_time" content="2026-11-19T02:05:00Z">',
    '<META NAME="PubDate" CONTENT="2026/11/19 10:05">',
])
def test_article_date_meta_names(meta):
    html = f"<html><head>{meta}</head><body><h1>标题</h1><p>今天是2026年11月25日</p></body></html>"
    assert article_date(html, "http://x/a.html").date() == date(2026, 11, 19)


def test_article_date_from_the_labelled_line_not_the_header_clock():
    html = """<html><head><meta charset="gbk"></head><body>
    <div class="top">今天是：2026年11月25日 星期三</div>
    <h1>县教育局召开冬季安全工作会议</h1>
    <div class="xl-info">来源：县教育局 &nbsp; 作者：张三 &nbsp; 日期：2026-11-19 &nbsp; 【字体：大 中 小】</div>
    <div class="zwnr"><p>11月18日，县教育局召开会议……2026年12月1日起施行。</p></div></body></html>"""
    got = article_date(html.encode("gbk"), "http://x/a.html")
    assert got == datetime(2026, 11, 19, tzinfo=TZ)


def test_article_date_from_an_info_box_or_after_the_headline():
    html = """<html><body><div class="head">2026年11月25日</div><h1>关于停水的通知</h1>
    <div class="article-attr"><span>2026-11-18 09:30</span><span>浏览：12</span></div></body></html>"""
    assert article_date(html, "http://x/a.html") == datetime(2026, 11, 18, 9, 30, tzinfo=TZ)
    html = "<html><body><h1>关于停水的通知</h1><p>县水务公司 2026年11月17日</p></body></html>"
    assert article_date(html, "http://x/a.html") == datetime(2026, 11, 17, tzinfo=TZ)


def test_article_without_a_date():
    assert article_date("<html><body><h1>无日期</h1><p>正文</p></body></html>", "http://x/a") is None
    assert article_date(b"", "http://x/a") is None


# ------------------------------------------------------------------ CLI
def test_cli_prints_json_lines(capsys):
    body, spec = load("trs_gzdt_gbk")
    rc = cli_parse_list([str(FIXTURES / spec["file"]), "--url", spec["url"], "--reference", spec["reference"]])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert [json.loads(line) for line in out] == spec["items"]
    assert "静宁县" in out[0]                              # ensure_ascii=False


def test_cli_non_list_exits_3(capsys):
    _, spec = load("waf_challenge")
    rc = cli_parse_list([str(FIXTURES / spec["file"]), "--url", spec["url"]])
    captured = capsys.readouterr()
    assert rc == 3 and captured.out == "" and "not a list page" in captured.err


def test_cli_through_python_dash_m():
    _, spec = load("jcms_gzdt_utf8")
    proc = subprocess.run([sys.executable, "-m", "pubwatch", "parse-list", str(FIXTURES / spec["file"]),
                           "--url", spec["url"], "--reference", spec["reference"]],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                          env={"PYTHONPATH": "include", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line) for line in proc.stdout.splitlines()] == spec["items"]


def test_pinned_markers_and_look_alikes():
    html = """<ul class="list">
    <li class="top"><a href="/a1.html">县政府关于2026年森林防火期的通告</a><span>2026-10-01</span></li>
    <li><span class="zhiding">置顶</span><a href="/a2.html">关于公开征集2027年民生实事项目建议的公告</a><span>2026-11-01</span></li>
    <li><img src="/images/top.gif" alt="置顶"><a href="/a3.html">县人民政府2026年政府信息公开指南</a><span>2026-01-05</span></li>
    <li><a class="margin-top" href="/a4.html">县政府召开第39次常务会议</a><span class="pad-top">2026-11-24</span></li>
    <li><a href="/a5.html">县政府召开第38次常务会议</a><span>2026-11-20</span></li></ul>"""
    parsed = parse_list(html, "http://x.gov.cn/c/", reference=date(2026, 11, 25))
    assert [i.pinned for i in parsed.items] == [True, True, True, False, False]
    assert [i.title for i in parsed.items][1] == "关于公开征集2027年民生实事项目建议的公告"


# ------------------------------------------------------------------ dates by meaning (issue #15)
def test_issuing_body_column_is_not_the_date_column_and_written_date_is_never_taken():
    """序号 / 信息名称 / 发布机构 / 成文日期 / 发布日期: 发布机构 matches 发布 but holds no date; every
    row is dated by 发布日期, never by 成文日期 (days earlier: the previous week)."""
    parsed, spec = parse_fixture("xxgk_fbjg_table_gbk")
    got = [i.published.date().isoformat() for i in parsed.items]
    assert got == [i["published"] for i in spec["items"]]
    assert all(g != w for g, w in zip(got, spec["written_dates"]))
    assert {i.extra.get("date_field") for i in parsed.items} == {"发布日期"}
    assert not any("date_check" in i.extra for i in parsed.items)


@pytest.mark.parametrize("label,meaning", [
    ("发布日期", "pub"), ("发布时间", "pub"), ("公开日期", "pub"), ("发 布 日 期", "pub"), ("发布", "pub"),
    ("日期", "plain"), ("时间", "plain"), ("更新时间", "update"),
    ("成文日期", "written"), ("印发日期", "written"), ("发文日期", "written"), ("生成日期", "written"),
    ("发布机构", "other"), ("发布单位", "other"), ("来源", "other"), ("实施日期", "other"), ("有效期至", "other"),
    ("信息名称", "other"), ("索引号", "other"), ("序号", "other"), ("文号", "other"),
])
def test_header_meaning(label, meaning):
    from pubwatch.sources import listparse as lp
    ranks = {"pub": lp.R_COLUMN_PUB, "plain": lp.R_COLUMN_PLAIN, "update": lp.R_COLUMN_UPDATE,
             "written": lp.R_WRITTEN, "other": 0}
    got = lp._header_meaning(label)
    assert got is not None and got[0] == ranks[meaning]


def test_written_date_is_used_only_when_the_row_has_no_publication_date_and_is_then_unsure():
    html = """<table class="list"><tr><th>序号</th><th>标题</th><th>发布机构</th><th>成文日期</th><th>发布日期</th></tr>
    <tr><td>1</td><td><a href="/a1.html">关于做好冬季安全生产工作的通知</a></td><td>县应急局</td>
        <td>2026-11-16</td><td>2026-11-20</td></tr>
    <tr><td>2</td><td><a href="/a2.html">关于印发2026年冬季供暖保障方案的通知</a></td><td>县住建局</td>
        <td>2026-11-12</td><td></td></tr>
    <tr><td>3</td><td><a href="/a3.html">关于开展校园安全大检查的通知</a></td><td>县教育局</td>
        <td>2026-11-10</td><td>2026-11-11</td></tr></table>"""
    parsed = parse_list(html, "http://x.gov.cn/xxgk/", reference=date(2026, 11, 25))
    a1, a2, a3 = parsed.items
    assert a1.published.date() == date(2026, 11, 20) and "date_check" not in a1.extra
    assert a2.published.date() == date(2026, 11, 12) and a2.extra["date_check"] == "written_date"
    assert a3.published.date() == date(2026, 11, 11)


def test_headerless_rows_with_two_dates_take_the_later_and_are_unsure():
    html = """<table class="list">
    <tr><td><a href="/a1.html">关于做好冬季安全生产工作的通知</a></td><td>2026-11-16</td><td>2026-11-20</td></tr>
    <tr><td><a href="/a2.html">关于印发2026年冬季供暖保障方案的通知</a></td><td>2026-11-12</td><td>2026-11-18</td></tr>
    <tr><td><a href="/a3.html">关于开展校园安全大检查的通知</a></td><td>2026-11-10</td><td>2026-11-11</td></tr></table>"""
    parsed = parse_list(html, "http://x.gov.cn/xxgk/", reference=date(2026, 11, 25))
    assert [i.published.date().day for i in parsed.items] == [20, 18, 11]
    assert parsed.items[0].extra["date_check"] == "several_dates"
    assert parsed.items[0].extra["list_dates"] == ["2026-11-20", "2026-11-16"]


def test_news_cards_take_the_split_date_box_not_the_summary_dates():
    """<div class="date"><span>05</span><em>2026-11</em></div>: day and year-month in two elements;
    the summaries mention event dates, a future deadline and a 报名时间 (a weak label)."""
    parsed, spec = parse_fixture("news_cards_split_date_utf8")
    got = [i.published.date().isoformat() for i in parsed.items]
    assert got == [i["published"] for i in spec["items"]]
    assert all(g != s for g, s in zip(got, spec["summary_dates"]))
    assert not any(i.extra for i in parsed.items)                       # certain: nothing to confirm


@pytest.mark.parametrize("box,expected", [
    ('<div class="date"><span>05</span><em>2026-11</em></div>', date(2026, 11, 5)),
    ('<div class="time"><p>05</p><span>2026.11</span></div>', date(2026, 11, 5)),
    ('<div class="date"><span>09-30</span><label>2026</label></div>', date(2026, 9, 30)),
    ('<div class="news-date"><strong>2026-11</strong><b>05</b></div>', date(2026, 11, 5)),
    ('<div class="riqi"><span class="day">5</span><span class="ym">2026年11月</span></div>', date(2026, 11, 5)),
    ('<time datetime="2026-11-05T08:30:00+08:00">11月5日</time>', date(2026, 11, 5)),
    ('<span class="info">来源：县教育局 发布时间：2026-11-05 浏览：36</span>', date(2026, 11, 5)),
])
def test_card_date_boxes(box, expected):
    cards = "".join(f"""<li><a href="/c{i}.html"><h4>县教育局召开冬季校园安全工作会议第{i}次</h4></a>{box}
        <p>会议要求于2026年12月{i + 1}日前完成隐患排查，11月{i + 1}日起开展专项督查。</p></li>""" for i in range(3))
    parsed = parse_list(f'<ul class="news">{cards}</ul>', "http://x.gov.cn/a/", reference=date(2026, 11, 25))
    assert [i.published.date() for i in parsed.items] == [expected] * 3
    assert all(i.title.startswith("县教育局召开") for i in parsed.items)


def test_gkmlpt_api_takes_the_first_publication_time_in_shanghai():
    """gkmlpt articles carry date (成文日期, epoch s), created_at (a string), first_publish_time,
    publish_time (re-published later) and display_publish_time: the first publication wins."""
    parsed, spec = parse_fixture("gkmlpt_api_times")
    first = parsed.items[0]
    assert first.published == datetime(2026, 11, 23, 7, 30, tzinfo=TZ)   # 2026-11-22 23:30 UTC
    assert first.extra["date_field"] == "first_publish_time"
    assert parsed.items[3].published.date() == date(2026, 11, 6)         # not publish_time (11-09)


@pytest.mark.parametrize("row,expected,check", [
    ({"publish_time": 1795390200, "date": 1794931200}, datetime(2026, 11, 23, 7, 30), None),
    ({"pubDate": "1795390200000", "createTime": "2026-11-19 10:00:00"}, datetime(2026, 11, 23, 7, 30), None),
    ({"fbrq": 20261123, "cwrq": 20261118}, datetime(2026, 11, 23), None),
    ({"releaseTime": "2026-11-23T07:30:00+08:00", "endTime": "2026-12-30"}, datetime(2026, 11, 23, 7, 30), None),
    ({"created_at": "2026-11-19 16:02:11"}, datetime(2026, 11, 19, 16, 2, 11), "weak_field"),
    ({"first_publish_time": 0, "publish_time": 1795390200}, datetime(2026, 11, 23, 7, 30), None),
    ({"publishTime": "1900-01-01 00:00:00", "updateTime": "2026-11-23 07:30:00"}, None, "implausible"),
    ({"date": "2026-11-23", "created_at": "2026-11-19"}, datetime(2026, 11, 23), None),
    ({"time": "2026-11-23", "createTime": "2026-11-19"}, datetime(2026, 11, 23), None),
    ({"deadline": "2026-11-24", "activityTime": "2026-11-22"}, None, None),
])
def test_json_time_fields_by_meaning(row, expected, check):
    body = json.dumps({"data": {"list": [{"title": "县教育局召开冬季校园安全工作会议", "url": "/a.html", **row},
                                         {"title": "县教育局开展校园安全检查", "url": "/b.html", "pubDate": "2026-11-10"}]}})
    item = parse_list(body, "http://x.gov.cn/api/list", reference=date(2026, 11, 25)).items[0]
    assert item.published == (expected.replace(tzinfo=TZ) if expected else None)
    assert item.extra.get("date_check") == check


def test_placeholder_dates_are_no_dates_and_an_all_placeholder_list_is_not_a_list():
    parsed, _ = parse_fixture("placeholder_some_gbk")
    odd = [i for i in parsed.items if i.published is None]
    assert len(odd) == 2 and all(i.extra["date_implausible"] == "1900-01-01" for i in odd)
    assert all(i.extra["date_check"] == "implausible" for i in odd)
    assert any("2条列表日期不可信" in n and "1900-01-01" in n for n in parsed.notes)
    parsed, _ = parse_fixture("placeholder_1900_utf8")
    assert not parsed.is_list and parsed.items == []
    assert any("全部不可信" in n for n in parsed.notes)


@pytest.mark.parametrize("stamp", ["1900-01-01", "1970-01-01 08:00:00", "1999-12-31", "2026-11-27", "2031-01-01"])
def test_dates_before_2000_or_after_the_read_are_not_publication_dates(stamp):
    rows = "".join(f'<li><a href="/a{i}.html">县政府召开常务会议研究部署第{i}项工作</a><span>{d}</span></li>'
                   for i, d in enumerate(["2026-11-24", stamp, "2026-11-20", "2026-11-18"]))
    parsed = parse_list(f'<ul class="list">{rows}</ul>', "http://x.gov.cn/a/", reference=date(2026, 11, 25))
    item = parsed.items[1]
    assert item.published is None and item.extra["date_check"] == "implausible"
    assert parsed.is_list and parsed.notes


def test_tomorrow_is_still_plausible():
    rows = "".join(f'<li><a href="/a{i}.html">县政府召开常务会议研究部署第{i}项工作</a><span>{d}</span></li>'
                   for i, d in enumerate(["2026-11-26", "2026-11-24"]))
    parsed = parse_list(f'<ul class="list">{rows}</ul>', "http://x.gov.cn/a/", reference=date(2026, 11, 25))
    assert parsed.items[0].published.date() == date(2026, 11, 26) and not parsed.notes


def test_a_date_that_breaks_the_newest_first_order_is_unsure():
    days = ["2026-11-24", "2026-11-23", "2025-03-02", "2026-11-20", "2026-11-19", "2026-11-18", "2026-11-16"]
    rows = [f'<li><a href="/a{i}.html">县政府召开常务会议研究部署第{i}项工作</a><span>{d}</span></li>'
            for i, d in enumerate(days)]
    parsed = parse_list(f'<ul class="list">{"".join(rows)}</ul>', "http://x.gov.cn/a/", reference=date(2026, 11, 25))
    assert [i.extra.get("date_check") for i in parsed.items] == [None, None, "out_of_order", None, None, None, None]
    assert parsed.items[2].published.date() == date(2025, 3, 2)          # kept until the article says otherwise
    sparse = [f'<li><a href="/b{i}.html">县政府召开常务会议研究部署第{i}项工作</a><span>{date(2026, 6, 1) + timedelta(days=12 * i)}</span></li>'
              for i in range(8)]                           # oldest first, 12 days apart
    oldest_first = parse_list(f'<ul class="list">{"".join(sparse)}</ul>', "http://x.gov.cn/a/",
                              reference=date(2026, 11, 25))
    assert len(oldest_first.items) == 8                  # not newest-first: the order says nothing, no flags
    assert not any("date_check" in i.extra for i in oldest_first.items)


def test_article_date_of_a_disclosure_page_is_its_publication_date_not_its_written_date():
    """A gkmlpt-style content page: 索引号 / 发布机构 / 成文日期 come before 发布日期 in the metadata table."""
    html = """<html><head><meta charset="utf-8"><title>关于开展冬季校园安全大检查的通知</title></head><body>
    <div class="top">今天是2026年11月25日</div>
    <div class="introduce"><table>
    <tr><td class="first">索引号：</td><td>11441825007085215X/2026-00231</td><td class="first">分类：</td><td>教育</td></tr>
    <tr><td class="first">发布机构：</td><td>连山县教育局</td><td class="first">成文日期：</td><td>2026-11-18</td></tr>
    <tr><td class="first">名称：</td><td colspan="3">关于开展冬季校园安全大检查的通知</td></tr>
    <tr><td class="first">文号：</td><td>连教〔2026〕60号</td><td class="first">发布日期：</td><td>2026-11-23</td></tr>
    </table></div>
    <h1>关于开展冬季校园安全大检查的通知</h1><div class="article-content"><p>各学校：定于2026年12月1日起开展……</p></div>
    </body></html>"""
    when, how = article_date_found(html, "http://x/post_1.html", date(2026, 11, 25))
    assert when == datetime(2026, 11, 23, tzinfo=TZ) and how == "label"


def test_article_date_skips_placeholders_and_reads_split_cells():
    html = """<html><head><meta name="PubDate" content="1900-01-01 00:00"></head><body><h1>县政府召开常务会议</h1>
    <div class="info"><span>发布时间：</span><span>2026-11-20</span><span>10:30</span> 来源：县政府办</div></body></html>"""
    assert article_date_found(html, "http://x/a.html", date(2026, 11, 25)) == (
        datetime(2026, 11, 20, 10, 30, tzinfo=TZ), "label")
    future = '<html><head><meta name="publishdate" content="2027-03-01"></head><body><h1>t</h1></body></html>'
    assert article_date_found(future, "http://x/a.html", date(2026, 11, 25)) == (None, None)


def test_json_times_that_are_not_the_items_are_never_taken():
    """The answer's own time, a category's update time and an attachment's upload time are not the
    article's publication time."""
    body = json.dumps({"serverTime": 1795590000000, "classify": {"id": 7, "updated_at": "2026-11-24 18:00:00"},
                       "articles": [{"title": "县教育局召开冬季校园安全工作会议", "url": "/a.html",
                                     "attachment": [{"name": "通知.pdf", "created_at": "2026-11-24 17:00:00"}],
                                     "classify": {"updated_at": "2026-11-24 18:00:00"}},
                                    {"title": "县教育局开展校园安全检查", "url": "/b.html", "publish_time": 1795390200}]})
    items = parse_list(body, "http://x.gov.cn/gkmlpt/api/all/7", reference=date(2026, 11, 25)).items
    assert items[0].published is None and items[0].extra == {}
    assert items[1].published == datetime(2026, 11, 23, 7, 30, tzinfo=TZ)


def test_selectors_date_element_with_day_and_year_month_apart():
    html = """<div class="list">""" + "".join(
        f"""<div class="item"><div class="rq"><b>{d:02d}</b><i>2026-11</i></div>
        <a class="bt" href="/a{d}.html">县卫健委开展冬季传染病防控督导第{d}次</a><p>将于12月{d}日前完成。</p></div>"""
        for d in (24, 20, 16)) + "</div>"
    parsed = parse_list(html, "http://x.gov.cn/a/", reference=date(2026, 11, 25),
                        selectors={"item": "div.item", "link": "a.bt", "date": "div.rq"})
    assert parsed.profile == "selectors"
    assert [i.published.date().day for i in parsed.items] == [24, 20, 16]


def test_header_row_after_a_caption_row():
    html = """<table class="xxgk"><tr><td colspan="5">县教育局政府信息公开目录</td></tr>
    <tr><td>序号</td><td>信息名称</td><td>发布机构</td><td>成文日期</td><td>发布日期</td></tr>""" + "".join(
        f"<tr>\n<td>{i}</td>\n<td><a href='/a{i}.html'>县教育局关于做好第{i}项工作的通知</a></td>\n<td>县教育局</td>\n"
        f"<td>2026-11-{10 + i:02d}</td>\n<td>2026-11-{14 + i:02d}</td>\n</tr>" for i in (3, 2, 1)) + "</table>"
    parsed = parse_list(html, "http://x.gov.cn/xxgk/", reference=date(2026, 11, 25))
    assert [i.published.day for i in parsed.items] == [17, 16, 15]
