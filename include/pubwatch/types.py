"""Shared value types: the contract between registry, sources, store, rules and notices.

Everything here is plain data (frozen dataclasses and str enums) so each module can be tested
on its own. Times are timezone-aware; user-facing periods are in Asia/Shanghai.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc                # stored times come back in UTC
# crawl_attempts.covered_from for a listing proven to reach the column's whole history. NULL means
# "never computed" (attempts from before coverage existed, failed reads): such attempts prove nothing.
COVERS_ALL = datetime(1970, 1, 1, tzinfo=timezone.utc)

PORTAL = "portal"
WECHAT = "wechat"
CHANNELS = (PORTAL, WECHAT)
CHANNEL_LABELS = {PORTAL: "门户网站", WECHAT: "微信公众号"}


class Outcome(str, enum.Enum):
    """What one crawl attempt of one source found out. Only OK / NOT_MODIFIED can prove absence."""

    OK = "ok"                      # fetched and parsed; the items are the truth
    NOT_MODIFIED = "not_modified"  # conditional GET said nothing changed since the last OK
    UNREACHABLE = "unreachable"    # DNS, refused, timeout, TLS, reset
    HTTP_ERROR = "http_error"      # 4xx/5xx after retries
    BLOCKED = "blocked"            # anti-bot / WAF challenge (202/412 + JS), robots.txt disallow
    PARSE_FAILED = "parse_failed"  # 200 but not a list, or 0 items where items used to be
    SUSPECT_EMPTY = "suspect_empty"  # 200, but an unconfirmed empty list (暂无信息) or a page/API saying
                                     # it failed (系统维护中, soft 404, {"code":500}): never "no posts"
    REDIRECTED = "redirected"      # the column URL led somewhere else (homepage, login, another column)
    STALE = "stale"                # a bridge/feed that has itself stopped refreshing
    SOURCE_ERROR = "source_error"  # API error codes (quota, IP whitelist, auth), bad export file
    CONFIG_ERROR = "config_error"  # the registry entry cannot be used (bad URL, missing credentials)
    INTERRUPTED = "interrupted"    # left "running" by a crash (kill, OOM, restart); closed by the next run

    @property
    def verified(self) -> bool:
        return self in (Outcome.OK, Outcome.NOT_MODIFIED)


OUTCOME_LABELS = {
    Outcome.OK: "正常",
    Outcome.NOT_MODIFIED: "正常(未变化)",
    Outcome.UNREACHABLE: "无法访问",
    Outcome.HTTP_ERROR: "HTTP错误",
    Outcome.BLOCKED: "被防护拦截",
    Outcome.PARSE_FAILED: "页面无法解析",
    Outcome.SUSPECT_EMPTY: "空列表或异常页(未证实)",
    Outcome.REDIRECTED: "栏目被重定向",
    Outcome.STALE: "数据源未刷新",
    Outcome.SOURCE_ERROR: "数据源报错",
    Outcome.CONFIG_ERROR: "配置错误",
    Outcome.INTERRUPTED: "抓取中断",
}


class Status(str, enum.Enum):
    MET = "met"
    AT_RISK = "at_risk"
    MISSED = "missed"
    UNKNOWN = "unknown"
    EXEMPT = "exempt"
    PENDING = "pending"            # period still open, not met yet, before the warning time


STATUS_LABELS = {
    Status.MET: "达标",
    Status.AT_RISK: "预警",
    Status.MISSED: "未达标",
    Status.UNKNOWN: "无法核实",
    Status.EXEMPT: "免检",
    Status.PENDING: "进行中",
}


@dataclass(frozen=True)
class ListItem:
    """One entry as a source lists it (portal list row, feed item, API article)."""

    title: str
    url: str                          # absolute; canonical for WeChat
    published: datetime | None        # aware (Asia/Shanghai); None = no date shown
    pinned: bool = False              # 置顶 items: stored, but never used to stop pagination
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceResult:
    """The result of fetching one source once."""

    outcome: Outcome
    items: list[ListItem] = field(default_factory=list)
    message: str = ""                 # for the admin: what happened and what to do
    http_status: int | None = None
    requests: int = 0                 # HTTP requests made (incl. retries)
    pages: int = 0                    # list pages read
    state: dict[str, Any] = field(default_factory=dict)   # kept for next attempt (etag, ...)
    source_updated: datetime | None = None                 # a feed's own build/update time
    # An OK result without items: from when the source proved its list empty (the first of the
    # empty reads that confirmed it, see sources.base.settle_empty). None: nothing proven.
    covered_from: datetime | None = None


@dataclass(frozen=True)
class PostFact:
    """A stored post as the rules see it."""

    source_id: str
    channel: str                      # PORTAL | WECHAT
    url: str
    title: str
    published: datetime               # aware
    first_seen: datetime              # aware
    column_type: str = "news"
    date_suspicious: bool = False

    @cached_property
    def local_time(self) -> datetime:
        """`published` in Asia/Shanghai (computed once: the rules ask for it many times)."""
        return self.published.astimezone(TZ)

    @cached_property
    def local_day(self) -> date:
        return self.local_time.date()


@dataclass(frozen=True)
class AttemptFact:
    """A crawl attempt as the rules see it."""

    source_id: str
    channel: str
    started_at: datetime              # aware
    outcome: Outcome
    message: str = ""
    source_updated: datetime | None = None
    # How far back this attempt's listing (chained with earlier attempts) reached: it can prove
    # "no post" only from this time on. COVERS_ALL = the whole history; None = never computed
    # (proves nothing).
    covered_from: datetime | None = None


@dataclass
class Verdict:
    """One status per unit x channel x period x rule."""

    unit_id: str
    channel: str                      # PORTAL | WECHAT | "unit" for whole-unit rules
    period: str                       # "2026-W47", "2026-11", "2026-Q4", "2026"
    rule: str                         # "weekly", "monthly_quota", "staleness:news", "staleness:wechat", ...
    status: Status
    count: int = 0
    required: int = 0
    reason: str = ""                  # Chinese, shown to supervisors
    deadline: date | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
