"""Evaluations: the verdict writer (one transaction, unchanged rows not rewritten; COPY on
PostgreSQL) and the reads of stored verdicts, their history and the evaluation runs."""
from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import orjson
from sqlalchemy import func, select

from ..types import Status, Verdict
from .base import chunks, json_default, utcnow
from .models import Evaluation, EvaluationRun
from .rawsql import Raw
from .reviews import overlay

if TYPE_CHECKING:
    from . import Store

_EVAL_KEY = ("unit_id", "channel", "period", "rule")
_EVAL_UPDATE = ("status", "count", "required", "reason", "deadline", "evidence", "as_of", "evaluated_at", "digest")
_EVAL_COLS = _EVAL_KEY + _EVAL_UPDATE


@dataclass(frozen=True)
class SaveStats:
    """What one save of verdicts did: verdicts given, rows written (new or changed), rows removed."""

    verdicts: int
    written: int
    removed: int


class VerdictWriter:
    """Saves verdict rows (`verdict_rows`) in one transaction, added in as many parts as the caller
    has (a sharded evaluation writes its own shard while a worker still computes another).

    A verdict whose content (status, count, required, reason, deadline, evidence) equals the stored
    row's — compared by digest — is not rewritten: its row keeps the as_of of the evaluation that
    last changed it, so a re-evaluation of 10,000 units writes only what changed. With
    replace_units + period, stored rows of those units for that period that no part produced (a
    rule that stopped applying) are removed at the end. The transaction opens with the first part.
    Use as a context manager; `stats` afterwards."""

    def __init__(self, store: Store, *, as_of: datetime, replace_units: Sequence[str] | None = None,
                 period: str | None = None):
        self.store, self.as_of, self.period = store, as_of, period
        self.replace_units = set(replace_units) if replace_units is not None else None
        self.stats = SaveStats(0, 0, 0)
        self._session: Any = None
        self._raw: Raw | None = None
        self._stored: dict[tuple[str, str, str, str], tuple[int, str | None]] = {}
        self._fetched: set[tuple[str, str | None]] = set()      # (period, unit or None = all of them)
        self._seen: set[tuple[str, str, str, str]] = set()
        self._parts = 0

    def __enter__(self) -> VerdictWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._session is None:
            if exc_type is None and self.replace_units and self.period:
                self._open()                  # nothing produced: stored rows may still need removing
            else:
                return
        try:
            if exc_type is None:
                self._remove_gone()
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._raw.close()
            self._session.close()

    def _open(self) -> None:
        self._session = self.store.Session()
        self._raw = Raw(self._session)
        now = utcnow()
        stamps = (self._raw.ts_param(self.as_of), self._raw.ts_param(now))
        # The same two for every row: formatted once here, not once per CSV row.
        self._stamps = tuple(str(t) for t in stamps) if self._raw.pg else stamps

    def _fetch_stored(self, per: str, units: set[str]) -> None:
        raw = self._raw
        sql = "SELECT id, unit_id, channel, rule, digest FROM evaluations WHERE period = ?"
        if (per, None) in self._fetched:
            return
        if self.replace_units is not None and per == self.period:
            units = self.replace_units
            self._fetched.add((per, None))
        else:
            units = {u for u in units if (per, u) not in self._fetched}
            self._fetched.update((per, u) for u in units)
        if not units:
            return
        if len(units) > 900:              # most of the period: one pass over it beats IN lists
            found = [r for r in raw.rows(sql, [per]) if r[1] in units]
        else:
            found = raw.rows(f"{sql} AND unit_id IN ({raw.marks(len(units))})", [per, *units])
        for rid, uid, channel, rule, digest in found:
            self._stored[(uid, channel, per, rule)] = (rid, digest)

    def add(self, rows: dict[tuple[str, str, str, str], tuple]) -> None:
        if self._session is None:
            self._open()
        by_period: dict[str, set[str]] = defaultdict(set)
        for key in rows:
            by_period[key[2]].add(key[0])
        for per, units in by_period.items():
            self._fetch_stored(per, units)
        new, changed = [], []
        stored, stamps = self._stored, self._stamps
        for key, row in rows.items():
            old = stored.get(key)
            if old is None:
                new.append((*key, *row[:6], *stamps, row[6]))
            elif old[1] != row[6]:
                changed.append((*key, *row[:6], *stamps, row[6]))
        self._seen.update(rows)
        if new or changed:
            self._parts += 1
            _write_evaluations(self._raw, new, changed, self._parts)
        self.stats = SaveStats(self.stats.verdicts + len(rows), self.stats.written + len(new) + len(changed),
                               self.stats.removed)

    def _remove_gone(self) -> None:
        if self.replace_units is None or self.period is None:
            return
        self._fetch_stored(self.period, set())
        gone = [rid for key, (rid, _) in self._stored.items()
                if key[2] == self.period and key[0] in self.replace_units and key not in self._seen]
        for chunk in chunks(gone, 900):
            self._raw.execute(f"DELETE FROM evaluations WHERE id IN ({self._raw.marks(len(chunk))})", chunk)
        self.stats = SaveStats(self.stats.verdicts, self.stats.written, len(gone))


