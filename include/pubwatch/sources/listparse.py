"""Read a portal column's list page: entries (title, absolute URL, date, pinned) and further pages.

Pure parsing, no network. Profiles:

* ``trs``   — TRS WCM static lists; pagination from ``createPageHTML(count, current, "index", "html")``
              or ``var countPage = N`` → index_1.html, index_2.html … next to the list URL.
* ``jcms``  — 大汉 JCMS: records are HTML fragments inside ``<datastore><recordset><record><![CDATA[…]]>``
              (in the page's ``<script type="text/xml">`` or a dataproxy.jsp XML answer); further
              record groups come from the jpage settings (totalRecord, perPage, groupSize, proxyUrl,
              ajaxParam) as dataproxy.jsp?startrecord=…&endrecord=…&perpage=… URLs.
* ``table`` — 信息公开目录 tables (tr/td): the date comes from the column headed 发布日期/发布时间…
              when the header row says so (never 成文日期 when a publication column exists).
* ``json``  — JSON (or JSONP) list APIs, mapped by ``json_spec`` or found by common key names.
* ``selectors`` — CSS selectors from the registry: item, title, link, date (and optionally next).
* ``generic`` — unknown layouts: the biggest group of repeated sibling blocks (li/tr/dd/div/p/…)
              that each hold one content link, preferring groups with dates, outside
              nav/header/footer/sidebar/breadcrumb regions; "更多", page-number and javascript: links
              are never items.

Decisions (documented because callers depend on them):

* ``is_list=False`` means "this is not a list page" (WAF challenge, error page, article, empty shell
  with no list and no "no entries" message). The caller reports PARSE_FAILED/BLOCKED — never 0 posts.
* A column that says 暂无信息/暂无数据 (or a JCMS datastore with no records, or a JSON list that is
  present and empty) is a recognised empty list: ``is_list=True, items=[], empty=True``, with the
  message in ``notice`` and where it sits in ``container``. Recognised is not proven: the portal
  source believes an empty list only when it is read again, empty, a day later
  (``sources.base.settle_empty``).
* A page that says the system failed — 系统维护中, 系统繁忙, a soft 404 (页面不存在 … answered with
  200), or a JSON answer whose code/message is an error ({"code":500,"msg":"系统繁忙"}) — sets
  ``error`` (the words found) and is never an empty list: ``is_list=False`` unless it still lists
  items. Messages are looked for in visible text only (never in <script>, e.g. a JS template's
  "暂无数据" fallback) and never in nav/header/footer/sidebar regions.
* ``container`` names the element that holds the entries ("html:div.list-right>ul.list",
  "jcms:datastore", "json:data.list"); ``container_state`` tells whether a later page still has it.
* Dates without a year are inferred over the page in order (``dates.infer_years``); pinned items are
  inferred on their own because they break the newest-first order. Entries without a date get
  ``published=None`` (the portal source then opens the article and calls ``article_date``).
* Identical URLs within a page are kept once (the first occurrence).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from ..dates import DateMatch, infer_year, infer_years, normalize_text, scan_date
from ..encoding import decode_html, normalize_charset
from ..types import TZ, ListItem

__all__ = ["ParsedList", "parse_list", "article_date", "cli_parse_list", "container_state", "PROFILES"]

PROFILES = ("auto", "trs", "jcms", "table", "json", "selectors", "generic")


@dataclass
class ParsedList:
    items: list[ListItem]          # page order, absolute URLs
    next_urls: list[str]           # further list pages in order, as far as this page tells
    is_list: bool                  # False: not a list page at all (error page, article, empty shell)
    profile: str                   # "trs" | "jcms" | "table" | "json" | "selectors" | "generic"
    total_pages: int | None = None
    empty: bool = False            # the column itself says it has no entries (暂无信息): recognised, unproven
    notice: str = ""               # the page's own "no entries" message, as found (暂无信息, 未找到相关内容)
    error: str = ""                # the page/API says it failed (系统维护中, 页面不存在, code=500 系统繁忙)
    container: str = ""            # where the entries (or the empty message) sit, see container_state


@dataclass
class _Raw:
    """An entry before year inference."""

    title: str
    url: str
    when: DateMatch | None
    pinned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------- text
_ITEM_TAGS = {"li", "tr", "dd", "dl", "div", "p", "article", "section", "a", "h3", "h4"}
_SKIP_HREF = re.compile(r"^\s*(?:javascript:|#|mailto:|tel:|about:|data:)", re.I)
_MORE = re.compile(r"^(?:更多|更多信息|更多内容|查看更多|more|详细|详情|查看|全文|进入|点击进入|返回|首页|上一页|下一页|"
                   r"上页|下页|前一页|后一页|尾页|末页|首页|跳转|go|确定|\d{1,4}|[<>«»‹›]+|\.\.\.|…)"
                   r"\s*[>»›]*$", re.I)
_MAX_LINKS = 3                 # an entry: its title link, maybe a category link and a "详情" link
_MAX_ENTRY_CHARS = 600         # title + summary + meta line of a news card
_ELLIPSIS = ("…", "...", "..", "⋯", "……")
_PIN_TEXT = re.compile(r"^\s*(?:[\[【(（]\s*置顶\s*[\]】)）]|置顶[:：]?)\s*")
_PIN_CLASS = re.compile(r"(?:^|\s)(?:top|zhiding|zd|istop|is-top|is_top|settop|sticky|pinned|ding|"
                        r"top-item|item-top|news-top|list-top)(?:$|\s)", re.I)
_PIN_MARKERS = {"span", "em", "i", "b", "font", "strong", "label", "img", "sup"}
_EXCLUDE_TAGS = {"nav", "header", "footer", "aside", "menu", "form", "select", "head", "script", "style",
                 "noscript", "template", "marquee"}
_EXCLUDE_CLASS = re.compile(
    r"nav|menu|breadcrumb|crumb|sidebar|footer|copyright|"
    r"(?:^|[\s_-])(?:header|head|top|foot|bottom|side|aside|location|position|weizhi|dqwz|yqlj|links?|"
    r"friendlinks?|pagination|pager|pagebar|fenye|toolbar|topbar|share|search|login|tab-?nav)(?:$|[\s_-])",
    re.I)
_EMPTY_TEXT = re.compile(r"暂无(?:相关)?(?:信息|数据|内容|记录|文章|新闻|公开信息|稿件)|"
                         r"(?:没有|未)(?:找到|查询到)?(?:相关|任何)?(?:记录|信息|数据|内容)|无相关(?:记录|信息|数据)|"
                         r"no (?:records|data|entries)", re.I)
_ARTICLE_META = ("articletitle", "contentsource", "articleid")
_ARTICLE_BODY = re.compile(r"trs_editor|^zoom$|article[-_]?(?:content|body)|art_?con|content_?text|"
                           r"bt_?content|detail[-_]?content|zw$|zwnr|xl[-_]?content", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def _clean(text: str | None) -> str:
    """Collapse whitespace (incl. &nbsp; and the ideographic space) and strip."""
    return " ".join((text or "").split())


def _classes(el) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".strip()


def _text(el) -> str:
    return _clean(el.text_content()) if el is not None else ""


# --------------------------------------------------------------------------------------- entry
def _content_links(el) -> list[tuple[Any, str]]:
    """(link, text) for the links of a block that could be an entry's title link."""
    links = [el] if el.tag == "a" else []
    links.extend(el.iter("a"))
    out = []
    for a in links:
        href = a.get("href")
        if not href or _SKIP_HREF.match(href):
            continue
        text = _text(a) or _clean(a.get("title"))
        if not text or _MORE.match(text):
            continue
        out.append((a, text))
    return out


