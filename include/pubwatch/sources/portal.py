"""Portal column source: one column (栏目) of a government portal, read as a list of posts.

One attempt:
1. GET the column URL with the validators (ETag / Last-Modified) kept from the last good attempt;
   304 → NOT_MODIFIED (a steady-state re-crawl costs one request per column).
2. Parse the list page (`listparse.parse_list`); a page that is not a list, or that suddenly
   yields nothing where items used to be, is PARSE_FAILED (layout change), never "no posts".
3. Follow the next pages only while the period is not yet covered: every non-pinned item of the
   page is newer than `since` and none of them is already known; at most `max_pages` pages.
4. Items without a date, or whose list date is unsure (`ListItem.extra["date_check"]`: several
   candidate dates, only a 成文日期 or a created time, a date that breaks the list's order, an
   implausible date such as 1900-01-01): open the article page once, when the item is first seen
   (URLs not already known; capped per attempt), and take its publication date
   (`listparse.article_date_found`). Both dates stay on the item: extra["list_date"],
   extra["article_date"], extra["date_from"] ("list" | "article"). Still none → published=None
   ("未注明信息发布时间"). A re-crawl without new posts opens no article.

Never raises: every failure becomes a SourceResult with an honest outcome.
"""
from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from typing import Any

from ..http import FetchError, FetchResult, mask_secrets
from ..types import TZ, ListItem, Outcome, SourceResult
from .base import CrawlContext, Source, register
from .listparse import CHECK_IMPLAUSIBLE, article_date_found, parse_list

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 5
DEFAULT_MAX_ARTICLES = 20        # article pages opened per attempt to find missing dates
_ARTICLE_FAILURES_TO_STOP = 3    # consecutive article failures after which we stop trying


class _PageFailed(Exception):
    """A later page could not be read or parsed; carries the SourceResult fields."""

    def __init__(self, outcome: Outcome, message: str, http_status: int | None = None):
        super().__init__(message)
        self.outcome, self.message, self.http_status = outcome, message, http_status


