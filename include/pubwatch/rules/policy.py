"""Policy configuration and the base class of a rule kind.

A rule kind is one class in its own file under `rules/kinds/`, registered by subclassing:

    class WeeklyPolicy(CountPolicy, kind="weekly"):
        label = "每周更新"                                  # what the board / circular shows
        sentence = "原则上一个星期不低于一条工作动态"          # what the circular quotes
        class Options(CountPolicy.Options):                 # its options (pydantic), checked and
            min_posts: int = Field(1, ge=1, le=MAX_POLICY_INT)  # named by field when wrong
        def findings(self, facts): ...                      # what it finds in a period
        def ask(cls, verdict, word): ...                    # what a notice asks of the unit
        def lookback(self, settings, windowed_only): ...    # how far before the period it reads

`kind_of(rule)` finds the class of a verdict's rule name; report_data.py, notices/render.py and the
board ask it (label, sentence, ask) and keep no list of rule names. Every module in `kinds/` is
imported by `rules/kinds/__init__.py`, so a new kind needs its file and policies.yaml lines only.

Policies (include/policies.yaml, or $PUBWATCH_POLICIES) are configured per unit category with
per-unit overrides (`Unit.policy`, deep-merged).
"""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Iterable, Literal, Sequence

from pydantic import ConfigDict, Field, model_validator

from .. import yamlfile
from ..options import OptionError, Options, check_options
from ..periods import KINDS, Period
from ..registry import CATEGORIES, COLUMN_TYPES, SourceConfig, Unit
from ..types import CHANNEL_LABELS, CHANNELS, PORTAL, TZ, UTC, WECHAT, PostFact, Verdict
from ..workdays import WorkCalendar
from .engine import (_PERIOD_WORDS, _POST_ORDER, EVIDENCE_POSTS, UNIT_SCOPE, Finding, _Facts, _gap_stats,
                     _post_brief, dedupe_posts)

DEFAULT_POLICIES_PATH = Path(__file__).resolve().parents[2] / "policies.yaml"
MAX_POLICY_INT = 10_000                   # no count, day or lead an office writes is larger
_SHORTEST_DAYS = {"week": 7, "month": 28, "quarter": 90, "year": 365}


