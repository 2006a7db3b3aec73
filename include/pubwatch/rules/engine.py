"""The engine: facts, verification, proof and judging — posts + crawl attempts -> one Verdict per
unit x channel x period x rule.

Pure functions, no database, no Airflow. `evaluate.py` passes the posts published in
`post_window(period)` and the attempts started in `attempt_window(period, as_of)`. What a rule
*finds* is each kind's business (`rules/kinds/<kind>.py`, one class per kind, see `policy.Policy`);
this module turns findings into statuses with the same honesty rules for every kind.

Count rules (weekly, monthly_quota), judged by `_judge`:
  * requirement met by the posts we have            -> MET (even if some fetches failed)
  * not met, and every relevant source verified     -> MISSED (closed period) / AT_RISK (open,
                                                       within the warning lead)
  * not met, and some relevant source not verified  -> UNKNOWN, naming the source and its failure
A source is verified for a closed period when it had an OK/NOT_MODIFIED attempt at or after the
period end (and, for feeds reporting `source_updated`, that time is at/after the period end); for
a still-open period, within `freshness_hours` before `as_of`; either way its listing must reach
back to the period start (`AttemptFact.covered_from`).

Breach rules (staleness, rolling_window, max_gap, deadline), each with one reading of its
circular's text (see each class): they find the `Breach`es of the period — silences that break the
rule in it. A breach is final: proven (`_prove`: every source's reads vouch up to a moment of it
and reach back over the whole stretch the rule judges, days before the period start included) it
is MISSED at once, even in an open period; not proven in a closed period it is UNKNOWN; in an open
period before it happens, AT_RISK from `warn_lead_days` (default 3) before the last day to post,
else PENDING — provided the silence so far is verified (`_judge_silence`).

All kinds are monotone: more posts can only help. So for a still-open period a policy is
evaluated as if no further post arrived before the deadline; if that is already enough, it is MET.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from ..periods import Period
from ..registry import SourceConfig, Unit
from ..types import (CHANNEL_LABELS, CHANNELS, OUTCOME_LABELS, PORTAL, TZ, UTC, AttemptFact,
                     PostFact, Status, Verdict)
from ..workdays import WorkCalendar

if TYPE_CHECKING:
    from .policy import Policies, Policy

_POST_ORDER = attrgetter("published", "url")
_PUBLISHED = attrgetter("published")
_FIRST = itemgetter(0)
_POST_AND_SOURCE_ORDER = attrgetter("published", "url", "source_id")
_ATTEMPT_ORDER = attrgetter("started_at", "outcome")       # Outcome is a str enum: ordered by its value
_VERDICT_ORDER = attrgetter("channel", "rule")
UNIT_SCOPE = "unit"                      # Verdict.channel for rules over both channels together
EVIDENCE_POSTS = 5
_PERIOD_WORDS = {"week": "本周", "month": "本月", "quarter": "本季度", "year": "本年度"}


# ============================================================================ unit facts
@dataclass
class _Facts:
    """One unit's posts and attempts, grouped once and shared by every policy."""

    unit: Unit
    period: Period
    as_of: datetime
    settings: dict[str, Any]
    calendar: WorkCalendar
    posts: dict[str, list[PostFact]]          # source id -> posts, oldest first
    channel_posts: dict[str, list[PostFact]]  # channel -> deduplicated posts, oldest first
    attempts: dict[str, list[AttemptFact]]    # source id -> attempts, oldest first
    is_open: bool = False                     # as_of is before the period's end
    check_point: datetime | None = None       # min(as_of, period end): posts after it are ignored
    start: datetime | None = None             # the period's start
    end: datetime | None = None               # the period's end (the midnight after its last day)
    # All in UTC, like stored times: comparing datetimes of one tzinfo skips utcoffset() calls.

    def __post_init__(self) -> None:
        self.is_open = self.as_of < self.period.end_dt
        self.check_point = min(self.as_of, self.period.end_dt).astimezone(UTC)
        self.start = self.period.start_dt.astimezone(UTC)
        self.end = self.period.end_dt.astimezone(UTC)
        self.check_day = _day(self.check_point - timedelta(microseconds=1))   # the last day judged
        self._reads: dict[str, list[tuple[datetime, datetime | None]]] = {}

    def reads(self, source_id: str) -> list[tuple[datetime, datetime | None]]:
        """(vouched up to, covered from) of the source's successful reads, latest-vouching first."""
        found = self._reads.get(source_id)
        if found is None:
            found = [(_vouched(a), a.covered_from) for a in self.attempts.get(source_id, ()) if a.outcome.verified]
            if len(found) > 1:
                found.sort(key=_FIRST, reverse=True)
            self._reads[source_id] = found
        return found

    def last_post(self, sources: Iterable[SourceConfig], count_suspicious: bool = True) -> PostFact | None:
        """The newest post of `sources` published before the check point."""
        best = None
        for src in sources:
            for p in reversed(self.posts.get(src.id, ())):
                if p.published < self.check_point and (count_suspicious or not p.date_suspicious):
                    if best is None or (p.published, p.url) > (best.published, best.url):
                        best = p
                    break
        return best


