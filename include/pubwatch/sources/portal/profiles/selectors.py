"""CSS selectors from the registry: ``selectors: {item, title, link, date, next}``. Used whenever a
column gives selectors (auto-detection asks this profile before the HTML guessers)."""
from __future__ import annotations

from urllib.parse import urljoin

from pydantic import Field

from ...options import SourceOptions
from ..entries import _SKIP_HREF, _entry
from ..listdates import _Raw
from ..listing import HtmlList, Page


class SelectorSpec(SourceOptions):
    """units.yaml ``selectors:`` (CSS, relative to one entry except `item` and `next`)."""

    item: str = Field(..., json_schema_extra={"missing": "需要 item (每个条目的 CSS 选择器)"})
    title: str | None = None          # default: the entry's title link
    link: str | None = None           # default: the entry itself if it is <a href>, else its first a[href]
    date: str | None = None           # fixes where the date is (ranked above everything the entry states)
    next: str | None = None           # the next-page link (a TRS pager script takes precedence)


class SelectorsOptions(SourceOptions):
    selectors: SelectorSpec = Field(..., json_schema_extra={
        "missing": "profile=selectors 时需要 selectors (item/title/date)"})


class SelectorsProfile(HtmlList, kind="selectors"):
    label = "按 CSS 选择器读取 (登记表 selectors)"
    priority = 30
    Options = SelectorsOptions
    required = True

    def detect(self, page: Page) -> bool:
        return bool(page.options.get("selectors"))

    def items(self, page: Page) -> tuple[list[_Raw], list[str]]:
        sel = page.options.get("selectors")
        if not sel or not sel.get("item"):
            raise ValueError("profile 'selectors' needs selectors={'item': CSS, ...}")
        return _selectors(page.root, page.base, sel)


def _selectors(root, base: str, sel: dict) -> tuple[list[_Raw], list[str]]:
    from lxml.cssselect import CSSSelector

    def one(el, css: str | None):
        if not css:
            return None
        found = CSSSelector(css)(el)
        return found[0] if found else None

    raws = []
    for el in CSSSelector(sel["item"])(root):
        link = one(el, sel.get("link"))
        if link is None:
            link = el if el.tag == "a" and el.get("href") else one(el, "a[href]")
        if link is None:
            continue
        title_el = one(el, sel.get("title"))
        date_el = one(el, sel.get("date"))
        raw = _entry(el, link=link, title_el=title_el, date_el=date_el)
        if raw is not None:
            raws.append(raw)
    nxt = []
    if sel.get("next"):
        a = one(root, sel["next"])
        if a is not None and a.get("href") and not _SKIP_HREF.match(a.get("href")):
            nxt = [urljoin(base, a.get("href").strip())]
    return raws, nxt
