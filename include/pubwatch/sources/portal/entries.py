"""List entries from HTML blocks: the title link, the title, pinned markers, every date an entry
states ranked by meaning (`listdates`), and the groups of repeated sibling blocks a column's list is
made of (`_best_group`, used by the table / trs / generic profiles).

Names starting with "_" are private to the `sources.portal` package.
"""
from __future__ import annotations

import re
from typing import Any

from ...dates import LABEL_PUBLISHED, LABEL_WRITTEN, DateMatch, normalize_text, scan_date, scan_labelled, scan_split_date
from .html import _EXCLUDE_CLASS, _classes, _clean, _excluded, _pieces, _text
from .listdates import (R_ADMIN, R_DATE_CLASS, R_DATE_ONLY, R_LABEL_PLAIN, R_LABEL_PUB, R_LOOSE, R_TITLE_TAIL,
                        R_WRITTEN, _header_meaning, _Raw)


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