def _write_evaluations(raw: Raw, new: list[tuple], changed: list[tuple], part: int = 1) -> None:
    """Write evaluation rows (tuples in _EVAL_COLS order, timestamps already as stored): `new` ones
    (no stored row when read) and `changed` ones. On psycopg2 new rows are COPYed straight in (a
    concurrent evaluation that inserted one of them first sends them the upsert way instead), changed
    ones COPYed into a temporary table and upserted from it; elsewhere one executemany upsert."""
    cols = ", ".join(_EVAL_COLS)
    update = ", ".join(f"{c} = excluded.{c}" for c in _EVAL_UPDATE)
    conflict = f"ON CONFLICT ({', '.join(_EVAL_KEY)}) DO UPDATE SET {update}"
    if raw.driver != "psycopg2":
        raw.executemany(f"INSERT INTO evaluations ({cols}) VALUES ({raw.marks(len(_EVAL_COLS))}) {conflict}",
                        new + changed)
        return
    import psycopg2

    copy = f"({cols}) FROM STDIN WITH (FORMAT csv, FORCE_NULL (deadline))"
    if new:
        raw.execute("SAVEPOINT pubwatch_new_evaluations")
        try:
            raw.cur.copy_expert(f"COPY evaluations {copy}", _csv(new))
            raw.execute("RELEASE SAVEPOINT pubwatch_new_evaluations")
        except psycopg2.IntegrityError:
            raw.execute("ROLLBACK TO SAVEPOINT pubwatch_new_evaluations")
            changed = new + changed
    if changed:
        table = f"pubwatch_evaluations_in_{part}"
        raw.execute(f"CREATE TEMPORARY TABLE {table} (unit_id text, channel text, period text, "
                    "rule text, status text, count integer, required integer, reason text, deadline date, "
                    "evidence json, as_of timestamp, evaluated_at timestamp, digest text) ON COMMIT DROP")
        raw.cur.copy_expert(f"COPY {table} {copy}", _csv(changed))
        raw.execute(f"INSERT INTO evaluations ({cols}) SELECT {cols} FROM {table} {conflict}")


def _csv(rows: list[tuple]) -> io.StringIO:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    buf.seek(0)
    return buf


def verdict_rows(verdicts: Iterable[Verdict]) -> dict[tuple[str, str, str, str], tuple]:
    """{(unit, channel, period, rule): (status, count, required, reason, deadline, evidence JSON, digest)}
    — what `save_verdicts` writes; the digest (md5 of the content) tells a changed verdict."""
    rows = {}
    dumps, md5 = orjson.dumps, hashlib.md5
    for v in verdicts:
        evidence = dumps(v.evidence, default=json_default).decode()
        deadline = v.deadline.isoformat() if v.deadline else None
        digest = md5(f"{v.status.value}\x1f{v.count}\x1f{v.required}\x1f{deadline}\x1f{v.reason}"
                     f"\x1f{evidence}".encode()).hexdigest()
        rows[(v.unit_id, v.channel, v.period, v.rule)] = (v.status.value, v.count, v.required, v.reason,
                                                           deadline, evidence, digest)
    return rows


