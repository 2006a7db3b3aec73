"""Evaluate: feed the cadence rules from the store and save one verdict per unit/channel/period/rule.

The verdict for a period depends only on stored posts and crawl attempts (never on a live crawl),
so a backfill of any past period is a deterministic recompute.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from . import rules
from .periods import Period
from .registry import Unit
from .store import Store
from .types import Status, Verdict
from .workdays import WorkCalendar


def evaluate_period(store: Store, units: Sequence[Unit], period: Period, *, as_of: datetime,
                    policies: "rules.Policies | None" = None,
                    calendar: WorkCalendar | None = None) -> list[Verdict]:
    policies = policies or rules.load_policies()
    calendar = calendar or WorkCalendar()
    ids = [u.id for u in units]
    p_from, p_to = rules.post_window(period, policies)
    a_from, a_to = rules.attempt_window(period, as_of, policies)
    posts = store.rule_post_facts(ids, p_from, max(p_from, recent_from(period, policies)), p_to)
    attempts = store.attempt_facts(ids, a_from, a_to)
    verdicts: list[Verdict] = []
    for unit in units:
        verdicts.extend(rules.evaluate_unit(unit, period, posts.get(unit.id, []), attempts.get(unit.id, []),
                                            as_of=as_of, policies=policies, calendar=calendar))
    store.save_verdicts(verdicts, as_of=as_of, replace_units=ids, period=period.key)
    return verdicts


def recent_from(period: Period, policies: "rules.Policies") -> datetime:
    """Posts from here on reach the rules in full; of the older ones (staleness looks back
    `history_days`) the store sends only the tail the rules can see (`Store.rule_post_facts`).
    The look-back of the windowed kinds (rolling_window, max_gap) mirrors `rules.post_window`."""
    days = 1
    for pol in policies.all_policies():
        if pol.period_kind != period.kind:
            continue
        if isinstance(pol, rules.RollingWindowPolicy):
            days = max(days, pol.days * 2 + 31 if pol.cfg["working_days"] else pol.days + 1)
        elif isinstance(pol, rules.MaxGapPolicy):
            days = max(days, pol.max_days * (2 if pol.cfg["working_days"] else 1) + 31 + 31)
    return period.start_dt - timedelta(days=days)


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
