"""HTML helpers every list profile shares: text, layout regions, the page's tree and base URL.

Names starting with "_" are private to the `sources.portal` package.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from ...encoding import decode_html, normalize_charset


_EXCLUDE_TAGS = {"nav", "header", "footer", "aside", "menu", "form", "select", "head", "script", "style",
                 "noscript", "template", "marquee"}
_EXCLUDE_CLASS = re.compile(
    r"nav|menu|breadcrumb|crumb|sidebar|footer|copyright|"
    r"(?:^|[\s_-])(?:header|head|top|foot|bottom|side|aside|location|position|weizhi|dqwz|yqlj|links?|"
    r"friendlinks?|pagination|pager|pagebar|fenye|toolbar|topbar|share|search|login|tab-?nav)(?:$|[\s_-])",
    re.I)

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)

def _clean(text: str | None) -> str:
    """Collapse whitespace (incl. &nbsp; and the ideographic space) and strip."""
    return " ".join((text or "").split())


def _classes(el) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".strip()


def _text(el) -> str:
    return _clean(el.text_content()) if el is not None else ""

def _pieces(el) -> list[str]:
    return [t.strip() for t in el.itertext() if t and t.strip()]

def _excluded(el) -> bool:
    """True if `el` or an ancestor is a nav/header/footer/sidebar/breadcrumb/pager region."""
    node = el
    while node is not None and node.tag not in ("body", "html"):
        if node.tag in _EXCLUDE_TAGS or _EXCLUDE_CLASS.search(_classes(node)):
            return True
        node = node.getparent()
    return False

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

def _to_text(body: bytes | str, encoding: str | None) -> str:
    if isinstance(body, str):
        return body
    forced = normalize_charset(encoding)
    if forced:
        return body.decode(forced, "replace")
    return decode_html(body)[0]
