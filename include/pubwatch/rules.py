"""The cadence rules engine: posts + crawl attempts -> one Verdict per unit x channel x period x rule.

Pure functions, no database, no Airflow. `evaluate.py` passes the posts published in
`post_window(period)` and the attempts started in `attempt_window(period, as_of)`.

Policies (include/policies.yaml, or $PUBWATCH_POLICIES) are configured per unit category with
per-unit overrides (`Unit.policy`, deep-merged). Each policy kind is a small class registered by
its kind name (urlwatch style): weekly, monthly_quota, staleness, rolling_window, max_gap.

Count rules (weekly, monthly_quota), judged by `_judge`:
  * requirement met by the posts we have            -> MET (even if some fetches failed)
  * not met, and every relevant source verified     -> MISSED (closed period) / AT_RISK (open,
                                                       within the warning lead)
  * not met, and some relevant source not verified  -> UNKNOWN, naming the source and its failure
A source is verified for a closed period when it had an OK/NOT_MODIFIED attempt at or after the
period end (and, for feeds reporting `source_updated`, that time is at/after the period end); for
a still-open period, within `freshness_hours` before `as_of`; either way its listing must reach
back to the period start (`AttemptFact.covered_from`).

Silence rules (staleness, rolling_window, max_gap), each with one reading of its circular's text
(see each class): they find the `Breach`es of the period — silences that break the rule in it.
A breach is final: proven (`_prove`: every source's reads vouch up to a moment of it and reach back
over the whole stretch the rule judges, days before the period start included) it is MISSED at
once, even in an open period; not proven in a closed period it is UNKNOWN; in an open period
before it happens, AT_RISK from `warn_lead_days` (default 3) before the last day to post, else
PENDING — provided the silence so far is verified (`_judge_silence`).

All five kinds are monotone: more posts can only help. So for a still-open period a policy is
evaluated as if no further post arrived before the deadline; if that is already enough, it is MET.
"""
from __future__ import annotations

import copy
import math
import os
from bisect import bisect_left, bisect_right
from functools import lru_cache, partial
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Sequence

from . import yamlfile
from .periods import KINDS, Period
from .registry import CATEGORIES, COLUMN_TYPES, SourceConfig, Unit
from .types import (CHANNEL_LABELS, CHANNELS, OUTCOME_LABELS, PORTAL, TZ, UTC, WECHAT, AttemptFact,
                    PostFact, Status, Verdict)
from .workdays import WorkCalendar

DEFAULT_POLICIES_PATH = Path(__file__).resolve().parents[1] / "policies.yaml"
_POST_ORDER = attrgetter("published", "url")
_PUBLISHED = attrgetter("published")
_FIRST = itemgetter(0)
_POST_AND_SOURCE_ORDER = attrgetter("published", "url", "source_id")
_ATTEMPT_ORDER = attrgetter("started_at", "outcome")       # Outcome is a str enum: ordered by its value
_VERDICT_ORDER = attrgetter("channel", "rule")
UNIT_SCOPE = "unit"                      # Verdict.channel for rules over both channels together
EVIDENCE_POSTS = 5
MAX_POLICY_INT = 10_000                   # no count, day or lead an office writes is larger
_SHORTEST_DAYS = {"week": 7, "month": 28, "quarter": 90, "year": 365}
_PERIOD_WORDS = {"week": "本周", "month": "本月", "quarter": "本季度", "year": "本年度"}
DEFAULT_SETTINGS: dict[str, Any] = {
    "freshness_hours": 24,          # an open period counts as verified by attempts this recent
    "escalate_after": 2,            # consecutive missed periods before 分管领导 is told
    "holiday_week": "exempt",       # exempt | evaluate: a week without a single working day
    "count_suspicious": True,       # posts flagged date_suspicious count (and are listed)
    "joined_mid_period": "exempt",  # exempt | prorate: the period in which a unit joined
    "history_days": 730,            # how far back post_window reaches for staleness/empty columns
}


# ============================================================================ configuration
class PolicyError(ValueError):
    """A policy configuration problem, naming where (category/unit), the policy and the field."""

    def __init__(self, where: str, policy: str, field_name: str, message: str):
        self.where, self.policy, self.field, self.message = where, policy, field_name, message
        super().__init__(f"策略配置 {where}: 策略 {policy}: 字段 {field_name}: {message}")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `override` merged into `base`, recursively for nested mappings."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