from ..posts import dedupe_posts  # noqa: E402  (shared with the store: pubwatch/posts.py)

def _facts(unit: Unit, period: Period, posts: Sequence[PostFact], attempts: Sequence[AttemptFact],
           as_of: datetime, settings: dict[str, Any], calendar: WorkCalendar) -> _Facts:
    by_source: dict[str, list[PostFact]] = {}
    for p in posts:
        by_source.setdefault(p.source_id, []).append(p)
    for lst in by_source.values():
        lst.sort(key=_POST_ORDER)
    by_channel = {c: dedupe_posts(p for p in posts if p.channel == c) for c in CHANNELS}
    by_att: dict[str, list[AttemptFact]] = {}
    for a in attempts:
        by_att.setdefault(a.source_id, []).append(a)
    for lst in by_att.values():
        lst.sort(key=_ATTEMPT_ORDER)
    return _Facts(unit, period, as_of, settings, calendar, by_source, by_channel, by_att)


def _source_label(src: SourceConfig) -> str:
    if src.channel == PORTAL:
        return f"门户网站「{src.name}」栏目"
    kind = src.id.rsplit(".", 1)[-1]
    return f"微信公众号「{src.name}」数据源 {kind}"


def _fmt(dt: datetime) -> str:
    return dt.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=8192)
def _midnight(d: date) -> datetime:
    """The local (Asia/Shanghai) midnight that starts day `d`, in UTC."""
    return datetime.combine(d, time.min, tzinfo=TZ).astimezone(UTC)


_CST = timedelta(hours=8)                 # Asia/Shanghai: UTC+8 without daylight saving since 1991


def _day(t: datetime) -> date:
    """The local (Asia/Shanghai) day of `t` (stored times are UTC: a fixed offset, no zone lookup)."""
    if t.tzinfo is UTC and t.year > 1991:
        return (t + _CST).date()
    return t.astimezone(TZ).date()


def _vouched(a: AttemptFact) -> datetime:
    """Up to when a successful read vouches that it saw every post: the start of the local day it
    ran on (a post dated that day may still appear later that day), or the feed's own update time
    if that is earlier (a bridge lists only what it had fetched by then)."""
    t = _midnight(_day(a.started_at))
    if a.source_updated is not None and a.source_updated < t:
        return a.source_updated
    return t


def _failed_summary(facts: _Facts, sources: Sequence[SourceConfig]) -> dict[str, Any]:
    """The failed attempts of `sources` in the attempt window: count, per outcome, the last one."""
    failed: dict[str, Any] = {"count": 0, "by_outcome": {}, "last": None}
    last_at = None
    for src in sources:
        for a in facts.attempts.get(src.id, ()):
            if a.outcome.verified:
                continue
            failed["count"] += 1
            failed["by_outcome"][a.outcome.value] = failed["by_outcome"].get(a.outcome.value, 0) + 1
            if last_at is None or a.started_at >= last_at:
                last_at = a.started_at
                failed["last"] = {"source": src.id, "outcome": a.outcome.value, "message": a.message,
                                  "at": a.started_at.isoformat()}
    return failed