class VerdictQueries:
    """Mixin of `Store`: evaluations and evaluation runs."""

    def save_verdicts(self, verdicts: Sequence[Verdict], *, as_of: datetime,
                      replace_units: Sequence[str] | None = None, period: str | None = None,
                      rows: dict[tuple[str, str, str, str], tuple] | None = None) -> SaveStats:
        """Upsert verdicts; with replace_units+period, rows of those units for that period that the
        new evaluation no longer produces (a rule that stopped applying) are removed. One transaction.
        See `VerdictWriter` (unchanged verdicts are not rewritten). `rows`: `verdict_rows(verdicts)`
        if the caller already made them."""
        with self.verdict_writer(as_of=as_of, replace_units=replace_units, period=period) as writer:
            writer.add(verdict_rows(verdicts) if rows is None else rows)
        return writer.stats

    def verdict_writer(self, *, as_of: datetime, replace_units: Sequence[str] | None = None,
                       period: str | None = None) -> VerdictWriter:
        return VerdictWriter(self, as_of=as_of, replace_units=replace_units, period=period)

    def record_evaluation_run(self, period: str, *, as_of: datetime, units: int, stats: SaveStats,
                              seconds: float) -> None:
        with self.Session.begin() as s:
            s.add(EvaluationRun(period=period, as_of=as_of, evaluated_at=utcnow(), units=units,
                                verdicts=stats.verdicts, written=stats.written, removed=stats.removed,
                                seconds=round(seconds, 3)))

    def latest_evaluation_as_of(self, period: str) -> datetime | None:
        """The latest `as_of` any evaluation of `period` used (None: never evaluated) — from the
        recorded runs, and from the rows themselves (verdicts saved without a run)."""
        with self.Session() as s:
            found = [s.scalar(select(func.max(EvaluationRun.as_of)).where(EvaluationRun.period == period)),
                     s.scalar(select(func.max(Evaluation.as_of)).where(Evaluation.period == period))]
        found = [t for t in found if t is not None]
        return max(found) if found else None

    def evaluations(self, period: str, unit_ids: Sequence[str] | None = None) -> list[Evaluation]:
        with self.Session() as s:
            q = select(Evaluation).where(Evaluation.period == period)
            if unit_ids is not None:
                q = q.where(Evaluation.unit_id.in_(list(unit_ids)))
            return list(s.scalars(q.order_by(Evaluation.unit_id, Evaluation.channel, Evaluation.rule)))

    def verdicts(self, period: str, unit_ids: Sequence[str] | None = None, *,
                 reviewed: bool = True) -> list[Verdict]:
        """The stored verdicts of `period`; `reviewed`: as the reviews in force set them (人工复核,
        store/reviews.py — the computed status kept in the evidence), else as the rules computed them."""
        return self.verdicts_in([period], unit_ids, reviewed=reviewed)

    def verdicts_in(self, periods: Sequence[str], unit_ids: Sequence[str] | None = None, *,
                    reviewed: bool = True) -> list[Verdict]:
        """The stored verdicts of several periods (as `verdicts`, in the order of `periods`) in two
        queries — one of the evaluations, one of the reviews — not two per period."""
        periods = list(dict.fromkeys(periods))
        if not periods:
            return []
        with self.Session() as s:
            q = select(Evaluation).where(Evaluation.period.in_(periods))
            if unit_ids is not None:
                q = q.where(Evaluation.unit_id.in_(list(unit_ids)))
            rows = list(s.scalars(q.order_by(Evaluation.unit_id, Evaluation.channel, Evaluation.rule)))
        order = {p: i for i, p in enumerate(periods)}
        rows.sort(key=lambda r: order[r.period])         # stable: per period, by unit, channel, rule
        computed = [Verdict(unit_id=r.unit_id, channel=r.channel, period=r.period, rule=r.rule,
                            status=Status(r.status), count=r.count, required=r.required, reason=r.reason,
                            deadline=r.deadline, evidence=dict(r.evidence or {}))
                    for r in rows]
        if not reviewed:
            return computed
        return overlay(computed, self.reviews.current(periods=periods, unit_ids=unit_ids))

    def status_history(self, unit_ids: Sequence[str], periods: Sequence[str], rule: str, *,
                       reviewed: bool = True) -> dict[tuple[str, str], dict[str, str]]:
        """{(unit, channel): {period: status}} for the given periods and rule (`reviewed`: as the
        reviews in force set them, see `verdicts`)."""
        out: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        with self.Session() as s:
            q = select(Evaluation.unit_id, Evaluation.channel, Evaluation.period, Evaluation.status).where(
                Evaluation.period.in_(list(periods)), Evaluation.rule == rule,
                Evaluation.unit_id.in_(list(unit_ids)))
            for r in s.execute(q):
                out[(r.unit_id, r.channel)][r.period] = r.status
        if reviewed:
            for (uid, channel, period, _), review in self.reviews.current(periods=periods, unit_ids=unit_ids,
                                                                          rule=rule).items():
                if period in out.get((uid, channel), {}):
                    out[(uid, channel)][period] = review.status.value
        return out
