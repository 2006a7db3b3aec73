"""Normalising WeChat articles: canonical URLs, clean titles, Shanghai times, one post per article.

The same 公众号 article reaches us in several shapes:

- ``https://mp.weixin.qq.com/s?__biz=MzA…==&mid=2650…&idx=1&sn=3f…&chksm=…&scene=21#wechat_redirect``
  (official API, wechat2rss, RSSHub) — identified by ``__biz`` (account) + ``mid`` (message) +
  ``idx`` (position in a multi-article send) + ``sn`` (signature). Everything else (chksm, scene,
  srcid, utm_*, sharer_*, the ``#rd`` / ``#wechat_redirect`` fragment, http vs https) is noise.
- ``https://mp.weixin.qq.com/s/AbCdEf…`` short links (we-mp-rss, copied from the phone) — opaque;
  kept as-is apart from scheme/host/query/fragment normalisation.
- a manual export without links — see `pseudo_url`.

Two items are **one post** when (a) their canonical URLs are equal, or (b) their `post_key`s are
equal. `post_key` is "same cleaned title + same minute of publication (Asia/Shanghai)": a /s?__biz
link and a /s/<id> link cannot be matched by URL, but an account never publishes two articles with
the same title in the same minute, so this is safe; it is *not* applied to items without a time or
with a date-only time (a bridge that only knows the day), which are matched by URL only. Callers
apply it within one account (one unit's WeChat sources), never across accounts.

An edited or re-published post (same canonical URL, new title or time) stays one post: the merged
item keeps the **earliest** publication time and the **latest** title.
"""
from __future__ import annotations

import hashlib
import html
import re
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .types import TZ, ListItem

WECHAT_HOST = "mp.weixin.qq.com"
_KEEP_PARAMS = ("__biz", "mid", "idx", "sn")
_TAG_RE = re.compile(r"<[^>]*>")
_WS_RE = re.compile(r"\s+")
_PSEUDO_SCHEME = "wechat-export:"


# ---------------------------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------------------------
def is_wechat_url(url: str) -> bool:
    host = (urlsplit((url or "").strip()).hostname or "").lower()
    return host in (WECHAT_HOST, "weixin.qq.com") or host.endswith(".mp.weixin.qq.com")


def canonical_url(url: str) -> str:
    """The one spelling of a WeChat article URL; other URLs are returned trimmed and unchanged.

    ``/s?__biz=…&mid=…&idx=…&sn=…`` → exactly those four parameters in that order, https, host
    mp.weixin.qq.com, no fragment. ``/s/<id>`` → https://mp.weixin.qq.com/s/<id>. Old
    ``/mp/appmsg/show?__biz=…&appmsgid=…&itemidx=…&sign=…`` links map onto the /s form.
    """
    raw = html.unescape((url or "").strip())
    if not raw or raw.startswith(_PSEUDO_SCHEME):
        return raw
    if raw.startswith("//"):
        raw = "https:" + raw
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if not is_wechat_url(raw):
        return raw
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if path.rstrip("/") == "/mp/appmsg/show":
        params = {"__biz": params.get("__biz", ""), "mid": params.get("appmsgid", ""),
                  "idx": params.get("itemidx", ""), "sn": params.get("sign", "")}
        path = "/s"
    if path.rstrip("/") == "/s" and params.get("__biz") and params.get("mid"):
        keep = [(k, params[k].strip()) for k in _KEEP_PARAMS if params.get(k, "").strip()]
        if not any(k == "idx" for k, _ in keep):
            keep.insert(2, ("idx", "1"))
        return urlunsplit(("https", WECHAT_HOST, "/s", urlencode(keep, quote_via=quote, safe="="), ""))
    m = re.fullmatch(r"/s/([A-Za-z0-9_-]+)/?", path)
    if m:
        return f"https://{WECHAT_HOST}/s/{m.group(1)}"
    # Some other mp.weixin.qq.com page (album, profile): normalise scheme/host, keep the rest.
    return urlunsplit(("https", host or WECHAT_HOST, path, parts.query, ""))


def url_kind(url: str) -> str:
    """"biz" for the stable /s?__biz form, "short" for /s/<id>, "pseudo" for export ids, else "other"."""
    if url.startswith(_PSEUDO_SCHEME):
        return "pseudo"
    parts = urlsplit(url)
    if parts.path == "/s" and "__biz=" in parts.query:
        return "biz"
    if parts.path.startswith("/s/"):
        return "short"
    return "other"


def pseudo_url(title: str, published: datetime | None) -> str:
    """A stable identifier for an exported row that has no link: ``wechat-export:<hash>``.

    `merge_items` folds it into a real-URL item of the same post (same title + minute) and keeps
    the real URL."""
    minute = f"{to_shanghai(published):%Y-%m-%dT%H:%M}" if published else ""
    digest = hashlib.sha1(f"{clean_title(title)}|{minute}".encode()).hexdigest()[:20]
    return f"{_PSEUDO_SCHEME}{digest}"


# ---------------------------------------------------------------------------------------------
# Titles and times
# ---------------------------------------------------------------------------------------------
def clean_title(title: Any) -> str:
    """Strip HTML tags, unescape entities (twice, for double-escaped feeds), collapse whitespace."""
    text = str(title or "")
    for _ in range(2):
        text = html.unescape(_TAG_RE.sub("", text))
    text = _TAG_RE.sub("", text).replace("\u00a0", " ").replace("\u3000", " ")
    return _WS_RE.sub(" ", text).strip()