def _failure_text(label: str, a: AttemptFact, word: str = "") -> str:
    detail = f": {a.message}" if a.message else ""
    return f"{label}{word}抓取失败: {OUTCOME_LABELS[a.outcome]}{detail} ({_fmt(a.started_at)})"


def _verification(facts: _Facts, sources: Sequence[SourceConfig],
                  reach: datetime | dict[str, datetime] | None = None) -> tuple[bool, list[str], dict[str, Any]]:
    """Whether every source is verified for the period; Chinese problems; failed-attempt summary.

    Verified: a successful read at/after the period end (an open period: within `freshness_hours`
    before `as_of`) whose listing reached back to `reach` — the start of the stretch the finding
    judges (default: the period start; per source id when a mapping)."""
    cutoff = (facts.period.end_dt if not facts.is_open else facts.as_of - timedelta(
        hours=facts.settings["freshness_hours"])).astimezone(UTC)
    word = _PERIOD_WORDS[facts.period.kind]
    problems: list[str] = []
    for src in sources:
        need = facts.start if reach is None else reach.get(src.id, facts.start) if isinstance(reach, dict) else reach
        span = word if need == facts.start else f"{_fmt(need)}起的期间"
        atts = facts.attempts.get(src.id, [])
        good = [a for a in atts if a.outcome.verified and a.started_at >= cutoff]
        # A listing proves "no post" only as far back as it reached (crawls chain their coverage).
        reaching = [a for a in good if a.covered_from is not None and a.covered_from <= need]
        fresh = [a for a in reaching if a.source_updated is None or a.source_updated >= cutoff]
        if fresh:
            continue
        bad = [a for a in atts if not a.outcome.verified]
        label = _source_label(src)
        if good and not reaching:
            reaches = [a.covered_from for a in good if a.covered_from is not None]
            if reaches:
                problems.append(f"{label}的列表只回溯到 {_fmt(min(reaches))}, 未覆盖{span}, 无法确认是否发文")
            else:
                problems.append(f"{label}的抓取记录未记录列表回溯范围(升级前的记录), 无法确认{span}是否发文")
        elif good:
            last = max(a.source_updated for a in good if a.source_updated is not None)
            problems.append(f"等待{label}更新 (数据源最后更新于 {_fmt(last)}, 需晚于 {_fmt(cutoff)})")
        elif bad:
            problems.append(_failure_text(label, bad[-1], word))
        else:
            problems.append(f"{label}在 {_fmt(cutoff)} 之后尚无成功抓取")
    return not problems, problems, _failed_summary(facts, sources)


@dataclass(slots=True)
class Breach:
    """One silence that breaks a rule inside the period (or, in an open period, will break it if
    nothing more is posted). It is a fact at any moment `e` in (lo, hi] — [lo, hi] for a day rule,
    whose `e` are local midnights ending a breached day — once reads cover [reach(e), e]: every
    source had a successful read vouching up to `e` (`_vouched`) whose listing reached back to
    `reach(e)`. The latest provable `e` asks the least coverage; any one proven `e` proves it."""

    sources: tuple[SourceConfig, ...]
    lo: datetime                              # UTC
    hi: datetime                              # UTC
    reach: Callable[[datetime], datetime]     # e -> the start of the stretch reads must cover
    deadline: date | None                     # the last day a post would have prevented it
    due: datetime | None = None               # the moment it became (becomes) a fact, if known
    day_based: bool = False
    label: str = ""                           # the column (portal staleness), for the reason
    since: date | None = None                 # the last post before the silence (None: none known)

    def point(self, vouched: datetime) -> datetime | None:
        """The latest moment of the breach a read vouching up to `vouched` can prove, or None."""
        e = self.hi if vouched >= self.hi else vouched
        if self.day_based:
            e = _midnight(_day(e))
            return e if e >= self.lo else None
        return e if e > self.lo else None

    def happened(self, moment: datetime) -> bool:
        """Whether, going by the posts we have, the breach is already a fact at `moment`."""
        return self.lo <= moment if self.day_based else self.lo < moment

    def clamp(self, moment: datetime) -> datetime:
        """`moment` moved into the breach's span (for the stretch a not-yet-proven breach needs)."""
        e = min(max(moment, self.lo), self.hi)
        return max(_midnight(_day(e)), self.lo) if self.day_based else e

    def brief(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.lo.astimezone(TZ).isoformat(), "until": self.hi.astimezone(TZ).isoformat()}
        if self.label:
            out["column"] = self.label
        if self.since is not None:
            out["last_post"] = self.since.isoformat()
        if self.deadline is not None:
            out["deadline"] = self.deadline.isoformat()
        return out


