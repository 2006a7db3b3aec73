"""deadline: a document published by a date each year — e.g. the 政府信息公开工作年度报告 by
31 January (departments) or 31 March (the county government), 条例 (2019) art. 49-50.

The reading pubwatch applies: the deadline of year Y is met once a post whose title matches
`title_pattern` (and not `exclude_pattern`) appears in the policy's columns (the portal by default;
`columns` / `column_types` narrow it) dated within [`from`, `due`] of Y — by default 1 January to
the due day, both included: a report of year Y-1 published in year Y on or before its due day. A
post after the due day is listed as published late and does not meet it. It is missed (未达标) only
once the due day is over and reads prove the absence: every source had a successful read vouching
for the whole due day (a read on a later day) whose listing reached back to `from` — then at once,
even in a period still open (a breach is final). Reads that do not prove it: 无法核实, never missed.
预警 from `warn_lead_days` (default 10) before the due day, if the silence so far is verified.

The verdict is judged in the period that contains the due day: by default the year (verdict period
"2027", rule "deadline:<policy name>"); with `period: month` in the month of the due day
("2027-01"), which the weekly job evaluates while it is open. A unit that joined during the
period is exempt in it (a deadline cannot be prorated).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from ...types import CHANNELS, PORTAL, UTC, PostFact, Status, Verdict
from ..engine import EVIDENCE_POSTS, UNIT_SCOPE, Breach, Finding, _Facts, _midnight, _post_brief
from ..policy import MAX_POLICY_INT, Policy, PolicyOptions

_DOCUMENTS = {"annual_report": "政府信息公开工作年度报告"}   # labels of the shipped policy names
_SPACE = re.compile(r"\s+")


def _month_day(value: Any) -> tuple[int, int]:
    """"01-31" -> (1, 31); ValueError otherwise (29 February is not a yearly date)."""
    text = str(value).strip()
    m, _, d = text.partition("-")
    try:
        if not (m.isdigit() and d.isdigit()):
            raise ValueError(value)
        date(2001, int(m), int(d))
    except ValueError:
        raise ValueError(f"应为 月-日, 如 01-31: {value!r}") from None
    return int(m), int(d)


def _pattern(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"应为正则表达式或关键词(以 | 分隔): {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"正则表达式有误 ({exc}): {value!r}") from None


def _document(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"应为文件名称, 如 政府信息公开工作年度报告: {value!r}")
    return value


MonthDay = Annotated[Any, AfterValidator(_month_day)]      # "01-31" -> (1, 31)
Pattern = Annotated[Any, AfterValidator(_pattern)]         # compiled


def _at(value: datetime, _moment: datetime) -> datetime:
    return value


class DeadlinePolicy(Policy, kind="deadline"):
    """A post matching `title_pattern` by `due` (MM-DD) each year, counted from `from` (MM-DD)."""

    label = "按期公开"
    sentence = "{document}应于每年{due}前向社会公布"
    order = 5
    default_period = "year"
    can_prorate = False
    judged_at_period_end = False

    class Options(PolicyOptions):
        document: Annotated[Any, AfterValidator(_document)] = "政府信息公开工作年度报告"
        title_pattern: Pattern = "政府信息公开工作年度报告"
        exclude_pattern: Pattern | None = "通知|编制|报送|培训|解读|督查|考核|征集|会议"
        due: MonthDay = "01-31"
        from_: MonthDay = Field("01-01", alias="from")
        channels: list[Literal[CHANNELS]] | None = [PORTAL]
        warn_lead_days: int | None = Field(10, ge=0, le=MAX_POLICY_INT)

    def __init__(self, name: str, cfg: dict[str, Any], where: str):
        super().__init__(name, cfg, where)
        o = self.options
        self.due, self.start, self.title_re, self.exclude_re = o.due, o.from_, o.title_pattern, o.exclude_pattern

    # ----- what it says about its verdicts ----------------------------------------------
    @classmethod
    def label_of(cls, rule: str) -> str:
        name = rule.partition(":")[2]
        doc = _DOCUMENTS.get(name)
        return f"{doc}{cls.label}" if doc else f"{cls.label}({name})" if name else cls.label

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        ev = v.evidence or {}
        try:
            due = date.fromisoformat(ev["due"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls.sentence.format(document=ev.get("document") or "规定文件", due=f"{due.month}月{due.day}日")

    @classmethod
    def ask(cls, v: Verdict, word: str) -> str:
        ev = v.evidence or {}
        doc, due = ev.get("document") or "规定文件", ev.get("due", "")
        try:
            when = f"{date.fromisoformat(due):%Y年%m月%d日}"
        except ValueError:
            when = "规定日期"
        ask = f"{doc}应于{when}前向社会公布"
        late = ev.get("late_posts") or []
        if late:
            return f"{ask}，{word}于{str(late[0].get('published', ''))[:10]}逾期公布"
        if v.status in (Status.AT_RISK, Status.PENDING):
            return f"{ask}，{word}尚未公布"
        return f"{ask}，{word}逾期未公布"

    def lookback(self, settings: dict[str, Any], windowed_only: bool = False) -> int:
        """The window [from, due] may begin before the period (a month period, or `from` in the
        year before); within a year period it does not. No `history_days`: no last post needed."""
        span = (date(2001, *self.due) - date(2001, *self.start)).days
        if self.period_kind == "year" and span >= 0:
            return 0
        return span % 365 + 1

    # ----- options ------------------------------------------------------------------------
    def matches(self, title: str) -> bool:
        text = _SPACE.sub("", title or "")
        return bool(self.title_re.search(text)) and not (self.exclude_re and self.exclude_re.search(text))

    # ----- findings ------------------------------------------------------------------------
    def findings(self, facts: _Facts) -> list[Finding]:
        period, unit = facts.period, facts.unit
        channel = self.channels[0] if len(self.channels) == 1 else UNIT_SCOPE
        sources = tuple(s for c in self.channels for s in self.sources(unit, c))
        if not sources:
            return []
        out = []
        for year in range(period.start.year, period.end.year + 1):
            due = date(year, *self.due)
            if period.start <= due <= period.end:
                start = date(year, *self.start)
                if start > due:
                    start = date(year - 1, *self.start)
                out.append(self.finding(facts, channel, sources, start, due))
        return out

    def finding(self, facts: _Facts, channel: str, sources: tuple, start: date, due: date) -> Finding:
        doc = self.options.document
        counted, suspicious = self.counted(facts, sources, None if channel == UNIT_SCOPE else channel,
                                           _midnight(start), facts.check_point)
        over = _midnight(due + timedelta(days=1))
        matching = [p for p in counted if self.matches(p.title)]
        in_time = [p for p in matching if p.published.astimezone(UTC) < over]
        late = [p for p in matching if p.published.astimezone(UTC) >= over]
        evidence: dict[str, Any] = {"document": doc, "due": due.isoformat(),
                                    "window": [start.isoformat(), due.isoformat()],
                                    "posts": [_post_brief(p) for p in in_time[:EVIDENCE_POSTS]]}
        if late:
            evidence["late_posts"] = [_post_brief(p) for p in late[:EVIDENCE_POSTS]]
        shown: PostFact | None = in_time[0] if in_time else late[0] if late else None
        if shown is not None:
            evidence["last_post"] = {"title": shown.title, "url": shown.url, "published": shown.local_day.isoformat()}
        flagged = [p for p in suspicious if self.matches(p.title)]
        if flagged:
            evidence["suspicious_posts"] = [_post_brief(p) for p in flagged[:EVIDENCE_POSTS]]
        if in_time:
            fact = f"已于{in_time[0].local_day:%Y年%m月%d日}公布{doc}(「{in_time[0].title}」)"
        elif late:
            fact = f"{due:%Y年%m月%d日}前未公布{doc}({late[0].local_day:%m月%d日}逾期公布「{late[0].title}」)"
        elif facts.check_point >= over:
            fact = f"{due:%Y年%m月%d日}前未公布{doc}"
        else:
            fact = f"尚未公布{doc}(应于{due:%Y年%m月%d日}前公布)"
        breach = Breach(sources, over, over, partial(_at, _midnight(start)), deadline=due, due=over, day_based=True)
        return Finding(f"{self.kind}:{self.name}", channel, self.subject(facts.unit, channel), fact,
                       len(in_time), 1, bool(in_time), sources, evidence, deadline=due,
                       breaches=[breach], warn_lead=self.warn_lead_days, warn_text=f"逾期未公布{doc}")
