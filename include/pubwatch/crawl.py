"""Crawl: for one unit, fetch every source once and store what was found (posts + attempts).

A source never raises (it returns an honest SourceResult); this module adds a last safety net so
that a bug in one source is recorded as that source's failure and the other sources go on.
"""
from __future__ import annotations

import dataclasses
import logging
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from .periods import Period
from .registry import Unit
from .sources import CrawlContext, make_source
from .store import Store
from .types import CHANNEL_LABELS, COVERS_ALL, OUTCOME_LABELS, TZ, Outcome, SourceResult
from .text import clean_text
from .urls import http_url

log = logging.getLogger(__name__)


@dataclass
class SourceOutcome:
    source_id: str
    channel: str
    name: str
    outcome: str
    message: str
    items_found: int
    items_new: int
    requests: int


@dataclass
class UnitCrawl:
    unit_id: str
    unit_name: str
    sources: list[SourceOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceOutcome]:
        return [s for s in self.sources if not Outcome(s.outcome).verified]

    def summary_line(self) -> str:
        parts = []
        for ch in ("portal", "wechat"):
            mine = [s for s in self.sources if s.channel == ch]
            if not mine:
                continue
            found = sum(s.items_found for s in mine)
            new = sum(s.items_new for s in mine)
            bad = [s for s in mine if not Outcome(s.outcome).verified]
            note = "" if not bad else "; " + "; ".join(
                f"{s.name}{OUTCOME_LABELS[Outcome(s.outcome)]}" for s in bad)
            parts.append(f"{CHANNEL_LABELS[ch]} 列表{found}条(新增{new}){note}")
        return f"{self.unit_name}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "unit_name": self.unit_name,
                "sources": [vars(s) for s in self.sources], "summary": self.summary_line()}


def coverage(result: SourceResult, state: dict[str, Any], last_ok_at: datetime | None,
             started: datetime) -> datetime | None:
    """How far back this attempt proves the column's contents: COVERS_ALL for its whole history,
    None for nothing (a failed read).

    A list read only down to its oldest item proves nothing about earlier weeks — unless the previous
    successful attempt already covered them and this listing reaches back to that attempt (then the
    two chain). A 304 keeps the previous coverage. Without any dated item nothing earlier than this
    attempt is proven. An empty list proves only what its source confirmed (`result.covered_from`:
    the first of the empty reads a day apart, see sources.base.settle_empty) — never the column's
    whole history: a page that says 暂无信息 once says nothing about the weeks before it."""
    previous = state.get("covered_from")
    prev_from: datetime | None = None                  # None: no previous coverage known
    if previous == "all":
        prev_from = COVERS_ALL
    elif previous:
        prev_from = datetime.fromisoformat(previous)
    if result.outcome is Outcome.NOT_MODIFIED:
        return started if prev_from is None else prev_from
    if not result.outcome.verified:
        return None
    if not result.items:
        return result.covered_from if result.covered_from is not None else started
    dated = [i.published for i in result.items if i.published is not None and not i.pinned]
    if not dated:
        return started
    oldest = min(dated)
    if prev_from is not None and last_ok_at is not None and oldest <= last_ok_at:
        return min(prev_from, oldest)
    return oldest


DEFAULT_SINCE_DAYS = 21          # a routine read pages back this far (known URLs usually stop it sooner)
DEFAULT_FIRST_READ_WEEKS = 5     # a source without proven coverage is read back over this many weeks


def first_read_since(now: datetime, weeks: int) -> date:
    """Monday of the week `weeks` weeks before the current one (Asia/Shanghai): a first read pages
    back until its listing covers the weeks the office evaluates (capped by max_pages), so a new
    deployment — or a column whose coverage was lost — can judge last month at once."""
    return Period.week_of(now.astimezone(TZ)).start - timedelta(weeks=weeks)


def crawl_unit(store: Store, unit: Unit, *, fetcher: Any, now: datetime | None = None,
               since: date | None = None, run_id: str | None = None,
               get_secret: Callable[[str], dict[str, Any]] | None = None,
               evidence_settings: Any = None, first_read_weeks: int = DEFAULT_FIRST_READ_WEEKS) -> UnitCrawl:
    """Fetch every source of `unit` once; upsert posts; record one attempt per source.

    `now` simulates the clock (demo and tests): attempts and first-seen times are stamped with it.
    In production it is None and the real time is used. A source read for the first time (no proven
    coverage yet) pages back to `first_read_since` instead of `since`."""
    simulated = now is not None
    now = now or datetime.now(timezone.utc)
    since = since or (now - timedelta(days=DEFAULT_SINCE_DAYS)).date()
    deep = first_read_since(now, first_read_weeks) if first_read_weeks > 0 else since
    report = UnitCrawl(unit.id, unit.name)
    for cfg in unit.sources:
        try:
            report.sources.append(_crawl_source(store, unit, cfg, fetcher=fetcher, now=now, simulated=simulated,
                                                since=since, deep=deep, run_id=run_id, get_secret=get_secret,
                                                evidence_settings=evidence_settings))
        except Exception as exc:  # the store itself failed: this source's read is lost, the others go on
            log.error("source %s could not be recorded: %s", cfg.id, traceback.format_exc(limit=3))
            report.sources.append(SourceOutcome(cfg.id, cfg.channel, cfg.name, Outcome.SOURCE_ERROR.value,
                                                f"抓取结果无法保存到数据库(请联系管理员): {type(exc).__name__}",
                                                0, 0, 0))
    return report


