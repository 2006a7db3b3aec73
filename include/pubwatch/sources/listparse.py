"""Read a portal column's list page: entries (title, absolute URL, date, pinned) and further pages.

Pure parsing, no network. Profiles:

* ``trs``   — TRS WCM static lists; pagination from ``createPageHTML(count, current, "index", "html")``
              or ``var countPage = N`` → index_1.html, index_2.html … next to the list URL.
* ``jcms``  — 大汉 JCMS: records are HTML fragments inside ``<datastore><recordset><record><![CDATA[…]]>``
              (in the page's ``<script type="text/xml">`` or a dataproxy.jsp XML answer); further
              record groups come from the jpage settings (totalRecord, perPage, groupSize, proxyUrl,
              ajaxParam) as dataproxy.jsp?startrecord=…&endrecord=…&perpage=… URLs.
* ``table`` — 信息公开目录 tables (tr/td): each column's header says what it holds (`_header_meaning`):
              发布日期/发布时间/公开日期 over 日期 over 更新时间 over 成文日期/印发日期; 发布机构/来源/
              实施日期 … are never dates.
* ``json``  — JSON (or JSONP) list APIs, mapped by ``json_spec`` or found by common key names; time
              fields ranked by meaning (`_json_key_rank`).
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
* Dates by meaning, not by position. An entry's date is its publication date: a column headed
  发布日期, a "发布时间：" label, a date box (also a day and a year-month in two elements,
  ``<div class="date"><span>05</span><em>2026-11</em></div>``), a JSON publish-time field (gkmlpt
  first_publish_time over publish_time; epochs in seconds or milliseconds read in Asia/Shanghai).
  Never a date inside a title or a summary (event dates, deadlines), never an issuing body's column,
  never 成文日期 when a publication date exists (see the R_* ranks).
* Plausible dates only: before 2000 (1900-01-01 placeholders) or after the read (+1 day) is no
  publication date — the entry gets ``published=None`` and ``extra["date_implausible"]``, the page
  ``notes`` say so; a page whose stated dates are *all* implausible is ``is_list=False``.
* Unsure dates are marked for the caller to confirm from the article page:
  ``extra["date_check"]`` is ``several_dates`` (tied candidates; the latest is used, all in
  ``extra["list_dates"]``), ``written_date`` (only 成文日期 known), ``weak_field`` (only a created /
  updated time), ``out_of_order`` (breaks the page's newest-first order) or ``implausible``.
  ``extra["date_field"]`` names the header or JSON key the date came from.
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
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from ..dates import (DISORDER_DAYS, LABEL_PUBLISHED, LABEL_WRITTEN, DateMatch, infer_year, infer_years,
                     normalize_text, plausible, scan_date, scan_labelled, scan_split_date)
from ..encoding import decode_html, normalize_charset
from ..types import TZ, ListItem

__all__ = ["ParsedList", "parse_list", "article_date", "article_date_found", "cli_parse_list", "container_state",
           "PROFILES"]

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
    notes: list[str] = field(default_factory=list)   # for the admin (Chinese): e.g. implausible dates


# Where a list entry's date came from, by meaning. The highest rank wins; the caller is told when
# the choice is unsure (ListItem.extra["date_check"]) so it can confirm from the article page.
R_ADMIN = 90          # the registry's selectors / json_spec name the date
R_COLUMN_PUB = 80     # a table column headed 发布日期 / 公开日期 …; a JSON publish-time field
R_COLUMN_PLAIN = 75   # a column headed 日期 / 时间
R_COLUMN_UPDATE = 70  # a column headed 更新日期
R_LABEL_PUB = 60      # "发布时间：…" next to the entry
R_JSON_PLAIN = 60     # a JSON field named date / time
R_DATE_CLASS = 50     # a date-only element classed date/time (or <time>), incl. day and year-month split
R_DATE_ONLY = 40      # another element holding only a date
R_LABEL_PLAIN = 30    # "日期：…" in a short element
R_LOOSE = 20          # a date in the entry's own short text (<li><a>…</a> 2026-11-20</li>)
R_TITLE_TAIL = 10     # a date at the very end of the title link's text
R_WEAK = 5            # created / updated times (JSON createTime, created_at, updateTime …)
R_WRITTEN = 1         # a document's own date: 成文日期 / 印发日期 / 发文日期

# ListItem.extra["date_check"]: why the list's date is not certain (the portal source then reads the
# article page of a new item once and keeps both dates).
CHECK_SEVERAL = "several_dates"
CHECK_WRITTEN = "written_date"
CHECK_WEAK = "weak_field"
CHECK_ORDER = "out_of_order"
CHECK_IMPLAUSIBLE = "implausible"


@dataclass
class _Raw:
    """An entry before its date is chosen and its year inferred."""

    title: str
    url: str
    when: DateMatch | None
    pinned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    cands: list[tuple[int, DateMatch, str | None]] = field(default_factory=list)   # (rank, date, field)
    check: str | None = None
    date_field: str | None = None
    implausible: str | None = None


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


_DATE_CLASS = re.compile(r"date|time|riqi|shijian|(?:^|[\s_-])(?:rq|sj|fbsj|fbrq|day|pub|pubtime)(?:$|[\s_-])", re.I)
_BLOCK_CLASS = re.compile(r"summary|desc|intro|abstract|brief|zhaiyao|jianjie|(?:^|[\s_-])(?:zy|jj|txt|text|con|cont|"
                          r"content|detail|note)(?:$|[\s_-])", re.I)
_DATE_FILLER = re.compile(r"发布(?:时间|日期|于)?|公开(?:时间|日期)|更新(?:时间|日期)|日期|时间|星期[一二三四五六日天]|"
                          r"周[一二三四五六日天]|[\s\[\]()（）【】<>《》:：|/\\\-—–·.,，、]")
_SHORT = 40           # an element with more text than this is a title or summary, never a date
_DIGIT = re.compile(r"[0-9０-９]")


def _pieces(el) -> list[str]:
    return [t.strip() for t in el.itertext() if t and t.strip()]


def _date_only(text: str) -> DateMatch | None:
    """The date of a short text that holds nothing else ("2026-11-20", "[11-20]", "2026年11月20日 星期五")."""
    if not text or len(text) > _SHORT:
        return None
    found = scan_date(text)
    if found is None:
        return None
    norm = normalize_text(text)
    rest = norm[:found.start] + norm[found.end:]
    return found if not _DATE_FILLER.sub("", rest) else None


def _element_date(el, pieces: list[str]) -> DateMatch | None:
    """A date element's date: the whole text, or a day and year-month in two child elements."""
    if el.tag == "time" and el.get("datetime"):
        found = scan_date(el.get("datetime"), month_day=False)
        if found:
            return found
    joined = " ".join(pieces)
    return _date_only(joined) or scan_split_date(pieces)


