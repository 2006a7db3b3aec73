"""Evaluate: feed the cadence rules from the store and save one verdict per unit/channel/period/rule.

The verdict for a period depends only on stored posts and crawl attempts (never on a live crawl),
so a backfill of any past period is a deterministic recompute.

Large registries are evaluated in shards, one per CPU: the shards after the first run in forked
worker processes (each with its own database connection: fetch, rules, serialise), the first in
this process; the verdicts are saved here in one transaction. Fewer than `PARALLEL_MIN_UNITS` units
(a county) stay in one process. `PUBWATCH_EVAL_WORKERS` (or `workers=`) sets the number of shards.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from datetime import datetime, timedelta
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from . import rules
from .periods import Period
from .registry import Unit
from .store import Store, VerdictWriter, verdict_rows
from .types import Status, Verdict
from .workdays import WorkCalendar

log = logging.getLogger(__name__)
PARALLEL_MIN_UNITS = 2000       # below this a worker process costs more than it saves
MAX_WORKERS = 4
WORKER_TIMEOUT = 1800           # seconds to wait for a worker before doing its shard here
PARENT_SHARE = 0.5              # of two shards, this process's (measured: 0.45-0.55 all within noise)
WORKER_PART = 900               # units a worker evaluates and sends back at a time

Rows = dict[tuple[str, str, str, str], tuple]


def evaluate_period(store: Store, units: Sequence[Unit], period: Period, *, as_of: datetime,
                    policies: "rules.Policies | None" = None,
                    calendar: WorkCalendar | None = None, workers: int | None = None) -> list[Verdict]:
    started = time.perf_counter()
    policies = policies or rules.load_policies()
    calendar = calendar or WorkCalendar()
    units = list(units)
    ids = [u.id for u in units]
    n = worker_count(len(units), store, workers)
    with gc_paused():
        with store.verdict_writer(as_of=as_of, replace_units=ids, period=period.key) as writer:
            if n > 1:
                verdicts = _sharded(store, writer, units, period, as_of, policies, calendar, n)
            else:
                verdicts, rows = evaluate_shard(store, units, period, as_of=as_of, policies=policies,
                                                calendar=calendar)
                writer.add(rows)
        store.record_evaluation_run(period.key, as_of=as_of, units=len(ids), stats=writer.stats,
                                    seconds=time.perf_counter() - started)
    return verdicts


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while evaluating: the facts and verdicts are hundreds of thousands
    of acyclic objects (freed by reference counting anyway), and the collector's repeated passes over
    them cost ~20% of a 10,000-unit evaluation. Restored afterwards, whatever happens; what survives
    is moved to the oldest generation first (freeze + unfreeze), else the first collection after
    would scan all of it at once as "young" objects."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def evaluate_shard(store: Store, units: Sequence[Unit], period: Period, *, as_of: datetime,
                   policies: "rules.Policies", calendar: WorkCalendar) -> tuple[list[Verdict], Rows]:
    """Fetch, judge and serialise the verdicts of `units` (saving is the caller's)."""
    ids = [u.id for u in units]
    p_from, p_to = rules.post_window(period, policies, units)
    a_from, a_to = rules.attempt_window(period, as_of, policies)
    posts = store.rule_post_facts(ids, p_from, max(p_from, recent_from(period, policies, units)), p_to)
    attempts = store.attempt_facts(ids, a_from, a_to)
    verdicts: list[Verdict] = []
    for unit in units:
        verdicts.extend(rules.evaluate_unit(unit, period, posts.get(unit.id, []), attempts.get(unit.id, []),
                                            as_of=as_of, policies=policies, calendar=calendar))
    mark_provisional(verdicts, period, calendar)
    return verdicts, verdict_rows(verdicts)


def mark_provisional(verdicts: Sequence[Verdict], period: Period, calendar: WorkCalendar) -> None:
    """A period that only the provisional calendar covers (a year without holiday data): every
    verdict says so (evidence `calendar_provisional`, 「节假日安排暂定」 in the reason)."""
    years = calendar.provisional_years(period.start, period.end)
    if not years:
        return
    note = f"节假日安排暂定({'、'.join(str(y) for y in years)}年放假安排尚未录入)"
    for v in verdicts:
        v.evidence["calendar_provisional"] = years
        if note not in v.reason:
            v.reason = f"{v.reason}; {note}" if v.reason else note


def evaluate_known(store: Store, units: Sequence[Unit], period: Period, *, as_of: datetime,
                   policies: "rules.Policies | None" = None,
                   calendar: WorkCalendar | None = None) -> list[Verdict]:
    """The verdicts of `period` from what the store knew at `as_of` ("what did we know on Friday?"):
    only posts first seen by then and crawls started before then. Read-only: nothing is saved, so a
    look at the past never replaces a verdict evaluated with later knowledge. The posts of the whole
    look-back come in full (the history tail of `rule_post_facts` is cut at the latest post, which
    may have been seen only after `as_of`)."""
    policies = policies or rules.load_policies()
    calendar = calendar or WorkCalendar()
    units = list(units)
    ids = [u.id for u in units]
    p_from, p_to = rules.post_window(period, policies, units)
    a_from, a_to = rules.attempt_window(period, as_of, policies)
    posts = store.post_facts(ids, p_from, p_to)
    attempts = store.attempt_facts(ids, a_from, a_to)
    verdicts: list[Verdict] = []
    for unit in units:
        known = [p for p in posts.get(unit.id, []) if p.first_seen <= as_of]
        verdicts.extend(rules.evaluate_unit(unit, period, known, attempts.get(unit.id, []),
                                            as_of=as_of, policies=policies, calendar=calendar))
    mark_provisional(verdicts, period, calendar)
    return verdicts


def worker_count(units: int, store: Store, workers: int | None = None) -> int:
    """Shards to evaluate `units` units in: `workers`, else $PUBWATCH_EVAL_WORKERS, else one per CPU
    (at most MAX_WORKERS) from PARALLEL_MIN_UNITS units on. 1 where fork or a shared database is
    not available (an in-memory SQLite database)."""
    if workers is None:
        env = os.environ.get("PUBWATCH_EVAL_WORKERS", "").strip()
        if env:
            try:
                workers = int(env)
            except ValueError:
                log.warning("PUBWATCH_EVAL_WORKERS=%r is not a number; evaluating in one process", env)
                workers = 1
        elif units >= PARALLEL_MIN_UNITS:
            workers = min(os.cpu_count() or 1, MAX_WORKERS)
        else:
            workers = 1
    if workers <= 1 or units < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if store.in_memory:
        return 1
    return min(workers, units)


def _sharded(store: Store, writer: VerdictWriter, units: list[Unit], period: Period, as_of: datetime,
             policies: "rules.Policies", calendar: WorkCalendar, n: int) -> list[Verdict]:
    """Shard 0 here, the others in forked workers; each shard's rows go to `writer` as soon as they
    are here (this shard's while the workers still compute)."""
    mine = max(1, round(len(units) * PARENT_SHARE)) if n == 2 else max(1, len(units) // n)
    rest = units[mine:]
    size = -(-len(rest) // (n - 1))
    shards = [units[:mine]] + [rest[i:i + size] for i in range(0, len(rest), size)]
    url = store.url
    ctx = multiprocessing.get_context("fork")
    workers = [_Worker(ctx, url, shard, period, as_of, policies, calendar) for shard in shards[1:]]
    verdicts, rows = evaluate_shard(store, shards[0], period, as_of=as_of, policies=policies, calendar=calendar)
    writer.add(rows)
    for worker in workers:
        result = worker.result()
        if result is None:
            result = evaluate_shard(store, worker.units, period, as_of=as_of, policies=policies,
                                    calendar=calendar)
        verdicts.extend(result[0])
        writer.add(result[1])
    return verdicts


class _Worker:
    """One forked worker evaluating a shard. It sends its results in parts as it goes; a thread
    here receives (and unpickles) them meanwhile, so little is left to do when it finishes."""

    def __init__(self, ctx: Any, url: str, units: list[Unit], period: Period, as_of: datetime,
                 policies: "rules.Policies", calendar: WorkCalendar):
        self.units, self.period = units, period
        self.verdicts: list[Verdict] = []
        self.rows: Rows = {}
        self.failure: str | None = None
        recv, send = ctx.Pipe(duplex=False)
        try:
            self.proc = ctx.Process(target=_shard_worker, args=(send, url, units, period, as_of, policies, calendar),
                                    name=f"pubwatch-evaluate-{period.key}", daemon=True)
            self.proc.start()
        except (OSError, AssertionError, ValueError) as exc:   # e.g. no children of a daemonic process
            self.proc, self.failure = None, f"cannot start a worker ({exc})"
        send.close()
        self.thread = threading.Thread(target=self._collect, args=(recv,), daemon=True)
        self.thread.start()

    def _collect(self, recv: Any) -> None:
        try:
            while self.proc is not None:
                kind, payload = recv.recv()
                if kind == "part":
                    self.verdicts.extend(payload[0])
                    self.rows.update(payload[1])
                elif kind == "done":
                    return
                else:
                    self.failure = self.failure or f"a worker failed ({payload})"
                    return
        except (EOFError, OSError) as exc:   # died — or killed by result() after its timeout
            self.failure = self.failure or f"a worker died ({type(exc).__name__})"
        finally:
            recv.close()

    def result(self) -> tuple[list[Verdict], Rows] | None:
        """The shard's (verdicts, rows); None (the caller redoes the shard) if the worker failed or hung."""
        self.thread.join(WORKER_TIMEOUT)
        if self.thread.is_alive():
            self.failure = f"a worker gave no answer in {WORKER_TIMEOUT} s"
            self.proc.kill()
            self.thread.join(5)
        if self.proc is not None:
            self.proc.join(5)
        if self.failure:
            log.warning("evaluating %s: %s; redoing its %d units here", self.period.key, self.failure,
                        len(self.units))
            return None
        return self.verdicts, self.rows


def _shard_worker(send: Any, url: str, units: list[Unit], period: Period, as_of: datetime,
                  policies: "rules.Policies", calendar: WorkCalendar) -> None:
    """In a forked worker: its own connection (never the parent's), one shard in parts, results back."""
    try:
        store = Store(url)
        try:
            for i in range(0, len(units), WORKER_PART):
                send.send(("part", evaluate_shard(store, units[i:i + WORKER_PART], period, as_of=as_of,
                                                  policies=policies, calendar=calendar)))
        finally:
            store.close()
        send.send(("done", None))
    except BaseException as exc:  # noqa: BLE001 — reported to the parent, which redoes the shard
        send.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def recent_from(period: Period, policies: "rules.Policies", units: Sequence[Unit] | None = None) -> datetime:
    """Posts from here on reach the rules in full; of the older ones (staleness looks back
    `history_days`) the store sends only the tail the rules can see (`Store.rule_post_facts`).
    The look-back of the windowed kinds (rolling_window, max_gap) as in `rules.post_window`."""
    days = rules.lookback_days(policies, period.kind, units, windowed_only=True)
    return period.start_dt - timedelta(days=max(days, 1))


def streaks(store: Store, units: Sequence[Unit], period: Period, *, rule: str = "weekly",
            lookback: int = 12) -> dict[tuple[str, str], int]:
    """Consecutive missed periods ending at `period`, per (unit, channel), from stored verdicts."""
    periods = [period]
    for _ in range(lookback - 1):
        periods.append(periods[-1].previous())
    history = store.status_history([u.id for u in units], [p.key for p in periods], rule)
    out: dict[tuple[str, str], int] = {}
    for key, by_period in history.items():
        statuses = [Status(by_period[p.key]) if p.key in by_period else Status.EXEMPT for p in periods]
        out[key] = rules.streak(statuses)
    return out