def _text_outside(el, skip) -> str:
    """Text of `el` without the text of its descendant `skip` (the tail after `skip` is kept)."""
    full = el.text_content()
    inner = skip.text_content() if skip is not None else ""
    return _clean(full.replace(inner, " ", 1) if inner else full)


def _date_child(link):
    """An element inside the link whose whole text is a date (<a><b>title</b><span>2026-11-20</span></a>)."""
    for sub in link.iterdescendants():
        if isinstance(sub.tag, str) and _is_date_text(_text(sub)):
            return sub, scan_date(_text(sub))
    return None, None


_TRAILING_DATE = re.compile(r"[\s\[(（【]*((?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
                            r"(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?|\d{2}[-/]\d{2})\s*[\])）】]?\s*$")


_TITLE_CLASS = re.compile(r"(?:^|[\s_-])(?:title|tit|bt|biaoti|name)(?:$|[\s_-])", re.I)


def _is_date_text(text: str) -> bool:
    """True if `text` is (almost) only a date, like "2026-11-20" or "[11-20]" or "发布时间：…"."""
    if not text or len(text) > 30:
        return False
    m = scan_date(text)
    return m is not None and (m.end - m.start) >= len(normalize_text(text)) * 0.6


def _title_of(link, drop=None) -> str:
    """The entry's title: a heading/title element inside the link if there is one, else the link
    text; the link's title attribute when the text is truncated ("…") or empty."""
    holder = link
    for sub in link.iterdescendants("h1", "h2", "h3", "h4", "h5", "h6", "span", "div", "p", "strong", "b"):
        if sub is drop or not (sub.tag[0] == "h" or _TITLE_CLASS.search(sub.get("class") or "")):
            continue
        t = _text(sub)
        if t and not _is_date_text(t):
            holder, drop = sub, None            # <a><h4>title</h4><p>summary…</p></a>
            break
    text = _text_outside(holder, drop) if drop is not None else _text(holder)
    attr = _clean(link.get("title"))
    if attr and (not text or text.endswith(_ELLIPSIS) or len(attr) > len(text) and
                 attr.startswith(text.rstrip(".…⋯ ")[:8])):
        return attr
    if not text:
        img = link.find(".//img[@alt]")
        text = _clean(img.get("alt")) if img is not None else ""
    return text


def _is_pinned(el, title: str) -> bool:
    if _PIN_TEXT.match(title):
        return True
    for sub in el.iter():
        if not isinstance(sub.tag, str):
            continue
        if sub is not el and sub.tag in ("span", "em", "i", "b", "font", "strong", "label") and _text(sub) in (
                "置顶", "[置顶]", "【置顶】", "(置顶)", "（置顶）"):
            return True
        if (sub is el or sub.tag in _PIN_MARKERS) and _PIN_CLASS.search(sub.get("class") or ""):
            return True
        if sub.tag == "img" and ("置顶" in (sub.get("alt") or "") + (sub.get("title") or "")
                                 or re.search(r"zhiding|(?:^|[/_-])(?:top|zd)\d*\.(?:gif|png|jpe?g)", sub.get("src") or "", re.I)):
            return True
    return False