INTERRUPTED_AFTER = timedelta(hours=1)   # a source's crawl never takes this long: still "running" = crashed


def _crawl_source(store: Store, unit: Unit, cfg: Any, *, fetcher: Any, now: datetime, simulated: bool,
                  since: date, deep: date, run_id: str | None, get_secret: Any,
                  evidence_settings: Any) -> SourceOutcome:
    """One source: fetch, clean what came back, store it, record the attempt. A failure to store the
    posts is this source's failed read (SOURCE_ERROR), recorded on its attempt."""
    started = now if simulated else datetime.now(timezone.utc)
    store.close_interrupted(cfg, started_before=started - INTERRUPTED_AFTER, now=started)
    memory = store.source_memory(cfg)
    attempt_id = store.start_attempt(cfg, started_at=started, run_id=run_id)
    src_since = since if memory.state.get("covered_from") else min(since, deep)
    ctx = CrawlContext(fetcher=fetcher, now=now, since=src_since, known_urls=memory.known_urls,
                       state=memory.state, previous_items=memory.previous_items, get_secret=get_secret)
    try:
        result = make_source(cfg).fetch(ctx)
    except Exception as exc:  # a bug in a source must not stop the other sources
        log.error("source %s crashed: %s", cfg.id, traceback.format_exc(limit=3))
        result = SourceResult(outcome=Outcome.SOURCE_ERROR,
                              message=f"抓取程序内部错误(请联系管理员): {type(exc).__name__}: {exc}")
    result = clean_result(result)
    new = 0
    if result.items:
        # Items are kept even from a failed attempt (e.g. page 1 read, page 2 failed): never lose posts.
        try:
            new = store.upsert_posts(cfg, result.items, seen_at=started, attempt_id=attempt_id)
        except Exception as exc:  # noqa: BLE001 - e.g. a value the database refuses
            log.error("posts of %s could not be stored: %s", cfg.id, traceback.format_exc(limit=3))
            result = SourceResult(outcome=Outcome.SOURCE_ERROR, requests=result.requests, pages=result.pages,
                                  http_status=result.http_status,
                                  message=f"抓取到{len(result.items)}条, 但保存失败(请联系管理员): "
                                          f"{type(exc).__name__}: {str(exc)[:200]}")
    if new and result.outcome is Outcome.OK:
        _check_evidence(store, cfg, attempt_id, started, evidence_settings)   # evidence.py (issue 10)
    finished = now if simulated else datetime.now(timezone.utc)
    store.finish_attempt(attempt_id, cfg, result, finished_at=finished, items_new=new,
                         covered_from=coverage(result, memory.state, memory.last_ok_at, started))
    log.info("%s %s: %s, %d items (%d new), %d requests %s", unit.name, cfg.name, result.outcome.value,
             len(result.items), new, result.requests, result.message)
    return SourceOutcome(cfg.id, cfg.channel, cfg.name, result.outcome.value, result.message,
                         len(result.items), new, result.requests)


def clean_result(result: SourceResult) -> SourceResult:
    """The items of `result` with clean titles and http(s) URLs only; items whose link is not an
    http(s) URL (javascript:, data:, …) are dropped and the read says so."""
    if not result.items:
        return result
    items, dropped = [], 0
    for it in result.items:
        url = http_url(it.url)
        if not url:
            dropped += 1
            continue
        title = clean_text(it.title)
        if url != it.url or title != it.title:
            it = dataclasses.replace(it, url=url, title=title)
        items.append(it)
    if not dropped and len(items) == len(result.items) and all(a is b for a, b in zip(items, result.items)):
        return result
    note = f"{dropped}条的链接不是 http(s) 地址, 已忽略" if dropped else ""
    message = "; ".join(m for m in (result.message, note) if m)
    return dataclasses.replace(result, items=items, message=message)


def _check_evidence(store: Store, cfg: Any, attempt_id: int, seen_at: datetime, settings: Any) -> None:
    """Flag back-dated posts and bursts (pubwatch.evidence); a bug there never fails the crawl."""
    from .evidence import after_crawl

    try:
        after_crawl(store, cfg, attempt_id, seen_at, settings)
    except Exception:  # noqa: BLE001 - evidence is advisory; the posts are already stored
        log.error("evidence check of %s failed: %s", cfg.id, traceback.format_exc(limit=3))
