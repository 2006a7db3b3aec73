"""monthly_quota: 每月至少报送N条信息, and per-column topic quotas (topic_quota:<column>)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from ...options import Options
from ...registry import COLUMN_TYPES
from ...types import Verdict
from ..engine import UNIT_SCOPE, Finding, _Facts
from ..policy import MAX_POLICY_INT, CountPolicy


def _column(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise ValueError(f"应为栏目 id 或栏目类型: {value!r}")
    return str(value)


class Topic(Options):
    """One topic quota: ≥ min_posts posts in `column` (a column id, its last part, or a column type)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    column: Annotated[Any, AfterValidator(_column)] = Field(json_schema_extra={"missing": "缺少 column (栏目 id 或栏目类型)"})
    min_posts: int = Field(1, ge=1, le=MAX_POLICY_INT)



class MonthlyQuotaPolicy(CountPolicy, kind="monthly_quota"):
    """≥ N posts per calendar month (per channel or both together), plus per-column topic quotas."""

    label = "月度报送数量"
    sentence = "每月至少报送规定条数的信息"
    order = 1
    rule_names = ("topic_quota",)     # topic_quota:<column>: a topic quota of this kind
    default_period = "month"

    class Options(CountPolicy.Options):
        min_posts: int = Field(10, ge=1, le=MAX_POLICY_INT)
        scope: Literal["unit", "channel"] = "unit"          # unit: both channels together
        topics: list[Topic] = []

    @classmethod
    def label_of(cls, rule: str) -> str:
        kind, _, arg = rule.partition(":")
        return f"专题栏目报送({arg})" if kind == "topic_quota" else cls.label

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        return None if v.rule.startswith("topic_quota") else cls.sentence

    def findings(self, facts: _Facts) -> list[Finding]:
        unit, out = facts.unit, []
        live = [c for c in self.channels if not unit.suspended_in(c, facts.period.end) and self.sources(unit, c)]
        if self.options.scope == "unit":
            if live:
                sources = tuple(s for c in live for s in self.sources(unit, c))
                out.append(self.count_finding(facts, self.kind, UNIT_SCOPE, sources, self.min_posts))
        else:
            out += [self.count_finding(facts, self.kind, c, self.sources(unit, c), self.min_posts)
                    for c in self.channels if self.sources(unit, c)]
        for column, minimum in ((t.column, t.min_posts) for t in self.options.topics):
            sources = tuple(s for s in unit.sources if s.id == column or s.id.rsplit(".", 1)[-1] == column
                            or s.column_type == column)
            if not sources:
                continue
            channels = {s.channel for s in sources}
            channel = channels.pop() if len(channels) == 1 else UNIT_SCOPE
            label = sources[0].name if len(sources) == 1 else COLUMN_TYPES.get(column, column)
            f = self.count_finding(facts, f"topic_quota:{column}", channel, sources, minimum,
                                   what=f"「{label}」发文")
            out.append(f)
        return out


