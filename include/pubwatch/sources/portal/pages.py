"""Further list pages of an HTML list: the TRS pager script (createPageHTML / countPage, which
every HTML profile honours) and the page's own next / last links.

Names starting with "_" are private to the `sources.portal` package.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from .entries import _SKIP_HREF
from .html import _clean, _text


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