def _entry(el, *, link=None, title_el=None, date_text: str | None = None,
           date_cell=None) -> _Raw | None:
    """One list entry from a block element, or None if it holds no content link."""
    if link is None:
        links = _content_links(el)
        if not links or len({a.get("href") for a, _ in links}) > _MAX_LINKS or len(_text(el)) > _MAX_ENTRY_CHARS:
            return None                        # a layout block holding many entries, not one entry
        link = max(links, key=lambda pair: len(pair[1]))[0]
    href = (link.get("href") or "").strip()
    if not href or _SKIP_HREF.match(href):
        return None
    when: DateMatch | None = None
    drop = None
    if date_text is not None:
        when = scan_date(date_text)
    elif date_cell is not None:
        when = scan_date(_text(date_cell))
    if when is None and date_text is None:
        when = scan_date(_text_outside(el, link)) if el is not link else None
        if when is None:
            drop, when = _date_child(link)
    source = title_el if title_el is not None else link
    title = _title_of(source, drop if source is link else None)
    if when is None and date_text is None and title:
        m = _TRAILING_DATE.search(title)
        if m and m.start() > 0:
            when = scan_date(m.group(1))
            title = title[:m.start()].rstrip(" -—_|")
    pinned = _is_pinned(el, title)
    title = _PIN_TEXT.sub("", title).strip()
    if not title:
        return None
    return _Raw(title, re.sub(r"[\r\n\t]", "", href), when, pinned)   # resolved by _resolve


# --------------------------------------------------------------------------------------- groups
def _excluded(el) -> bool:
    """True if `el` or an ancestor is a nav/header/footer/sidebar/breadcrumb/pager region."""
    node = el
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in _EXCLUDE_TAGS or _EXCLUDE_CLASS.search(_classes(node)):
            return True
        node = node.getparent()
    return False


def _groups(root) -> list[list]:
    """Repeated sibling blocks, grouped by (grandparent, parent tag+class, tag); document order."""
    groups: dict[tuple, list] = {}
    for el in root.iter(*_ITEM_TAGS):
        parent = el.getparent()
        if parent is None:
            continue
        key = (parent.getparent(), parent.tag, parent.get("class"), el.tag, el.tag == "tr")
        groups.setdefault(key, []).append(el)
    return list(groups.values())


def _header_date_column(rows: list) -> int | None:
    """Index of the publication-date column of a table, from its header row."""
    table = rows[0].getparent()
    while table is not None and table.tag != "table":
        table = table.getparent()
    if table is None:
        return None
    for tr in table.iter("tr"):
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("th", "td")]
        labels = [_text(c) for c in cells]
        if not any(labels) or tr.find(".//a[@href]") is not None and tr.find("th") is None:
            continue
        for pattern in (r"发布|公开|更新", r"^(?:日期|时间)$", r"日期|时间"):
            for i, lab in enumerate(labels):
                if re.search(pattern, lab) and "成文" not in lab and "生成" not in lab:
                    return i
        return None
    return None


def _group_entries(els: list) -> list[_Raw]:
    col = _header_date_column(els) if els and els[0].tag == "tr" else None
    out = []
    for el in els:
        cell = None
        if col is not None:
            cells = [c for c in el if isinstance(c.tag, str) and c.tag in ("td", "th")]
            cell = cells[col] if col < len(cells) else None
        raw = _entry(el, date_cell=cell)
        if raw is not None and raw.when is None and cell is not None:
            raw = _entry(el)
        if raw is not None:
            out.append(raw)
    return out


def _best_group(root, only_tag: str | None = None, min_undated: int = 3) -> tuple[list[_Raw], str | None]:
    """The group of entries that is most likely the column's list (see the module docstring)."""
    candidates = []
    for els in _groups(root):
        parent = els[0].getparent()
        if only_tag and els[0].tag != only_tag or parent.tag == "body" and els[0].tag == "div":
            continue                            # body > div: the page's layout regions
        if els[0].tag == "a" and parent.tag in ("li", "dd", "dt", "td", "p", "h3", "h4"):
            continue                            # the enclosing li/td/… is the entry
        if _excluded(parent):
            continue
        els = [el for el in els if not _EXCLUDE_CLASS.search(_PIN_CLASS.sub(" ", _classes(el)))]
        if els:
            candidates.append(els)
    candidates.sort(key=len, reverse=True)
    best: tuple | None = None
    for els in candidates:
        if best is not None and len(els) < best[0][1]:
            break                               # cannot have more dated entries than the best
        entries = _group_entries(els)
        if not entries:
            continue
        dated = sum(1 for e in entries if e.when is not None)
        avg = sum(len(e.title) for e in entries) / len(entries)
        if not dated and (len(entries) < min_undated or avg < 8):
            continue                            # menus: short undated link lists
        score = (dated > 0, dated, len(entries), els[0].tag not in ("a", "div"), avg)
        if best is None or score > best[0]:
            best = (score, entries, els[0].tag)
    if best is None:
        return [], None
    return best[1], best[2]


