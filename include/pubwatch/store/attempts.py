"""Crawl attempts and probes: started, finished, closed after a crash; the attempt facts the rules read."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Sequence

from sqlalchemy import update

from ..types import COVERS_ALL, AttemptFact, Outcome, SourceResult
from .base import SourceLike, chunks
from .models import CrawlAttempt, SourceRow
from .rawsql import Raw


class AttemptQueries:
    """Mixin of `Store`: crawl attempts (kind "crawl") and availability probes (kind "probe")."""

    def close_interrupted(self, source: SourceLike, *, started_before: datetime, now: datetime) -> int:
        """Attempts of `source` still "running" that started before `started_before`: a crash left
        them; they become INTERRUPTED (a failed read) so none hangs forever. Returns how many."""
        with self.Session.begin() as s:
            res = s.execute(update(CrawlAttempt)
                            .where(CrawlAttempt.source_id == source.id, CrawlAttempt.outcome == "running",
                                   CrawlAttempt.started_at < started_before)
                            .values(outcome=Outcome.INTERRUPTED.value, finished_at=now,
                                    message="抓取进程在完成前退出(被终止或重启), 本次结果未保存; 下次抓取自动重试"))
            return res.rowcount or 0

    def start_attempt(self, source: SourceLike, *, started_at: datetime, run_id: str | None,
                      kind: str = "crawl") -> int:
        with self.Session.begin() as s:
            att = CrawlAttempt(source_id=source.id, unit_id=source.unit_id, channel=source.channel,
                               run_id=run_id, kind=kind, started_at=started_at, outcome="running")
            s.add(att)
            s.flush()
            return att.id

    def finish_attempt(self, attempt_id: int, source: SourceLike, result: SourceResult, *,
                       finished_at: datetime, items_new: int, covered_from: datetime | None = None) -> None:
        ok = result.outcome.verified
        with self.Session.begin() as s:
            att = s.get(CrawlAttempt, attempt_id)
            att.finished_at = finished_at
            att.outcome = result.outcome.value
            att.http_status = result.http_status
            att.message = result.message[:4000]
            att.items_found = len(result.items)
            att.items_new = items_new
            att.requests = result.requests
            att.pages = result.pages
            att.elapsed_ms = int((finished_at - att.started_at).total_seconds() * 1000)
            att.source_updated = result.source_updated
            att.covered_from = covered_from if ok else None
            row = s.get(SourceRow, source.id)
            if row is not None and att.kind == "crawl":
                row.last_attempt_at = att.started_at
                row.last_outcome = result.outcome.value
                row.last_message = att.message
                if ok:
                    row.last_ok_at = att.started_at
                    if result.outcome is Outcome.OK:
                        row.last_ok_items = len(result.items)
                    state = {**(row.state or {}), **(result.state or {})}
                    if result.outcome is Outcome.OK and result.items:
                        state.pop("empty", None)       # a list with entries ends an empty streak
                    if covered_from is None:
                        state.pop("covered_from", None)
                    else:
                        state["covered_from"] = "all" if covered_from == COVERS_ALL else covered_from.isoformat()
                    row.state = state
                elif result.outcome is Outcome.SUSPECT_EMPTY and result.state:
                    # An unconfirmed empty read keeps only its streak (sources.base.settle_empty): never
                    # validators, never coverage.
                    row.state = {**(row.state or {}), **{k: v for k, v in result.state.items() if k == "empty"}}

    def record_probe(self, source: SourceLike, *, started_at: datetime, finished_at: datetime, outcome: str,
                     http_status: int | None, message: str, elapsed_ms: int, run_id: str | None) -> None:
        """One finished availability probe of a portal column (kind "probe": never read by the rules)."""
        with self.Session.begin() as s:
            s.add(CrawlAttempt(source_id=source.id, unit_id=source.unit_id, channel=source.channel, run_id=run_id,
                               kind="probe", started_at=started_at, finished_at=finished_at, outcome=outcome,
                               http_status=http_status, message=message[:4000], elapsed_ms=elapsed_ms, requests=1))

    def attempt_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[AttemptFact]]:
        """Finished crawl attempts started in [start, end), grouped by unit, oldest first."""
        out: dict[str, list[AttemptFact]] = defaultdict(list)
        outcomes = {o.value: o for o in Outcome}
        with self.Session() as s, Raw(s) as raw:
            ts = raw.ts_reader()
            for chunk in chunks(list(unit_ids), 900):
                rows = raw.rows("SELECT unit_id, source_id, channel, started_at, outcome, message, source_updated, "
                                f"covered_from FROM crawl_attempts WHERE unit_id IN ({raw.marks(len(chunk))}) "
                                "AND kind = 'crawl' AND started_at >= ? AND started_at < ? AND outcome <> 'running' "
                                "ORDER BY unit_id, started_at, id", [*chunk, raw.ts_param(start), raw.ts_param(end)])
                for uid, sid, channel, started, outcome, message, updated, covered in rows:
                    out[uid].append(AttemptFact(sid, channel, ts(started), outcomes[outcome], message or "",
                                                ts(updated), ts(covered)))
        return out
