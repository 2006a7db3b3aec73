"""An article page's publication date (the portal source confirms unsure list dates with it)."""
from __future__ import annotations

import re
from datetime import date, datetime

from ...dates import DateMatch, infer_year, plausible, scan_date
from ...types import TZ
from .html import _classes, _excluded, _parse_tree, _pieces, _text, _to_text


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
