"""weekly: 原则上一个星期不低于一条工作动态 — the county's core rule."""
from __future__ import annotations

from typing import Any

from ...periods import Period
from ...workdays import WorkCalendar
from ..engine import Finding, _Facts
from ..policy import CountPolicy



class WeeklyPolicy(CountPolicy, kind="weekly"):
    """The county rule: ≥ N posts per Monday–Sunday week on each channel.
    At risk from the week's reminder day (Friday, or the last working day before it)."""

    label = "每周更新"
    sentence = "原则上一个星期不低于一条工作动态"
    order = 0
    default_period = "week"

    def exempt_reason(self, period: Period, settings: dict[str, Any], calendar: WorkCalendar) -> str | None:
        if period.kind == "week" and settings["holiday_week"] == "exempt" \
                and not calendar.working_days(period.start, period.end):
            return "本周无工作日(法定节假日), 免检"
        return None

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            f = self.count_finding(facts, self.kind, channel, sources, self.min_posts)
            f.warn_is_deadline = True
            if self.warn_lead_days is None and facts.period.kind == "week":
                f.warn_from = facts.calendar.reminder_day(facts.period)
                f.evidence["reminder_day"] = f.warn_from.isoformat() if f.warn_from else None
            out.append(f)
        return out


