"""大汉 JCMS: records are HTML fragments inside ``<datastore><recordset><record><![CDATA[…]]>`` (in
the page's ``<script type="text/xml">`` or a dataproxy.jsp XML answer); further record groups come
from the jpage settings (totalRecord, perPage, groupSize, proxyUrl, ajaxParam) as
dataproxy.jsp?startrecord=…&endrecord=…&perpage=… URLs."""
from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl, urlencode, urljoin

import lxml.html
from lxml import etree

from ..entries import _entry
from ..listdates import _finish, _Raw
from ..listing import ListProfile, Page, ParsedList, _result, profile_class
from ..pages import _MAX_PAGES
from ..recognise import _says_error


class JcmsProfile(ListProfile, kind="jcms"):
    """Auto-detected by its datastore. A datastore without records is a recognised empty list; its
    page frame saying the system failed is an error. Named in the registry for a page without a
    datastore, the page is read as the plain table / generic list it is."""

    label = "大汉 JCMS 栏目列表 (datastore)"
    priority = 20

    def detect(self, page: Page) -> bool:
        return _has_datastore(page.text)

    def read(self, page: Page, explicit: bool) -> ParsedList | None:
        got = _jcms(page.text, page.url, page.base)
        if got is None:
            if not explicit:
                return None
            return profile_class("table" if page.group()[1] == "tr" else "generic")().read(page, True)
        raws, next_urls, pages = got
        error = "" if raws else _says_error(page.root)
        if error:                         # the page frame still renders, the records are gone
            return ParsedList([], [], False, self.kind, pages, error=error)
        return _result(_finish(raws, page.reference, page.base), next_urls, self.kind, pages, empty=not raws,
                       container="jcms:datastore")


def _has_datastore(text: str) -> bool:
    return "<datastore" in text or "<recordset" in text or re.search(r"<(?:datastore|recordset)\b", text, re.I) is not None


def _loose_object(src: str) -> dict[str, str]:
    return {m.group(1): next(g for g in m.group(2, 3, 4) if g is not None)
            for m in re.finditer(r"[\"']?(\w+)[\"']?\s*:\s*(?:\"([^\"]*)\"|'([^']*)'|([\w.-]+))", src)}


def _jcms_pages(text: str, url: str, records: int) -> tuple[list[str], int | None]:
    def num(name: str) -> int | None:
        m = re.search(rf"\b{name}\s*[:=]\s*['\"]?(\d+)", text)
        return int(m.group(1)) if m else None

    total, per_page, group = num("totalRecord"), num("perPage"), num("groupSize")
    if not total or not per_page:
        return [], None
    pages = math.ceil(total / per_page)
    if "startrecord=" in url:
        return [], pages                       # a dataproxy answer: page 1 already listed the groups
    group_len = per_page * (group or 1) or records
    m = re.search(r"proxyUrl\s*:\s*['\"]([^'\"]+)", text)
    proxy = urljoin(url, m.group(1) if m else "/module/web/jpage/dataproxy.jsp")
    params: dict[str, str] = {}
    m = re.search(r"(?:ajaxParam|param)\s*:\s*(\{[^{}]*\})", text)
    if m:
        params = _loose_object(m.group(1))
    else:
        m = re.search(r"dataproxy\.jsp\?([^\"'<>\]]+)", text)
        if m:
            params = {k: v for k, v in parse_qsl(m.group(1).replace("&amp;", "&")) if k != "page"}
    out = []
    for start in range(group_len + 1, min(total, group_len * _MAX_PAGES) + 1, group_len):
        end = min(start + group_len - 1, total)
        query = urlencode({"startrecord": start, "endrecord": end, "perpage": per_page, **params})
        out.append(f"{proxy}?{query}")
    return out, pages


_RECORD = re.compile(r"<record>\s*(?:<!\[CDATA\[(.*?)\]\]>|(.*?))\s*</record>", re.S | re.I)


def _jcms(text: str, url: str, base: str) -> tuple[list[_Raw], list[str], int | None] | None:
    if not _has_datastore(text):
        return None
    raws = []
    records = _RECORD.findall(text)
    for cdata, plain in records:
        frag = cdata or plain
        if not frag.strip():
            continue
        try:
            holder = lxml.html.fragment_fromstring(frag, create_parent="div")
        except (etree.ParserError, ValueError):
            continue
        blocks = [c for c in holder if isinstance(c.tag, str)]
        el = blocks[0] if len(blocks) == 1 else holder
        raw = _entry(el)
        if raw is not None:
            raws.append(raw)
    next_urls, pages = _jcms_pages(text, url, len(records))
    return raws, next_urls, pages
