"""staleness: 超过2周未更新 / 监测时间点前2周内无信息更新 — stale at any moment."""
from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Annotated, Any, Callable, Literal, Sequence

from pydantic import AfterValidator

from ...registry import COLUMN_TYPES, SourceConfig
from ...types import PORTAL, TZ, UTC, WECHAT, PostFact, Status, Verdict
from ..engine import _PERIOD_WORDS, _POST_ORDER, _PUBLISHED, Breach, Finding, _day, _Facts, _midnight, _when
from ..policy import SilencePolicy



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


def _age(value: Any) -> tuple[int, str]:
    try:
        return _age_spec(value)
    except ValueError:
        raise ValueError(f"应为正整数天数或 14d / 6m / 1y: {value!r}") from None


# An age limit: 14 | "14d" | "6m" | "1y", read as (n, "d" | "m").
Age = Annotated[Any, AfterValidator(_age)]


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


def _days_touched(b: Breach, until: datetime) -> int:
    """Local days on which `b` held at some moment before `until`."""
    end = min(b.hi, until)
    if end <= b.lo:
        return 0
    return (_day(end - timedelta(microseconds=1)) - _day(b.lo)).days + 1



class StalenessPolicy(SilencePolicy, kind="staleness"):
    """超过2周未更新 / 监测时间点前2周内无信息更新 (国办秘函〔2019〕19号; a city circular, 2020):
    inspectors may check at any moment, so a column (a WeChat account) is stale at every moment
    its last post is older than its type's limit (news 2 weeks, notices/policies 6 months,
    personnel/planning 1 year; WeChat 14 days). A period is 未达标 if the column was stale at any
    moment in it. A column that never had a post is an empty column (空白栏目), stale throughout.
    Proof: reads that cover the limit's length of silence before one stale moment of the period."""

    label = "栏目更新时效"
    sentence = "监测时间点前{n}内应有信息更新"         # stale at any moment its last post is older
    order = 3
    default_period = "week"

    class Options(SilencePolicy.Options):
        # per column type (null: not judged); given in part, the other types keep these
        max_age: dict[Literal[tuple(COLUMN_TYPES)], Age | None] = {
            "news": "14d", "notice": "6m", "policy": "6m", "personnel": "1y", "planning": "1y"}
        wechat_max_age: Age | None = "14d"

    def __init__(self, name: str, cfg: dict[str, Any], where: str):
        super().__init__(name, cfg, where)
        self.ages = {ctype: age for ctype, age in self.options.max_age.items() if age is not None}
        self.wechat_age = self.options.wechat_max_age

    @classmethod
    def label_of(cls, rule: str) -> str:
        if rule == "staleness:wechat":
            return "公众号更新时效"
        arg = rule.partition(":")[2]
        return f"{cls.label}({COLUMN_TYPES.get(arg, arg)})"

    @classmethod
    def sentence_of(cls, v: Verdict) -> str | None:
        return cls.sentence.format(n=(v.evidence or {}).get("max_age", "规定期限"))

    @classmethod
    def ask(cls, v: Verdict, word: str) -> str:
        ev = v.evidence or {}
        limit = ev.get("max_age", "规定期限")
        ask = f"任何时候距最后一次更新不得超过{limit}（监测时间点前{limit}内应有信息更新）"
        if not (ev.get("last_post") or ev.get("last_update")) and ev.get("empty_columns"):
            return f"{ask}，{word}栏目内没有任何信息（空白栏目）"
        return f"{ask}，{word}{'即将' if v.status is Status.AT_RISK else '已'}超过{limit}未更新"

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
        stale_text, soon_text, empty, unread = [], [], [], []
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
                # 空白栏目 (a national veto term) only for a column read successfully with no post ever;
                # one never read is only unknown so far
                read = any(a.outcome.verified for s in sources for a in facts.attempts.get(s.id, ()))
                (empty if read else unread).append(row)
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
            if unread:
                parts.append("尚未成功读取(无已知信息): " + "、".join(f"「{r['column']}」" for r in unread))
        else:
            if stale_text:
                parts = [f"{word}内曾超过{limit}未更新({stale_text[0][2]})"]
            elif empty:
                parts = [f"{word}内超过{limit}未更新(无任何信息)"]
            elif unread:
                parts = [f"{word}内尚未成功读取, 无已知信息"]
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


