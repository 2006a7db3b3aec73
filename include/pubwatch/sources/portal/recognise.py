"""What a page says about itself besides its entries: an article instead of a list, the column's
own "no entries" message (暂无信息), an error / maintenance / not-found page, and where the list
sits (its container signature, `container_state` for later reads).

Names starting with "_" are private to the `sources.portal` package.
"""
from __future__ import annotations

import re
from typing import Any

from .entries import _content_links
from .html import _classes, _excluded, _INVISIBLE, _parse_tree, _text, _to_text, _visible_text


_EMPTY_TEXT = re.compile(r"暂无(?:相关)?(?:信息|数据|内容|记录|文章|新闻|公开信息|稿件)|"
                         r"(?:没有|未)(?:找到|查询到)?(?:相关|任何)?(?:记录|信息|数据|内容)|无相关(?:记录|信息|数据)|"
                         r"no (?:records|data|entries)", re.I)
_ARTICLE_META = ("articletitle", "contentsource", "articleid")
_ARTICLE_BODY = re.compile(r"trs_editor|^zoom$|article[-_]?(?:content|body)|art_?con|content_?text|"
                           r"bt_?content|detail[-_]?content|zw$|zwnr|xl[-_]?content", re.I)

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