# --------------------------------------------------------------------------------------- pagination
_PAGE_NEXT = re.compile(r"^(?:下一页|下页|后页|后一页|next(?:\s*page)?|[>›»]{1,2})\s*[>›»]*$", re.I)
_PAGE_LAST = re.compile(r"^(?:尾页|末页|最后一页|最末页|last(?:\s*page)?)\s*[>›»]*$", re.I)
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(([^()]*)\)")
_VAR_INT = r"(?:var\s+)?{name}\s*=\s*['\"]?(\d+)"
_MAX_PAGES = 500


def _trs_pages(text: str, url: str) -> tuple[list[str], int] | None:
    if "createPageHTML" not in text and "countPage" not in text:
        return None
    args: list[str] = []
    pos = text.find("createPageHTML")
    while pos >= 0:                            # the call, not an inline `function createPageHTML(...)`
        if not text[max(0, pos - 12):pos].rstrip().endswith("function"):
            m = _CREATE_PAGE.match(text, pos)
            if m:
                args = [a.strip().strip("'\"") for a in m.group(1).split(",")]
                break
        pos = text.find("createPageHTML", pos + 14)
    if args and not re.fullmatch(r"\d+", args[0]) and not re.search(_VAR_INT.format(name=re.escape(args[0])), text):
        args = args[1:]                        # createPageHTML('page_div', count, current, ...)
    count = None
    if args:
        if re.fullmatch(r"\d+", args[0]):
            count = int(args[0])
        else:
            m = re.search(_VAR_INT.format(name=re.escape(args[0])), text)
            count = int(m.group(1)) if m else None
    if count is None:
        m = re.search(_VAR_INT.format(name="countPage"), text)
        if not m:
            return None
        count = int(m.group(1))
    path = urlsplit(url).path
    ext_m = re.search(r"\.(s?html?)$", path)
    name = args[2] if len(args) > 2 and args[2] else "index"
    ext = args[3] if len(args) > 3 and args[3] else (ext_m.group(1) if ext_m else "html")
    cur_m = re.search(rf"{re.escape(name)}_(\d+)\.{re.escape(ext)}$", path)
    current = int(cur_m.group(1)) if cur_m else 0
    count = min(count, _MAX_PAGES)
    return [urljoin(url, f"{name}_{k}.{ext}") for k in range(current + 1, count)], count


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


def _link_pages(root, base: str, url: str) -> list[str]:
    nxt = last = None
    for a in root.iter("a"):
        href = a.get("href")
        if not href or _SKIP_HREF.match(href):
            continue
        t = _text(a) or _clean(a.get("title"))
        cls = a.get("class") or ""
        if nxt is None and (_PAGE_NEXT.match(t) or re.search(r"(?:^|\s)next(?:$|\s)", cls)):
            nxt = urljoin(base, href.strip())
        elif last is None and _PAGE_LAST.match(t):
            last = urljoin(base, href.strip())
    if nxt is None or nxt == url:
        return []
    if last and last != nxt:
        span = _number_span(nxt, last)
        if span:
            prefix, a, b, suffix = span
            if 0 < b - a <= _MAX_PAGES:
                return [f"{prefix}{n}{suffix}" for n in range(a, b + 1)]
    return [nxt]


def _number_span(a: str, b: str) -> tuple[str, int, int, str] | None:
    """If URLs a and b differ only in one number (a < b), split them around it."""
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    while i > 0 and a[i - 1].isdigit():
        i -= 1
    ma, mb = re.match(r"\d+", a[i:]), re.match(r"\d+", b[i:])
    if not ma or not mb or a[i + ma.end():] != b[i + mb.end():]:
        return None
    return a[:i], int(ma.group()), int(mb.group()), a[i + ma.end():]


# --------------------------------------------------------------------------------------- profiles
def _finish(raws: list[_Raw], reference: date | None, base: str | None = None) -> list[ListItem]:
    """Resolve hrefs against `base`, dedupe URLs, infer missing years in page order, build ListItems."""
    if base is not None:
        for r in raws:
            r.url = urljoin(base, r.url)
    seen: set[str] = set()
    raws = [r for r in raws if not (r.url in seen or seen.add(r.url))]
    normal = [r for r in raws if not r.pinned and r.when is not None]
    seq = [date(r.when.year, r.when.month, r.when.day) if r.when.year else (r.when.month, r.when.day)
           for r in normal]
    years = {id(r): d for r, d in zip(normal, infer_years(seq, reference))}
    items = []
    for r in raws:
        published: datetime | None = None
        if r.when is not None:
            if r.when.year is not None:
                published = r.when.on(r.when.year)
            else:
                d = years.get(id(r)) or infer_year(r.when.month, r.when.day, reference)
                published = r.when.on(d.year) if d else None
        items.append(ListItem(title=r.title, url=r.url, published=published, pinned=r.pinned, extra=r.extra))
    return items


def _parse_tree(text: str):
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        return lxml.html.fromstring(text)
    except (etree.ParserError, ValueError):
        return None


def _base_url(root, url: str) -> str:
    base = root.find(".//base[@href]")
    return urljoin(url, base.get("href").strip()) if base is not None else url


