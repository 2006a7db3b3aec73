"""The cadence rules engine: posts + crawl attempts -> one Verdict per unit x channel x period x rule.

Pure functions, no database, no Airflow. `evaluate.py` passes the posts published in
`post_window(period)` and the attempts started in `attempt_window(period, as_of)`.

Policies (include/policies.yaml, or $PUBWATCH_POLICIES) are configured per unit category with
per-unit overrides (`Unit.policy`, deep-merged). Each policy kind is a small class registered by
its kind name (urlwatch style): weekly, monthly_quota, staleness, rolling_window, max_gap.

The honesty rule, applied to every policy by `_judge`:
  * requirement met by the posts we have            -> MET (even if some fetches failed)
  * not met, and every relevant source verified     -> MISSED (closed period) / AT_RISK (open,
                                                       within the warning lead)
  * not met, and some relevant source not verified  -> UNKNOWN, naming the source and its failure
A source is verified for a closed period when it had an OK/NOT_MODIFIED attempt at or after the
period end (and, for feeds reporting `source_updated`, that time is at/after the period end); for
a still-open period, within `freshness_hours` before `as_of`.

All five kinds are monotone: more posts can only help. So for a still-open period a policy is
evaluated as if no further post arrived before the deadline; if that is already enough, it is MET.
"""
from __future__ import annotations

import copy
import math
import os
from functools import lru_cache
from operator import attrgetter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Iterable, Sequence

from . import yamlfile
from .periods import KINDS, Period
from .registry import CATEGORIES, COLUMN_TYPES, SourceConfig, Unit
from .types import (CHANNEL_LABELS, CHANNELS, OUTCOME_LABELS, PORTAL, TZ, UTC, WECHAT, AttemptFact,
                    PostFact, Status, Verdict)
from .workdays import WorkCalendar

DEFAULT_POLICIES_PATH = Path(__file__).resolve().parents[1] / "policies.yaml"
_POST_ORDER = attrgetter("published", "url")
_POST_AND_SOURCE_ORDER = attrgetter("published", "url", "source_id")
_ATTEMPT_ORDER = attrgetter("started_at", "outcome")       # Outcome is a str enum: ordered by its value
_VERDICT_ORDER = attrgetter("channel", "rule")
UNIT_SCOPE = "unit"                      # Verdict.channel for rules over both channels together
EVIDENCE_POSTS = 5
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
    # Both in UTC, like stored times: comparing datetimes of one tzinfo skips utcoffset() calls.

    def __post_init__(self) -> None:
        self.is_open = self.as_of < self.period.end_dt
        self.check_point = min(self.as_of, self.period.end_dt).astimezone(UTC)
        self.start = self.period.start_dt.astimezone(UTC)

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


def _verification(facts: _Facts, sources: Sequence[SourceConfig]) -> tuple[bool, list[str], dict[str, Any]]:
    """Whether every source is verified for the period; Chinese problems; failed-attempt summary."""
    cutoff = (facts.period.end_dt if not facts.is_open else facts.as_of - timedelta(
        hours=facts.settings["freshness_hours"])).astimezone(UTC)
    word = _PERIOD_WORDS[facts.period.kind]
    problems: list[str] = []
    failed: dict[str, Any] = {"count": 0, "by_outcome": {}, "last": None}
    for src in sources:
        atts = facts.attempts.get(src.id, [])
        good = [a for a in atts if a.outcome.verified and a.started_at >= cutoff]
        # A listing proves "no post" only as far back as it reached (crawls chain their coverage).
        reaching = [a for a in good if a.covered_from is not None and a.covered_from <= facts.start]
        fresh = [a for a in reaching if a.source_updated is None or a.source_updated >= cutoff]
        bad = [a for a in atts if not a.outcome.verified]
        for a in bad:
            failed["count"] += 1
            failed["by_outcome"][a.outcome.value] = failed["by_outcome"].get(a.outcome.value, 0) + 1
            if failed["last"] is None or a.started_at >= datetime.fromisoformat(failed["last"]["at"]):
                failed["last"] = {"source": src.id, "outcome": a.outcome.value, "message": a.message,
                                  "at": a.started_at.isoformat()}
        if fresh:
            continue
        label = _source_label(src)
        if good and not reaching:
            reaches = [a.covered_from for a in good if a.covered_from is not None]
            if reaches:
                problems.append(f"{label}的列表只回溯到 {_fmt(min(reaches))}, 未覆盖{word}, 无法确认是否发文")
            else:
                problems.append(f"{label}的抓取记录未记录列表回溯范围(升级前的记录), 无法确认{word}是否发文")
        elif good:
            last = max(a.source_updated for a in good if a.source_updated is not None)
            problems.append(f"等待{label}更新 (数据源最后更新于 {_fmt(last)}, 需晚于 {_fmt(cutoff)})")
        elif bad:
            a = bad[-1]
            detail = f": {a.message}" if a.message else ""
            problems.append(f"{label}{word}抓取失败: {OUTCOME_LABELS[a.outcome]}{detail} ({_fmt(a.started_at)})")
        else:
            problems.append(f"{label}在 {_fmt(cutoff)} 之后尚无成功抓取")
    return not problems, problems, failed


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
    failed_already: bool = False      # open period, but already failed whatever comes next
    warn_from: date | None = None     # open period: at_risk from this day on
    deadline: date | None = None


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
        if self.warn_lead_days is not None:
            self.warn_lead_days = self.int_field("warn_lead_days", minimum=0)
        self.count_suspicious = self.cfg.get("count_suspicious")
        self.validate()

    # ----- config helpers ---------------------------------------------------------------
    def fail(self, field_name: str, message: str) -> None:
        raise PolicyError(self.where, self.name, field_name, message)

    def int_field(self, name: str, minimum: int = 0, value: Any = None) -> int:
        value = self.cfg.get(name) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(name, f"应为不小于 {minimum} 的整数: {value!r}")
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
        self.min_posts = self.int_field("min_posts", minimum=0)

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
        live = [c for c in self.channels if c not in unit.suspended and self.sources(unit, c)]
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


