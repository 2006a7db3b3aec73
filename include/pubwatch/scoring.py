"""Scores (加分/扣分), rankings by category, and post totals ("发文X篇") for circulars.

The scoring table lives in policies.yaml under `scoring`:

    scoring:
      default: {met: 0, missed: -1}          # any rule not listed
      rules:
        weekly: {met: 0.5, missed: -1}
        staleness: {missed: -1}              # a prefix: applies to staleness:news, staleness:notice…
        "topic_quota:tpgj": {met: 1}         # an exact rule name wins over its prefix

Only MET and MISSED verdicts score; UNKNOWN, EXEMPT and AT_RISK (a still-open period) score 0 —
a unit is never marked down for something we could not verify.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from pydantic import ConfigDict, Field

from .options import OptionError, Options, check_options
from .registry import CATEGORIES, Unit
from .rules import Policies, PolicyError, dedupe_posts, load_policies
from .types import CHANNEL_LABELS, CHANNELS, PostFact, Status, Verdict

SCORED = {Status.MET: "met", Status.MISSED: "missed"}


class Points(Options):
    """Points of one rule (or the default): only MET and MISSED score."""

    model_config = ConfigDict(extra="forbid", strict=True)
    met: float | None = None
    missed: float | None = None


class ScoringOptions(Options):
    """policies.yaml `scoring:` — `default` points and per-rule `rules` (exact name or prefix)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    default_points: Points = Field(Points(), alias="default")   # `default` is Options.default()
    rules: dict[str, Points] = {}


@dataclass(frozen=True)
class ScoreTable:
    default: Mapping[str, float]
    rules: Mapping[str, Mapping[str, float]]

    @classmethod
    def from_policies(cls, policies: Policies) -> ScoreTable:
        where = f"{policies.source}: scoring"
        try:
            opts = check_options(ScoringOptions, policies.scoring or {})
        except OptionError as exc:
            raise PolicyError(where, "scoring", exc.field, exc.message) from None

        def points(p: Points) -> dict[str, float]:
            return {k: float(v) for k, v in p.model_dump().items() if v is not None}

        return cls(points(opts.default_points), {str(k): points(v) for k, v in opts.rules.items()})

    def points(self, rule: str, status: Status) -> float:
        key = SCORED.get(status)
        if key is None:
            return 0.0
        for name in (rule, rule.split(":", 1)[0]):
            entry = self.rules.get(name)
            if entry is not None and key in entry:
                return entry[key]
        return self.default.get(key, 0.0)


def score_units(verdicts: Iterable[Verdict], policies: Policies | None = None) -> dict[str, float]:
    """Sum of points per unit id (units with only unscored verdicts get 0.0)."""
    table = ScoreTable.from_policies(policies or load_policies())
    scores: dict[str, float] = {}
    for v in verdicts:
        scores[v.unit_id] = scores.get(v.unit_id, 0.0) + table.points(v.rule, v.status)
    return {uid: round(scores[uid], 4) for uid in sorted(scores)}


def rank(units: Sequence[Unit], scores: Mapping[str, float], by_category: bool = True) -> list[dict[str, Any]]:
    """Rows {unit_id, name, category, category_label, score, rank}, best first.

    Ranks are within the category when `by_category` (categories in registry order: 县直部门,
    乡镇, 事业单位, 党群部门), else over all units. Equal scores share a rank ("1, 1, 3"); ties are
    listed by unit id so the order is deterministic. A unit without a score counts as 0.
    """
    order = {c: i for i, c in enumerate(CATEGORIES)}

    def group(u: Unit) -> tuple[int, str]:
        return (order.get(u.category, len(order)), u.category) if by_category else (0, "")

    rows = sorted(units, key=lambda u: (group(u), -scores.get(u.id, 0.0), u.id))
    out: list[dict[str, Any]] = []
    prev_group, prev_score, current_rank, position = None, None, 0, 0
    for u in rows:
        score = float(scores.get(u.id, 0.0))
        if group(u) != prev_group:
            prev_group, prev_score, position = group(u), None, 0
        position += 1
        if score != prev_score:
            current_rank, prev_score = position, score
        out.append({"unit_id": u.id, "name": u.name, "category": u.category,
                    "category_label": u.category_label, "score": score, "rank": current_rank})
    return out


def post_totals(posts: Iterable[PostFact], units: Sequence[Unit], start: datetime | None = None,
                end: datetime | None = None) -> dict[str, dict[str, int]]:
    """Posts per unit and channel (deduplicated like the rules do), plus "total".

    Only posts of the units' configured sources count; `start`/`end` bound `published` to
    [start, end). Every unit gets a row, zeros included.
    """
    owner = {s.id: u.id for u in units for s in u.sources}
    by_unit: dict[str, list[PostFact]] = {u.id: [] for u in units}
    for p in posts:
        uid = owner.get(p.source_id)
        if uid is None or (start and p.published < start) or (end and p.published >= end):
            continue
        by_unit[uid].append(p)
    out = {}
    for uid in sorted(by_unit):
        row = {c: len(dedupe_posts(p for p in by_unit[uid] if p.channel == c)) for c in CHANNELS}
        row["total"] = sum(row[c] for c in CHANNELS)
        out[uid] = row
    return out


def totals_text(row: Mapping[str, int]) -> str:
    """"门户网站发文12篇、微信公众号发文30篇, 共42篇" for a post_totals row."""
    parts = [f"{CHANNEL_LABELS[c]}发文{row.get(c, 0)}篇" for c in CHANNELS]
    return "、".join(parts) + f", 共{row.get('total', 0)}篇"