_RECORD = re.compile(r"<record>\s*(?:<!\[CDATA\[(.*?)\]\]>|(.*?))\s*</record>", re.S | re.I)


def _jcms(text: str, url: str, base: str) -> tuple[list[_Raw], list[str], int | None] | None:
    if "<datastore" not in text and "<recordset" not in text and not re.search(r"<(?:datastore|recordset)\b", text, re.I):
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
        raw = _entry(el, link=link, title_el=title_el,
                     date_text=_text(date_el) if date_el is not None else None)
        if raw is not None:
            raws.append(raw)
    nxt = []
    if sel.get("next"):
        a = one(root, sel["next"])
        if a is not None and a.get("href") and not _SKIP_HREF.match(a.get("href")):
            nxt = [urljoin(base, a.get("href").strip())]
    return raws, nxt


def _is_article(root, n_items: int) -> bool:
    if n_items >= 5:
        return False
    for meta in root.iter("meta"):
        if (meta.get("name") or "").lower() in _ARTICLE_META:
            return True
    for el in root.iter("div", "td", "article"):
        if _ARTICLE_BODY.search(_classes(el)) and len(_text(el)) > 200:
            return True
    return False


# A page that says the system, not the column, has nothing to show. Looked for only on pages without
# entries (a title like "县数据局开展系统升级维护工作" is a post, not an outage).
_ERROR_TEXT = re.compile(
    r"系统(?:正在)?(?:维护|升级)|(?:网站|站点|平台|服务器|数据库)正在(?:维护|升级)(?:中|期间)|维护中|升级维护|"
    r"暂停(?:服务|访问)|(?:系统|服务器|网络|服务)繁忙|系统(?:错误|异常|出错)|服务(?:异常|不可用)|暂时(?:无法访问|不可用)|"
    r"数据库(?:连接)?(?:错误|异常|失败)|访问(?:出错|异常)|出错了|发生错误|"
    r"(?:页面|网页|文件|链接)(?:可能)?(?:已经?)?(?:被)?(?:删除|移除|不存在|失效)|(?:找不到|无法找到|未找到)(?:您|你)?(?:要|所)?"
    r"(?:访问|查看|请求)?的?(?:页面|网页)|删除、更名|不存在或已被?(?:删除|移除)|"
    r"\b404\b\s*(?:not found|错误|页面)|(?:错误|error)\s*404|not found|internal server error|service unavailable|"
    r"bad gateway", re.I)
_ERROR_TITLE = re.compile(r"\b40[34]\b|\b50[0234]\b|错误|出错|系统维护|维护中|不存在|找不到|未找到|error|not found",
                          re.I)
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title"}


def _region(el) -> bool:
    """True if `el` itself is a nav/header/footer/sidebar/breadcrumb/pager region."""
    return el.tag in _EXCLUDE_TAGS or bool(_EXCLUDE_CLASS.search(_classes(el)))


def _visible_text(el, *, main_only: bool = False) -> str:
    """Text a visitor sees: without <script>/<style>/<template> contents and comments (and, with
    main_only, without nav/header/footer/sidebar regions inside `el`)."""
    parts: list[str] = []

    def walk(node) -> None:
        if not isinstance(node.tag, str) or node.tag in _INVISIBLE:
            return
        if main_only and node is not el and _region(node):
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return _clean(" ".join(parts))


def _message(root, pattern: re.Pattern) -> tuple[str, Any]:
    """(matched words, the deepest visible element outside nav/header/footer/sidebar regions that
    holds them) or ("", None)."""
    body = root.find(".//body")
    scope = body if body is not None else root
    if not pattern.search(_visible_text(scope, main_only=True)):
        return "", None
    found: tuple[str, Any] | None = None
    for el in scope.iter():
        if not isinstance(el.tag, str) or el.tag in _INVISIBLE:
            continue
        if found is not None and found[1] not in set(el.iterancestors()):
            continue                          # only ever refine the match, downwards
        m = pattern.search(_visible_text(el, main_only=True))
        if m is not None and not _excluded(el):
            found = (m.group(0), el)
    return found if found is not None else ("", None)


def _says_empty(root) -> tuple[str, Any]:
    """The column's own "no entries" message and the element holding it, or ("", None)."""
    return _message(root, _EMPTY_TEXT)


def _says_error(root) -> str:
    """Words of an error / maintenance / not-found page, or ""."""
    title = root.find(".//title")
    if title is not None and _ERROR_TITLE.search(_text(title)):
        return _text(title)[:60]
    words, _ = _message(root, _ERROR_TEXT)
    return words


# --------------------------------------------------------------------------------------- containers
def _sig(el) -> str:
    if el is None or not isinstance(el.tag, str):
        return ""
    classes = sorted((el.get("class") or "").split())
    if classes:
        return el.tag + "".join(f".{c}" for c in classes)
    return el.tag + (f"#{el.get('id').strip()}" if (el.get("id") or "").strip() else "")


def _signature(el) -> str:
    """"html:parent>element": tag, classes (or id) of the element and its parent."""
    return f"html:{_sig(el.getparent())}>{_sig(el)}"