# ----------------------------------------------------------------------- staleness
def _months_back(d: datetime, months: int) -> datetime:
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


def _days_out_of_limit(ref: datetime | None, period: Period, check_point: datetime,
                       spec: tuple[int, str]) -> int:
    """Days of the period (up to the check point) at whose end `ref` was older than the limit.
    Being out of limit only grows with time (ref is fixed), so count back from the last day."""
    last_day = _last_day(check_point)
    if ref is None:
        return max(0, (min(last_day, period.end) - period.start).days + 1)
    count, d = 0, min(last_day, period.end)
    while d >= period.start and ref < _day_end_cutoff(d, spec):
        count += 1
        d -= timedelta(days=1)
    return count


@lru_cache(maxsize=4096)
def _last_day(check_point: datetime) -> date:
    return (check_point - timedelta(microseconds=1)).astimezone(TZ).date()


@lru_cache(maxsize=4096)
def _day_end_cutoff(d: date, spec: tuple[int, str]) -> datetime:
    """The staleness cutoff at the end of day `d` (midnight after it, Asia/Shanghai), in UTC."""
    return _cutoff(datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=TZ), spec).astimezone(UTC)


@lru_cache(maxsize=4096)
def _cutoff(check_point: datetime, spec: tuple[int, str]) -> datetime:
    n, unit = spec
    cp = check_point.astimezone(TZ)
    return cp - timedelta(days=n) if unit == "d" else _months_back(cp, n)


@lru_cache(maxsize=256)
def _spec_text(spec: tuple[int, str]) -> str:
    n, unit = spec
    if unit == "d":
        return f"{n}天"
    return f"{n // 12}年" if n % 12 == 0 else f"{n}个月"


