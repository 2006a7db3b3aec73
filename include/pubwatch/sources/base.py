"""The source interface: one class per kind of source, registered once by subclassing:

    class FooSource(Source, kind="foo"):
        channel = WECHAT                   # PORTAL | WECHAT: where units.yaml lists it
        label = "某某数据源"                 # Chinese, for the admin
        Options = FooOptions               # its registry fields: a SourceOptions (pydantic) model
        def fetch(self, ctx): ...

plus one import line in `sources/__init__.py`. The registry validates an entry by asking the
class (`check_entry`: every error names its field) and `make_source` builds it by its kind; no
list of kinds or of their fields exists anywhere else.

A source turns one `SourceConfig` into a `SourceResult` (items + an honest outcome). It never
touches the database: the crawl module stores what it returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, ClassVar, Mapping

from ..registry import SourceConfig
from ..types import TZ, Outcome, SourceResult
from .options import SourceOptions, check_options

SOURCE_TYPES: dict[str, type["Source"]] = {}   # kind -> class, filled by subclassing Source


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
    """One kind of source (see the module docstring)."""

    type_name: ClassVar[str] = ""                 # its kind: SourceConfig.type, units.yaml `type:`
    channel: ClassVar[str] = ""                   # PORTAL | WECHAT
    label: ClassVar[str] = ""                     # Chinese, for the admin
    Options: ClassVar[type[SourceOptions]] = SourceOptions

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if kind:
            old = SOURCE_TYPES.get(kind)
            if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"source kind {kind!r} registered twice ({old.__module__}, {cls.__module__})")
            cls.type_name = kind
            SOURCE_TYPES[kind] = cls

    def __init__(self, config: SourceConfig):
        self.config = config

    def fetch(self, ctx: CrawlContext) -> SourceResult:  # pragma: no cover - interface
        raise NotImplementedError

    def option(self, name: str) -> Any:
        """The registry's value of option `name`, else the default the kind declares."""
        opts = self.config.options
        return opts[name] if name in opts else self.Options.default(name)

    # ----- the registry asks the class ---------------------------------------------------------
    @classmethod
    def field_names(cls) -> set[str]:
        """The registry fields this kind reads (besides id / name / type, which the registry reads)."""
        return cls.Options.field_names()

    @classmethod
    def check_entry(cls, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the kind's fields of one registry entry (no id / name / type) and return the
        SourceConfig options, "url" included (stripped). Raises OptionError naming the first bad
        field (unknown, missing, wrong type)."""
        model = check_options(cls.Options, entry)
        opts = dict(entry)
        if "url" in opts:
            opts["url"] = getattr(model, "url")
        return opts


def source_kinds(channel: str | None = None) -> dict[str, type[Source]]:
    """The registered source kinds by name (of one channel), in registration order."""
    return {k: c for k, c in SOURCE_TYPES.items() if channel is None or c.channel == channel}


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
    try:
        cls = SOURCE_TYPES[config.type]
    except KeyError:
        raise ValueError(f"unknown source type {config.type!r} for {config.id}") from None
    return cls(config)
