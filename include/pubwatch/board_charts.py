"""The numbers behind the board's charts (drawn by Apache ECharts in the browser, served from the
plugin's own static files). Each chart's numbers are also printed in a table beside it.

- `category_trend`: the weekly rule's 达标率 per unit category over recent weeks — met / (met +
  missed); unknown, exempt and pending verdicts are not judged and do not count either way;
- `posting_calendar`: one unit's posts per day over a year (both channels), so gaps and bursts show;
- `ranking_bars`: a month's or quarter's scores by category (the same numbers as `pubwatch ranking`).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from .periods import Period
from .registry import CATEGORIES, Registry, Unit
from .types import CHANNEL_LABELS, TZ, Status

WEEKLY = "weekly"


@dataclass
class TrendSeries:
    category: str
    label: str
    rates: list[float | None]          # percent, one per week (None: nothing judged that week)
    met: list[int]
    judged: list[int]


@dataclass
class Trend:
    weeks: list[str]
    week_labels: list[str]
    series: list[TrendSeries] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"weeks": self.week_labels, "series": [{"name": s.label, "data": s.rates, "met": s.met,
                                                       "judged": s.judged} for s in self.series]}


def category_trend(store: Any, registry: Registry, weeks: Sequence[Period]) -> Trend:
    """达标率 of the weekly rule per category and week (both channels' verdicts counted)."""
    category_of = {u.id: u.category for u in registry.units}
    cats = [c for c in CATEGORIES if any(u.category == c for u in registry.units)]
    met: dict[str, list[int]] = {c: [0] * len(weeks) for c in cats}
    judged: dict[str, list[int]] = {c: [0] * len(weeks) for c in cats}
    column = {w.key: i for i, w in enumerate(weeks)}
    for v in store.verdicts_in(list(column), list(category_of)):     # all the weeks in two queries
        cat = category_of.get(v.unit_id)
        if cat not in met or v.rule != WEEKLY or v.status not in (Status.MET, Status.MISSED):
            continue
        i = column[v.period]
        judged[cat][i] += 1
        met[cat][i] += v.status is Status.MET
    trend = Trend([w.key for w in weeks], [f"{w.start:%m-%d}" for w in weeks])
    for c in cats:
        rates = [round(100.0 * m / j, 1) if j else None for m, j in zip(met[c], judged[c])]
        trend.series.append(TrendSeries(c, CATEGORIES[c], rates, met[c], judged[c]))
    return trend


@dataclass
class PostingCalendar:
    start: date
    end: date
    days: list[tuple[str, int]]        # (YYYY-MM-DD, posts) for days with posts
    total: int
    by_channel: dict[str, int]
    longest_gap: int | None            # days between consecutive posting days (or to the end),
                                       # counted from the oldest known post; None: no post known
    busiest: tuple[str, int] | None

    def as_json(self) -> dict[str, Any]:
        return {"range": [self.start.isoformat(), self.end.isoformat()], "data": self.days,
                "max": max((n for _, n in self.days), default=1)}


def posting_calendar(store: Any, unit: Unit, end: date, days: int = 365) -> PostingCalendar:
    start = end - timedelta(days=days - 1)
    lo = datetime.combine(start, datetime.min.time(), TZ)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), TZ)
    posts = store.post_facts([unit.id], lo, hi).get(unit.id, [])
    per_day: Counter[date] = Counter()
    by_channel: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for p in posts:
        if (p.channel, p.url) in seen:
            continue
        seen.add((p.channel, p.url))
        per_day[p.local_day] += 1
        by_channel[CHANNEL_LABELS.get(p.channel, p.channel)] += 1
    # A silence counts from a known post: before the unit's oldest known post nothing is known (the
    # column may be newer, or pubwatch's first read paged back only so far), so the window's start
    # is a mark only when a post older than the window exists.
    earlier = store.board.newest_posts([unit.id], before=lo)
    marks = ([start - timedelta(days=1)] if earlier else []) + sorted(per_day) + [end + timedelta(days=1)]
    gap = max(((b - a).days - 1 for a, b in zip(marks, marks[1:])), default=0) if len(marks) > 1 else None
    busiest = max(per_day.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    return PostingCalendar(start, end, [(d.isoformat(), n) for d, n in sorted(per_day.items())],
                           sum(per_day.values()), dict(by_channel), gap,
                           (busiest[0].isoformat(), busiest[1]) if busiest else None)


@dataclass
class RankingBars:
    period: str
    label: str
    categories: list[dict[str, Any]]   # {label, names, scores, rows}

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "categories": [{"label": c["label"], "names": c["names"],
                                                     "scores": c["scores"]} for c in self.categories]}


def ranking_bars(store: Any, registry: Registry, policies: Any, period: Period) -> RankingBars:
    """Scores by category for a month or quarter, best first (as `pubwatch ranking` prints them)."""
    from .ranking import ranking

    result = ranking(store, registry.units, policies, period)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in result["rows"]:
        grouped[row["category_label"]].append(row)
    cats = []
    for label, rows in grouped.items():
        rows = sorted(rows, key=lambda r: r["rank"])
        cats.append({"label": label, "names": [r["name"] for r in rows],
                     "scores": [round(float(r["score"]), 1) for r in rows], "rows": rows})
    return RankingBars(period.key, result["label"], cats)


__all__ = ["category_trend", "posting_calendar", "ranking_bars", "Trend", "PostingCalendar", "RankingBars"]
