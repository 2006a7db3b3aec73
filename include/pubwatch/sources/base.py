"""The source interface: one small class per kind of source, registered by its type name.

A source turns one `SourceConfig` into a `SourceResult` (items + an honest outcome). It never
touches the database: the crawl module stores what it returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, ClassVar

from ..registry import SourceConfig
from ..types import SourceResult

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


def make_source(config: SourceConfig) -> Source:
    # Importing the modules registers their classes.
    from . import portal, wechat, wechat_api, wechat_export  # noqa: F401

    try:
        cls = SOURCE_TYPES[config.type]
    except KeyError:
        raise ValueError(f"unknown source type {config.type!r} for {config.id}") from None
    return cls(config)