def to_shanghai(dt: datetime) -> datetime:
    """Aware Asia/Shanghai time; a naive time is taken as Shanghai wall-clock time."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=TZ)
    return dt.astimezone(TZ)


_CN_DATE_RE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?(?:\.\d+)?\s*秒?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$")


def parse_time(value: Any) -> tuple[datetime | None, bool]:
    """Parse a feed/API/export time. Returns (aware Shanghai time or None, date_only).

    Accepts datetime/date objects, unix seconds (int/float/digit string, also milliseconds),
    RFC 822 (with +0800, GMT or no zone), ISO 8601 and Chinese forms (2026年3月2日 09:30). A
    time without a zone is Shanghai time (we-mp-rss writes naive local times)."""
    if value is None or value == "":
        return None, False
    if isinstance(value, datetime):
        return to_shanghai(value), False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=TZ), True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(float(value)), False
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _from_epoch(float(text)), False
    m = _CN_DATE_RE.match(text)
    if m:
        y, mo, d, hh, mi, ss, zone = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
        except ValueError:
            return None, False
        if zone:
            dt = dt.replace(tzinfo=_zone(zone))
        return to_shanghai(dt), hh is None
    try:
        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        dt = None
    if dt is not None:
        return to_shanghai(dt), False
    try:
        return to_shanghai(datetime.fromisoformat(text.replace("Z", "+00:00"))), False
    except ValueError:
        return None, False


def _from_epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(TZ)


def _zone(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


# ---------------------------------------------------------------------------------------------
# Items: build, key, dedupe
# ---------------------------------------------------------------------------------------------
def make_item(title: Any, url: str, published: Any, **extra: Any) -> ListItem | None:
    """A normalised ListItem, or None when there is no title. `published` may be any form
    `parse_time` reads; a date-only time is flagged in ``extra["date_only"]``."""
    text = clean_title(title)
    if not text:
        return None
    when, date_only = parse_time(published)
    if date_only:
        extra["date_only"] = True
    link = canonical_url(url) if url else pseudo_url(text, when)
    return ListItem(title=text, url=link, published=when, extra=extra)


def post_key(item: ListItem) -> str | None:
    """"<minute>|<title>" for items with a real (not date-only) time, else None (match by URL only)."""
    if item.published is None or item.extra.get("date_only"):
        return None
    return f"{to_shanghai(item.published):%Y-%m-%dT%H:%M}|{clean_title(item.title).casefold()}"


_URL_PREFERENCE = {"biz": 0, "short": 1, "other": 2, "pseudo": 3}


def dedupe_items(items: Iterable[ListItem]) -> list[ListItem]:
    """One item per post (same canonical URL or same `post_key`), in first-seen order.

    The merged item has the earliest time, the title of the most recent version (latest time;
    on a tie the later-listed one), the most stable URL (/s?__biz over /s/<id> over a pseudo id),
    and the union of `extra` (with ``extra["urls"]`` listing every URL seen when there were several)."""
    groups: list[list[ListItem]] = []
    index: dict[str, int] = {}
    for item in items:
        item = _normalised(item)
        keys = ["u:" + item.url]
        pk = post_key(item)
        if pk:
            keys.append("k:" + pk)
        hits = sorted({index[k] for k in keys if k in index})
        if not hits:
            gid = len(groups)
            groups.append([item])
        else:
            gid = hits[0]
            groups[gid].append(item)
            for other in hits[1:]:  # this item bridges two groups: fold the later into the first
                groups[gid].extend(groups[other])
                groups[other] = []
                for k, v in list(index.items()):
                    if v == other:
                        index[k] = gid
        for k in keys:
            index[k] = gid
    return [_combine(g) for g in groups if g]


def _normalised(item: ListItem) -> ListItem:
    url = canonical_url(item.url)
    title = clean_title(item.title)
    published = to_shanghai(item.published) if item.published else None
    if (url, title, published) == (item.url, item.title, item.published):
        return item
    return ListItem(title=title, url=url, published=published, pinned=item.pinned, extra=dict(item.extra))


def _combine(group: list[ListItem]) -> ListItem:
    if len(group) == 1:
        return group[0]
    dated = [i for i in group if i.published is not None]
    exact = [i for i in dated if not i.extra.get("date_only")]
    earliest = min(exact or dated, key=lambda i: i.published).published if dated else None  # type: ignore[arg-type,return-value]
    latest_title = group[0].title
    if dated:
        newest = max(range(len(group)), key=lambda n: (group[n].published is not None,
                                                      group[n].published or datetime.min.replace(tzinfo=TZ), n))
        latest_title = group[newest].title
    urls = list(dict.fromkeys(i.url for i in group))
    best_url = min(urls, key=lambda u: _URL_PREFERENCE[url_kind(u)])
    extra: dict[str, Any] = {}
    for i in group:
        extra.update(i.extra)
    if earliest is not None and exact:
        extra.pop("date_only", None)
    if len(urls) > 1:
        extra["urls"] = urls
    return ListItem(title=latest_title, url=best_url, published=earliest,
                    pinned=any(i.pinned for i in group), extra=extra)