@register_policy
class StalenessPolicy(Policy):
    """Each column updated within its type's age limit, counted back from the check point
    (national inspection rules: news 2 weeks, notices/policies 6 months, personnel/planning 1 year).
    A column that never had a post is an empty column (空白栏目). WeChat: no post for 14 days."""

    kind = "staleness"
    default_period = "week"
    defaults = {"max_age": {"news": "14d", "notice": "6m", "policy": "6m", "personnel": "1y",
                            "planning": "1y"},
                "wechat_max_age": "14d"}

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
            out.append(self.finding(facts, "staleness:news", WECHAT, [(sources[0].name, sources)],
                                    self.wechat_age, self.subject(unit, WECHAT)))
        return out

    def finding(self, facts: _Facts, rule: str, channel: str,
                groups: list[tuple[str, tuple[SourceConfig, ...]]], spec: tuple[int, str], subject: str) -> Finding:
        """`groups`: (name, sources) — one group per portal column, one for a WeChat account."""
        deadline_dt = facts.period.end_dt                      # judged at the period's end
        cutoff = _cutoff(deadline_dt, spec)
        cutoff_utc = cutoff.astimezone(UTC)
        check_day = facts.check_point.astimezone(TZ).date()
        count_susp = facts.settings["count_suspicious"] if self.count_suspicious is None else self.count_suspicious
        joined = facts.unit.start_date
        columns, stale, empty, failing_sources = [], [], [], []
        out_days, warn_from = 0, None
        for name, sources in groups:
            last = facts.last_post(sources, count_susp)
            ref = last.published if last else None
            if joined is not None:                              # a new unit's clock starts on joining
                joined_dt = datetime.combine(joined, datetime.min.time(), tzinfo=TZ)
                ref = max(ref, joined_dt) if ref else joined_dt
            fresh = ref is not None and ref >= cutoff_utc
            row: dict[str, Any] = {"column": name, "sources": [s.id for s in sources],
                                   "fresh": fresh}
            if last is not None:
                row["last_post"] = {"title": last.title, "url": last.url,
                                    "date": last.local_day.isoformat()}
                row["age_days"] = (check_day - last.local_day).days
            columns.append(row)
            if ref is not None:
                due = ref.astimezone(TZ).date() + (deadline_dt.date() - cutoff.date())
                warn_from = due if warn_from is None else min(warn_from, due)
            if not (fresh and not facts.is_open):               # fresh at the end: never out before
                out_days += _days_out_of_limit(ref, facts.period, facts.check_point, spec)
            if not fresh:
                (empty if last is None else stale).append(row)
                failing_sources.extend(sources)
        fresh_count = sum(1 for r in columns if r["fresh"])
        limit = _spec_text(spec)
        parts = [f"{len(columns)}个栏目中{fresh_count}个在{limit}内有更新"] if channel == PORTAL else \
            [f"近{limit}内有更新" if fresh_count else f"超过{limit}未更新"]
        if stale and channel == PORTAL:
            parts.append("超期未更新: " + "、".join(f"「{r['column']}」(最后更新 {r['last_post']['date']})" for r in stale))
        if empty:
            parts.append("空白栏目(无任何信息): " + "、".join(f"「{r['column']}」" for r in empty))
        if channel == WECHAT and columns and "last_post" in columns[0]:
            parts.append(f"最后更新 {columns[0]['last_post']['date']}")
        last_dates = [r["last_post"]["date"] for r in columns if "last_post" in r]
        evidence = {"columns": columns, "max_age": limit, "days_out_of_compliance": out_days,
                    "empty_columns": [r["column"] for r in empty]}
        if last_dates:
            evidence["last_update"] = max(last_dates)
            newest = max((r for r in columns if "last_post" in r), key=lambda r: r["last_post"]["date"])
            evidence["last_post"] = {**newest["last_post"], "published": newest["last_post"]["date"]}
        lead = self.warn_lead_days
        f = Finding(rule, channel, subject, ", ".join(parts), fresh_count, len(columns), not (stale or empty),
                    tuple(failing_sources) or tuple(s for _, ss in groups for s in ss), evidence,
                    deadline=facts.period.end)
        if lead is not None and warn_from is not None:
            f.warn_from = warn_from - timedelta(days=lead)
        elif lead is not None:
            f.warn_from = facts.period.start
        return f


# ----------------------------------------------------------------------- rolling window / max gap
@register_policy
class RollingWindowPolicy(Policy):
    """≥ min_posts in the `days` days (or working days) before the check point (the period's end)."""

    kind = "rolling_window"
    default_period = "week"
    defaults = {"min_posts": 1, "days": 10, "working_days": False}

    def validate(self) -> None:
        self.min_posts = self.int_field("min_posts", 1)
        self.days = self.int_field("days", 1)
        if not isinstance(self.cfg["working_days"], bool):
            self.fail("working_days", "应为 true/false")

    def window_start(self, end_day: date, calendar: WorkCalendar) -> date:
        """First day of the window whose last day is `end_day`."""
        if self.cfg["working_days"]:
            return calendar.add_working_days(end_day + timedelta(days=1), -self.days)
        return end_day - timedelta(days=self.days - 1)

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        end_day = facts.period.end
        start_day = self.window_start(end_day, facts.calendar)
        start = datetime.combine(start_day, datetime.min.time(), tzinfo=TZ)
        unit_word = "个工作日" if self.cfg["working_days"] else "天"
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            counted, suspicious = self.counted(facts, sources, channel, start, facts.check_point)
            ordered = sorted(counted, key=_POST_ORDER, reverse=True)
            evidence: dict[str, Any] = {"window": [start_day.isoformat(), end_day.isoformat()],
                                        "posts": [_post_brief(p) for p in ordered[:EVIDENCE_POSTS]]}
            if suspicious:
                evidence["suspicious_posts"] = [_post_brief(p) for p in suspicious[:EVIDENCE_POSTS]]
            last = _last_before(facts.channel_posts[channel], facts.check_point)
            if last is not None:
                evidence["last_update"] = last.local_time.isoformat()
            fact = f"{start_day:%m月%d日}至{end_day:%m月%d日}({self.days}{unit_word})内发文{len(counted)}篇(要求至少{self.min_posts}篇)"
            f = Finding(self.kind, channel, self.subject(facts.unit, channel), fact, len(counted), self.min_posts,
                        len(counted) >= self.min_posts, sources, evidence,
                        warn_from=self.default_warn_from(facts), deadline=end_day)
            out.append(f)
        return out


