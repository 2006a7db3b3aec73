"""One count of a period's results, used by every view (make run, board, circular, .xlsx, summary).

A supervisor's first question is "how many units", then "which unit and channel". Verdicts are
per unit · channel · rule, and two rules can judge the same unit and channel (weekly and staleness
both 未达标 when a column is silent): that is ONE finding, with both rules listed.

Precedence, when a unit · channel (or a unit) has several statuses:

    未达标 (missed) > 无法核实 (unknown) > 预警 (at_risk) > 进行中 (pending) > 达标 (met) > 免检 (exempt)

A proven breach of any rule makes the unit · channel 未达标; otherwise one rule that could not be
verified makes it 无法核实 (never 达标 on the strength of the other rules, never 未达标); and so on.
So a unit is counted once, under its most serious status: never both missed and unknown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .types import STATUS_LABELS, Status

PRECEDENCE: tuple[Status, ...] = (Status.MISSED, Status.UNKNOWN, Status.AT_RISK, Status.PENDING, Status.MET,
                                  Status.EXEMPT)
_RANK = {s: i for i, s in enumerate(PRECEDENCE)}


def worst(statuses: Iterable[Status | str]) -> Status | None:
    """The most serious of `statuses` by PRECEDENCE (None when there is none)."""
    found = [Status(s) for s in statuses]
    return min(found, key=_RANK.__getitem__) if found else None


@dataclass
class Finding:
    """One unit · channel in a period: its status (by precedence) and the rules that gave it.

    `members` are the verdicts (or report rows) of this unit and channel with that status, in the
    order given (the rules' order); `others` the rest of the unit · channel's verdicts."""

    unit_id: str
    channel: str
    status: Status
    members: list[Any] = field(default_factory=list)
    others: list[Any] = field(default_factory=list)

    @property
    def rules(self) -> list[str]:
        return [m.rule for m in self.members]

    @property
    def primary(self) -> Any:
        return self.members[0]


def rule_rank(rule: str) -> int:
    """A rule's place in the circular's order (its kind's `order`); last for a label or unknown rule."""
    from . import rules

    kind = rules.kind_of(str(rule))
    return kind.order if kind else 10_000


def findings(items: Iterable[Any]) -> list[Finding]:
    """Group verdicts or report rows (anything with unit_id, channel, rule, status) by unit and
    channel, first-seen order kept: one Finding each, with the status that wins by precedence."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for it in items:
        groups.setdefault((it.unit_id, it.channel), []).append(it)
    out = []
    for (unit_id, channel), members in groups.items():
        members.sort(key=lambda m: rule_rank(m.rule))       # the weekly rule first, as the circular quotes
        status = worst(m.status for m in members)
        out.append(Finding(unit_id, channel, status, [m for m in members if Status(m.status) is status],
                           [m for m in members if Status(m.status) is not status]))
    return out


@dataclass(frozen=True)
class PeriodCounts:
    """The period's numbers, computed once from its verdicts (or the circular's rows).

    units_*: units by their most serious status; items_*: unit · channel findings by status;
    verdicts: unit · channel · rule verdicts (what the detail tables list)."""

    units: dict[Status, int]
    items: dict[Status, int]
    verdicts: int

    @classmethod
    def of(cls, rows: Iterable[Any]) -> "PeriodCounts":
        rows = list(rows)
        found = findings(rows)
        items = {s: 0 for s in PRECEDENCE}
        by_unit: dict[str, list[Status]] = {}
        for f in found:
            items[f.status] += 1
            by_unit.setdefault(f.unit_id, []).append(f.status)
        units = {s: 0 for s in PRECEDENCE}
        for statuses in by_unit.values():
            units[worst(statuses)] += 1
        return cls(units, items, len(rows))

    # the numbers every view prints (the other statuses: units[Status.X], items[Status.X])
    units_total = property(lambda self: sum(self.units.values()))
    units_missed = property(lambda self: self.units[Status.MISSED])
    units_unknown = property(lambda self: self.units[Status.UNKNOWN])
    items_total = property(lambda self: sum(self.items.values()))
    items_missed = property(lambda self: self.items[Status.MISSED])
    items_unknown = property(lambda self: self.items[Status.UNKNOWN])

    def by_value(self) -> dict[str, tuple[int, int]]:
        """Status value -> (units, unit·channel items), every status present."""
        return {s.value: (self.units[s], self.items[s]) for s in PRECEDENCE}

    def unit_lines(self) -> list[tuple[str, str, int, int]]:
        """(status value, label, units, unit · channel items) for each status present, by precedence."""
        return [(s.value, STATUS_LABELS[s], self.units[s], self.items[s]) for s in PRECEDENCE
                if self.units[s] or self.items[s]]

    def headline(self, *, formal: bool = False) -> str:
        """"监测单位 15 个; 未达标单位 4 个, 涉及 5 项(单位·渠道); 无法核实单位 3 个(3 项, 不计入未达标); …"
        — every view prints this one sentence (`formal`: full-width punctuation, for notices)."""
        parts = [f"监测单位 {self.units_total} 个",
                 f"未达标单位 {self.units_missed} 个, 涉及 {self.items_missed} 项(单位·渠道)"]
        for status, label, units, items in self.unit_lines():
            if status == Status.UNKNOWN.value:
                parts.append(f"{label}单位 {units} 个({items} 项, 不计入未达标)")
            elif status != Status.MISSED.value:
                parts.append(f"{label}单位 {units} 个({items} 项)")
        text = "; ".join(parts)
        if formal:
            text = text.translate(str.maketrans({";": "；", ",": "，", "(": "（", ")": "）"})).replace("；", "；") + "。"
            text = text.replace("， ", "，").replace("； ", "；")
        return text


def merged_rule_label(labels: Sequence[str]) -> str:
    """"每周更新、栏目更新时效(动态要闻)" — each label once, in order."""
    return "、".join(dict.fromkeys(x for x in labels if x))