def _entry_dates(el, link, cells: dict | None) -> tuple[list[tuple[int, DateMatch, str | None]], Any]:
    """Every date an entry states, ranked by what it means (see R_*), and the date element inside
    the title link (to drop from the title). Titles and summaries are never read for dates; a table
    cell under a known header counts as that header says (`cells`: element -> (rank, label) or None
    for a column that is not a date, e.g. 发布机构)."""
    cands: list[tuple[int, DateMatch, str | None]] = []
    loose: list[str] = []
    drop = None
    link_ancestors = set(link.iterancestors()) if link is not el else set()

    def add_short(text: str | None) -> None:
        if text and text.strip() and len(text.strip()) <= _SHORT:
            loose.append(text.strip())

    def visit(node, in_link: bool) -> None:
        nonlocal drop
        if not isinstance(node.tag, str):
            add_short(node.tail)
            return
        if cells is not None and node in cells:
            info = cells[node]
            if info is not None:
                pieces = _pieces(node)
                found = scan_date(" ".join(pieces)) or scan_split_date(pieces)
                if found:
                    cands.append((info[0], found, info[1]))
            add_short(node.tail)
            return
        if node is link or node in link_ancestors:
            if node is not link:
                add_short(node.text)
            for child in node:
                visit(child, in_link or node is link)
            add_short(node.tail)
            return
        pieces = _pieces(node)
        joined = " ".join(pieces)
        if len(joined) <= _SHORT:
            if not _DIGIT.search(joined) and not (node.tag == "time" and node.get("datetime")):
                if not in_link:
                    add_short(node.tail)
                return                            # no digit, no date (labels, sources, icons)
            dated = _element_date(node, pieces)
            labelled = scan_labelled(joined)
            classed = node.tag == "time" or bool(_DATE_CLASS.search(_classes(node)))
            if labelled and labelled[1] == LABEL_PUBLISHED:
                cands.append((R_LABEL_PUB, labelled[0], None))
            elif labelled and labelled[1] == LABEL_WRITTEN:
                cands.append((R_WRITTEN, labelled[0], None))
            elif dated:
                cands.append((R_DATE_CLASS if classed else R_DATE_ONLY, dated, None))
            elif labelled and node.tag != "p" and not _BLOCK_CLASS.search(_classes(node)):
                cands.append((R_LABEL_PLAIN, labelled[0], None))
            elif not in_link and node.tag != "p" and not _BLOCK_CLASS.search(_classes(node)):
                loose.append(joined)
            if dated and in_link and drop is None:
                drop = node
            if not in_link:
                add_short(node.tail)
            return
        if node.tag == "p" or _BLOCK_CLASS.search(_classes(node)):
            add_short(node.tail)                  # a summary: its dates are events, deadlines …
            return
        add_short(node.text)                      # a long container (meta line + summary): look inside
        for child in node:
            visit(child, in_link)
        add_short(node.tail)

    if el is link:
        for child in el:
            visit(child, True)
    else:
        add_short(el.text)
        for child in el:
            visit(child, False)
    if loose:
        found = scan_date(" ".join(loose))
        if found:
            cands.append((R_LOOSE, found, None))
    return cands, drop