class PolicyOptions(Options):
    """Base of the options of a rule kind (policies.yaml, one policy): the fields every kind has.
    A kind declares its own as `class Options(<base>.Options)` in its class; values are taken as
    YAML gives them (strict: "2" is no number, 1 is no true/false); defaults are validated too."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)

    kind: str | None = None                                  # default: the policy's name
    enabled: bool = True
    period: Literal[KINDS] | None = None                      # default: the kind's default_period
    channels: list[Literal[CHANNELS]] | None = None           # default: both
    columns: list[str | int] | None = None                    # column ids (or their last part)
    column_types: list[Literal[tuple(COLUMN_TYPES)]] | None = None
    warn_lead_days: int | None = Field(None, ge=0, le=MAX_POLICY_INT)   # below the period's length
    count_suspicious: bool | None = None                      # default: settings.count_suspicious
    label: str | None = None


class PolicySettings(Options):
    """policies.yaml `settings` (and a unit's `policy: {settings: …}`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    freshness_hours: float = Field(24, ge=0)              # an open period counts as verified by reads this recent
    escalate_after: int = Field(2, ge=0)                  # consecutive missed periods before 分管领导 is told
    holiday_week: Literal["exempt", "evaluate"] = "exempt"          # a week without a single working day
    count_suspicious: bool = True                         # posts flagged date_suspicious count (and are listed)
    joined_mid_period: Literal["exempt", "prorate"] = "exempt"      # the period in which a unit joined
    history_days: int = Field(730, ge=0)                  # how far back post_window reaches (staleness, empty columns)


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


POLICY_KINDS: dict[str, type[Policy]] = {}      # kind name -> class, filled by subclassing Policy
_RULE_KINDS: dict[str, type[Policy]] = {}       # verdict rule name (before ":") -> class


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Make a policy kind available under `cls.kind` (subclassing `Policy` with `kind=` does this;
    kept as a decorator for code that registers a class by hand). The same kind from another
    class is an error (two files claiming one name)."""
    known = POLICY_KINDS.get(cls.kind)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"policy kind {cls.kind!r} is already {known.__module__}.{known.__qualname__}")
    POLICY_KINDS[cls.kind] = cls
    for name in (cls.kind, *cls.rule_names):
        _RULE_KINDS[name] = cls
    return cls


def unregister_policy(kind: str) -> None:
    """Forget a kind (tests that define one)."""
    cls = POLICY_KINDS.pop(kind, None)
    for name, known in list(_RULE_KINDS.items()):
        if known is cls:
            del _RULE_KINDS[name]


def kind_of(rule: str) -> type[Policy] | None:
    """The kind (class) whose policies give verdicts named `rule` ("weekly", "staleness:news",
    "topic_quota:tpgj", "deadline:annual_report"), or None for a rule no kind knows."""
    head = rule.partition(":")[0]
    return _RULE_KINDS.get(head)


def all_kinds() -> list[type[Policy]]:
    """Every registered kind, in the order the circular quotes their sentences."""
    return sorted(POLICY_KINDS.values(), key=lambda c: (c.order, c.kind))


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
        self.settings = _settings(_mapping(data.get("settings"), source, "-", "settings"), source)
        self.defaults = _mapping(data.get("defaults"), source, "-", "defaults")
        self.categories = _mapping(data.get("categories"), source, "-", "categories")
        for cat in self.categories:
            if cat not in CATEGORIES:
                raise PolicyError(source, "-", f"categories.{cat}", f"未知单位类别, 应为 {', '.join(CATEGORIES)} 之一")
        self.scoring = _mapping(data.get("scoring"), source, "-", "scoring")
        self._cache: dict[Any, UnitPolicies] = {}
        for cat in CATEGORIES:                       # validate every category up front (for_unit's cache)
            self._cache[cat] = self._resolve(cat, {}, f"{source}: categories.{cat}")

    def _resolve(self, category: str, override: dict[str, Any], where: str,
                 include_disabled: bool = False) -> UnitPolicies:
        raw = deep_merge(self.defaults, _mapping(self.categories.get(category), where, "-", category))
        raw = deep_merge(raw, override)
        extra = _mapping(raw.pop("settings", None), where, "-", "settings")
        settings = _settings(deep_merge(self.settings, extra), where) if extra else self.settings
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


def _settings(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings checked against `PolicySettings`, its defaults filled in, as a plain dict (the rules
    read it by name)."""
    try:
        return check_options(PolicySettings, settings).model_dump()
    except OptionError as exc:
        raise PolicyError(where, "settings", exc.field, exc.message) from None


def load_policies(path: str | Path | None = None) -> Policies:
    """Read policies.yaml: `path`, else $PUBWATCH_POLICIES, else include/policies.yaml."""
    p = Path(path or os.environ.get("PUBWATCH_POLICIES") or DEFAULT_POLICIES_PATH)
    try:
        data = yamlfile.load(p)
    except yamlfile.YamlFileError as exc:
        raise PolicyError(str(p), "-", "-", f"无法读取策略文件 (cannot read): {exc}") from None
    return Policies(data, source=str(p))




# ============================================================================ the base class
class Policy:
    """Base class of a rule kind. A subclass names its kind in its class line
    (`class XPolicy(Policy, kind="x")`), which registers it, and declares:

    * `label` — the Chinese label of its verdicts (board, circular, notices); `label_of(rule)` when
      one kind gives verdicts of several names (staleness:news / staleness:wechat);
    * `sentence` — the sentence of the circular (通知/通报) it enforces, in the reading pubwatch
      applies, as the circular quotes it (`sentence_of(verdict)` fills in its numbers); `order`
      places it among the others (the weekly rule first);
    * `ask(verdict, word)` — the sentence a notice asks of a unit;
    * `lookback(settings, windowed_only)` — how many days before the period its facts reach;
    * `default_period`, and `Options` — its options, a pydantic model extending the base's
      (`class Options(Policy.Options): max_days: int = Field(14, ge=1)`), which checks them and
      names the field of a bad one; the policy reads them as `self.options.max_days`;
    * `findings(facts)` — what it finds in a period (engine.Finding: a count, or breaches);
    * `rule_names` — other verdict rule names (before ":") its findings carry (topic_quota);
    * `can_prorate` (a unit joining mid-period: prorate its requirement, or exempt the period),
      `judged_at_period_end` (a count judged when the period closes: the notices' words for
      the late), `exempt_reason(period, settings, calendar)` (a period the kind itself exempts).
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    sentence: ClassVar[str] = ""
    order: ClassVar[int] = 100
    rule_names: ClassVar[tuple[str, ...]] = ()
    default_period: ClassVar[str] = "week"
    Options: ClassVar[type[PolicyOptions]] = PolicyOptions
    silence: ClassVar[bool] = False   # judges silences (staleness, rolling_window, max_gap), not counts
    can_prorate: ClassVar[bool] = True
    judged_at_period_end: ClassVar[bool] = True

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind
            register_policy(cls)

    # ----- what the kind says about its verdicts --------------------------------------------
    @classmethod
    def label_of(cls, rule: str) -> str:
        """The label of a verdict of this kind named `rule`."""
        return cls.label or rule

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        """The circular's sentence for verdict `v` (None: the kind quotes none for it)."""
        return cls.sentence or None

    @classmethod
    def ask(cls, v: Verdict, word: str) -> str:
        """What the rule asks of the unit, in the words of its circular; `word` is "实际" (a
        closed finding) or "目前" (a reminder). By default a count."""
        return f"应更新不少于{v.required}条，{word}{v.count}条"

    def lookback(self, settings: dict[str, Any], windowed_only: bool = False) -> int:
        """Days before the period whose posts its findings read: `history_days` for each column's
        last post (evidence, an empty column) — unless `windowed_only`."""
        return 0 if windowed_only else int(settings["history_days"])

    def exempt_reason(self, period: Period, settings: dict[str, Any], calendar: WorkCalendar) -> str | None:
        """A reason the kind itself exempts `period` (after the unit's own exemptions), or None."""
        return None

    def __init__(self, name: str, cfg: dict[str, Any], where: str):
        self.name, self.where = name, where
        nested = {n: f.get_default(call_default_factory=True) for n, f in self.Options.model_fields.items()
                  if isinstance(f.default, dict)}     # a mapping option given in part keeps the other keys
        try:
            self.options = check_options(self.Options, deep_merge(nested, cfg) if nested else cfg)
        except OptionError as exc:
            self.fail(exc.field, exc.message)
        o = self.options
        self.enabled = o.enabled
        self.period_kind = o.period or self.default_period
        self.channels = tuple(o.channels or CHANNELS)
        self.columns = tuple(str(c) for c in o.columns or ())
        self.column_types = tuple(o.column_types or ())
        self.warn_lead_days = o.warn_lead_days
        if self.warn_lead_days is not None and self.warn_lead_days >= _SHORTEST_DAYS[self.period_kind]:
            self.fail("warn_lead_days", f"应为 0–{_SHORTEST_DAYS[self.period_kind] - 1} 之间的整数 "
                                        f"(预警应早于周期结束): {self.warn_lead_days!r}")
        self.count_suspicious = o.count_suspicious

    def fail(self, field_name: str, message: str) -> None:
        raise PolicyError(self.where, self.name, field_name, message)

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
class CountPolicy(Policy):
    """≥ min_posts per period, per channel (or over both channels with scope: unit)."""

    class Options(PolicyOptions):
        min_posts: int = Field(1, ge=1, le=MAX_POLICY_INT)

    @property
    def min_posts(self) -> int:
        return self.options.min_posts

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



# ----------------------------------------------------------------------- silence rules
class SilencePolicy(Policy):
    """Base of the rules that judge silences between posts. A breach, once it happened, is final:
    in an open period a proven breach is 未达标 at once; before it happens, `warn_lead_days`
    (default 3) before the last day a post still prevents it, the verdict is 预警 with that day
    as its deadline. A new unit's silence is counted from its joining day (the period it joined in
    is exempt); posts before that day do not shorten it, days before it do not lengthen it."""

    silence = True
    can_prorate = False               # a silence cannot be prorated

    class Options(PolicyOptions):
        warn_lead_days: int | None = Field(3, ge=0, le=MAX_POLICY_INT)   # null: no 预警
        lead_limit: ClassVar[tuple[str, str] | None] = None   # (field, its words): the lead stays below it

        @model_validator(mode="after")
        def _lead_below_limit(self) -> "SilencePolicy.Options":
            if self.lead_limit and self.warn_lead_days is not None:
                name, words = self.lead_limit
                if self.warn_lead_days >= getattr(self, name):
                    raise OptionError("warn_lead_days",
                                      f"预警提前天数应小于{words} {getattr(self, name)}: {self.warn_lead_days}")
            return self
    judged_at_period_end = False

    def counts_suspicious(self, facts: _Facts) -> bool:
        return facts.settings["count_suspicious"] if self.count_suspicious is None else self.count_suspicious

    def channel_posts(self, facts: _Facts, channel: str, sources: Sequence[SourceConfig]) -> list[PostFact]:
        """The channel's counted posts (deduplicated) of `sources` before the check point, oldest first."""
        ids = {s.id for s in sources}
        susp = self.counts_suspicious(facts)
        cp = facts.check_point
        return [p for p in facts.channel_posts[channel]
                if p.source_id in ids and p.published < cp and (susp or not p.date_suspicious)]


