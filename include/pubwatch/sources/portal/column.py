"""Portal column source: one column (栏目) of a government portal, read as a list of posts.

One attempt:
1. GET the column URL with the validators (ETag / Last-Modified) kept from the last good attempt;
   304 → NOT_MODIFIED (a steady-state re-crawl costs one request per column).
   The column must stay where it is: a redirect to another path (the homepage, a login page,
   another column) is REDIRECTED and nothing on that page is taken as the unit's post — unless the
   registry names the target as the column's new address (`moved_to`). Only the scheme/host may
   change on their own (http→https, a portal moving to a new domain with the same paths).
2. Parse the list page (`listing.parse_list`, with the column's list profile or auto-detection); a page that is not a list, or that suddenly
   yields nothing where items used to be, is PARSE_FAILED (layout change), never "no posts".
   A 200 page that says the system failed (系统维护中, a soft 404, {"code":500,"msg":"系统繁忙"}) is
   SUSPECT_EMPTY. An empty list (暂无信息, an empty datastore/JSON list, or the list container seen
   before now present and empty) is believed only when read again a day later
   (`base.settle_empty`); until then it is SUSPECT_EMPTY too — never "no posts".
3. Follow the next pages only while the period is not yet covered: every non-pinned item of the
   page is newer than `since` and none of them is already known; at most `max_pages` pages.
4. Items without a date, or whose list date is unsure (`ListItem.extra["date_check"]`: several
   candidate dates, only a 成文日期 or a created time, a date that breaks the list's order, an
   implausible date such as 1900-01-01): open the article page once, when the item is first seen
   (URLs not already known; capped per attempt), and take its publication date
   (`article.article_date_found`). Both dates stay on the item: extra["list_date"],
   extra["article_date"], extra["date_from"] ("list" | "article"). Still none → published=None
   ("未注明信息发布时间"). A re-crawl without new posts opens no article.

Never raises: every failure becomes a SourceResult with an honest outcome.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from datetime import date, datetime
from typing import Annotated, Any, Mapping
from urllib.parse import parse_qsl, urlsplit

from pydantic import BeforeValidator, Field

from ...http import FetchError, FetchResult, mask_secrets
from ...types import PORTAL, TZ, ListItem, Outcome, SourceResult
from ..base import CrawlContext, Source, settle_empty
from ..options import SourceOptions, WebUrl, check_options, check_url
from .article import article_date_found
from .listdates import CHECK_IMPLAUSIBLE, CHECK_ORDER
from .listing import AUTO, HtmlList, check_profile_options, parse_list, profile_class, profile_option_names
from .recognise import container_state

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 5
DEFAULT_MAX_ARTICLES = 20        # article pages opened per attempt to find missing dates
_ARTICLE_FAILURES_TO_STOP = 3    # consecutive article failures after which we stop trying


class _PageFailed(Exception):
    """A later page could not be read or parsed; carries the SourceResult fields."""

    def __init__(self, outcome: Outcome, message: str, http_status: int | None = None):
        super().__init__(message)
        self.outcome, self.message, self.http_status = outcome, message, http_status


def _moved_to(value: Any) -> list[str]:
    moved = [value] if isinstance(value, str) else value
    if not isinstance(moved, list) or not moved:
        raise ValueError("应为栏目的新网址 (或网址列表)")
    return [check_url(m) for m in moved]


class PortalOptions(SourceOptions):
    """A column's registry fields (units.yaml `portal.columns[]`, besides id / name / type); the list
    profiles add theirs (selectors, json …: `listing.profile_option_names`)."""

    url: WebUrl = Field(..., json_schema_extra={"missing": "缺少网址 (missing URL)"})
    profile: str = AUTO                       # a list profile's name, or auto-detection
    encoding: str | None = None               # forces a charset (default: detect)
    max_pages: int | None = Field(default=DEFAULT_MAX_PAGES, ge=1)
    max_articles: int = Field(default=DEFAULT_MAX_ARTICLES, ge=0)   # article pages opened per attempt for dates
    owned_site: bool = False                  # the county's own site: no politeness limits (default: the unit's)
    allow_empty: bool = False                 # a list that may be empty without a "no entries" message
    # The column's new address: a redirect from `url` to it is the column, not another page.
    moved_to: Annotated[list[str] | None, BeforeValidator(_moved_to)] = None
    note: Any = None


class PortalColumn(Source, kind="portal"):
    channel = PORTAL
    label = "门户网站栏目"
    Options = PortalOptions

    @classmethod
    def field_names(cls) -> set[str]:
        return cls.Options.field_names() | profile_option_names()

    @classmethod
    def check_entry(cls, entry: Mapping[str, Any]) -> dict[str, Any]:
        """The list profile first (its name, its options), then the column's own fields."""
        profile = entry.get("profile", AUTO)
        check_profile_options(profile, entry)
        own = cls.Options.field_names()
        model = check_options(cls.Options, {k: v for k, v in entry.items() if k in own})
        opts = dict(entry)
        opts["url"] = model.url
        if "moved_to" in opts:
            opts["moved_to"] = model.moved_to
        opts.setdefault("profile", profile)
        return opts

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
        cfg = self.config
        validators = (ctx.state.get("validators") or {}).get(cfg.url) or {}
        try:
            first = self._get(ctx, cfg.url, etag=validators.get("etag"),
                              last_modified=validators.get("last_modified"))
        except FetchError as exc:
            return SourceResult(outcome=exc.outcome, message=exc.message, http_status=exc.http_status,
                                requests=self._requests)
        if not self._on_column(cfg.url, first.final_url):
            return self._redirected(first)
        if first.not_modified:
            return SourceResult(outcome=Outcome.NOT_MODIFIED, requests=self._requests, http_status=first.status,
                                message="栏目页未变化 (304 Not Modified)")
        try:
            parsed = self._parse(ctx, first)
        except Exception as exc:
            return SourceResult(outcome=Outcome.PARSE_FAILED, requests=self._requests, pages=1,
                                http_status=first.status,
                                message=f"页面解析出错 (parse error): {type(exc).__name__}: {exc}")
        if parsed.error:
            # Items an erroring API still lists are kept (never lose posts); the read proves nothing.
            return SourceResult(outcome=Outcome.SUSPECT_EMPTY, items=list(parsed.items), requests=self._requests,
                                pages=1, http_status=first.status,
                                message=(f"栏目页显示「{parsed.error}」(HTTP {first.status}), 不是正常的栏目列表; "
                                         f"本次读取不作为未发文的依据: {first.final_url}"))
        if not parsed.items:
            return self._no_items(ctx, first, parsed)
        items, pages, failure, notes = self._paginate(ctx, first, parsed)
        items = self._fill_dates(ctx, items, notes)
        notes.extend(n for n in first.notes if n not in notes)
        if failure is not None:
            return SourceResult(outcome=failure.outcome, items=items, requests=self._requests, pages=pages,
                                http_status=failure.http_status,
                                message="; ".join([failure.message] + notes))
        state = self._validators(first)
        if parsed.container.startswith("html:"):
            state["list_container"] = parsed.container     # to recognise this list emptied later
        return SourceResult(outcome=Outcome.OK, items=items, requests=self._requests, pages=pages,
                            http_status=first.status, state=state, message="; ".join(notes))

    def _validators(self, res: FetchResult) -> dict[str, Any]:
        return {"validators": {self.config.url: {"etag": res.etag, "last_modified": res.last_modified}}}

    def _no_items(self, ctx: CrawlContext, first: FetchResult, parsed) -> SourceResult:
        """A first page without entries: an empty list to be confirmed, or a failed read."""
        opts = self.config.options
        fields = dict(requests=self._requests, pages=1, http_status=first.status)
        known = str(ctx.state.get("list_container") or "")
        html = issubclass(profile_class(parsed.profile), HtmlList)     # its container is an HTML element
        body = first.body if opts.get("encoding") else first.text
        prev = ctx.previous_items
        if parsed.is_list and parsed.empty:
            container = parsed.container
            if html and known:
                if container_state(body, known, opts.get("encoding")) == "missing":
                    return SourceResult(outcome=Outcome.SUSPECT_EMPTY, **fields, message=(
                        f"栏目页显示「{parsed.notice}」, 但原来的列表区域不见了 (页面可能是错误页或已改版); "
                        f"本次读取不作为未发文的依据: {first.final_url}"))
                container = known
            if not container:
                return SourceResult(outcome=Outcome.SUSPECT_EMPTY, **fields, message=(
                    f"栏目页显示「{parsed.notice}」, 但未识别出列表区域; 本次读取不作为未发文的依据: {first.final_url}"))
            what = f"栏目列表 (页面显示「{parsed.notice}」)" if parsed.notice else "栏目列表"
            return settle_empty(ctx, container, what=what, previous_items=prev, state=self._validators(first),
                                **fields)
        if html and known and container_state(body, known, opts.get("encoding")) == "empty":
            # The list seen before is still there, with nothing in it (a template that prints no message).
            return settle_empty(ctx, known, previous_items=prev, state=self._validators(first), **fields)
        if not parsed.is_list:
            return SourceResult(outcome=Outcome.PARSE_FAILED, **fields,
                                message="; ".join([f"页面不是栏目列表(可能改版或地址变更): {first.final_url}"]
                                                  + parsed.notes))
        if opts.get("allow_empty") and (known or parsed.container):
            return settle_empty(ctx, known or parsed.container, previous_items=prev,
                                state=self._validators(first), **fields)
        if prev:
            msg = f"栏目此前有{prev}条, 本次解析为0条, 可能改版: {first.final_url}"
        else:
            msg = f"未能从栏目页解析出任何条目, 请核对栏目地址或配置 selectors: {first.final_url}"
        return SourceResult(outcome=Outcome.PARSE_FAILED, **fields, message=msg)

    # -- staying on the column -----------------------------------------------------------------
    def _on_column(self, requested: str, final: str) -> bool:
        """True if `final` (after redirects) is still the column asked for: the same path and query
        (scheme and host may change: https, a new domain), or an address the registry gives as the
        column's new one (`moved_to`)."""
        if _same_place(requested, final):
            return True
        return any(_same_place(m, final) and _host(m) == _host(final) for m in self._moved_to())

    def _moved_to(self) -> list[str]:
        moved = self.config.options.get("moved_to") or []
        return [moved] if isinstance(moved, str) else [str(m) for m in moved]

    def _redirected(self, res: FetchResult) -> SourceResult:
        where = "网站首页" if _norm_path(urlsplit(res.final_url).path) == "" else "另一个地址 (登录页、其他栏目等)"
        return SourceResult(outcome=Outcome.REDIRECTED, requests=self._requests, pages=0, http_status=res.status,
                            message=(f"栏目地址被重定向到{where}: {res.final_url}; 该页面上的条目不计为本单位发文, "
                                     f"本次读取不作为未发文的依据。如栏目确已迁移到该地址, 请在登记表中为该栏目设置 "
                                     f"moved_to: {res.final_url} (或把 url 改为新地址)"))

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
        return parse_list(body, res.final_url, profile=opts.get("profile", AUTO), options=opts,
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
            if not self._on_column(nxt, res.final_url):
                return items, pages, _PageFailed(Outcome.REDIRECTED, f"第{pages}页被重定向到 {res.final_url}, "
                                                 "栏目列表未读完 (该页条目不计为本单位发文)", res.status), notes
            try:
                more = self._parse(ctx, res)
            except Exception as exc:
                return items, pages, _PageFailed(Outcome.PARSE_FAILED,
                                                 f"第{pages}页解析出错: {type(exc).__name__}: {exc}"), notes
            if more.error:
                return items, pages, _PageFailed(Outcome.SUSPECT_EMPTY, f"第{pages}页显示「{more.error}」, "
                                                 f"栏目列表未读完: {res.final_url}", res.status), notes
            if not more.is_list:
                return items, pages, _PageFailed(Outcome.PARSE_FAILED,
                                                 f"第{pages}页不是栏目列表(翻页地址可能有误): {res.final_url}"), notes
            page_items, next_urls = list(more.items), list(more.next_urls)
            if not page_items or all(it.url in seen_urls for it in page_items):
                return items, pages, None, notes   # an empty page, or the same page again

    def _fill_dates(self, ctx: CrawlContext, items: list[ListItem], notes: list[str]) -> list[ListItem]:
        """Read the article page of each new item that has no date or an unsure one (at most one
        request per new item, `max_articles` per attempt) and keep both dates on the item."""
        budget = int(self.option("max_articles"))
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
    page is newer than `since` and none is already known. Undated items, and items whose date
    breaks the page's order (a mistyped 2025 among 2026 posts), do not close it."""
    regular = [it for it in page_items if not it.pinned]
    if not regular:
        return False
    for it in regular:
        if it.url in known_urls:
            return False
        if it.extra.get("date_check") == CHECK_ORDER:
            continue
        if since is not None and it.published is not None and it.published.astimezone(TZ).date() < since:
            return False
    return True


_INDEX_PAGE = re.compile(r"/(?:index|default)\.(?:s?html?|jsp|php|aspx?)$", re.I)


def _norm_path(path: str) -> str:
    """A column path for comparison: "/jyj/gzdt/index.html" == "/jyj/gzdt/" == "/jyj/gzdt"; "" is the root."""
    path = _INDEX_PAGE.sub("/", path or "/")
    return path.rstrip("/").lower()


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _same_place(requested: str, final: str) -> bool:
    """Same path and the requested query parameters kept (scheme, host and added parameters aside)."""
    a, b = urlsplit(requested), urlsplit(final)
    if _norm_path(a.path) != _norm_path(b.path):
        return False
    kept = set(parse_qsl(b.query, keep_blank_values=True))
    return all(pair in kept for pair in parse_qsl(a.query, keep_blank_values=True))