def _prove(facts: _Facts, b: Breach) -> tuple[bool, list[str]]:
    """Whether successful reads of every source of `b` cover one moment of it (see `Breach`);
    else the Chinese problems, one per source that falls short, naming it."""
    vouched = {s.id: facts.reads(s.id) for s in b.sources}

    def proves(e: datetime) -> bool:
        need = b.reach(e)
        return all(any(v >= e and c is not None and c <= need for v, c in vouched[s.id]) for s in b.sources)

    tried = None
    if all(vouched.values()):            # first the moment every source's latest read reaches
        tried = b.point(min(reads[0][0] for reads in vouched.values()))
        if tried is not None and proves(tried):
            return True, []
    if any(c is not None for vs in vouched.values() for _, c in vs):   # else no read proves anything
        points = {b.point(v) for vs in vouched.values() for v, _ in vs}
        points.discard(None)
        points.discard(tried)
        if any(proves(e) for e in sorted(points, reverse=True)):
            return True, []
    goods = {s.id: [a for a in facts.attempts.get(s.id, ()) if a.outcome.verified] for s in b.sources}
    problems = []
    for src in b.sources:
        label = _source_label(src)
        usable = [(b.point(v), c) for v, c in vouched[src.id] if b.point(v) is not None]
        if usable:
            e = max(e for e, _ in usable)
            need = b.reach(e)
            covered = [c for _, c in usable if c is not None]
            if not covered:
                problems.append(f"{label}的抓取记录未记录列表回溯范围(升级前的记录), 无法确认 {_fmt(need)} 起是否发文")
            elif min(covered) > need:
                problems.append(f"{label}的列表只回溯到 {_fmt(min(covered))}, 未覆盖 {_fmt(need)} 起的未更新期间, "
                                f"无法确认其间是否发文")
            else:
                problems.append(f"{label}与同一账号的其他数据源的列表未能共同覆盖 {_fmt(need)} 起的未更新期间")
            continue
        late = [a for a in goods[src.id] if a.started_at > b.lo]
        bad = [a for a in facts.attempts.get(src.id, ()) if not a.outcome.verified and a.started_at > b.lo]
        if late and any(a.source_updated is not None for a in late):
            last = max(a.source_updated for a in late if a.source_updated is not None)
            problems.append(f"等待{label}更新 (数据源最后更新于 {_fmt(last)}, 需晚于 {_fmt(b.lo)})")
        elif bad:
            problems.append(_failure_text(label, bad[-1]))
        else:
            problems.append(f"{label}在 {_fmt(b.lo)} 所在日之后尚无成功抓取")
    return False, problems


# ============================================================================ findings
@dataclass
class Finding:
    """What one policy found for one channel (before the honesty rule turns it into a status)."""

    rule: str
    channel: str
    subject: str                      # "门户网站", "微信公众号「xx」", "门户网站通知公告类栏目"
    fact: str                         # "本周发文0篇(要求至少1篇)"
    count: int
    required: int
    satisfied: bool                   # met with the posts we have, evaluated at the deadline
    sources: tuple[SourceConfig, ...]  # whose verification decides missed vs unknown
    evidence: dict[str, Any] = field(default_factory=dict)
    warn_from: date | None = None     # open period: at_risk from this day on (count rules)
    deadline: date | None = None
    # Silence rules (staleness, rolling_window, max_gap): the breaches in the period (None: a count
    # rule, judged by `_verification` over the period), the warning lead in days (None: no 预警)
    # and what happens if the unit does not post ("超过14天未更新").
    breaches: list[Breach] | None = None
    warn_lead: int | None = None
    warn_text: str = ""
    warn_is_deadline: bool = False   # a count rule's 预警 names `warn_from` as its deadline (weekly)


