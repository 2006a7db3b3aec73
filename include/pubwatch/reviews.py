"""人工复核: a supervisor corrects a stored verdict, with a reason and a trail (#20).

Every 通报 invites units to contest it ("对监测结果有异议的，请于3个工作日内联系政务公开办核实"). When a
unit proves it posted (a WeChat 群发 the API does not list, an article on a column the registry does
not know, a site that was down for the crawler only), a supervisor records a review here — from the
CLI (`pubwatch review`) or the board's unit page — and the reviewed status is the one used
everywhere verdicts are read: the board, the circular and its .xlsx, scores and rankings, streaks and
escalation, the summaries (the store lays the review in force over the computed verdict:
store/reviews.py). The computed verdict stays in the evaluations table and in the verdict's evidence
(`computed_status`, `computed_reason`, `review`), so the board shows both.

- A review is never changed nor deleted; a later review of the same verdict (unit, channel, period,
  rule) supersedes it, both kept (`review_history`).
- A re-evaluation or a backfill rewrites the computed verdict only; the review stays in force.
- A notice already sent is not sent again (the ledger's one row per unit, period, kind and channel);
  the next supervisors' summary lists the corrections recorded since the previous summary
  (`corrections`).
- A reviewed 达标 with an evidence URL also stores that post (see `record_review`), so it counts in
  the later windows (monthly quotas, max gap) from the next evaluation of the periods holding it;
  a later review that revokes that 达标 (or gives another link) withdraws the post again.
"""
from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from .periods import Period
from .registry import Registry, Unit
from .rules import UNIT_SCOPE     # Verdict.channel of a rule over both channels
from .store import MANUAL_DATE, Review, Store
from .text import clean_text
from .types import CHANNEL_LABELS, CHANNELS, STATUS_LABELS, TZ, ListItem, Status
from .urls import http_url

__all__ = ["REVIEWABLE", "Review", "ReviewError", "corrections", "correction_line", "current_reviews",
           "default_reviewer", "find_unit", "record_review", "review_history"]

REVIEWABLE = (Status.MET, Status.MISSED, Status.EXEMPT)    # what a supervisor may set
MAX_REASON = 2000
MAX_REVIEWER = 100
MANUAL = MANUAL_DATE           # the post's evidence: {"dates": {"date_from": "manual"}, ...}


class ReviewError(ValueError):
    """A review that cannot be recorded; the message (Chinese) names the field, e.g.
    「复核 字段 reason: 请填写复核理由」. `field` is the field's name."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"复核 字段 {field}: {message}")


def default_reviewer() -> str:
    """Who records a review from the command line: the OS user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (a container without passwd entry)
        return "unknown"


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, "门户网站和微信公众号合计" if channel == UNIT_SCOPE else channel)


def find_unit(registry: Registry, unit_id: str) -> Unit:
    """The registry's unit of this id, else of this exact name; ReviewError (field unit) if none."""
    wanted = (unit_id or "").strip()
    for u in registry.units:
        if u.id == wanted:
            return u
    for u in registry.units:
        if u.name == wanted:
            return u
    raise ReviewError("unit", f"登记册中没有单位 {unit_id!r}")


def _status(status: str | Status) -> Status:
    value = status.value if isinstance(status, Status) else str(status or "").strip()
    for s in REVIEWABLE:
        if value in (s.value, STATUS_LABELS[s]):
            return s
    allowed = ", ".join(f"{s.value} ({STATUS_LABELS[s]})" for s in REVIEWABLE)
    raise ReviewError("status", f"无法识别的状态 {status!r}, 只能是 {allowed}")


def _period(period: str) -> Period:
    try:
        return Period.parse(str(period or "").strip())
    except (ValueError, TypeError):
        raise ReviewError("period", f"无法识别的周期 {period!r}, 应如 2026-W47 / 2026-11 / 2026-Q4 / 2026") from None


def _text(field: str, value: str | None, limit: int, missing: str) -> str:
    text = clean_text(value)
    if not text:
        raise ReviewError(field, missing)
    if len(text) > limit:
        raise ReviewError(field, f"不能超过 {limit} 个字 (现为 {len(text)} 个)")
    return text