def _entry(el, *, link=None, title_el=None, date_el=None, cells: dict | None = None) -> _Raw | None:
    """One list entry from a block element, or None if it holds no content link. `date_el` (the
    registry's date selector) fixes where the date is; otherwise every date the entry states is
    collected and ranked by meaning (`_entry_dates`; `cells`: a table row's cells by header meaning)."""
    if link is None:
        links = _content_links(el)
        if not links or len({a.get("href") for a, _ in links}) > _MAX_LINKS or len(_text(el)) > _MAX_ENTRY_CHARS:
            return None                        # a layout block holding many entries, not one entry
        link = max(links, key=lambda pair: len(pair[1]))[0]
    href = (link.get("href") or "").strip()
    if not href or _SKIP_HREF.match(href):
        return None
    cands: list[tuple[int, DateMatch, str | None]] = []
    drop = None
    fixed = date_el is not None
    if date_el is not None:
        found = _element_date(date_el, _pieces(date_el)) or scan_date(" ".join(_pieces(date_el)))
        if found:
            cands.append((R_ADMIN, found, None))
    else:
        cands, drop = _entry_dates(el, link, cells)
    source = title_el if title_el is not None else link
    title = _title_of(source, drop if source is link else None)
    if not cands and not fixed and title:
        m = _TRAILING_DATE.search(title)
        if m and m.start() > 0:
            found = scan_date(m.group(1))
            if found:
                cands.append((R_TITLE_TAIL, found, None))
            title = title[:m.start()].rstrip(" -—_|")
    pinned = _is_pinned(el, title)
    title = _PIN_TEXT.sub("", title).strip()
    if not title:
        return None
    best = max(cands, key=lambda c: c[0])[1] if cands else None
    return _Raw(title, re.sub(r"[\r\n\t]", "", href), best, pinned, cands=cands)   # resolved by _finish


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