POLICY_KINDS: dict[str, type[Policy]] = {}


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy kind available under `cls.kind`."""
    POLICY_KINDS[cls.kind] = cls
    return cls


@dataclass
class UnitPolicies:
    """The resolved policy set of one unit (category defaults + unit overrides)."""

    settings: dict[str, Any]
    policies: list[Policy]


class Policies:
    """All policy configuration: settings, per-category policies, scoring table."""

    def __init__(self, data: dict[str, Any] | None = None, *, source: str = "policies"):
        data = data or {}
        if not isinstance(data, dict):
            raise PolicyError(source, "-", "-", "顶层应为映射 (top level must be a mapping)")
        unknown = sorted(set(data) - {"settings", "defaults", "categories", "scoring"})
        if unknown:
            raise PolicyError(source, "-", unknown[0], "未知的顶层字段 (settings/defaults/categories/scoring)")
        self.source = source
        self.settings = deep_merge(DEFAULT_SETTINGS, _mapping(data.get("settings"), source, "-", "settings"))
        _check_settings(self.settings, source)
        self.defaults = _mapping(data.get("defaults"), source, "-", "defaults")
        self.categories = _mapping(data.get("categories"), source, "-", "categories")
        for cat in self.categories:
            if cat not in CATEGORIES:
                raise PolicyError(source, "-", f"categories.{cat}", f"未知单位类别, 应为 {', '.join(CATEGORIES)} 之一")
        self.scoring = _mapping(data.get("scoring"), source, "-", "scoring")
        self._cache: dict[Any, UnitPolicies] = {}
        for cat in CATEGORIES:                       # validate every category up front
            self._resolve(cat, {}, f"{source}: categories.{cat}")

    def _resolve(self, category: str, override: dict[str, Any], where: str,
                 include_disabled: bool = False) -> UnitPolicies:
        raw = deep_merge(self.defaults, _mapping(self.categories.get(category), where, "-", category))
        raw = deep_merge(raw, override)
        settings = deep_merge(self.settings, _mapping(raw.pop("settings", None), where, "-", "settings"))
        _check_settings(settings, where)
        built = []
        for name in sorted(raw):
            cfg = raw[name]
            if not isinstance(cfg, dict):
                raise PolicyError(where, name, "-", "应为映射 (kind + 参数)")
            kind = cfg.get("kind", name)
            cls = POLICY_KINDS.get(kind)
            if cls is None:
                raise PolicyError(where, name, "kind", f"未知策略类型 {kind!r}, 可用: {', '.join(sorted(POLICY_KINDS))}")
            policy = cls(name, cfg, where)
            if policy.enabled or include_disabled:
                built.append(policy)
        return UnitPolicies(settings, built)

    def for_unit(self, unit: Unit) -> UnitPolicies:
        """The unit's policies; cached per (category, overrides). PolicyError names the unit."""
        override = unit.policy or {}
        key = (unit.category, _freeze(override)) if override else unit.category
        cached = self._cache.get(key)
        if cached is None:
            where = f"单位 {unit.id}" if override else f"{self.source}: categories.{unit.category}"
            cached = self._cache[key] = self._resolve(unit.category, override, where)
        return cached

    def check_unit(self, unit: Unit) -> list[PolicyError]:
        """Validate a unit's overrides (call at registry load to report problems early)."""
        try:
            self.for_unit(unit)
        except PolicyError as exc:
            return [exc]
        return []

    def setting(self, name: str) -> Any:
        return self.settings[name]

    def all_policies(self) -> Iterable[Policy]:
        """Every configured policy of every category, disabled ones included (a unit may enable them)."""
        for cat in CATEGORIES:
            yield from self._resolve(cat, {}, cat, include_disabled=True).policies


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _mapping(value: Any, where: str, policy: str, field_name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(where, policy, field_name, "应为映射 (must be a mapping)")
    return value


def _check_settings(settings: dict[str, Any], where: str) -> None:
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise PolicyError(where, "settings", unknown[0], f"未知设置项, 可用: {', '.join(sorted(DEFAULT_SETTINGS))}")
    for name in ("freshness_hours", "escalate_after", "history_days"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PolicyError(where, "settings", name, f"应为非负数: {value!r}")
    choices = {"holiday_week": ("exempt", "evaluate"), "joined_mid_period": ("exempt", "prorate")}
    for name, allowed in choices.items():
        if settings[name] not in allowed:
            raise PolicyError(where, "settings", name, f"应为 {' / '.join(allowed)} 之一: {settings[name]!r}")
    if not isinstance(settings["count_suspicious"], bool):
        raise PolicyError(where, "settings", "count_suspicious", "应为 true/false")


def load_policies(path: str | Path | None = None) -> Policies:
    """Read policies.yaml: `path`, else $PUBWATCH_POLICIES, else include/policies.yaml."""
    p = Path(path or os.environ.get("PUBWATCH_POLICIES") or DEFAULT_POLICIES_PATH)
    try:
        data = yamlfile.load(p)
    except yamlfile.YamlFileError as exc:
        raise PolicyError(str(p), "-", "-", f"无法读取策略文件 (cannot read): {exc}") from None
    return Policies(data, source=str(p))


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


from .posts import dedupe_posts  # noqa: E402  (shared with the store: pubwatch/posts.py)


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


def _post_brief(p: PostFact) -> dict[str, Any]:
    out = {"title": p.title, "url": p.url, "published": p.local_time.isoformat()}
    if p.date_suspicious:
        out["date_suspicious"] = True
    return out


def _last_before(posts: Sequence[PostFact], moment: datetime) -> PostFact | None:
    last = None
    for p in posts:                    # oldest first
        if p.published < moment:
            last = p
        else:
            break
    return last


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


class Policy:
    """Base class of a policy kind. Subclasses set `kind`, `default_period`, `defaults`."""

    kind: ClassVar[str] = ""
    default_period: ClassVar[str] = "week"
    defaults: ClassVar[dict[str, Any]] = {}
    silence: ClassVar[bool] = False   # judges silences (staleness, rolling_window, max_gap), not counts
    common = {"kind", "enabled", "period", "channels", "columns", "column_types", "warn_lead_days",
              "count_suspicious", "label"}

    def __init__(self, name: str, cfg: dict[str, Any], where: str):
        self.name, self.where = name, where
        allowed = self.common | set(self.defaults)
        unknown = sorted(set(cfg) - allowed)
        if unknown:
            self.fail(unknown[0], f"未知字段, 可用: {', '.join(sorted(allowed))}")
        self.cfg = deep_merge(self.defaults, cfg)
        self.enabled = self.cfg.get("enabled", True)
        if not isinstance(self.enabled, bool):
            self.fail("enabled", "应为 true/false")
        self.period_kind = self.cfg.get("period", self.default_period)
        if self.period_kind not in KINDS:
            self.fail("period", f"应为 {', '.join(KINDS)} 之一: {self.period_kind!r}")
        self.channels = tuple(self.cfg.get("channels") or CHANNELS)
        if any(c not in CHANNELS for c in self.channels):
            self.fail("channels", f"应为 {' / '.join(CHANNELS)} 的列表: {self.channels!r}")
        self.columns = tuple(str(c) for c in self.cfg.get("columns") or ())
        self.column_types = tuple(self.cfg.get("column_types") or ())
        if any(t not in COLUMN_TYPES for t in self.column_types):
            self.fail("column_types", f"栏目类型应为 {', '.join(COLUMN_TYPES)} 之一: {self.column_types!r}")
        self.warn_lead_days = self.cfg.get("warn_lead_days")
        if self.warn_lead_days is not None:      # a warning lead shorter than the period it warns in
            self.warn_lead_days = self.int_field("warn_lead_days", minimum=0,
                                                 maximum=_SHORTEST_DAYS[self.period_kind] - 1)
        self.count_suspicious = self.cfg.get("count_suspicious")
        self.validate()

    # ----- config helpers ---------------------------------------------------------------
    def fail(self, field_name: str, message: str) -> None:
        raise PolicyError(self.where, self.name, field_name, message)

    def int_field(self, name: str, minimum: int = 0, value: Any = None, maximum: int = MAX_POLICY_INT) -> int:
        value = self.cfg.get(name) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            self.fail(name, f"应为 {minimum}–{maximum} 之间的整数: {value!r}")
        return value

    def validate(self) -> None:
        """Subclasses check their own fields (raise via self.fail)."""

    # ----- shared evaluation helpers ------------------------------------------------------
    def sources(self, unit: Unit, channel: str) -> tuple[SourceConfig, ...]:
        """The channel's sources this policy looks at (column ids / column types filter portal)."""
        out = unit.sources_of(channel)
        if channel == PORTAL and self.columns:
            out = tuple(s for s in out if s.id in self.columns or s.id.rsplit(".", 1)[-1] in self.columns)
        if channel == PORTAL and self.column_types:
            out = tuple(s for s in out if s.column_type in self.column_types)
        return out

    def counted(self, facts: _Facts, sources: Sequence[SourceConfig], channel: str | None,
                start: datetime, end: datetime) -> tuple[list[PostFact], list[PostFact]]:
        """(counted posts, suspicious posts) published in [start, end) from `sources`."""
        ids = {s.id for s in sources}
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        pool = facts.channel_posts[channel] if channel else dedupe_posts(
            p for c in CHANNELS for p in facts.channel_posts[c])
        in_window = [p for p in pool if p.source_id in ids and start <= p.published < end]
        suspicious = [p for p in in_window if p.date_suspicious]
        count_susp = facts.settings["count_suspicious"] if self.count_suspicious is None else self.count_suspicious
        counted = in_window if count_susp else [p for p in in_window if not p.date_suspicious]
        return counted, suspicious

    def subject(self, unit: Unit, channel: str) -> str:
        if channel == WECHAT:
            src = unit.sources_of(WECHAT)
            return f"微信公众号「{src[0].name}」" if src else CHANNEL_LABELS[WECHAT]
        if channel == UNIT_SCOPE:
            return "门户网站和微信公众号合计"
        return CHANNEL_LABELS.get(channel, channel)

    def default_warn_from(self, facts: _Facts) -> date | None:
        if self.warn_lead_days is None:
            return None
        return facts.period.end - timedelta(days=self.warn_lead_days)

    def findings(self, facts: _Facts) -> list[Finding]:
        raise NotImplementedError


# ----------------------------------------------------------------------- count per period
class _CountPolicy(Policy):
    """≥ min_posts per period, per channel (or over both channels with scope: unit)."""

    defaults = {"min_posts": 1}

    def validate(self) -> None:
        self.min_posts = self.int_field("min_posts", minimum=1)

    def required_for(self, facts: _Facts, required: int) -> int:
        start = facts.unit.start_date
        if start and facts.period.start < start <= facts.period.end:   # prorate (setting checked earlier)
            share = (facts.period.end - start).days + 1
            return math.ceil(required * share / facts.period.days)
        return required

    @staticmethod
    def longest_gap(facts: _Facts, sources: Sequence[SourceConfig], counted: Sequence[PostFact]) -> int:
        """Longest silence in calendar days from the last post before the period (or the period
        start) through the counted posts to the check point."""
        period = facts.period
        before = None
        for src in sources:
            for p in facts.posts.get(src.id, ()):
                if p.published >= facts.start:
                    break
                before = p.published if before is None or p.published > before else before
        left = before.astimezone(TZ).date() if before else period.start - timedelta(days=1)
        end = (facts.check_point - timedelta(microseconds=1)).astimezone(TZ).date()
        days = sorted({p.local_day for p in counted})
        return _gap_stats(days, left, end, facts.calendar, False, 0)[0]

    def count_finding(self, facts: _Facts, rule: str, channel: str, sources: tuple[SourceConfig, ...],
                      required: int, what: str = "发文") -> Finding:
        period = facts.period
        counted, suspicious = self.counted(facts, sources, None if channel == UNIT_SCOPE else channel,
                                           facts.start, facts.check_point)
        required = self.required_for(facts, required)
        count = len(counted)
        word = _PERIOD_WORDS[period.kind]
        ordered = sorted(counted, key=_POST_ORDER, reverse=True)
        evidence: dict[str, Any] = {"posts": [_post_brief(p) for p in ordered[:EVIDENCE_POSTS]]}
        if suspicious:
            evidence["suspicious_posts"] = [_post_brief(p) for p in suspicious[:EVIDENCE_POSTS]]
        last = facts.last_post(sources)
        if last is not None:
            evidence["last_post"] = {"title": last.title, "url": last.url,
                                     "date": last.local_day.isoformat()}
            evidence["last_update"] = last.local_time.isoformat()
        evidence["longest_gap_days"] = self.longest_gap(facts, sources, counted)
        satisfied = count >= required
        if not satisfied and not facts.is_open:
            evidence["days_out_of_compliance"] = period.days
        return Finding(rule, channel, self.subject(facts.unit, channel),
                       f"{word}{what}{count}篇(要求至少{required}篇)", count, required, satisfied,
                       sources, evidence, warn_from=self.default_warn_from(facts), deadline=period.end)


@register_policy
class WeeklyPolicy(_CountPolicy):
    """The county rule: ≥ N posts per Monday–Sunday week on each channel.
    At risk from the week's reminder day (Friday, or the last working day before it)."""

    kind = "weekly"
    default_period = "week"

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            f = self.count_finding(facts, "weekly", channel, sources, self.min_posts)
            if self.warn_lead_days is None and facts.period.kind == "week":
                f.warn_from = facts.calendar.reminder_day(facts.period)
                f.evidence["reminder_day"] = f.warn_from.isoformat() if f.warn_from else None
            out.append(f)
        return out


@register_policy
class MonthlyQuotaPolicy(_CountPolicy):
    """≥ N posts per calendar month (per channel or both together), plus per-column topic quotas."""

    kind = "monthly_quota"
    default_period = "month"
    defaults = {"min_posts": 10, "scope": "unit", "topics": []}

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
                out.append(self.count_finding(facts, "monthly_quota", UNIT_SCOPE, sources, self.min_posts))
        else:
            out += [self.count_finding(facts, "monthly_quota", c, self.sources(unit, c), self.min_posts)
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


# ----------------------------------------------------------------------- silence rules
class _SilencePolicy(Policy):
    """Base of the rules that judge silences between posts. A breach, once it happened, is final:
    in an open period a proven breach is 未达标 at once; before it happens, `warn_lead_days`
    (default 3) before the last day a post still prevents it, the verdict is 预警 with that day
    as its deadline. A new unit's silence is counted from its joining day (the period it joined in
    is exempt); posts before that day do not shorten it, days before it do not lengthen it."""

    silence = True

    def counts_suspicious(self, facts: _Facts) -> bool:
        return facts.settings["count_suspicious"] if self.count_suspicious is None else self.count_suspicious

    def channel_posts(self, facts: _Facts, channel: str, sources: Sequence[SourceConfig]) -> list[PostFact]:
        """The channel's counted posts (deduplicated) of `sources` before the check point, oldest first."""
        ids = {s.id for s in sources}
        susp = self.counts_suspicious(facts)
        cp = facts.check_point
        return [p for p in facts.channel_posts[channel]
                if p.source_id in ids and p.published < cp and (susp or not p.date_suspicious)]


def _months_back(d: datetime, months: int) -> datetime:
    """`d` moved `months` calendar months back (forward when negative), clamped to the month's end."""
    y, m = divmod(d.month - 1 - months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                      31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return d.replace(year=year, month=month, day=day)


def _age_spec(value: Any) -> tuple[int, str]:
    """14 | "14d" | "6m" | "1y" -> (n, unit) with unit in d/m; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, "d"
    text = str(value).strip().lower()
    if len(text) >= 2 and text[:-1].isdigit() and text[-1] in "dmy" and int(text[:-1]) > 0:
        n = int(text[:-1])
        return (n * 12, "m") if text[-1] == "y" else (n, text[-1])
    raise ValueError(value)


def _look_back(moment: datetime, spec: tuple[int, str]) -> datetime:
    """The start of the age limit counted back from `moment` (UTC in, UTC out): a channel is
    fresh at `moment` if it has a post in [_look_back(moment), moment]."""
    n, unit = spec
    if unit == "d":
        return moment - timedelta(days=n)
    return _months_back(moment.astimezone(TZ), n).astimezone(UTC)


def _stale_after(last: datetime, spec: tuple[int, str]) -> datetime:
    """The moment after which a channel whose last post is `last` is stale (never early: a
    month-end clamp, e.g. 31 Aug + 6 months, moves it a day later)."""
    n, unit = spec
    if unit == "d":
        return last + timedelta(days=n)
    local = last.astimezone(TZ)
    t = _months_back(local, -n)
    while _months_back(t, n) < local:
        t += timedelta(days=1)
    return t.astimezone(UTC)


@lru_cache(maxsize=256)
def _spec_consts(spec: tuple[int, str]) -> tuple[str, Callable[[datetime], datetime], timedelta | None, timedelta]:
    """(its text, its look-back, its length if in days, the shortest length it can have)."""
    return (_spec_text(spec), partial(_look_back, spec=spec), timedelta(days=spec[0]) if spec[1] == "d" else None,
            timedelta(days=28 * spec[0] if spec[1] == "m" else spec[0]))


@lru_cache(maxsize=256)
def _spec_text(spec: tuple[int, str]) -> str:
    n, unit = spec
    if unit == "d":
        return f"{n}天"
    return f"{n // 12}年" if n % 12 == 0 else f"{n}个月"


def _when(t: datetime) -> str:
    """"11月22日" for a local midnight, else "11月22日10:00"."""
    local = t.astimezone(TZ)
    return f"{local:%m月%d日}" if local.time() == time.min else f"{local:%m月%d日%H:%M}"


def _days_touched(b: Breach, until: datetime) -> int:
    """Local days on which `b` held at some moment before `until`."""
    end = min(b.hi, until)
    if end <= b.lo:
        return 0
    return (_day(end - timedelta(microseconds=1)) - _day(b.lo)).days + 1


@register_policy
class StalenessPolicy(_SilencePolicy):
    """超过2周未更新 / 监测时间点前2周内无信息更新 (国办秘函〔2019〕19号; a city circular, 2020):
    inspectors may check at any moment, so a column (a WeChat account) is stale at every moment
    its last post is older than its type's limit (news 2 weeks, notices/policies 6 months,
    personnel/planning 1 year; WeChat 14 days). A period is 未达标 if the column was stale at any
    moment in it. A column that never had a post is an empty column (空白栏目), stale throughout.
    Proof: reads that cover the limit's length of silence before one stale moment of the period."""

    kind = "staleness"
    default_period = "week"
    defaults = {"max_age": {"news": "14d", "notice": "6m", "policy": "6m", "personnel": "1y",
                            "planning": "1y"},
                "wechat_max_age": "14d", "warn_lead_days": 3}

    def validate(self) -> None:
        if not isinstance(self.cfg["max_age"], dict):
            self.fail("max_age", "应为映射: 栏目类型 -> 天数或 14d/6m/1y")
        self.ages: dict[str, tuple[int, str]] = {}
        for ctype, value in self.cfg["max_age"].items():
            if ctype not in COLUMN_TYPES:
                self.fail(f"max_age.{ctype}", f"栏目类型应为 {', '.join(COLUMN_TYPES)} 之一")
            if value is None:
                continue
            try:
                self.ages[ctype] = _age_spec(value)
            except ValueError:
                self.fail(f"max_age.{ctype}", f"应为正整数天数或 14d / 6m / 1y: {value!r}")
        value = self.cfg["wechat_max_age"]
        try:
            self.wechat_age = None if value is None else _age_spec(value)
        except ValueError:
            self.fail("wechat_max_age", f"应为正整数天数或 14d / 6m / 1y: {value!r}")

    def findings(self, facts: _Facts) -> list[Finding]:
        unit, out = facts.unit, []
        if PORTAL in self.channels:
            by_type: dict[str, list[SourceConfig]] = {}
            for s in self.sources(unit, PORTAL):
                if s.column_type in self.ages:
                    by_type.setdefault(s.column_type, []).append(s)
            for ctype in sorted(by_type):
                groups = [(s.name, (s,)) for s in sorted(by_type[ctype], key=lambda s: s.id)]
                out.append(self.finding(facts, f"staleness:{ctype}", PORTAL, groups, self.ages[ctype],
                                        f"门户网站{COLUMN_TYPES[ctype]}类栏目"))
        if WECHAT in self.channels and self.wechat_age and unit.sources_of(WECHAT):
            sources = unit.sources_of(WECHAT)
            out.append(self.finding(facts, "staleness:wechat", WECHAT, [(sources[0].name, sources)],
                                    self.wechat_age, self.subject(unit, WECHAT)))
        return out

    @staticmethod
    def group_posts(facts: _Facts, sources: Sequence[SourceConfig], susp: bool) -> list[PostFact]:
        """The counted posts of one column / account before the check point, oldest first."""
        cp = facts.check_point
        posts = [p for src in sources for p in facts.posts.get(src.id, ())
                 if p.published < cp and (susp or not p.date_suspicious)]
        if len(sources) > 1:
            posts.sort(key=_POST_ORDER)
        return posts

    def finding(self, facts: _Facts, rule: str, channel: str,
                groups: list[tuple[str, tuple[SourceConfig, ...]]], spec: tuple[int, str], subject: str) -> Finding:
        """`groups`: (name, sources) — one group per portal column, one for a WeChat account."""
        start, end, cp = facts.start, facts.end, facts.check_point
        word = _PERIOD_WORDS[facts.period.kind]
        limit, reach, span, shortest = _spec_consts(spec)
        joined = facts.unit.start_date
        joined_at = _midnight(joined) if joined is not None else None
        check_day = facts.check_day
        columns: list[dict[str, Any]] = []
        breaches: list[Breach] = []
        all_sources: list[SourceConfig] = []
        stale_text, soon_text, empty = [], [], []
        out_days = 0
        susp = self.counts_suspicious(facts)
        for name, sources in groups:
            all_sources += sources
            posts = self.group_posts(facts, sources, susp)
            i = bisect_left(posts, start, key=_PUBLISHED)
            prev = posts[i - 1].published if i else None
            virtual = joined_at is not None and (prev is None or prev < joined_at)
            if virtual:                       # a new unit's silence counts from its joining day
                prev = joined_at
            mine = []
            n_posts = len(posts)
            while True:                       # each silence (prev, nxt); None: nothing posted yet
                nxt = posts[i].published if i < n_posts else None
                hi = end if nxt is None else nxt
                if prev is None:
                    onset, lo = None, start
                elif span is not None:
                    onset = prev + span
                    lo = start if onset < start else onset
                elif hi - prev <= shortest:       # months: cannot be stale before `hi`
                    onset = lo = hi
                else:
                    onset = _stale_after(prev, spec)
                    lo = start if onset < start else onset
                if lo < hi:
                    mine.append(Breach(sources, lo, hi, reach, deadline=None if onset is None else _day(onset),
                                       due=onset, label=name, since=None if prev is None else _day(prev)))
                if nxt is None:
                    break
                prev, i = nxt, i + 1
            last = (posts[-1] if posts else None) if len(sources) == 1 else facts.last_post(sources, susp)
            row: dict[str, Any] = {"column": name, "sources": [s.id for s in sources], "fresh": not mine}
            if last is not None:
                row["last_post"] = {"title": last.title, "url": last.url, "date": last.local_day.isoformat()}
                row["age_days"] = (check_day - last.local_day).days
            if virtual:
                row["counted_from"] = joined.isoformat()
            columns.append(row)
            if not mine:
                continue
            breaches += mine
            out_days += sum(_days_touched(b, cp) for b in mine)
            done = [b for b in mine if b.happened(cp)]
            b = done[0] if done else mine[0]
            if b.due is None:
                empty.append(row)
                continue
            what = "纳入监管以来未更新" if virtual and b.since == joined else f"最后更新 {b.since.isoformat()}"
            if done:
                stale_text.append((name, what, f"自{_when(b.due)}起超期"))
            else:
                soon_text.append((name, what, f"将于{_when(b.due)}起超期"))
        fresh_count = sum(1 for r in columns if r["fresh"])
        if channel == PORTAL:
            parts = [f"{len(columns)}个栏目中{fresh_count}个{word}内始终在{limit}内有更新"]
            if stale_text:
                parts.append("超期未更新: " + "、".join(f"「{n}」({w}){t}" for n, w, t in stale_text))
            if soon_text:
                parts.append("即将超期: " + "、".join(f"「{n}」({w}){t}" for n, w, t in soon_text))
            if empty:
                parts.append("空白栏目(无任何信息): " + "、".join(f"「{r['column']}」" for r in empty))
        else:
            if stale_text:
                parts = [f"{word}内曾超过{limit}未更新({stale_text[0][2]})"]
            elif empty:
                parts = [f"{word}内超过{limit}未更新(无任何信息)"]
            elif soon_text:
                parts = []
            else:
                parts = [f"{word}内始终在{limit}内有更新"]
            if columns and "last_post" in columns[0]:
                parts.append(f"最后更新 {columns[0]['last_post']['date']}")
            elif columns and "counted_from" in columns[0]:
                parts.append(f"纳入监管({columns[0]['counted_from']})以来未更新")
        evidence: dict[str, Any] = {"columns": columns, "max_age": limit, "days_out_of_compliance": out_days,
                                    "empty_columns": [r["column"] for r in empty]}
        dated = [r for r in columns if "last_post" in r]
        if dated:
            newest = dated[0] if len(dated) == 1 else max(dated, key=lambda r: r["last_post"]["date"])
            evidence["last_update"] = newest["last_post"]["date"]
            evidence["last_post"] = {**newest["last_post"], "published": newest["last_post"]["date"]}
        return Finding(rule, channel, subject, ", ".join(parts), fresh_count, len(columns), not breaches,
                       tuple(all_sources), evidence, deadline=facts.period.end,
                       breaches=breaches, warn_lead=self.warn_lead_days, warn_text=f"将超过{limit}未更新")


# ----------------------------------------------------------------------- rolling window / max gap
@register_policy
class RollingWindowPolicy(_SilencePolicy):
    """保证每10天内都能更新信息: for every day of the period, the `days` days (or working days)
    ending that day hold ≥ min_posts posts — no 10 consecutive silent days, wherever they fall
    relative to Sundays or month ends. A breached day belongs to the period it is in (a silence
    breaking the rule on days of two weeks breaks it in both). Proof: reads covering the window
    of one breached day, which may begin before the period's Monday."""

    kind = "rolling_window"
    default_period = "week"
    defaults = {"min_posts": 1, "days": 10, "working_days": False, "warn_lead_days": 3}

    def validate(self) -> None:
        self.min_posts = self.int_field("min_posts", 1)
        self.days = self.int_field("days", 1, maximum=366)
        if not isinstance(self.cfg["working_days"], bool):
            self.fail("working_days", "应为 true/false")
        if self.warn_lead_days is not None and self.warn_lead_days >= self.days:
            self.fail("warn_lead_days", f"预警提前天数应小于窗口天数 {self.days}: {self.warn_lead_days}")
        self._starts: dict[tuple[int, date], date] = {}

    def window_start(self, end_day: date, calendar: WorkCalendar) -> date:
        """First day of the window whose last day is `end_day`."""
        if not self.cfg["working_days"]:
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
        unit_word = "个工作日" if self.cfg["working_days"] else "天"
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
                                        "days": n, "gap_unit": "working_days" if self.cfg["working_days"] else "days",
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


@register_policy
class MaxGapPolicy(_SilencePolicy):
    """更新间隔时间不得超过14天: never more than `max_days` days (or working days) between two
    consecutive posts. One silence longer than that is one breach, counted once: in the period in
    which the limit is crossed — the end of the last day on which a post was still in time (last
    post + max_days) — never in two periods; a silence that crossed it earlier is not counted again
    in the periods it runs on into. The last post before the period is the silence's left edge;
    without any post in `history_days` the silence started before what we know, so its crossing
    falls before the period. Proof: reads covering the silence from the day after its last post."""

    kind = "max_gap"
    default_period = "month"
    defaults = {"max_days": 14, "working_days": False, "warn_lead_days": 3}

    def validate(self) -> None:
        self.max_days = self.int_field("max_days", 1, maximum=366)
        if not isinstance(self.cfg["working_days"], bool):
            self.fail("working_days", "应为 true/false")
        if self.warn_lead_days is not None and self.warn_lead_days >= self.max_days:
            self.fail("warn_lead_days", f"预警提前天数应小于最长间隔 {self.max_days}: {self.warn_lead_days}")

    def last_allowed(self, last_post: date, calendar: WorkCalendar) -> date:
        """The last day a post after `last_post` keeps the gap within the limit."""
        if not self.cfg["working_days"]:
            return last_post + timedelta(days=self.max_days)
        return calendar.add_working_days(last_post, self.max_days + 1) - timedelta(days=1)

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        working, cal, period, cp = self.cfg["working_days"], facts.calendar, facts.period, facts.check_point
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


# ============================================================================ judging
def _exempt_reason(unit: Unit, period: Period, channel: str, policy: Policy, settings: dict[str, Any],
                   calendar: WorkCalendar) -> str | None:
    if unit.start_date and unit.start_date > period.end:
        return f"单位自{unit.start_date:%Y年%m月%d日}起纳入监管, 本期免检"
    if unit.start_date and unit.start_date > period.start and (
            settings["joined_mid_period"] == "exempt" or policy.silence):   # a silence cannot be prorated
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
    if isinstance(policy, WeeklyPolicy) and period.kind == "week" and settings["holiday_week"] == "exempt" \
            and not calendar.working_days(period.start, period.end):
        return "本周无工作日(法定节假日), 免检"
    return None


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
        base["deadline"] = f.warn_from if f.rule == "weekly" else base["deadline"]
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
    """How many days before a `kind` period its policies look at posts. Any policy of the kind
    reaches `history_days` back for each column's last post (staleness, an empty column, the last
    post and the longest gap in a count's evidence) — unless `windowed_only`; rolling_window and
    max_gap need every post of their windows. With `units`, only the policies enabled for those
    units count (each unit's own resolved set, overrides included); without, every configured
    policy, disabled ones too (a unit may enable one)."""
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
            if not windowed_only:
                days = max(days, int(settings["history_days"]))
            if isinstance(pol, RollingWindowPolicy):
                days = max(days, pol.days * 2 + 31 if pol.cfg["working_days"] else pol.days + 1)
            elif isinstance(pol, MaxGapPolicy):
                days = max(days, pol.max_days * (2 if pol.cfg["working_days"] else 1) + 31 + 31)
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
