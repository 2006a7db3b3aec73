"""Issue #18: a new list profile and a new WeChat source kind are one class each — parse_list
auto-detects / uses the profile and the registry accepts `profile: <new>` / `type: <new>` (with
the class's own options, errors naming the field) without any other edit."""
from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import pytest
from pydantic import Field

from pubwatch.registry import parse_registry
from pubwatch.sources import CrawlContext, OptionError, SourceOptions, base, make_source, source_kinds
from pubwatch.sources.options import WebUrl
from pubwatch.sources.portal import listing
from pubwatch.sources.portal.listing import HtmlList, Page, parse_list, profile_names
from pubwatch.sources.wechat import WeChatSource
from pubwatch.types import TZ, ListItem, Outcome, SourceResult

UNIT = {
    "id": "jyj", "name": "县教育局", "category": "department",
    "contacts": {"leader": {"name": "王建国", "email": "a@x.gov.cn"}, "staff": {"name": "张丽", "mobile": "13800000010"}},
    "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": "https://www.example.gov.cn/jyj/gzdt/"}]},
}

# A made-up CMS: entries are <section data-cms="hanwei"> cards, one per post; the registry may
# name the cards' class. Its dates sit in <b>, the generic guesser would also find the cards, so
# auto-detection must ask the new profile first.
PAGE = """<html><body><div class="main"><div class="hw-list" data-cms="hanwei">
<section class="hw-card"><a href="/hw/1.html">县教育局召开秋季开学工作部署会</a><b>2026-09-01</b></section>
<section class="hw-card"><a href="/hw/2.html">关于做好2026年秋季学期学生资助工作的通知</a><b>2026-08-28</b></section>
<section class="hw-card"><a href="/hw/3.html">县教育局开展校园安全隐患排查</a><b>2026-08-20</b></section>
</div></div></body></html>"""


@pytest.fixture
def sandbox(monkeypatch):
    """Kinds defined by a test are registered into copies of the registries, gone afterwards."""
    monkeypatch.setattr(listing, "_PROFILES", dict(listing._PROFILES))
    monkeypatch.setattr(listing, "_AUTO_ORDER", None)
    monkeypatch.setattr(base, "SOURCE_TYPES", dict(base.SOURCE_TYPES))
    yield
    listing._AUTO_ORDER = None          # monkeypatch restores the old value after this


def hanwei_profile():
    class HanweiOptions(SourceOptions):
        card_class: str = "hw-card"

    class HanweiProfile(HtmlList, kind="hanwei"):      # the whole new profile: one class
        label = "汉威CMS卡片列表"
        priority = 15
        Options = HanweiOptions

        def detect(self, page: Page) -> bool:
            return 'data-cms="hanwei"' in page.text

        def items(self, page: Page):
            cls = page.options.get("card_class", HanweiOptions.default("card_class"))
            cards = page.root.xpath(f'//section[contains(concat(" ", @class, " "), " {cls} ")]')
            raws = [r for r in (self.entry(c) for c in cards) if r is not None]
            return raws, []

    return HanweiProfile


def test_a_new_list_profile_is_one_class_auto_detected_and_named(sandbox):
    assert "hanwei" not in profile_names()
    assert parse_list(PAGE, "http://x.gov.cn/hw/", reference=date(2026, 9, 2)).profile == "generic"
    hanwei_profile()
    assert "hanwei" in profile_names()
    auto = parse_list(PAGE, "http://x.gov.cn/hw/", reference=date(2026, 9, 2))
    assert auto.profile == "hanwei" and auto.is_list
    assert [i.url for i in auto.items] == [f"http://x.gov.cn/hw/{n}.html" for n in (1, 2, 3)]
    assert [i.published.date() for i in auto.items] == [date(2026, 9, 1), date(2026, 8, 28), date(2026, 8, 20)]
    assert auto.container.startswith("html:")
    named = parse_list(PAGE, "http://x.gov.cn/hw/", profile="hanwei", options={"card_class": "nothing"})
    assert named.profile == "hanwei" and named.items == [] and not named.is_list
    # Other pages still go to the profiles they went to.
    api = '{"data": {"list": [{"title": "县教育局召开秋季开学工作部署会", "url": "/a/1.html", "pubDate": "2026-09-01"}]}}'
    assert parse_list(api, "http://x.gov.cn/api", reference=date(2026, 9, 2)).profile == "json"


def test_the_registry_accepts_the_new_profile_and_its_options(sandbox):
    col = {"id": "gzdt", "url": "https://www.example.gov.cn/jyj/gzdt/", "profile": "hanwei", "card_class": "news"}
    before = parse_registry({"units": [{**UNIT, "portal": {"columns": [col]}}]})
    assert [(e.field, "hanwei" in e.message or "未知" in e.message) for e in before.errors] == [
        ("portal.columns[0].card_class", True)]
    hanwei_profile()
    reg = parse_registry({"units": [{**UNIT, "portal": {"columns": [col]}}]})
    assert reg.errors == []
    src = reg.units[0].sources[0]
    assert src.options["profile"] == "hanwei" and src.options["card_class"] == "news"
    bad = parse_registry({"units": [{**UNIT, "portal": {"columns": [{**col, "card_class": ["x"]}]}}]})
    assert [e.field for e in bad.errors] == ["portal.columns[0].card_class"]
    typo = parse_registry({"units": [{**UNIT, "portal": {"columns": [{**col, "profile": "hanwie"}]}}]})
    assert [e.field for e in typo.errors] == ["portal.columns[0].profile"]
    assert "hanwei" in typo.errors[0].message