_H_WRITTEN = re.compile(r"成文|印发|发文|签发|制发|生成|形成|签署")
_H_NOT_PUB = re.compile(r"实施|生效|施行|废止|失效|有效|截止|到期|开始|结束|办结|受理|答复|回复|办理|申请|出生|举办|活动")
_H_PUB = re.compile(r"发布|公开|发表|上网|发稿|刊发|公布|上传")
_H_OTHER = re.compile(r"机构|单位|部门|来源|机关|作者|处室|科室|文号|索引|名称|标题|题目|主题|序号|编号|分类|类别|状态|"
                      r"浏览|点击|附件|下载|操作|大小|格式")
_H_UPDATE = re.compile(r"更新|修改|维护")
_H_DATE = re.compile(r"日期|时间|日$|time|date", re.I)


def _header_meaning(label: str) -> tuple[int, str] | None:
    """(rank, label) of a table header if its column holds dates, by meaning: 发布日期 / 公开时间
    (R_COLUMN_PUB) over 日期 (R_COLUMN_PLAIN) over 更新时间 (R_COLUMN_UPDATE) over 成文日期 / 印发日期
    (R_WRITTEN); (0, label) for a column that is not a date (发布机构, 来源, 实施日期 …); None if unknown."""
    lab = re.sub(r"[\s:：]", "", normalize_text(label))
    if not lab or len(lab) > 12:
        return None
    has_date = bool(_H_DATE.search(lab))
    if _H_WRITTEN.search(lab) and has_date:
        return R_WRITTEN, lab
    if _H_NOT_PUB.search(lab):
        return 0, lab
    if _H_PUB.search(lab) and (has_date or lab in ("发布", "公开", "发布于")):
        return R_COLUMN_PUB, lab
    if _H_OTHER.search(lab):
        return 0, lab
    if _H_UPDATE.search(lab) and has_date:
        return R_COLUMN_UPDATE, lab
    if has_date:
        return R_COLUMN_PLAIN, lab
    return None


def _header_columns(rows: list) -> list[tuple[int, str] | None] | None:
    """The meaning of each column of a table (`_header_meaning`), from its header row (the first of
    the first three rows without content links that names a date column, after a caption row, say);
    None when there is none."""
    table = rows[0].getparent()
    while table is not None and table.tag != "table":
        table = table.getparent()
    if table is None:
        return None
    tried = 0
    for tr in table.iter("tr"):
        cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("th", "td")]
        labels = [_text(c) for c in cells]
        if not any(labels) or tr.find(".//a[@href]") is not None and tr.find("th") is None:
            continue
        meanings = [_header_meaning(lab) for lab in labels]
        if any(m is not None and m[0] > 0 for m in meanings):
            return meanings
        tried += 1
        if tried >= 3:
            break
    return None


def _group_entries(els: list) -> list[_Raw]:
    header = _header_columns(els) if els and els[0].tag == "tr" else None
    out = []
    for el in els:
        cells = None
        if header is not None:
            tds = [c for c in el if isinstance(c.tag, str) and c.tag in ("td", "th")]
            if len(tds) == len(header):
                cells = {td: (m if m is not None and m[0] > 0 else None)
                         for td, m in zip(tds, header) if m is not None}
        raw = _entry(el, cells=cells)
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
def _day_key(m: DateMatch) -> tuple[int, int, int]:
    return (m.year or 0, m.month, m.day)


