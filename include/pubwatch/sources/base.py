"""The source interface: one small class per kind of source, registered by its type name.

A source turns one `SourceConfig` into a `SourceResult` (items + an honest outcome). It never
touches the database: the crawl module stores what it returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, ClassVar

from ..registry import SourceConfig
from ..types import TZ, Outcome, SourceResult

SOURCE_TYPES: dict[str, type["Source"]] = {}


def register(cls: type["Source"]) -> type["Source"]:
    SOURCE_TYPES[cls.type_name] = cls
    return cls


@dataclass
class CrawlContext:
    """What a source may use while fetching."""

    fetcher: Any                                  # pubwatch.http.Fetcher
    now: datetime                                 # aware; the crawl's clock
    since: date | None = None                     # stop paginating once items are older than this
    known_urls: frozenset[str] = frozenset()      # URLs already stored for this source
    state: dict[str, Any] = field(default_factory=dict)   # SourceResult.state of the last attempt
    previous_items: int | None = None             # items found by the last OK attempt (layout-change check)
    get_secret: Callable[[str], dict[str, Any]] | None = None  # conn_id -> {"login","password","extra"}


class Source:
    type_name: ClassVar[str] = ""

    def __init__(self, config: SourceConfig):
        self.config = config

    def fetch(self, ctx: CrawlContext) -> SourceResult:  # pragma: no cover - interface
        raise NotImplementedError


# An empty list is believed only when it is read again, empty and in the same place, this long after
# the first empty read: a CMS whose database is down, a search index being rebuilt or an API answering
# an empty page for a moment all show "暂无信息" once; a column that was really emptied stays empty.
CONFIRM_EMPTY_AFTER = timedelta(days=1)


def settle_empty(ctx: CrawlContext, container: str, *, what: str = "栏目列表",
                 previous_items: int | None = None, **fields: Any) -> SourceResult:
    """The result of a complete read that found the source's own list (`container`: where it is, e.g.
    "html:div.list>ul.news", "json:data.list", "feed") present and empty.

    The first such read, and every one until the list has been empty for CONFIRM_EMPTY_AFTER, is
    SUSPECT_EMPTY (not verified: it proves nothing, never "no posts"); the streak is kept in the
    source's state under "empty". A later read, at least that long after the first and with the
    same container, is OK and proves the list empty from the first empty read on (`covered_from`),
    never before it: weeks before anyone saw the column empty stay as unproven as they were.
    `fields` go to the SourceResult (requests, http_status, pages, state, source_updated, ...)."""
    streak = ctx.state.get("empty") if isinstance(ctx.state.get("empty"), dict) else None
    since: datetime | None = None
    if streak and streak.get("container") == container:
        try:
            since = datetime.fromisoformat(streak["since"])
        except (KeyError, TypeError, ValueError):
            since = None
    state = dict(fields.pop("state", None) or {})
    if since is not None and ctx.now - since >= CONFIRM_EMPTY_AFTER:
        state["empty"] = {"since": since.isoformat(), "container": container}
        when = since.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
        return SourceResult(Outcome.OK, items=[], state=state, covered_from=since,
                            message=f"{what}为空 (自 {when} 起多次读到空列表, 已确认; 此前的时段不据此认定)",
                            **fields)
    if since is None:
        since = ctx.now
    when = since.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    before = f"此前有{previous_items}条, " if previous_items else ""
    # Only the streak is kept from an unconfirmed read: no validators (a 304 next time would then
    # "verify" this very page), no coverage.
    return SourceResult(Outcome.SUSPECT_EMPTY, items=[], state={"empty": {"since": since.isoformat(),
                                                                          "container": container}},
                        message=(f"{what}为空 ({before}首次于 {when} 读到空列表); 需至少相隔"
                                 f"{CONFIRM_EMPTY_AFTER.days}天再次读到同一列表为空才确认, 在此之前不作为未发文的依据"),
                        **fields)


def make_source(config: SourceConfig) -> Source:
    # Importing the modules registers their classes.
    from . import portal, wechat, wechat_api, wechat_export  # noqa: F401

    try:
        cls = SOURCE_TYPES[config.type]
    except KeyError:
        raise ValueError(f"unknown source type {config.type!r} for {config.id}") from None
    return cls(config)