@register
class PortalColumn(Source):
    type_name = "portal"

    def fetch(self, ctx: CrawlContext) -> SourceResult:
        self._requests = 0
        try:
            return self._fetch(ctx)
        except Exception as exc:  # the last net: a bug is this column's failure, nothing more
            log.warning("portal %s: unexpected %s: %s", self.config.id, type(exc).__name__, exc)
            return SourceResult(outcome=Outcome.SOURCE_ERROR, requests=self._requests,
                                message=mask_secrets(f"抓取程序内部错误(请联系管理员): {type(exc).__name__}: {exc}"))

    # -- the steps ----------------------------------------------------------------------------
    def _fetch(self, ctx: CrawlContext) -> SourceResult:
        cfg, opts = self.config, self.config.options
        validators = (ctx.state.get("validators") or {}).get(cfg.url) or {}
        try:
            first = self._get(ctx, cfg.url, etag=validators.get("etag"),
                              last_modified=validators.get("last_modified"))
        except FetchError as exc:
            return SourceResult(outcome=exc.outcome, message=exc.message, http_status=exc.http_status,
                                requests=self._requests)
        if first.not_modified:
            return SourceResult(outcome=Outcome.NOT_MODIFIED, requests=self._requests, http_status=first.status,
                                message="栏目页未变化 (304 Not Modified)")
        try:
            parsed = self._parse(ctx, first)
        except Exception as exc:
            return SourceResult(outcome=Outcome.PARSE_FAILED, requests=self._requests, pages=1,
                                http_status=first.status,
                                message=f"页面解析出错 (parse error): {type(exc).__name__}: {exc}")
        if not parsed.is_list:
            return SourceResult(outcome=Outcome.PARSE_FAILED, requests=self._requests, pages=1,
                                http_status=first.status, message="; ".join(
                                    [f"页面不是栏目列表(可能改版或地址变更): {first.final_url}"] + parsed.notes))
        if not parsed.items and not parsed.empty and not opts.get("allow_empty"):
            prev = ctx.previous_items
            if prev:
                msg = f"栏目此前有{prev}条, 本次解析为0条, 可能改版: {first.final_url}"
            elif prev is None:
                msg = f"未能从栏目页解析出任何条目, 请核对栏目地址或配置 selectors: {first.final_url}"
            else:
                msg = ""
            if msg:
                return SourceResult(outcome=Outcome.PARSE_FAILED, requests=self._requests, pages=1,
                                    http_status=first.status, message=msg)

        items, pages, failure, notes = self._paginate(ctx, first, parsed)
        items = self._fill_dates(ctx, items, notes)
        notes.extend(n for n in first.notes if n not in notes)
        if failure is not None:
            return SourceResult(outcome=failure.outcome, items=items, requests=self._requests, pages=pages,
                                http_status=failure.http_status,
                                message="; ".join([failure.message] + notes))
        state = {"validators": {cfg.url: {"etag": first.etag, "last_modified": first.last_modified}}}
        return SourceResult(outcome=Outcome.OK, items=items, requests=self._requests, pages=pages,
                            http_status=first.status, state=state, message="; ".join(notes))

    def _get(self, ctx: CrawlContext, url: str, **kw: Any) -> FetchResult:
        try:
            res = ctx.fetcher.get(url, owned_site=bool(self.config.options.get("owned_site")), **kw)
        except FetchError as exc:
            self._requests += exc.requests
            raise
        self._requests += res.requests
        return res

    def _parse(self, ctx: CrawlContext, res: FetchResult):
        opts = self.config.options
        # A registry `encoding` is an admin's override and is forced; the header charset is only a
        # hint (servers default to utf-8 / ISO-8859-1 in front of GBK pages): res.text checks it.
        body = res.body if opts.get("encoding") else res.text
        return parse_list(body, res.final_url, profile=opts.get("profile", "auto"),
                          selectors=opts.get("selectors"), json_spec=opts.get("json"),
                          reference=_reference(ctx), encoding=opts.get("encoding"))

    def _paginate(self, ctx: CrawlContext, first: FetchResult, parsed) -> tuple[list[ListItem], int, _PageFailed | None, list[str]]:
        max_pages = int(self.config.options.get("max_pages") or DEFAULT_MAX_PAGES)
        items: list[ListItem] = []
        seen_urls: set[str] = set()
        visited = {first.url, first.final_url}
        notes: list[str] = []
        pages = 1
        page_items = list(parsed.items)
        next_urls = list(parsed.next_urls)
        while True:
            for it in page_items:
                if it.url not in seen_urls:
                    seen_urls.add(it.url)
                    items.append(it)
            if not _period_open(page_items, ctx.since, ctx.known_urls):
                return items, pages, None, notes
            nxt = next((u for u in next_urls if u not in visited), None)
            if nxt is None:
                return items, pages, None, notes
            if pages >= max_pages:
                notes.append(f"已读{pages}页仍未覆盖统计期, 其余页未读 (可调大 max_pages)")
                return items, pages, None, notes
            visited.add(nxt)
            try:
                res = self._get(ctx, nxt)
            except FetchError as exc:
                return items, pages, _PageFailed(exc.outcome, f"第{pages + 1}页读取失败: {exc.message}",
                                                 exc.http_status), notes
            pages += 1
            visited.add(res.final_url)
            try:
                more = self._parse(ctx, res)
            except Exception as exc:
                return items, pages, _PageFailed(Outcome.PARSE_FAILED,
                                                 f"第{pages}页解析出错: {type(exc).__name__}: {exc}"), notes
            if not more.is_list:
                return items, pages, _PageFailed(Outcome.PARSE_FAILED,
                                                 f"第{pages}页不是栏目列表(翻页地址可能有误): {res.final_url}"), notes
            page_items, next_urls = list(more.items), list(more.next_urls)
            if not page_items or all(it.url in seen_urls for it in page_items):
                return items, pages, None, notes   # an empty page, or the same page again

    def _fill_dates(self, ctx: CrawlContext, items: list[ListItem], notes: list[str]) -> list[ListItem]:
        """Read the article page of each new item that has no date or an unsure one (at most one
        request per new item, `max_articles` per attempt) and keep both dates on the item."""
        budget = int(self.config.options.get("max_articles", DEFAULT_MAX_ARTICLES))
        reference = _reference(ctx)
        failures = 0
        out: list[ListItem] = []
        opened = skipped = changed = 0
        for it in items:
            if not _needs_article(it) or it.url in ctx.known_urls:
                out.append(it)
                continue
            if opened >= budget or failures >= _ARTICLE_FAILURES_TO_STOP:
                skipped += 1
                out.append(it)
                continue
            opened += 1
            how = None
            try:
                res = self._get(ctx, it.url)
                when, how = article_date_found(res.body, res.final_url, reference=reference)
                failures = 0
            except FetchError as exc:
                failures += 1
                log.info("article date: %s: %s", self.config.id, exc.message)
                when = None
            except Exception as exc:  # a bad article page costs its date, not the column
                log.info("article date: %s: %s: %s", self.config.id, type(exc).__name__, exc)
                when = None
            confirmed = _with_article_date(it, when, how)
            if it.published is not None and confirmed.published.astimezone(TZ).date() != it.published.astimezone(TZ).date():
                changed += 1
            out.append(confirmed)
        bad = sorted({it.extra["date_implausible"] for it in items if it.extra.get("date_implausible")})
        if bad:
            n_bad = sum(1 for it in items if it.extra.get("date_implausible"))
            notes.append(f"{n_bad}条列表日期不可信(早于2000年或晚于读取时间: {'、'.join(bad[:3])}), 按无日期处理并核对正文")
        unsure = sum(1 for it in out if it.extra.get("date_check") and it.extra.get("date_check") != CHECK_IMPLAUSIBLE
                     and "article_date" in it.extra)
        if unsure:
            notes.append(f"{unsure}条列表日期存疑(多个日期/仅成文日期/顺序异常等), 已打开正文核对, "
                         f"{changed}条改用正文日期")
        if skipped:
            notes.append(f"{skipped}条无日期或日期存疑的新条目未打开正文核对日期 (本次上限{budget}条)")
        return out


