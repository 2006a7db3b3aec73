"""max_gap: 更新间隔时间不得超过14天 — one longer silence is one breach, counted once."""
from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import Field

from ...periods import Period
from ...types import Status, Verdict
from ...workdays import WorkCalendar
from ..engine import EVIDENCE_POSTS, Breach, Finding, _day, _Facts, _gap_stats, _midnight
from ..policy import SilencePolicy


def _day_word(ev: dict[str, Any]) -> str:
    return "个工作日" if ev.get("gap_unit") == "working_days" else "天"



class MaxGapPolicy(SilencePolicy, kind="max_gap"):
    """更新间隔时间不得超过14天: never more than `max_days` days (or working days) between two
    consecutive posts. One silence longer than that is one breach, counted once: in the period in
    which the limit is crossed — the end of the last day on which a post was still in time (last
    post + max_days) — never in two periods; a silence that crossed it earlier is not counted again
    in the periods it runs on into. The last post before the period is the silence's left edge;
    without any post in `history_days` the silence started before what we know, so its crossing
    falls before the period. Proof: reads covering the silence from the day after its last post."""

    label = "最长更新间隔"
    sentence = "更新间隔时间不得超过{n}"                 # one longer silence = one breach, counted once
    order = 4
    default_period = "month"

    class Options(SilencePolicy.Options):
        max_days: int = Field(14, ge=1, le=366)
        working_days: bool = False                      # count working days instead of calendar days
        lead_limit = ("max_days", "最长间隔")

    @property
    def max_days(self) -> int:
        return self.options.max_days

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        return cls.sentence.format(n=f"{v.required}{_day_word(v.evidence or {})}")

    @classmethod
    def ask(cls, v: Verdict, word: str) -> str:
        ev = v.evidence or {}
        unit = _day_word(ev)
        ask = f"更新间隔时间不得超过{v.required}{unit}"
        if v.status is Status.AT_RISK:
            return f"{ask}，{word}距最后一次更新即将超过{v.required}{unit}"
        return f"{ask}，{word}最长间隔{ev.get('longest_gap_days', '?')}{unit}"

    def lookback(self, settings: dict[str, Any], windowed_only: bool = False) -> int:
        window = self.max_days * (2 if self.options.working_days else 1) + 31 + 31
        return max(super().lookback(settings, windowed_only), window)

    def last_allowed(self, last_post: date, calendar: WorkCalendar) -> date:
        """The last day a post after `last_post` keeps the gap within the limit."""
        if not self.options.working_days:
            return last_post + timedelta(days=self.max_days)
        return calendar.add_working_days(last_post, self.max_days + 1) - timedelta(days=1)

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        working, cal, period, cp = self.options.working_days, facts.calendar, facts.period, facts.check_point
        today = _day(cp) if facts.is_open else period.end
        unit_word = "个工作日" if working else "天"
        one_day = timedelta(days=1)
        joined = facts.unit.start_date
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            posts = self.channel_posts(facts, channel, sources)
            days = sorted({p.local_day for p in posts})
            i = bisect_left(days, period.start)
            left = days[i - 1] if i else None
            virtual = joined is not None and (left is None or left < joined - one_day)
            if virtual:                        # a new unit's silence counts from its joining day
                left = joined - one_day
            unknown_start = left is None
            if unknown_start:                  # no post in history_days: it began before what we know
                left = period.start - timedelta(days=int(facts.settings["history_days"]) + 1)
            inside = days[i:]
            breaches, earlier, out_days = [], [], 0
            for a, b in zip([left] + inside, inside + [None]):
                ok_until = self.last_allowed(a, cal)
                if b is not None and b <= ok_until:
                    continue
                if period.start <= ok_until <= period.end:
                    breaches.append(Breach(sources, _midnight(ok_until + one_day), _midnight(ok_until + one_day),
                                           partial(_const, _midnight(a + one_day)), deadline=ok_until,
                                           due=_midnight(ok_until + one_day), day_based=True,
                                           since=None if unknown_start and a == left else a))
                elif ok_until < period.start:
                    earlier.append((a, ok_until))
                if unknown_start and a == left:     # days out counted from the period start only
                    ok_until = self.last_allowed(period.start - one_day, cal)
                first_out, last_out = max(ok_until + one_day, period.start), min(b or today, today)
                if last_out >= first_out:
                    out_days += (last_out - first_out).days + 1
            stats_left = period.start - one_day if unknown_start else left
            longest_so_far = _gap_stats(inside, stats_left, today, cal, working, self.max_days)[0]
            evidence: dict[str, Any] = {"longest_gap_days": longest_so_far, "days_out_of_compliance": out_days,
                                        "left_edge": stats_left.isoformat(),
                                        "gap_unit": "working_days" if working else "days",
                                        "post_days": [d.isoformat() for d in inside[-EVIDENCE_POSTS:]]}
            if unknown_start:
                evidence["no_earlier_post"] = True
            if virtual:
                evidence["counted_from"] = joined.isoformat()
            if posts:
                evidence["last_update"] = posts[-1].local_time.isoformat()
            parts = [f"最长更新间隔{longest_so_far}{unit_word}(要求不超过{self.max_days}{unit_word})"]
            done = [b for b in breaches if b.happened(cp)]
            if done:
                parts += [self._since_text(b.since, joined if virtual else None) +
                          f"未更新, {b.deadline:%m月%d日}后间隔超过{self.max_days}{unit_word}" for b in done[:3]]
            elif breaches:
                parts.append(self._since_text(breaches[0].since, joined if virtual else None) + "未更新")
            for a, ok_until in earlier:
                if unknown_start and a == left:     # began before what we know: nothing to say
                    continue
                key = Period.of(period.kind, ok_until).key
                evidence.setdefault("counted_earlier", []).append(
                    {"since": a.isoformat(), "crossed": ok_until.isoformat(), "period": key})
                parts.append(self._since_text(a, joined if virtual else None)
                             + f"未更新的间隔已于{ok_until:%m月%d日}({key})超过{self.max_days}{unit_word}, 不在本期重复计算")
            out.append(Finding(self.kind, channel, self.subject(facts.unit, channel), "; ".join(parts),
                               longest_so_far, self.max_days, not breaches, sources, evidence,
                               deadline=period.end, breaches=breaches, warn_lead=self.warn_lead_days,
                               warn_text=f"更新间隔将超过{self.max_days}{unit_word}"))
        return out

    @staticmethod
    def _since_text(since: date | None, joined: date | None) -> str:
        if since is None:
            return "长期"
        if joined is not None and since == joined - timedelta(days=1):
            return f"自{joined:%m月%d日}纳入监管以来"
        return f"自{since:%m月%d日}(最后更新)后"


def _const(value: datetime, _moment: datetime) -> datetime:
    return value