def _evidence_url(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    url = http_url(value)
    if not url:
        raise ReviewError("evidence_url", f"证据链接只能是 http:// 或 https:// 网址: {str(value)[:200]!r}")
    return url


def record_review(store: Store, registry: Registry, *, unit_id: str, period: str, channel: str, status: str,
                  reason: str, reviewer: str, rule: str = "weekly", evidence_url: str | None = None,
                  now: datetime | None = None, published: date | str | None = None) -> Review:
    """Record a supervisor's review of the stored verdict (unit, channel, period, rule) and return it.

    Raises ReviewError (naming the field) for an unknown unit (id, or exact name), a period that is not
    a period key, a status other than met / missed / exempt (or 达标 / 未达标 / 免检), an empty reason or
    reviewer, an evidence URL that is not http(s), a verdict that was never evaluated (period: no
    verdict of the unit in it; channel: none of that channel; rule: none of that rule), and a
    `published` date (a date, or its text YYYY-MM-DD; blank: none) that is not a date, outside the
    period or after today.

    A review of status met with an evidence URL also stores that post — the unit's proof — through
    the normal post upsert: on the unit's source of that channel (its first 动态 column, else its first
    source; none when the unit has no source of that channel any more; for a rule over both channels
    the first portal column), so the rules count it like a
    crawled post; its stated date is `published`, by default the period's last day, or today if the
    period is still open — the latest day the supervisor knows it lies in, which keeps it inside the
    reviewed period. Give `published` (the article's own date) when the supervisor knows it: the
    windows that span periods (max gap, rolling window) count from that day; a later review with the
    same link and a date restates the post with it. A later review that revokes the 达标 or gives
    another link withdraws the post its link added (unless another review in force rests on it). The post's evidence says
    its date came from a review (`dates.date_from = "manual"`, `dates.date_check` naming the review). A URL already stored for
    the unit (and channel) is left as stored: its title, date and flags."""
    unit = find_unit(registry, unit_id)
    per = _period(period)
    channel = str(channel or "").strip()
    if channel not in (*CHANNELS, UNIT_SCOPE):
        raise ReviewError("channel", f"无法识别的渠道 {channel!r}, 只能是 {', '.join(CHANNELS)} 或 {UNIT_SCOPE}")
    new_status = _status(status)
    rule = str(rule or "").strip()
    if not rule:
        raise ReviewError("rule", "请填写规则 (如 weekly)")
    reason = _text("reason", reason, MAX_REASON, "请填写复核理由 (不能为空)")
    reviewer = _text("reviewer", reviewer, MAX_REVIEWER, "请填写复核人")
    url = _evidence_url(evidence_url)
    published = _published(published)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    computed = store.verdicts(per.key, [unit.id], reviewed=False)
    if not computed:
        raise ReviewError("period", f"{unit.name} 在 {per.key} 尚无评估结果, 无可复核的结论 "
                                    f"(请先评估: pubwatch evaluate --period {per.key})")
    of_channel = [v for v in computed if v.channel == channel]
    if not of_channel:
        known = ", ".join(sorted({v.channel for v in computed}))
        raise ReviewError("channel", f"{unit.name} 在 {per.key} 没有渠道 {channel} 的评估结果 (有: {known})")
    verdict = next((v for v in of_channel if v.rule == rule), None)
    if verdict is None:
        known = ", ".join(sorted(v.rule for v in of_channel))
        raise ReviewError("rule", f"{unit.name} 在 {per.key} {channel_label(channel)} 没有规则 {rule} 的评估结果 "
                                  f"(有: {known})")
    post_day = _post_day(per, published, now) if new_status is Status.MET and url else None
    in_force = store.reviews.current(periods=[per.key], unit_ids=[unit.id]).get(
        (unit.id, channel, per.key, rule))
    previous = in_force.status if in_force else verdict.status
    review = store.reviews.add(unit_id=unit.id, channel=channel, period=per.key, rule=rule,
                               status=new_status.value, reason=reason, evidence_url=url, reviewer=reviewer,
                               created_at=now, previous_status=previous.value)
    if in_force and in_force.status is Status.MET and in_force.evidence_url and (
            post_day is None or url != in_force.evidence_url or published is not None):
        # revoked, another link, or the same link with the article's own date: the earlier proof goes
        _withdraw_manual_post(store, unit, channel, in_force.evidence_url, review.key)
    if post_day is not None:
        _store_manual_post(store, unit, channel, url, post_day, review, now)
    return review


def _published(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReviewError("published", f"无法识别的日期 {text[:40]!r}, 应如 2026-11-18") from None


def _post_day(period: Period, published: date | None, now: datetime) -> date:
    if published is not None:
        if isinstance(published, datetime):
            published = published.astimezone(TZ).date() if published.tzinfo else published.date()
        if not period.contains(published):
            raise ReviewError("published", f"发布日期 {published} 不在 {period.label} 之内")
        if published > now.astimezone(TZ).date():
            raise ReviewError("published", f"发布日期 {published} 晚于今天, 请填写该文实际发布的日期")
        return published
    today = now.astimezone(TZ).date()
    return min(period.end, today) if today >= period.start else period.end


def _manual_source(unit: Unit, channel: str):
    """The source a reviewed verdict's proof post is stored on (see `record_review`), or None: one of
    the channel's own (a WeChat proof never counts for the portal); for a rule over both channels a
    portal column, else any."""
    sources = unit.sources_of(channel) if channel in CHANNELS else (unit.sources_of(CHANNELS[0]) or unit.sources)
    return next((s for s in sources if s.column_type == "news"), sources[0]) if sources else None


def _withdraw_manual_post(store: Store, unit: Unit, channel: str, url: str, superseded: tuple) -> None:
    """The 达标 with this proof of the verdict `superseded` was replaced (revoked, another link, or
    the same link with a stated date): the post its review stored stops counting — unless a review
    in force of another verdict still rests on that link. A crawled post at that URL is kept (also one
    the review stored first and a crawl listed since: store.upsert_posts makes it a crawled post)."""
    source = _manual_source(unit, channel)
    if source is None:
        return
    for key, r in store.reviews.current(unit_ids=[unit.id]).items():
        if key != superseded and r.status is Status.MET and r.evidence_url == url and (
                (s := _manual_source(unit, r.channel)) is not None and s.channel == source.channel):
            return
    store.remove_post_dated_by(unit.id, source.channel, url, MANUAL)


def _store_manual_post(store: Store, unit: Unit, channel: str, url: str, day: date, review: Review,
                       now: datetime) -> None:
    source = _manual_source(unit, channel)
    if source is None:
        return
    title = clean_text(f"人工复核补录: {review.reason}")[:200]
    item = ListItem(title, url, datetime.combine(day, time.min, tzinfo=TZ),
                    extra={"date_from": MANUAL, "date_check": f"人工复核 #{review.id} ({review.reviewer})"})
    store.upsert_posts(source, [item], seen_at=now, attempt_id=None, keep_known=True)


def current_reviews(store: Store, period: str | None = None,
                    unit_ids: Sequence[str] | None = None) -> dict[tuple[str, str, str, str], Review]:
    """{(unit, channel, period, rule): the review in force} (of `period`, of `unit_ids`, or all)."""
    return store.reviews.current(periods=[period] if period else None,
                                 unit_ids=list(unit_ids) if unit_ids is not None else None)


def review_history(store: Store, unit_id: str | None = None, period: str | None = None) -> list[Review]:
    """Every review (of a unit, of a period), oldest first: the trail, superseded ones included."""
    return store.reviews.rows(periods=[period] if period else None,
                              unit_ids=[unit_id] if unit_id else None)


def period_word(period_key: str) -> str:
    """「第47周」, 「2026年11月」 — how a correction names its period."""
    try:
        per = Period.parse(period_key)
    except ValueError:
        return period_key
    if per.kind == "week":
        return f"{per.start.isocalendar()[0]}年第{int(per.key.split('-W')[1])}周"
    return per.label


def correction_line(review: Review, unit_name: str) -> str:
    """「更正: 县教育局 2026年第47周 门户网站 未达标→达标, 理由: …」."""
    from .report_data import rule_label

    before = STATUS_LABELS[review.previous_status] if review.previous_status else "—"
    rule = "" if review.rule == "weekly" else f" ({rule_label(review.rule)})"
    return (f"更正: {unit_name} {period_word(review.period)} {channel_label(review.channel)}{rule} "
            f"{before}→{STATUS_LABELS[review.status]}, 理由: {review.reason}")


@dataclass(frozen=True)
class Correction:
    """One review as the supervisors' summary lists it."""

    review: Review
    unit_name: str
    line: str

    def as_dict(self) -> dict[str, Any]:
        r = self.review
        return {"id": r.id, "unit_id": r.unit_id, "unit_name": self.unit_name, "period": r.period,
                "channel": r.channel, "channel_label": channel_label(r.channel), "rule": r.rule,
                "from": STATUS_LABELS[r.previous_status] if r.previous_status else "—",
                "to": STATUS_LABELS[r.status], "reason": r.reason, "reviewer": r.reviewer,
                "evidence_url": r.evidence_url or "", "created_at": r.created_at.astimezone(TZ),
                "line": self.line}


def corrections(store: Store, registry: Registry, *, after: datetime | None,
                until: datetime | None = None) -> list[dict[str, Any]]:
    """The reviews recorded in (after, until] — what the supervisors' summary lists as 更正, oldest
    first (each one once: `after` is when the previous summary was made)."""
    names = {u.id: u.name for u in registry.units}
    out = []
    for r in store.reviews.rows(created_after=after, created_until=until):
        name = names.get(r.unit_id, r.unit_id)
        out.append(Correction(r, name, correction_line(r, name)).as_dict())
    return out