def sogou_kind():
    class SogouOptions(SourceOptions):
        url: WebUrl = Field(..., json_schema_extra={"missing": "缺少网址 (missing URL)"})
        keyword: str = Field(..., min_length=1, json_schema_extra={"missing": "需要搜索关键词"})
        max_items: int = Field(default=10, ge=1)

    class SogouSource(WeChatSource, kind="sogou"):      # the whole new kind: one class
        label = "搜狗微信搜索"
        Options = SogouOptions

        def fetch(self, ctx: CrawlContext) -> SourceResult:
            n = int(self.option("max_items"))
            items = [ListItem(title=f"{self.option('keyword')} {i}", url=f"{self.config.url}/a/{i}",
                              published=ctx.now) for i in range(n)]
            return SourceResult(Outcome.OK, items=items, pages=1)

    return SogouSource


def wechat(*sources: dict[str, Any]) -> dict:
    return {**copy.deepcopy(UNIT), "wechat": {"account": "县教育局", "sources": list(sources)}}


def test_a_new_wechat_kind_is_one_class_the_registry_validates_by_asking_it(sandbox):
    entry = {"id": "sg", "type": "sogou", "url": "https://weixin.sogou.example/", "keyword": "县教育局", "max_items": 2}
    before = parse_registry({"units": [wechat(entry)]})
    assert [e.field for e in before.errors] == ["wechat.sources[0].type"]
    kind = sogou_kind()
    assert source_kinds("wechat")["sogou"] is kind and "sogou" not in source_kinds("portal")
    reg = parse_registry({"units": [wechat(entry, {"type": "rss", "url": "https://rss.example.cn/jyj.xml"})]})
    assert reg.errors == []
    cfg = reg.units[0].sources_of("wechat")[0]
    assert (cfg.id, cfg.type, cfg.url) == ("jyj.wechat.sg", "sogou", "https://weixin.sogou.example/")
    assert cfg.options == {"keyword": "县教育局", "max_items": 2}
    src = make_source(cfg)
    assert isinstance(src, kind)
    res = src.fetch(CrawlContext(fetcher=None, now=datetime(2026, 9, 2, 9, tzinfo=TZ)))
    assert res.outcome is Outcome.OK and [i.title for i in res.items] == ["县教育局 0", "县教育局 1"]
    # Every error names its field, in the class's own words.
    cases = [({**entry, "keyword": ""}, "keyword", "关键词"), ({k: v for k, v in entry.items() if k != "keyword"}, "keyword", "关键词"),
             ({**entry, "max_items": "many"}, "max_items", "整数"), ({**entry, "max_items": 0}, "max_items", "太小"),
             ({**entry, "url": "ftp://x.cn/"}, "url", "ftp"), ({**entry, "conn_id": "x"}, "conn_id", "未知字段")]
    for bad, fld, words in cases:
        errors = parse_registry({"units": [wechat(bad)]}).errors
        assert [(e.field, words in e.message) for e in errors] == [(f"wechat.sources[0].{fld}", True)], (bad, errors)


def test_a_kind_or_profile_name_is_registered_once(sandbox):
    sogou_kind()
    with pytest.raises(TypeError, match="sogou"):
        class Again(WeChatSource, kind="sogou"):
            pass
    with pytest.raises(TypeError, match="trs"):
        class OtherTrs(HtmlList, kind="trs"):
            pass


def test_existing_kinds_name_their_fields_too():
    col = {"id": "gzdt", "url": "https://www.example.gov.cn/jyj/gzdt/"}
    cases = [
        ({**col, "profile": "selectors"}, "portal.columns[0].selectors", "selectors"),
        ({**col, "profile": "selectors", "selectors": {"title": "a"}}, "portal.columns[0].selectors.item", "item"),
        ({**col, "json": {"list": "data.list", "page_size": 0}}, "portal.columns[0].json.page_size", "太小"),
        ({**col, "json": {"lsit": "data.list"}}, "portal.columns[0].json.lsit", "未知字段"),
        ({**col, "max_pages": "all"}, "portal.columns[0].max_pages", "整数"),
        ({**col, "moved_to": []}, "portal.columns[0].moved_to", "新网址"),
        ({**col, "moved_to": "gopher://x/"}, "portal.columns[0].moved_to", "gopher"),
    ]
    for bad, fld, words in cases:
        errors = parse_registry({"units": [{**UNIT, "portal": {"columns": [bad]}}]}).errors
        assert [(e.field, words in e.message) for e in errors] == [(fld, True)], (bad, errors)
    for bad, fld, words in [({"type": "rss", "url": "https://r.cn/f.xml", "stale_after_hours": "soon"}, "stale_after_hours", "数字"),
                            ({"type": "export"}, "path", "路径"),
                            ({"type": "wechat_api", "conn_id": "wx", "page_size": 50}, "page_size", "太大")]:
        errors = parse_registry({"units": [wechat(bad)]}).errors
        assert [(e.field, words in e.message) for e in errors] == [(f"wechat.sources[0].{fld}", True)], (bad, errors)
    ok = parse_registry({"units": [{**UNIT, "portal": {"columns": [
        {**col, "moved_to": "https://new.example.gov.cn/gzdt/", "json": {"list": "data"}, "max_articles": 3}]}}]})
    assert ok.errors == []
    opts = ok.units[0].sources[0].options
    assert opts["moved_to"] == ["https://new.example.gov.cn/gzdt/"] and opts["profile"] == "auto"
    assert opts["json"] == {"list": "data"} and opts["owned_site"] is False


def test_option_error_is_a_value_error_naming_the_field():
    err = OptionError("json.page_size", "数值太小")
    assert isinstance(err, ValueError) and err.field == "json.page_size"