def _choose(r: _Raw, reference: date) -> None:
    """Pick the entry's date from its candidates: the highest rank wins; if what ranks highest is
    implausible (before 2000, after the read: a CMS placeholder such as 1900-01-01) the entry has no
    date (r.implausible says why). The choice is marked unsure (r.check) when several dates tie at
    that rank, when a weak source (below R_LABEL_PUB) is contradicted by another candidate, or when
    only a created/updated time or a document's own date (成文日期) is known."""
    good: list[tuple[int, DateMatch, str | None]] = []
    bad: list[tuple[int, DateMatch]] = []
    for rank, m, fld in r.cands:
        if m.year is not None:
            dt = m.on(m.year)
            if dt is None:
                continue
            if not plausible(dt, reference):
                bad.append((rank, m))
                continue
        good.append((rank, m, fld))
    top_bad = max(bad, key=lambda c: c[0]) if bad else None
    if not good or top_bad is not None and top_bad[0] >= max(c[0] for c in good):
        r.when = None
        if top_bad is not None:
            m = top_bad[1]
            r.implausible = f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
            r.check = CHECK_IMPLAUSIBLE
            if good:
                r.extra = {**r.extra, "list_dates": sorted({_iso_day(c[1], reference) for c in good} - {None},
                                                           reverse=True)}
        return
    best = max(c[0] for c in good)
    top = [c for c in good if c[0] == best]
    days = {_day_key(c[1]) for c in top}
    chosen = max(top, key=lambda c: _day_key(c[1])) if len(days) > 1 else top[0]
    r.when, r.date_field = chosen[1], chosen[2]
    if len(days) > 1:
        r.check = CHECK_SEVERAL
    elif best == R_WRITTEN:
        r.check = CHECK_WRITTEN
    elif best <= R_WEAK:
        r.check = CHECK_WEAK
    elif best < R_LABEL_PUB and any(c[0] > R_WRITTEN and _day_key(c[1]) != _day_key(chosen[1]) for c in good):
        r.check = CHECK_SEVERAL
    if r.check == CHECK_SEVERAL:
        r.extra = {**r.extra, "list_dates": sorted({_iso_day(c[1], reference) for c in good if c[0] > R_WRITTEN} - {None},
                                                   reverse=True)}


def _iso_day(m: DateMatch, reference: date) -> str | None:
    if m.year is not None:
        return f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
    d = infer_year(m.month, m.day, reference)
    return d.isoformat() if d else None