def _post_brief(p: PostFact) -> dict[str, Any]:
    out = {"title": p.title, "url": p.url, "published": p.local_time.isoformat()}
    if p.date_suspicious:
        out["date_suspicious"] = True
    return out


def _gap_days(a: date, b: date, calendar: WorkCalendar, working: bool) -> int:
    """Days from a to b (b - a), or working days in (a, b] when `working`."""
    if b <= a:
        return 0
    if not working:
        return (b - a).days
    return calendar.count_working_days(a + timedelta(days=1), b)


def _gap_stats(post_days: list[date], left_edge: date, end: date, calendar: WorkCalendar,
               working: bool, limit: int) -> tuple[int, int]:
    """Longest gap over [left_edge, posts..., end] and the days spent beyond `limit`."""
    points = [left_edge] + [d for d in post_days if left_edge <= d <= end] + [end]
    gaps = [_gap_days(a, b, calendar, working) for a, b in zip(points, points[1:])]
    return max(gaps, default=0), sum(g - limit for g in gaps if g > limit)



def _when(t: datetime) -> str:
    """"11月22日" for a local midnight, else "11月22日10:00"."""
    local = t.astimezone(TZ)
    return f"{local:%m月%d日}" if local.time() == time.min else f"{local:%m月%d日%H:%M}"


# ============================================================================ judging
def _exempt_reason(unit: Unit, period: Period, channel: str, policy: Policy, settings: dict[str, Any],
                   calendar: WorkCalendar) -> str | None:
    if unit.start_date and unit.start_date > period.end:
        return f"单位自{unit.start_date:%Y年%m月%d日}起纳入监管, 本期免检"
    if unit.start_date and unit.start_date > period.start and (
            settings["joined_mid_period"] == "exempt" or not policy.can_prorate):   # e.g. a silence
        return f"单位于{unit.start_date:%Y年%m月%d日}(期中)纳入监管, 首期免检"
    scope = unit.channels if channel == UNIT_SCOPE else (channel,)
    if scope and all(unit.suspended_in(c, period.end) for c in scope):
        since = [unit.suspended_since.get(c) for c in scope]
        when = f"自{max(since):%Y年%m月%d日}起" if all(since) else ""
        return f"{CHANNEL_LABELS.get(channel, '该渠道')}{when}已暂停监管"
    excused = [unit.exemption_for(c, period.start, period.end) for c in scope] if scope else []
    if excused and all(excused):
        ex = excused[0]
        return f"{ex.reason}({ex.start:%Y年%m月%d日}至{ex.end:%m月%d日}), 本期免检"
    return policy.exempt_reason(period, settings, calendar)


def _judge(f: Finding, facts: _Facts) -> Verdict:
    unit, period, as_of = facts.unit, facts.period, facts.as_of
    base = dict(unit_id=unit.id, channel=f.channel, period=period.key, rule=f.rule, count=f.count,
                required=f.required, deadline=f.deadline or period.end)
    evidence = f.evidence
    if f.satisfied:
        return Verdict(status=Status.MET, reason=f"{f.subject}{f.fact}, 已达标", evidence=evidence, **base)
    if f.breaches is not None:
        return _judge_silence(f, facts, base)
    verified, problems, failed = _verification(facts, f.sources)
    evidence["verified"] = verified
    if failed["count"]:
        evidence["failed_attempts"] = failed
    if not verified:
        evidence["unverified"] = problems
        return Verdict(status=Status.UNKNOWN, evidence=evidence, **base,
                       reason=f"{f.subject}{f.fact}, 但无法核实(不作未达标处理): " + "; ".join(problems))
    if not facts.is_open:
        return Verdict(status=Status.MISSED, reason=f"{f.subject}{f.fact}, 未达标", evidence=evidence, **base)
    today = as_of.astimezone(TZ).date()
    if f.warn_from is not None and today >= f.warn_from:
        base["deadline"] = f.warn_from if f.warn_is_deadline else base["deadline"]
        return Verdict(status=Status.AT_RISK, evidence=evidence, **base,
                       reason=f"{f.subject}截至{_fmt(as_of)}{f.fact}, 尚未达标, 请于{period.end:%m月%d日}前更新")
    evidence["pending"] = True
    return Verdict(status=Status.PENDING, evidence=evidence, **base,
                   reason=f"{f.subject}本期尚未结束, 截至{_fmt(as_of)}{f.fact}")