def _list_container(root, hrefs: list[str]):
    """The element holding the entries whose links are `hrefs`: the deepest common ancestor of
    their links (for one entry, the parent of its li/tr/dd/article)."""
    wanted = set(hrefs)
    links = []
    for a in root.iter("a"):
        href = re.sub(r"[\r\n\t]", "", (a.get("href") or "").strip())
        if href in wanted:
            links.append(a)
            wanted.discard(href)
    if not links:
        return None
    if len(links) == 1:
        node = links[0]
        for anc in list(links[0].iterancestors())[:3]:
            if anc.tag in ("li", "tr", "dd", "article"):
                node = anc
                break
        return node.getparent()
    common = list(links[0].iterancestors())
    for a in links[1:]:
        mine = set(a.iterancestors())
        common = [c for c in common if c in mine]
    return common[0] if common else None


def _matches(el, sig: str) -> bool:
    return _sig(el) == sig


def container_state(body: bytes | str, signature: str, encoding: str | None = None) -> str:
    """Whether a page still has the list container `signature` (an HTML ParsedList.container):
    "missing", "empty" (present, no content link in it) or "filled"."""
    if not signature.startswith("html:") or ">" not in signature:
        return "missing"
    parent_sig, own_sig = signature[5:].rsplit(">", 1)
    root = _parse_tree(_to_text(body, encoding))
    if root is None:
        return "missing"
    tag = own_sig.split(".", 1)[0].split("#", 1)[0]
    state = "missing"
    for el in root.iter(tag):
        if not _matches(el, own_sig) or _sig(el.getparent()) != parent_sig:
            continue
        if _content_links(el):
            return "filled"
        state = "empty"
    return state


# --------------------------------------------------------------------------------------- JSON
_JSON_TITLE = ("title", "docTitle", "articleTitle", "name", "biaoti", "showTitle", "mainTitle", "subject")
_JSON_URL = ("url", "link", "href", "docUrl", "articleUrl", "pageUrl", "docPubUrl", "detailUrl", "linkUrl", "pcUrl")
_JSON_DATE = ("pubDate", "publishDate", "publishTime", "pubTime", "releaseTime", "docRelTime", "docPubTime",
              "releaseDate", "publishedTime", "createTime", "createDate", "date", "time", "fbsj", "writeTime",
              "updateTime", "showTime")


_JSONP = re.compile(r"^\s*[\w$.]+\s*\(\s*([\[{].*)\)\s*;?\s*$", re.S)


def _json_load(text: str) -> Any:
    m = _JSONP.match(text)
    return json.loads(m.group(1) if m else text.strip())


def _path(data: Any, path: str | None) -> Any:
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit():
            data = data[int(part)] if int(part) < len(data) else None
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _key(d: dict, names: Iterable[str]) -> str | None:
    lower = {k.lower(): k for k in d}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _find_json_list(data: Any) -> list | None:
    """The largest list of objects that have a title-like and a URL-like key."""
    best: list | None = None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            objs = [x for x in node if isinstance(x, dict)]
            if objs and _key(objs[0], _JSON_TITLE) and _key(objs[0], _JSON_URL):
                if best is None or len(objs) > len(best):
                    best = objs
            stack.extend(objs)
    return best


def _json_date(value: Any) -> DateMatch | None:
    if isinstance(value, (int, float)) and value > 10**8:
        secs = value / 1000 if value > 10**11 else value
        dt = datetime.fromtimestamp(secs, tz=timezone.utc).astimezone(TZ)
        return DateMatch(dt.year, dt.month, dt.day, dt.time().replace(microsecond=0))
    return scan_date(str(value)) if value not in (None, "") else None


_JSON_ERRNO = ("errcode", "errno", "err_code", "errorCode", "error_code", "ret")
_JSON_CODE = ("code", "status", "statusCode", "status_code", "resultCode", "result_code", "rtnCode", "retCode")
_JSON_FLAG = ("success", "ok", "isSuccess", "succeed")
_JSON_MSG = ("msg", "message", "errmsg", "errMsg", "error", "errorMsg", "resultMsg", "retMsg", "desc")
_JSON_OK_CODES = {"0", "1", "200", "201", "204", "00", "000", "0000", "000000", "success", "ok", "true"}
_JSON_BAD_MSG = re.compile(r"繁忙|错误|失败|异常|维护|不可用|超时|无权|拒绝|error|fail|exception|busy|unavailable|"
                           r"timeout|denied|invalid", re.I)


def _json_error(text: str) -> str:
    """What a JSON list API's envelope says went wrong ("code=500 系统繁忙"), or "" (fine, or not JSON).
    Looks at the top level and a nested result/status/meta/header object."""
    try:
        data = _json_load(text)
    except ValueError:
        return ""
    envelopes = [data] if isinstance(data, dict) else []
    for d in list(envelopes):
        for k in ("result", "status", "meta", "header", "head"):
            sub = d.get(k)
            if isinstance(sub, dict):
                envelopes.append(sub)
    for env in envelopes:
        msg = next((str(env[k]) for k in (_key(env, [n]) for n in _JSON_MSG)
                    if k and isinstance(env.get(k), (str, int)) and str(env.get(k)).strip()), "")
        bad_msg = bool(_JSON_BAD_MSG.search(msg))
        problem = ""
        for name in _JSON_ERRNO:
            k = _key(env, [name])
            if k and not isinstance(env[k], bool) and str(env[k]).strip() not in ("", "0"):
                problem = f"{k}={env[k]}"
        for name in _JSON_CODE:
            k = _key(env, [name])
            v = env.get(k) if k else None
            if v is None or isinstance(v, (bool, dict, list)):
                continue
            value = str(v).strip().lower()
            if value in _JSON_OK_CODES and not bad_msg:
                continue
            numeric = value.lstrip("-").isdigit()
            if (numeric and (int(value) >= 400 or int(value) < 0)) or value in ("error", "fail", "failed", "failure",
                                                                               "exception") or bad_msg:
                problem = problem or f"{k}={v}"
        for name in _JSON_FLAG:
            k = _key(env, [name])
            if k and env[k] is False:
                problem = problem or f"{k}=false"
        if bad_msg and not problem and not any(_key(env, [n]) for n in _JSON_CODE + _JSON_ERRNO + _JSON_FLAG):
            problem = "msg"
        if problem:
            return f"{problem} {msg}".strip() if problem != "msg" else msg
    return ""


