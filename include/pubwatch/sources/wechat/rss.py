"""WeChat official accounts (公众号) through RSS/Atom bridges: the source kind "rss".

A self-hosted we-mp-rss, wechat2rss (wechat2rss.xlab.app style) or an RSSHub
WeChat route. Bridges drive the 公众号 backend with a scanned-in login that expires in days; an
expired bridge keeps answering HTTP 200 with its old feed. So a feed whose own build time
(``lastBuildDate`` / ``updated``) *and* newest item are both older than ``stale_after_hours``
(default 48) is reported as STALE — "unknown", never "no posts".

Also here: `parse_feed` and `cli_parse_feed` (``python -m pubwatch parse-feed FILE``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import feedparser
from pydantic import Field

from ...types import ListItem, Outcome, SourceResult
from ...wechaturl import dedupe_items, make_item, parse_time
from ..base import CrawlContext, settle_empty
from ..options import SourceOptions, WebUrl
from .common import WeChatSource

DEFAULT_STALE_HOURS = 48.0
# A DOCTYPE that declares entities: real feeds never do; feedparser would expand internal ones
# (billion laughs) — we refuse the document instead.
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY", re.I)
_ROOT_RE = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.I)   # entity declarations can only precede it


class FeedRejected(ValueError):
    """The document is not a feed we are willing to parse (message in Chinese for the admin)."""


@dataclass
class ParsedFeed:
    items: list[ListItem]
    entries: int                     # entries in the document, before dedupe
    updated: datetime | None         # the feed's own lastBuildDate / updated / pubDate
    title: str = ""
    generator: str = ""
    warning: str = ""                # a recoverable format problem (bozo with entries)
    undated: int = 0                 # entries without a usable date
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def parse_feed(body: bytes) -> ParsedFeed:
    """Parse an RSS/Atom document (bytes; feedparser handles the encoding). Raises FeedRejected
    for entity declarations, for a document that is not a feed, and for malformed XML with no
    entries."""
    root = _ROOT_RE.search(body)
    prolog = body[:root.start()] if root else body[:65_536]
    if _ENTITY_DECL_RE.search(prolog):
        raise FeedRejected("订阅源含 DTD 实体声明(<!ENTITY), 为安全起见拒绝解析 (entity declarations are not allowed)")
    doc = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    problem = _bozo_text(doc)
    if not doc.version and not doc.entries:
        raise FeedRejected("返回内容不是 RSS/Atom 订阅源 (not an RSS/Atom document)" + (f": {problem}" if problem else ""))
    feed = doc.feed
    updated = None
    for key in ("updated", "lastbuilddate", "published"):
        raw = feed.get(key)
        if raw:
            updated = _entry_time(feed, key)[0]
            if updated:
                break
    items: list[ListItem] = []
    undated = 0
    for entry in doc.entries:
        item = _entry_item(entry)
        if item is None:
            continue
        if item.published is None:
            undated += 1
        items.append(item)
    if doc.bozo and not items:
        raise FeedRejected(f"订阅源不是有效的 XML, 没有读出任何条目: {problem}")
    return ParsedFeed(items=dedupe_items(items), entries=len(doc.entries), updated=updated,
                      title=str(feed.get("title") or ""), generator=str(feed.get("generator") or ""),
                      warning=problem if doc.bozo else "", undated=undated)


def _bozo_text(doc: Any) -> str:
    exc = doc.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}"[:200] if exc else ""


def _entry_time(entry: Any, key: str) -> tuple[datetime | None, bool]:
    """The raw string first (a zone-less time is Shanghai time, not UTC as feedparser assumes),
    feedparser's parsed struct as a fallback."""
    when, date_only = parse_time(entry.get(key))
    if when is None and entry.get(f"{key}_parsed"):
        st = entry[f"{key}_parsed"]
        when, date_only = parse_time(datetime(*st[:6]).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    return when, date_only


def _entry_item(entry: Any) -> ListItem | None:
    link = entry.get("link") or ""
    guid = entry.get("id") or ""
    if not link and re.match(r"https?://", guid):
        link = guid
    if not link:
        return None
    published: datetime | None = None
    date_only = False
    for key in ("published", "updated", "created"):
        if entry.get(key):
            published, date_only = _entry_time(entry, key)
            if published:
                break
    extra: dict[str, Any] = {}
    if guid and guid != link:
        extra["guid"] = guid
    item = make_item(entry.get("title"), link, published, **extra)
    if item is not None and date_only:
        item.extra["date_only"] = True
    return item


# ---------------------------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------------------------
def stale_message(updated: datetime, hours: float) -> str:
    return (f"数据源最后更新于{updated:%Y-%m-%d %H:%M}, 超过{hours:g}小时未刷新, 可能登录失效 "
            f"(请检查 we-mp-rss / wechat2rss / RSSHub 桥接服务的扫码登录)")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _from_iso(text: Any) -> datetime | None:
    return parse_time(text)[0] if text else None


class RssOptions(SourceOptions):
    url: WebUrl = Field(..., json_schema_extra={"missing": "缺少网址 (missing URL)"})   # the feed
    stale_after_hours: float = Field(default=DEFAULT_STALE_HOURS, gt=0)
    allow_empty: bool = False          # a feed that lost every entry is not a failed bridge
    note: Any = None


class RssSource(WeChatSource, kind="rss"):
    """An RSS/Atom bridge feed of one 公众号."""

    label = "RSS/Atom 桥接订阅源 (we-mp-rss / wechat2rss / RSSHub)"
    Options = RssOptions

    def fetch(self, ctx: CrawlContext) -> SourceResult:
        from ...http import FetchError

        opts = self.config.options
        try:
            hours = float(self.option("stale_after_hours"))
        except (TypeError, ValueError):
            return SourceResult(Outcome.CONFIG_ERROR, message=f"stale_after_hours 应为小时数: {opts.get('stale_after_hours')!r}")
        state = dict(ctx.state or {})
        try:
            res = ctx.fetcher.get(self.config.url, etag=state.get("etag"), last_modified=state.get("last_modified"))
        except FetchError as exc:
            return SourceResult(exc.outcome, message=f"订阅源抓取失败: {exc.message}",
                                http_status=exc.http_status, requests=exc.requests, state=state)
        if res.not_modified:
            return self._not_modified(ctx, state, hours, res.requests)
        try:
            feed = parse_feed(res.body)
        except FeedRejected as exc:
            return SourceResult(Outcome.PARSE_FAILED, message=str(exc), http_status=res.status,
                                requests=res.requests, pages=1, state=state)
        newest = max((i.published for i in feed.items if i.published), default=None)
        new_state = {"etag": res.etag, "last_modified": res.last_modified,
                     "feed_updated": _iso(feed.updated), "newest": _iso(newest)}
        result = SourceResult(Outcome.OK, items=feed.items, http_status=res.status, requests=res.requests,
                              pages=1, state=new_state, source_updated=feed.updated)
        notes = []
        if feed.warning:
            notes.append(f"订阅源格式有瑕疵但已读出条目: {feed.warning}")
        if feed.undated:
            notes.append(f"{feed.undated}条没有发布时间")
        if not feed.items and (ctx.previous_items or 0) > 0 and not opts.get("allow_empty"):
            result.outcome = Outcome.PARSE_FAILED
            result.state = state
            notes.insert(0, f"订阅源没有任何条目(上次有{ctx.previous_items}条), 桥接服务可能失效")
        elif self._stale(ctx.now, feed.updated, newest, hours):
            assert feed.updated is not None
            result.outcome = Outcome.STALE
            notes.insert(0, stale_message(feed.updated, hours))
        elif not feed.items:
            # A feed without items (a bridge just set up, an account it cannot see yet) proves no
            # silence until it has stayed empty for a day; then only from its first empty read on.
            return settle_empty(ctx, "feed", what="订阅源", previous_items=ctx.previous_items,
                                http_status=res.status, requests=res.requests, pages=1, state=new_state,
                                source_updated=feed.updated)
        result.message = "; ".join(notes)
        return result

    @staticmethod
    def _stale(now: datetime, updated: datetime | None, newest: datetime | None, hours: float) -> bool:
        threshold = now - timedelta(hours=hours)
        return updated is not None and updated < threshold and (newest is None or newest < threshold)

    def _not_modified(self, ctx: CrawlContext, state: dict[str, Any], hours: float, requests: int) -> SourceResult:
        updated, newest = _from_iso(state.get("feed_updated")), _from_iso(state.get("newest"))
        if self._stale(ctx.now, updated, newest, hours):
            assert updated is not None
            return SourceResult(Outcome.STALE, message=stale_message(updated, hours) + " (订阅源未变化)",
                                http_status=304, requests=requests, state=state, source_updated=updated)
        return SourceResult(Outcome.NOT_MODIFIED, http_status=304, requests=requests, state=state,
                            source_updated=updated)


# ---------------------------------------------------------------------------------------------
# CLI: python -m pubwatch parse-feed FILE
# ---------------------------------------------------------------------------------------------
def cli_parse_feed(argv: list[str]) -> int:
    """Print one JSON object per item of a saved RSS/Atom document:
    {"title", "url", "published": "YYYY-MM-DDTHH:MM:SS+08:00" | null}."""
    parser = argparse.ArgumentParser(prog="pubwatch parse-feed", description="解析保存的 RSS/Atom 订阅源, 每行输出一条 JSON")
    parser.add_argument("file", help="RSS/Atom 文件路径")
    args = parser.parse_args(argv)
    try:
        with open(args.file, "rb") as fh:
            body = fh.read()
    except OSError as exc:
        print(f"无法读取文件 {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        feed = parse_feed(body)
    except FeedRejected as exc:
        print(f"解析失败: {exc}", file=sys.stderr)
        return 1
    for item in feed.items:
        published = item.published.isoformat(timespec="seconds") if item.published else None
        print(json.dumps({"title": item.title, "url": item.url, "published": published}, ensure_ascii=False))
    return 0