def _judge_silence(f: Finding, facts: _Facts, base: dict[str, Any]) -> Verdict:
    """A silence rule not met: 未达标 as soon as one of its breaches in the period is proven (open
    period or not: a breach is final); a closed period without a proven breach is 无法核实; an
    open one is 预警 from `warn_lead` days before the last day to post, else 进行中 — provided the
    silence so far is verified, else 无法核实."""
    evidence, cp, as_of = f.evidence, facts.check_point, facts.as_of
    proven: list[Breach] = []
    waiting: list[Breach] = []               # not happened yet, or happened but not proven
    problems: list[str] = []
    for b in f.breaches or ():
        if b.happened(cp):
            ok, found = _prove(facts, b)
            if ok:
                proven.append(b)
                continue
            problems += [p for p in found if p not in problems]
        waiting.append(b)
    failed = _failed_summary(facts, f.sources)
    if failed["count"]:
        evidence["failed_attempts"] = failed
    if proven:
        evidence["verified"] = True
        evidence["breaches"] = [b.brief() for b in proven[:EVIDENCE_POSTS]]
        if proven[0].deadline is not None:
            base["deadline"] = proven[0].deadline
        reason = f"{f.subject}{f.fact}, 未达标"
        if problems:
            evidence["unverified"] = problems
            reason += "(其余超期情况无法核实: " + "; ".join(problems) + ")"
        return Verdict(status=Status.MISSED, reason=reason, evidence=evidence, **base)
    if not facts.is_open:
        evidence["verified"] = False
        evidence["unverified"] = problems
        return Verdict(status=Status.UNKNOWN, evidence=evidence, **base,
                       reason=f"{f.subject}{f.fact}, 但无法核实(不作未达标处理): " + "; ".join(problems))
    # Open, nothing proven yet: the silence so far must be verified like an open count.
    reach: dict[str, datetime] = {}
    sources: dict[str, SourceConfig] = {}
    for b in waiting:
        need = b.reach(b.clamp(cp))
        for s in b.sources:
            reach[s.id] = min(reach.get(s.id, need), need)
            sources[s.id] = s
    verified, found, _ = _verification(facts, list(sources.values()), reach)
    evidence["verified"] = verified
    if not verified:
        problems += [p for p in found if p not in problems]
        evidence["unverified"] = problems
        return Verdict(status=Status.UNKNOWN, evidence=evidence, **base,
                       reason=f"{f.subject}截至{_fmt(as_of)}{f.fact}, 但无法核实(不作未达标处理): " + "; ".join(problems))
    deadlines = [b.deadline for b in waiting if b.deadline is not None]
    today = as_of.astimezone(TZ).date()
    overdue = any(b.happened(cp) for b in waiting)
    deadline = min(deadlines) if deadlines else None
    if deadline is not None:
        base["deadline"] = deadline
    if f.warn_lead is not None and (overdue or (deadline is not None and today >= deadline - timedelta(days=f.warn_lead))):
        if overdue:
            base["deadline"] = today
            ask = "待数据源确认; 请立即更新"
        else:
            due = next(b.due for b in waiting if b.deadline == deadline)   # staleness: a moment of that day
            when = _when(due) if due is not None and _day(due) == deadline else f"{deadline:%m月%d日}"
            ask = f"请于{when}前更新, 否则{f.warn_text}"
        return Verdict(status=Status.AT_RISK, evidence=evidence, **base,
                       reason=f"{f.subject}截至{_fmt(as_of)}{f.fact}, {ask}")
    evidence["pending"] = True
    return Verdict(status=Status.PENDING, evidence=evidence, **base,
                   reason=f"{f.subject}本期尚未结束, 截至{_fmt(as_of)}{f.fact}")


