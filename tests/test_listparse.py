"""parse_list / article_date / cli_parse_list over the saved-page corpus in tests/fixtures/lists.

Every fixture <name>.<ext> has <name>.expected.json (written by hand from the data the page was
built with, not from parser output): each item's title, absolute URL and date, the further pages,
the pinned URLs, and is_list/empty for pages that are not (or are empty) lists.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from pubwatch.sources.listparse import ParsedList, article_date, cli_parse_list, parse_list
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