def _json(text: str, url: str, spec: dict | None) -> tuple[list[_Raw], list[str], int | None] | None:
    try:
        data = _json_load(text)
    except ValueError:
        return None
    spec = spec or {}
    rows = _path(data, spec["list"]) if spec.get("list") else _find_json_list(data)
    if not isinstance(rows, list):
        return None
    raws = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        tk = spec.get("title") or _key(row, _JSON_TITLE)
        uk = spec.get("url") or _key(row, _JSON_URL)
        dk = spec.get("date") or _key(row, _JSON_DATE)
        title = _clean(re.sub(r"<[^>]+>", "", str(_path(row, tk) or ""))) if tk else ""
        link = str(_path(row, uk) or "").strip() if uk else ""
        if spec.get("url_template"):
            link = spec["url_template"].format(**{k: v for k, v in row.items() if isinstance(k, str)})
        if not title or not link or _SKIP_HREF.match(link):
            continue
        pinned = bool(spec.get("pinned") and _path(row, spec["pinned"]))
        raws.append(_Raw(title, urljoin(spec.get("base_url") or url, link),
                         _json_date(_path(row, dk)) if dk else None, pinned))
    next_urls, pages = [], None
    if spec.get("total_pages") or spec.get("total"):
        total = _path(data, spec.get("total_pages") or spec.get("total"))
        if isinstance(total, (int, str)) and str(total).isdigit():
            total = int(total)
            size = int(spec.get("page_size") or len(rows) or 1)
            pages = total if spec.get("total_pages") else math.ceil(total / size)
            next_urls = _param_pages(url, spec.get("page_param", "page"), pages, int(spec.get("first_page", 1)))
    return raws, next_urls, pages