def evaluate_unit(unit: Unit, period: Period, posts: list[PostFact], attempts: list[AttemptFact], *,
                  as_of: datetime, policies: Policies, calendar: WorkCalendar) -> list[Verdict]:
    """Verdicts of every enabled policy whose period kind is `period.kind`, sorted by (channel, rule)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (Asia/Shanghai)")
    resolved = policies.for_unit(unit)
    settings = resolved.settings
    mine = [p for p in resolved.policies if p.period_kind == period.kind]
    if not mine:
        return []
    facts = _facts(unit, period, posts, attempts, as_of, settings, calendar)
    verdicts = []
    for policy in mine:
        for f in policy.findings(facts):
            reason = _exempt_reason(unit, period, f.channel, policy, settings, calendar)
            if reason:
                verdicts.append(Verdict(unit_id=unit.id, channel=f.channel, period=period.key, rule=f.rule,
                                        status=Status.EXEMPT, count=f.count, required=f.required,
                                        reason=reason, deadline=period.end, evidence=f.evidence))
            else:
                verdicts.append(_judge(f, facts))
    verdicts.sort(key=_VERDICT_ORDER)
    return verdicts


def lookback_days(policies: Policies, kind: str, units: Sequence[Unit] | None = None, *,
                  windowed_only: bool = False) -> int:
    """How many days before a `kind` period its policies look at posts: the largest look-back its
    policies declare (`Policy.lookback`: by default `history_days`, for each column's last post —
    staleness, an empty column, the last post and the longest gap in a count's evidence — unless
    `windowed_only`; rolling_window and max_gap need every post of their windows). With `units`,
    only the policies enabled for those units count (each unit's own resolved set, overrides
    included); without, every configured policy, disabled ones too (a unit may enable one)."""
    if units is None:
        sets = [(policies.all_policies(), policies.settings)]
    else:
        resolved = {id(r): r for r in map(policies.for_unit, units)}
        sets = [(r.policies, r.settings) for r in resolved.values()]
    days = 0
    for pols, settings in sets:
        for pol in pols:
            if pol.period_kind != kind:
                continue
            days = max(days, pol.lookback(settings, windowed_only))
    return days


def post_window(period: Period, policies: Policies, units: Sequence[Unit] | None = None) -> tuple[datetime, datetime]:
    """Pass the posts published in [a, b): the period plus its policies' look-back (`history_days`,
    so an empty column can be told from a quiet one); see `lookback_days`."""
    return period.start_dt - timedelta(days=max(lookback_days(policies, period.kind, units), 1)), period.end_dt


def attempt_window(period: Period, as_of: datetime, policies: Policies) -> tuple[datetime, datetime]:
    """Pass the attempts started in [a, b): from the period start (for the failure summary) up to
    `as_of` (a closed period is verified by attempts after its end)."""
    start = min(period.start_dt, as_of - timedelta(hours=policies.settings["freshness_hours"]))
    return start, max(as_of, period.start_dt) + timedelta(microseconds=1)


# ============================================================================ streaks
def streak(statuses_newest_first: list[Status]) -> int:
    """Consecutive MISSED periods counting back from the newest.

    UNKNOWN, EXEMPT and AT_RISK neither break nor extend a streak: a week we could not verify,
    a holiday week or a still-open week says nothing about the unit's habit, so misses on either
    side of it still count as consecutive (the unknown week itself is never counted as a miss).
    MET ends the streak.
    """
    count = 0
    for status in statuses_newest_first:
        if status == Status.MISSED:
            count += 1
        elif status == Status.MET:
            break
    return count


def needs_escalation(streak_length: int, policies: Policies) -> bool:
    """Escalate to 分管领导 after `escalate_after` consecutive misses (default 2)."""
    return streak_length >= int(policies.settings["escalate_after"])