def _out_of_order(raws: list[_Raw], published: dict[int, datetime]) -> None:
    """Mark entries whose date breaks the newest-first order of the page: newer than every entry
    above it, or older than every entry below it, by more than DISORDER_DAYS. Pinned entries are
    exempt; a page where many entries break the order is not newest-first and is left alone."""
    seq = [(r, published[id(r)].date()) for r in raws if not r.pinned and id(r) in published]
    n = len(seq)
    if n < 3:
        return
    slack = timedelta(days=DISORDER_DAYS)
    prefix_max, suffix_min = [seq[0][1]] * n, [seq[-1][1]] * n
    for i in range(1, n):
        prefix_max[i] = max(prefix_max[i - 1], seq[i][1])
    for i in range(n - 2, -1, -1):
        suffix_min[i] = min(suffix_min[i + 1], seq[i][1])
    flagged = [r for i, (r, d) in enumerate(seq)
               if i > 0 and d > prefix_max[i - 1] + slack or i < n - 1 and d < suffix_min[i + 1] - slack]
    if len(flagged) > max(2, n // 4):
        return
    for r in flagged:
        if r.check is None:
            r.check = CHECK_ORDER


def _finish(raws: list[_Raw], reference: date | None, base: str | None = None) -> list[ListItem]:
    """Resolve hrefs against `base`, dedupe URLs, choose each entry's date by meaning and
    plausibility, infer missing years in page order, flag unsure dates, build ListItems."""
    reference = reference or datetime.now(TZ).date()
    if base is not None:
        for r in raws:
            r.url = urljoin(base, r.url)
    seen: set[str] = set()
    raws = [r for r in raws if not (r.url in seen or seen.add(r.url))]
    for r in raws:
        _choose(r, reference)
    normal = [r for r in raws if not r.pinned and r.when is not None]
    seq = [date(r.when.year, r.when.month, r.when.day) if r.when.year else (r.when.month, r.when.day)
           for r in normal]
    years = {id(r): d for r, d in zip(normal, infer_years(seq, reference))}
    published: dict[int, datetime] = {}
    for r in raws:
        if r.when is None:
            continue
        if r.when.year is not None:
            when = r.when.on(r.when.year)
        else:
            d = years.get(id(r)) or infer_year(r.when.month, r.when.day, reference)
            when = r.when.on(d.year) if d else None
        if when is not None:
            published[id(r)] = when
    _out_of_order(raws, published)
    items = []
    for r in raws:
        extra = dict(r.extra)
        if r.date_field:
            extra["date_field"] = r.date_field
        if r.check:
            extra["date_check"] = r.check
        if r.implausible:
            extra["date_implausible"] = r.implausible
        items.append(ListItem(title=r.title, url=r.url, published=published.get(id(r)), pinned=r.pinned,
                              extra=extra))
    return items


def _date_notes(items: list[ListItem]) -> tuple[list[str], bool]:
    """Notes for the admin about the list's dates, and whether every stated date is implausible
    (a CMS printing placeholders such as 1900-01-01: the page cannot date anything)."""
    bad = [it.extra["date_implausible"] for it in items if "date_implausible" in it.extra]
    if not bad:
        return [], False
    examples = "、".join(sorted(set(bad))[:3])
    note = f"{len(bad)}条列表日期不可信(早于2000年或晚于读取时间: {examples}), 按无日期处理"
    return [note], not any(it.published is not None for it in items)


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
        raw = _entry(el, link=link, title_el=title_el, date_el=date_el)
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
# JSON time fields by meaning (keys compared lower-case without "_" / "-"): the first publication
# (gkmlpt first_publish_time) over the displayed and the latest publish time over generic names;
# created / updated times are weak (the article is read to confirm), a document's own date (成文)
# weaker still; validity, deadlines and event times are never a publication date.
_JSON_DATE_RANK = {
    "firstpublishtime": 88, "firstpubtime": 88, "firstpublishdate": 88, "firstpublishedtime": 88,
    "displaypublishtime": 86, "visiblepublishtime": 86,
    "publishtime": 84, "publishdate": 84, "publishedtime": 84, "publisheddate": 84, "publishedat": 84,
    "publishat": 84, "pubdate": 84, "pubtime": 84, "pubdatetime": 84, "published": 84, "publish": 84,
    "releasetime": 83, "releasedate": 83, "releaseat": 83, "docreltime": 83, "docpubtime": 83,
    "fbsj": 83, "fbrq": 83, "fabushijian": 83, "faburiqi": 83, "gksj": 82, "gkrq": 82, "showtime": 81,
    "displaytime": 81, "displaydate": 81,
    "date": R_JSON_PLAIN, "time": R_JSON_PLAIN, "datetime": R_JSON_PLAIN, "rq": R_JSON_PLAIN,
    "sj": R_JSON_PLAIN, "riqi": R_JSON_PLAIN, "shijian": R_JSON_PLAIN, "day": R_JSON_PLAIN,
    "createtime": R_WEAK, "createdat": R_WEAK, "createdate": R_WEAK, "created": R_WEAK, "ctime": R_WEAK,
    "crtime": R_WEAK, "addtime": R_WEAK, "adddate": R_WEAK, "inputtime": R_WEAK, "inputdate": R_WEAK,
    "updatetime": R_WEAK - 1, "updatedat": R_WEAK - 1, "updatedate": R_WEAK - 1, "modifytime": R_WEAK - 1,
    "modifiedtime": R_WEAK - 1, "modified": R_WEAK - 1, "lastmodified": R_WEAK - 1, "mtime": R_WEAK - 1,
    "edittime": R_WEAK - 1, "writetime": R_WEAK - 2,
    "cwrq": R_WRITTEN, "cwsj": R_WRITTEN, "chengwenriqi": R_WRITTEN, "writtendate": R_WRITTEN,
    "documentdate": R_WRITTEN, "docdate": R_WRITTEN, "signdate": R_WRITTEN, "fwrq": R_WRITTEN, "yfrq": R_WRITTEN,
}
_JSON_TIME_WORDS = {"time", "date", "at", "dt", "day", "datetime", "timestamp", "ts", "sj", "rq"}
_JSON_NOT_PUB = {"expire", "expired", "expires", "expiry", "deadline", "end", "start", "begin", "effective",
                 "valid", "birth", "birthday", "abolish", "abolished", "due", "event", "activity", "server",
                 "now", "current", "login", "last", "next", "sort", "order"}
_JSON_PUB_WORDS = {"publish", "published", "pub", "release", "released", "fb", "fabu", "online", "issue", "issued"}
_JSON_WEAK_WORDS = {"create", "created", "add", "added", "input", "update", "updated", "modify", "modified",
                    "edit", "edited", "crt", "upd", "write"}
_JSON_WRITTEN_WORDS = {"cw", "chengwen", "written", "sign", "signed", "fw", "yf"}


def _json_key_rank(key: str) -> int | None:
    """How much a JSON key means "publication time" (R_* scale), or None if it is not a time."""
    norm = re.sub(r"[_\-\s.]", "", key).lower()
    if norm in _JSON_DATE_RANK:
        return _JSON_DATE_RANK[norm]
    words = set(re.findall(r"[a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", "_", key).lower()))
    if not words & _JSON_TIME_WORDS or words & _JSON_NOT_PUB:
        return None
    if words & _JSON_WRITTEN_WORDS:
        return R_WRITTEN
    if words & _JSON_WEAK_WORDS:
        return R_WEAK - 1
    if words & _JSON_PUB_WORDS:
        return R_COLUMN_PUB
    return None


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
    """A JSON time value: epoch seconds or milliseconds (numbers or digit strings, read in
    Asia/Shanghai), a YYYYMMDD number, or a date string. 0 / "" / null are no date."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        if re.fullmatch(r"\d{10}|\d{13}|\d{8}", v):
            value = int(v)
        elif not v:
            return None
        else:
            return scan_date(v)
    if isinstance(value, (int, float)):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            v = int(value)
            try:
                date(v // 10000, v // 100 % 100, v % 100)
            except ValueError:
                return None
            return DateMatch(v // 10000, v // 100 % 100, v % 100)
        if value >= 10**8:
            secs = value / 1000 if value >= 10**11 else value
            try:
                dt = datetime.fromtimestamp(secs, tz=timezone.utc).astimezone(TZ)
            except (OverflowError, OSError, ValueError):
                return None
            return DateMatch(dt.year, dt.month, dt.day, dt.time().replace(microsecond=0))
    return None


def _json_cands(row: dict, spec_key: str | None) -> list[tuple[int, DateMatch, str | None]]:
    """The row's dates ranked by their keys' meaning (or only the registry's `json.date` key)."""
    if spec_key:
        found = _json_date(_path(row, spec_key))
        return [(R_ADMIN, found, spec_key)] if found else []
    out = []
    for key, value in row.items():
        if not isinstance(key, str) or isinstance(value, (dict, list)):
            continue
        rank = _json_key_rank(key)
        if rank is None:
            continue
        found = _json_date(value)
        if found:
            out.append((rank, found, key))
    return out


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
        title = _clean(re.sub(r"<[^>]+>", "", str(_path(row, tk) or ""))) if tk else ""
        link = str(_path(row, uk) or "").strip() if uk else ""
        if spec.get("url_template"):
            link = spec["url_template"].format(**{k: v for k, v in row.items() if isinstance(k, str)})
        if not title or not link or _SKIP_HREF.match(link):
            continue
        pinned = bool(spec.get("pinned") and _path(row, spec["pinned"]))
        cands = _json_cands(row, spec.get("date"))
        raws.append(_Raw(title, urljoin(spec.get("base_url") or url, link),
                         max(cands, key=lambda c: c[0])[1] if cands else None, pinned, cands=cands))
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
            return _result(_finish(raws, reference), next_urls, "json", pages, empty=not raws, container=where)
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
            return _result(_finish(raws, reference, base), next_urls, "jcms", pages, empty=not raws,
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
    return _result(_finish(raws, reference, base), next_urls, name, pages,
                   container=_signature(holder) if holder is not None else "")


def _result(items: list[ListItem], next_urls: list[str], profile: str, pages: int | None,
            empty: bool = False, **found: Any) -> ParsedList:
    """A parsed list page; not a list at all when every date it states is implausible. `found`:
    the recognition fields (notice, error, container) as the caller saw them."""
    notes, all_bad = _date_notes(items)
    if all_bad:
        notes.append("栏目列表的日期全部不可信(如1900-01-01占位日期), 无法据此判断更新情况, 请核对栏目页")
        return ParsedList([], [], False, profile, pages, notes=notes)
    return ParsedList(items, next_urls, True, profile, pages, empty=empty, notes=notes, **found)


_META_DATE_NAMES = ("pubdate", "publishdate", "firstpublishedtime", "publish_date", "publishtime",
                    "publish-date", "releasedate", "releasetime", "article:published_time",
                    "og:published_time", "og:release_date", "dcterms.issued", "dc.date.issued",
                    "dcterms.created", "dc.date.created", "dc.date", "date", "createdate")
_DATE_BOX = re.compile(r"date|time|info|fbsj|source|pubtime|xxgk|article[-_]?attr|message|laiyuan|ly", re.I)


def article_date(body: bytes | str, url: str, reference: date | None = None) -> datetime | None:
    """Publication time of an article page (see `article_date_found`), or None."""
    return article_date_found(body, url, reference)[0]


def article_date_found(body: bytes | str, url: str, reference: date | None = None
                       ) -> tuple[datetime | None, str | None]:
    """Publication time of an article page and where it was found: common <meta> names
    ("meta:pubdate" …), then the labelled date line ("label": "发布时间：…" over "日期：…" over
    "成文日期：…"), then a date in an info/date box ("box"), then the first full date after the
    headline ("heading"). Implausible dates (before 2000, after `reference` + 1 day) are skipped.
    (None, None) if the page states none (a header's "今天是…" is never taken)."""
    reference = reference or datetime.now(TZ).date()
    text = _to_text(body, None)
    root = _parse_tree(text)
    if root is None:
        return None, None

    def ok(found: DateMatch | None) -> datetime | None:
        if found is None:
            return None
        when = found.on(found.year) if found.year else _with_year(found, reference)
        return when if when is not None and plausible(when, reference) else None

    metas = {}
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        if key and meta.get("content"):
            metas.setdefault(key, meta.get("content"))
    for name in _META_DATE_NAMES:
        if name in metas:
            when = ok(scan_date(metas[name], month_day=False))
            if when:
                return when, f"meta:{name}"
    for bad in root.iter("script", "style", "noscript"):
        bad.text = ""
    body_el = root.find(".//body")
    scope = body_el if body_el is not None else root
    page_text = " ".join(_pieces(scope))
    when = ok(scan_date(page_text, labelled_only=True))
    if when:
        return when, "label"
    for el in scope.iter("div", "span", "p", "td", "li", "em", "small", "time"):
        if _DATE_BOX.search(_classes(el)) and not _excluded(el):
            t = " ".join(_pieces(el))
            if len(t) <= 200:
                when = ok(scan_date(t, month_day=False))
                if when:
                    return when, "box"
    heading = next((h for h in scope.iter("h1", "h2") if _text(h)), None)
    if heading is not None:
        title = " ".join(_pieces(heading))
        after = page_text.split(title, 1)[-1] if title in page_text else page_text
        when = ok(scan_date(after[:600], month_day=False))
        if when:
            return when, "heading"
    return None, None


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
        for note in parsed.notes:
            print(note, file=sys.stderr)
        return 3
    for note in parsed.notes:
        print(note, file=sys.stderr)
    for item in parsed.items:
        print(json.dumps({"title": item.title, "url": item.url,
                          "published": item.published.date().isoformat() if item.published else None},
                         ensure_ascii=False))
    return 0