def _needs_article(it: ListItem) -> bool:
    """No date on the list, or one the list parser is not sure of."""
    return it.published is None or bool(it.extra.get("date_check"))


def _with_article_date(it: ListItem, when: datetime | None, how: str | None) -> ListItem:
    """The item with its article page's date: the article's publication date is used when the list
    had none or an unsure one (the list's own time is kept when both name the same day and the
    article gives no time). Both dates, and which one was used, stay in `extra`."""
    listed = it.published
    extra = {**it.extra, "list_date": _iso(listed), "article_date": _iso(when)}
    if how:
        extra["article_date_from"] = how
    used = listed
    if when is not None:
        when = _aware(when)
        same_day = listed is not None and listed.astimezone(TZ).date() == when.astimezone(TZ).date()
        if not (same_day and when.astimezone(TZ).time() == datetime.min.time()):
            used = when
    extra["date_from"] = None if used is None else ("article" if used is not listed else "list")
    return dataclasses.replace(it, published=used, extra=extra)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(TZ).isoformat() if when is not None else None


def _reference(ctx: CrawlContext) -> date:
    """The crawl's date in Asia/Shanghai: year inference for month-day lists ("11-19")."""
    return ctx.now.astimezone(TZ).date()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=TZ)


def _period_open(page_items: list[ListItem], since: date | None, known_urls: frozenset[str]) -> bool:
    """True while the next page may still hold posts of the period: every non-pinned item of this
    page is newer than `since` (undated items do not close it) and none is already known."""
    regular = [it for it in page_items if not it.pinned]
    if not regular:
        return False
    for it in regular:
        if it.url in known_urls:
            return False
        if since is not None and it.published is not None and it.published.astimezone(TZ).date() < since:
            return False
    return True
