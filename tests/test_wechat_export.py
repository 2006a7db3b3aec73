"""The "export" source: CSV (UTF-8 BOM, GBK) and XLSX exports from the 公众号 admin."""
from __future__ import annotations

import os
from datetime import datetime

import pytest
from openpyxl import Workbook

from pubwatch.registry import SourceConfig
from pubwatch.sources import CrawlContext
from pubwatch.sources.wechat import merge_items
from pubwatch.sources.wechat.export import WeChatExportSource
from pubwatch.types import TZ, ListItem, Outcome

NOW = datetime(2026, 3, 6, 18, 0, tzinfo=TZ)
LINK = "https://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=1&sn=0f1e2d3c&chksm=99&scene=27#wechat_redirect"


def fetch(path) -> "object":
    src = WeChatExportSource(SourceConfig(id="u.wechat.export", unit_id="u", channel="wechat", type="export",
                                          name="某某县", options={"path": str(path)}))
    return src.fetch(CrawlContext(fetcher=None, now=NOW))


def test_csv_utf8_with_bom(tmp_path):
    f = tmp_path / "发表记录.csv"
    f.write_bytes("\ufeff标题,文章链接,发表时间,阅读数\n"
                  f"县教育局召开开学部署会,{LINK},2026-03-02 18:30,120\n"
                  "寒假作业展评, https://mp.weixin.qq.com/s/Zz9yXw8vU7tS6rQ5pO4nMl ,2026/3/1 9:05,33\n"
                  ",,,\n".encode("utf-8"))
    os.utime(f, (datetime(2026, 3, 5, 8, 0, tzinfo=TZ).timestamp(),) * 2)
    res = fetch(f)
    assert res.outcome is Outcome.OK, res.message
    assert [(i.title, i.url, i.published) for i in res.items] == [
        ("县教育局召开开学部署会", "https://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=1&sn=0f1e2d3c",
         datetime(2026, 3, 2, 18, 30, tzinfo=TZ)),
        ("寒假作业展评", "https://mp.weixin.qq.com/s/Zz9yXw8vU7tS6rQ5pO4nMl", datetime(2026, 3, 1, 9, 5, tzinfo=TZ)),
    ]
    assert res.source_updated == datetime(2026, 3, 5, 8, 0, tzinfo=TZ)


def test_csv_gbk_with_a_title_row_and_header_variants(tmp_path):
    f = tmp_path / "export.csv"
    f.write_bytes(("某某县教育局 内容分析 2026-03\n"
                   "内容标题,发布时间,总阅读人数\n"
                   "全县中小学安全大排查,2026年3月2日 10:00,88\n"
                   "教师节表彰大会,2026-03-03,40\n").encode("gbk"))
    res = fetch(f)
    assert res.outcome is Outcome.OK, res.message
    assert [i.title for i in res.items] == ["全县中小学安全大排查", "教师节表彰大会"]
    a, b = res.items
    assert a.published == datetime(2026, 3, 2, 10, 0, tzinfo=TZ)
    assert a.url.startswith("wechat-export:")                     # no link column: a stable pseudo id
    assert b.extra.get("date_only") is True and b.published == datetime(2026, 3, 3, tzinfo=TZ)
    assert fetch(f).items[0].url == a.url                          # stable across reads


def test_xlsx_with_datetime_cells(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "文章标题", "原文链接", "群发时间"])
    ws.append([1, "县卫健局义诊进社区", LINK, datetime(2026, 3, 4, 15, 20)])
    ws.append([2, "  健康科普 &amp; 春季防病  ", None, datetime(2026, 3, 3, 9, 0)])
    f = tmp_path / "篇数.xlsx"
    wb.save(f)
    res = fetch(f)
    assert res.outcome is Outcome.OK, res.message
    assert [(i.title, i.published) for i in res.items] == [
        ("县卫健局义诊进社区", datetime(2026, 3, 4, 15, 20, tzinfo=TZ)),
        ("健康科普 & 春季防病", datetime(2026, 3, 3, 9, 0, tzinfo=TZ))]


def test_folder_uses_the_newest_export(tmp_path):
    old, new = tmp_path / "a.csv", tmp_path / "b.csv"
    old.write_text("标题,发表时间\n旧文章,2026-02-01 10:00\n", encoding="utf-8")
    new.write_text("标题,发表时间\n新文章,2026-03-01 10:00\n", encoding="utf-8")
    (tmp_path / "~$lock.xlsx").write_bytes(b"junk")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_772_000_000, 1_772_000_000))
    res = fetch(tmp_path)
    assert [i.title for i in res.items] == ["新文章"] and res.state["file"] == "b.csv"


def test_missing_path_and_empty_folder_are_config_errors(tmp_path):
    assert fetch(tmp_path / "nope.xlsx").outcome is Outcome.CONFIG_ERROR
    empty = tmp_path / "empty"
    empty.mkdir()
    res = fetch(empty)
    assert res.outcome is Outcome.CONFIG_ERROR and "没有" in res.message


def test_unreadable_files_are_parse_failed(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not a workbook")
    assert fetch(broken).outcome is Outcome.PARSE_FAILED
    headerless = tmp_path / "x.csv"
    headerless.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    res = fetch(headerless)
    assert res.outcome is Outcome.PARSE_FAILED and "表头" in res.message
    old_xls = tmp_path / "old.xls"
    old_xls.write_bytes(b"\xd0\xcf\x11\xe0")
    assert fetch(old_xls).outcome is Outcome.PARSE_FAILED


def test_linkless_export_row_merges_with_the_bridge_item(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("标题,发表时间\n县教育局召开开学部署会,2026-03-02 18:30\n", encoding="utf-8")
    exported = fetch(f).items
    bridge = [ListItem("县教育局召开开学部署会", "https://mp.weixin.qq.com/s/3Yk2aQx9_b7LmNoPqRsTuv",
                       datetime(2026, 3, 2, 18, 30, 41, tzinfo=TZ))]
    merged = merge_items([exported, bridge])
    assert len(merged) == 1 and merged[0].url == "https://mp.weixin.qq.com/s/3Yk2aQx9_b7LmNoPqRsTuv"


@pytest.mark.parametrize("header", ["标题\t链接\t发布时间", "Title,URL,Publish_Time"])
def test_other_delimiters_and_english_headers(tmp_path, header):
    sep = "\t" if "\t" in header else ","
    f = tmp_path / "e.csv"
    f.write_text(header + "\n" + sep.join(["一篇", "https://mp.weixin.qq.com/s/abcDEF123", "2026-03-01 08:00"]) + "\n",
                 encoding="utf-8")
    res = fetch(f)
    assert res.outcome is Outcome.OK and [(i.title, i.url) for i in res.items] == [("一篇", "https://mp.weixin.qq.com/s/abcDEF123")]