@register_policy
class MaxGapPolicy(Policy):
    """Never more than `max_days` days (or working days) between consecutive posts in the period.
    The last post before the period is the left edge; a mid-period silence counts even if the
    period ends with a post. Without any earlier post the period start is the left edge (so a
    gap is never overstated)."""

    kind = "max_gap"
    default_period = "month"
    defaults = {"max_days": 14, "working_days": False}

    def validate(self) -> None:
        self.max_days = self.int_field("max_days", 1)
        if not isinstance(self.cfg["working_days"], bool):
            self.fail("working_days", "应为 true/false")

    def findings(self, facts: _Facts) -> list[Finding]:
        out = []
        working, cal, period = self.cfg["working_days"], facts.calendar, facts.period
        today = facts.check_point.astimezone(TZ).date() if facts.is_open else period.end
        unit_word = "个工作日" if working else "天"
        count_susp = facts.settings["count_suspicious"] if self.count_suspicious is None else self.count_suspicious
        for channel in self.channels:
            sources = self.sources(facts.unit, channel)
            if not sources:
                continue
            ids = {s.id for s in sources}
            posts = [p for p in facts.channel_posts[channel] if p.source_id in ids and p.published < facts.check_point
                     and (count_susp or not p.date_suspicious)]
            days = sorted({p.local_day for p in posts})
            before = [d for d in days if d < period.start]
            left = before[-1] if before else period.start - timedelta(days=1)
            joined = facts.unit.start_date
            if joined is not None and joined > left:
                left = joined - timedelta(days=1)
            inside = [d for d in days if period.start <= d <= today]
            longest_so_far, out_days = _gap_stats(inside, left, today, cal, working, self.max_days)
            longest_at_end, _ = _gap_stats(inside, left, period.end, cal, working, self.max_days)
            last_day = inside[-1] if inside else left
            evidence: dict[str, Any] = {"longest_gap_days": longest_so_far, "days_out_of_compliance": out_days,
                                        "left_edge": left.isoformat(), "gap_unit": "working_days" if working else "days",
                                        "post_days": [d.isoformat() for d in inside[-EVIDENCE_POSTS:]]}
            if not before:
                evidence["no_earlier_post"] = True
            if posts:
                evidence["last_update"] = posts[-1].local_time.isoformat()
            satisfied = longest_at_end <= self.max_days
            due = cal.add_working_days(last_day, self.max_days) if working else last_day + timedelta(days=self.max_days)
            fact = f"最长更新间隔{longest_so_far}{unit_word}(要求不超过{self.max_days}{unit_word})"
            f = Finding(self.kind, channel, self.subject(facts.unit, channel), fact, longest_so_far, self.max_days,
                        satisfied, sources, evidence, failed_already=longest_so_far > self.max_days,
                        deadline=period.end)
            if self.warn_lead_days is not None:
                f.warn_from = min(due, period.end) - timedelta(days=self.warn_lead_days)
                f.deadline = min(due, period.end)
            out.append(f)
        return out


# ============================================================================ judging
def _exempt_reason(unit: Unit, period: Period, channel: str, policy: Policy, settings: dict[str, Any],
                   calendar: WorkCalendar) -> str | None:
    if unit.start_date and unit.start_date > period.end:
        return f"单位自{unit.start_date:%Y年%m月%d日}起纳入监管, 本期免检"
    if unit.start_date and unit.start_date > period.start and settings["joined_mid_period"] == "exempt":
        return f"单位于{unit.start_date:%Y年%m月%d日}(期中)纳入监管, 首期免检"
    if channel in unit.suspended or (channel == UNIT_SCOPE and all(c in unit.suspended for c in unit.channels)):
        return f"{CHANNEL_LABELS.get(channel, '该渠道')}已暂停监管"
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
    verified, problems, failed = _verification(facts, f.sources)
    evidence["verified"] = verified
    if failed["count"]:
        evidence["failed_attempts"] = failed
    if not verified:
        evidence["unverified"] = problems
        return Verdict(status=Status.UNKNOWN, evidence=evidence, **base,
                       reason=f"{f.subject}{f.fact}, 但无法核实(不作未达标处理): " + "; ".join(problems))
    if not facts.is_open or f.failed_already:
        return Verdict(status=Status.MISSED, reason=f"{f.subject}{f.fact}, 未达标", evidence=evidence, **base)
    today = as_of.astimezone(TZ).date()
    if f.warn_from is not None and today >= f.warn_from:
        base["deadline"] = f.warn_from if f.rule == "weekly" else base["deadline"]
        return Verdict(status=Status.AT_RISK, evidence=evidence, **base,
                       reason=f"{f.subject}截至{_fmt(as_of)}{f.fact}, 尚未达标, 请于{period.end:%m月%d日}前更新")
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