def _param_pages(url: str, param: str, pages: int, first: int) -> list[str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    current = int(query.get(param, first)) if str(query.get(param, first)).isdigit() else first
    out = []
    for n in range(current + 1, min(first + pages, current + 1 + _MAX_PAGES)):
        query[param] = str(n)
        out.append(urlunsplit(parts._replace(query=urlencode(query))))
    return out


# --------------------------------------------------------------------------------------- entry points
def _to_text(body: bytes | str, encoding: str | None) -> str:
    if isinstance(body, str):
        return body
    forced = normalize_charset(encoding)
    if forced:
        return body.decode(forced, "replace")
    return decode_html(body)[0]


def parse_list(body: bytes | str, url: str, *, profile: str = "auto", selectors: dict | None = None,
               json_spec: dict | None = None, reference: date | None = None,
               encoding: str | None = None) -> ParsedList:
    """Parse one list page (see the module docstring for profiles and decisions)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown list profile {profile!r}; expected one of {PROFILES}")
    text = _to_text(body, encoding)
    looks_json = text.lstrip()[:1] in ("{", "[") or _JSONP.match(text) is not None
    if profile == "json" or (profile == "auto" and (json_spec or looks_json)):
        got = _json(text, url, json_spec)
        error = _json_error(text)
        if error:                             # {"code":500,"msg":"系统繁忙","data":{"list":[]}}
            items = _finish(got[0], reference) if got is not None else []
            return ParsedList(items, [], bool(items), "json", error=error)
        if got is not None:
            raws, next_urls, pages = got
            where = f"json:{(json_spec or {}).get('list') or 'auto'}"
            return ParsedList(_finish(raws, reference), next_urls, True, "json", pages, empty=not raws,
                              container=where)
        if profile == "json":
            return ParsedList([], [], False, "json")
    root = _parse_tree(text)
    if root is None:
        return ParsedList([], [], False, profile if profile != "auto" else "generic")
    base = _base_url(root, url)

    if profile in ("auto", "jcms"):
        got = _jcms(text, url, base)
        if got is not None:
            raws, next_urls, pages = got
            error = "" if raws else _says_error(root)
            if error:                         # the page frame still renders, the records are gone
                return ParsedList([], [], False, "jcms", pages, error=error)
            return ParsedList(_finish(raws, reference, base), next_urls, True, "jcms", pages, empty=not raws,
                              container="jcms:datastore")
    if profile == "selectors" or (profile == "auto" and selectors):
        if not selectors or not selectors.get("item"):
            raise ValueError("profile 'selectors' needs selectors={'item': CSS, ...}")
        raws, next_urls = _selectors(root, base, selectors)
        name = "selectors"
    else:
        raws, tag = _best_group(root, only_tag="tr" if profile == "table" else None)
        name = profile if profile not in ("auto", "jcms") else ("table" if tag == "tr" else "generic")
        next_urls = []
    pages = None
    trs = _trs_pages(text, url)
    if trs is not None:
        next_urls, pages = trs
        if profile == "auto" and name == "generic":
            name = "trs"
        if not raws and profile != "selectors":
            # The last page of an undated TRS list may hold only one or two items: the pager
            # script proves this is a list page, so a short undated group is accepted here.
            raws, _ = _best_group(root, only_tag="tr" if profile == "table" else None, min_undated=1)
    elif not next_urls:
        next_urls = _link_pages(root, base, url)
    if raws and _is_article(root, len(raws)):
        return ParsedList([], [], False, name)
    if not raws:
        error = _says_error(root)
        if error:
            return ParsedList([], [], False, name, pages, error=error)
        notice, holder = _says_empty(root)
        empty = bool(notice) and not _is_article(root, 0)
        return ParsedList([], next_urls if empty else [], empty, name, pages, empty=empty,
                          notice=notice if empty else "", container=_signature(holder) if empty else "")
    holder = _list_container(root, [r.url for r in raws])          # before _finish resolves the URLs
    return ParsedList(_finish(raws, reference, base), next_urls, True, name, pages,
                      container=_signature(holder) if holder is not None else "")


_META_DATE_NAMES = ("pubdate", "publishdate", "firstpublishedtime", "publish_date", "publishtime",
                    "publish-date", "releasedate", "releasetime", "article:published_time",
                    "og:published_time", "og:release_date", "dcterms.issued", "dc.date.issued",
                    "dcterms.created", "dc.date.created", "dc.date", "date", "createdate")
_DATE_BOX = re.compile(r"date|time|info|fbsj|source|pubtime|xxgk|article[-_]?attr|message|laiyuan|ly", re.I)


def article_date(body: bytes | str, url: str, reference: date | None = None) -> datetime | None:
    """Publication time of an article page: common <meta> names, then the labelled date line
    ("发布时间：…", "日期：…"), then a date in an info/date box, then the first full date after the
    headline. None if the page states none (a header's "今天是…" is never taken)."""
    text = _to_text(body, None)
    root = _parse_tree(text)
    if root is None:
        return None
    metas = {}
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        if key and meta.get("content"):
            metas.setdefault(key, meta.get("content"))
    for name in _META_DATE_NAMES:
        if name in metas:
            found = scan_date(metas[name], month_day=False)
            if found:
                return found.on(found.year)
    for bad in root.iter("script", "style", "noscript"):
        bad.text = ""
    body_el = root.find(".//body")
    scope = body_el if body_el is not None else root
    page_text = _text(scope)
    labelled = scan_date(page_text, labelled_only=True)
    if labelled:
        return labelled.on(labelled.year) if labelled.year else _with_year(labelled, reference)
    for el in scope.iter("div", "span", "p", "td", "li", "em", "small", "time"):
        if _DATE_BOX.search(_classes(el)) and not _excluded(el):
            t = _text(el)
            if len(t) <= 200:
                found = scan_date(t, month_day=False)
                if found:
                    return found.on(found.year)
    heading = next((h for h in scope.iter("h1", "h2") if _text(h)), None)
    if heading is not None:
        after = page_text.split(_text(heading), 1)[-1]
        found = scan_date(after[:600], month_day=False)
        if found:
            return found.on(found.year)
    return None


def _with_year(found: DateMatch, reference: date | None) -> datetime | None:
    d = infer_year(found.month, found.day, reference)
    return found.on(d.year) if d else None


def cli_parse_list(argv: list[str]) -> int:
    """`python -m pubwatch parse-list FILE --url URL [--profile P] [--reference YYYY-MM-DD]`."""
    ap = argparse.ArgumentParser(prog="pubwatch parse-list", description="parse a saved portal list page")
    ap.add_argument("file")
    ap.add_argument("--url", required=True, help="the list page's URL (relative links resolve against it)")
    ap.add_argument("--profile", default="auto", choices=PROFILES)
    ap.add_argument("--reference", help="YYYY-MM-DD for dates without a year (default: today)")
    ap.add_argument("--encoding", help="force a charset (default: detect)")
    ap.add_argument("--selectors", help='JSON, e.g. {"item": "ul.list li", "date": "span"}')
    ap.add_argument("--json-spec", help='JSON, e.g. {"list": "data.list", "title": "title"}')
    args = ap.parse_args(argv)
    with open(args.file, "rb") as fh:
        body = fh.read()
    parsed = parse_list(body, args.url, profile=args.profile, encoding=args.encoding,
                        reference=date.fromisoformat(args.reference) if args.reference else None,
                        selectors=json.loads(args.selectors) if args.selectors else None,
                        json_spec=json.loads(args.json_spec) if args.json_spec else None)
    if not parsed.is_list:
        print(f"不是列表页 (not a list page, profile {parsed.profile}): {args.file}", file=sys.stderr)
        return 3
    for item in parsed.items:
        print(json.dumps({"title": item.title, "url": item.url,
                          "published": item.published.date().isoformat() if item.published else None},
                         ensure_ascii=False))
    return 0

