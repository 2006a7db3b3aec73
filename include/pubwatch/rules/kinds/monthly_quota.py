"""monthly_quota: 每月至少报送N条信息, and per-column topic quotas (topic_quota:<column>)."""
from __future__ import annotations

from ...registry import COLUMN_TYPES
from ...types import Verdict
from ..engine import UNIT_SCOPE, Finding, _Facts
from ..policy import CountPolicy



class MonthlyQuotaPolicy(CountPolicy, kind="monthly_quota"):
    """≥ N posts per calendar month (per channel or both together), plus per-column topic quotas."""

    label = "月度报送数量"
    sentence = "每月至少报送规定条数的信息"
    order = 1
    rule_names = ("topic_quota",)     # topic_quota:<column>: a topic quota of this kind
    default_period = "month"
    defaults = {"min_posts": 10, "scope": "unit", "topics": []}

    @classmethod
    def label_of(cls, rule: str) -> str:
        kind, _, arg = rule.partition(":")
        return f"专题栏目报送({arg})" if kind == "topic_quota" else cls.label

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        return None if v.rule.startswith("topic_quota") else cls.sentence

    def validate(self) -> None:
        super().validate()
        if self.cfg["scope"] not in ("unit", "channel"):
            self.fail("scope", f"应为 unit (两个渠道合计) 或 channel (每个渠道): {self.cfg['scope']!r}")
        topics = self.cfg["topics"]
        if not isinstance(topics, list):
            self.fail("topics", "应为列表, 每项 {column: 栏目id或栏目类型, min_posts: N}")
        self.topics: list[tuple[str, int]] = []
        for i, t in enumerate(topics):
            if not isinstance(t, dict) or not t.get("column"):
                self.fail(f"topics[{i}].column", "缺少 column (栏目 id 或栏目类型)")
            self.topics.append((str(t["column"]), self.int_field(f"topics[{i}].min_posts", 1, t.get("min_posts", 1))))

    def findings(self, facts: _Facts) -> list[Finding]:
        unit, out = facts.unit, []
        live = [c for c in self.channels if not unit.suspended_in(c, facts.period.end) and self.sources(unit, c)]
        if self.cfg["scope"] == "unit":
            if live:
                sources = tuple(s for c in live for s in self.sources(unit, c))
                out.append(self.count_finding(facts, self.kind, UNIT_SCOPE, sources, self.min_posts))
        else:
            out += [self.count_finding(facts, self.kind, c, self.sources(unit, c), self.min_posts)
                    for c in self.channels if self.sources(unit, c)]
        for column, minimum in self.topics:
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


