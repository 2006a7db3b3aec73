"""rolling_window: 保证每10天内都能更新信息 — every day, the N days ending it hold a post."""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from typing import Any, Callable

from pydantic import Field

from ...types import Status, Verdict
from ...workdays import WorkCalendar
from ..engine import _PERIOD_WORDS, _POST_ORDER, EVIDENCE_POSTS, Breach, Finding, _day, _Facts, _midnight, _post_brief
from ..policy import MAX_POLICY_INT, SilencePolicy


def _day_word(ev: dict[str, Any]) -> str:
    return "个工作日" if ev.get("gap_unit") == "working_days" else "天"



class RollingWindowPolicy(SilencePolicy, kind="rolling_window"):
    """保证每10天内都能更新信息: for every day of the period, the `days` days (or working days)
    ending that day hold ≥ min_posts posts — no 10 consecutive silent days, wherever they fall
    relative to Sundays or month ends. A breached day belongs to the period it is in (a silence
    breaking the rule on days of two weeks breaks it in both). Proof: reads covering the window
    of one breached day, which may begin before the period's Monday."""

    label = "连续未更新天数"
    sentence = "保证每{n}内都能更新信息"        # every day: the {n} ending it hold a post
    order = 2
    default_period = "week"

    class Options(SilencePolicy.Options):
        min_posts: int = Field(1, ge=1, le=MAX_POLICY_INT)
        days: int = Field(10, ge=1, le=366)
        working_days: bool = False                      # count working days instead of calendar days
        lead_limit = ("days", "窗口天数")

    def __init__(self, name: str, cfg: dict[str, Any], where: str):
        super().__init__(name, cfg, where)
        self.min_posts, self.days = self.options.min_posts, self.options.days
        self._starts: dict[tuple[int, date], date] = {}

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        ev = v.evidence or {}
        return cls.sentence.format(n=f"{ev.get('days', '')}{_day_word(ev)}")

    @classmethod
    def ask(cls, v: Verdict, word: str) -> str:
        ev = v.evidence or {}
        n, unit = ev.get("days", "规定"), _day_word(ev)
        ask = f"保证每{n}{unit}内都能更新信息（任意连续{n}{unit}不得无更新）"
        if v.status is Status.AT_RISK:
            return f"{ask}，{word}即将出现连续{n}{unit}未更新"
        days = ev.get("days_out_of_compliance")
        return f"{ask}，{word}出现连续{n}{unit}未更新" + (f"（共{days}天超期）" if days else "")

    def lookback(self, settings: dict[str, Any], windowed_only: bool = False) -> int:
        window = self.days * 2 + 31 if self.options.working_days else self.days + 1
        return max(super().lookback(settings, windowed_only), window)

    def window_start(self, end_day: date, calendar: WorkCalendar) -> date:
        """First day of the window whose last day is `end_day`."""
        if not self.options.working_days:
            return end_day - timedelta(days=self.days - 1)
        key = (id(calendar), end_day)
        found = self._starts.get(key)
        if found is None:
            found = self._starts[key] = calendar.add_working_days(end_day + timedelta(days=1), -self.days)
        return found

    def _reach(self, calendar: WorkCalendar) -> Callable[[datetime], datetime]:
        """For the midnight ending a breached day: the midnight starting that day's window."""
        return lambda e: _midnight(self.window_start(_day(e) - timedelta(days=1), calendar))

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        period, cal, cp = facts.period, facts.calendar, facts.check_point
        joined = facts.unit.start_date
        word = _PERIOD_WORDS[period.kind]
        n, k = self.days, self.min_posts
        unit_word = "个工作日" if self.options.working_days else "天"
        one_day = timedelta(days=1)
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            posts = self.channel_posts(facts, channel, sources)
            days = [p.local_day for p in posts]
            runs: list[list[date]] = []
            worst, d = None, period.start
            while d <= period.end:
                ws = self.window_start(d, cal)
                if joined is None or ws >= joined:      # a new unit: no window reaching before it joined
                    count = bisect_right(days, d) - bisect_left(days, ws)
                    worst = count if worst is None else min(worst, count)
                    if count < k:
                        if runs and runs[-1][1] == d - one_day:
                            runs[-1][1] = d
                        else:
                            runs.append([d, d])
                d += one_day
            reach = self._reach(cal)
            breaches = []
            for first, last in runs:
                i = bisect_left(days, first)
                since = days[i - 1] if i else None
                breaches.append(Breach(sources, _midnight(first + one_day), _midnight(last + one_day), reach,
                                       deadline=first, due=_midnight(first + one_day), day_based=True, since=since))
            out_days = sum(1 for b in breaches for i in range((b.hi - b.lo).days + 1)
                           if b.lo + timedelta(days=i) <= cp)
            ws_end = self.window_start(period.end, cal)
            in_window = [p for p in posts if ws_end <= p.local_day]
            evidence: dict[str, Any] = {"window": [ws_end.isoformat(), period.end.isoformat()],
                                        "posts": [_post_brief(p) for p in sorted(in_window, key=_POST_ORDER,
                                                                                 reverse=True)[:EVIDENCE_POSTS]],
                                        "days": n, "gap_unit": "working_days" if self.options.working_days else "days",
                                        "days_out_of_compliance": out_days}
            suspicious = [p for p in in_window if p.date_suspicious]
            if suspicious:
                evidence["suspicious_posts"] = [_post_brief(p) for p in suspicious[:EVIDENCE_POSTS]]
            if posts:
                evidence["last_update"] = posts[-1].local_time.isoformat()
            if runs:
                evidence["breach_days"] = [[a.isoformat(), b.isoformat()] for a, b in runs]
            done = [b for b in breaches if b.happened(cp)]
            if done:
                first = done[0].deadline
                last = min(_day(done[0].hi), _day(cp)) - one_day        # the breached days already over
                span = f"{first:%m月%d日}" if first == last else f"{first:%m月%d日}至{last:%m月%d日}"
                since = done[0].since
                before = f"{since:%m月%d日}后未更新" if since is not None else "此前无更新记录"
                if k == 1:
                    fact = (f"{self.window_start(first, cal):%m月%d日}至{first:%m月%d日}连续{n}{unit_word}未更新"
                            f"({before}; {span}往前{n}{unit_word}内均无更新)")
                else:
                    fact = f"{span}往前{n}{unit_word}内发文不足{k}篇"
            elif breaches:
                fact = f"最后更新 {days[-1]:%m月%d日}" if days else "无更新记录"
            else:
                fact = f"{word}每一天往前{n}{unit_word}内均有更新" if k == 1 else \
                    f"{word}每一天往前{n}{unit_word}内均至少发文{k}篇"
            out.append(Finding(self.kind, channel, self.subject(facts.unit, channel), fact,
                               k if worst is None else worst, k, not breaches, sources, evidence,
                               deadline=period.end, breaches=breaches, warn_lead=self.warn_lead_days,
                               warn_text=f"将出现连续{n}{unit_word}未更新"))
        return out


