"""The steps a DAG (or the CLI) runs, as plain functions taking and returning small values.

registry → crawl → store → evaluate → notify → report. Each step opens what it needs from
explicit arguments (DB URL, registry path) so it can run in any worker process.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

from . import config, connections, rules
from .crawl import crawl_unit
from .evaluate import evaluate_period, streaks
from .periods import Period
from .registry import Registry, load_registry
from .store import Store, upgrade
from .types import STATUS_LABELS, TZ, Status, Verdict
from .workdays import WorkCalendar

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    db_url: str | None = None
    registry_path: str | None = None

    @cached_property
    def registry(self) -> Registry:
        return load_registry(self.registry_path)

    @cached_property
    def store(self) -> Store:
        return Store(self.db_url)

    @cached_property
    def policies(self) -> "rules.Policies":
        return rules.load_policies()

    @cached_property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar()

    def fetcher(self):
        from .http import Fetcher, FetchSettings

        return Fetcher(FetchSettings.from_mapping(self.registry.settings.get("fetch")),
                       robots_cache=config.var_dir() / "robots")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


# ------------------------------------------------------------------------------------ prepare
def prepare(rt: Runtime, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Migrate the tracking DB, validate the registry, sync units. Returns units to work on."""
    upgrade(rt.db_url)
    reg = rt.registry
    for err in reg.errors:
        log.error("%s", err.skipped_line)
    rt.store.sync_units(reg.units)
    units = reg.select(list(only) if only else None)
    unknown = sorted(set(only or []) - {u.id for u in units} - {u.name for u in units})
    calendar_warnings = rt.calendar.coverage_warnings(datetime.now(TZ).date())
    for warning in calendar_warnings:
        log.warning("日历: %s", warning)
    return {"units": [{"unit_id": u.id, "unit_name": u.name} for u in units],
            "registry_errors": [e.skipped_line for e in reg.errors], "unknown_selection": unknown,
            "calendar_warnings": calendar_warnings}


# ------------------------------------------------------------------------------------ crawl
def crawl(rt: Runtime, unit_id: str, *, run_id: str | None = None, now: datetime | None = None,
          get_secret: Callable[[str], dict[str, Any]] | None = None, fetcher=None) -> dict[str, Any]:
    from .evidence import EvidenceSettings

    unit = rt.registry.unit(unit_id)
    own = fetcher is None
    fetcher = fetcher or rt.fetcher()
    try:
        result = crawl_unit(rt.store, unit, fetcher=fetcher, now=now, run_id=run_id,
                            get_secret=get_secret or connections.secret_getter(),
                            evidence_settings=EvidenceSettings.from_registry(rt.registry),
                            first_read_weeks=first_read_weeks(rt))
    finally:
        if own:
            fetcher.close()
    return result.to_dict()


def first_read_weeks(rt: Runtime) -> int:
    """`crawl: {first_read_weeks: N}` in units.yaml (default 5): how many weeks a source's first read
    pages back (capped by each column's max_pages)."""
    from .crawl import DEFAULT_FIRST_READ_WEEKS

    raw = (rt.registry.settings.get("crawl") or {}).get("first_read_weeks", DEFAULT_FIRST_READ_WEEKS)
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        log.error("crawl.first_read_weeks 应为周数: %r; 使用默认值 %d", raw, DEFAULT_FIRST_READ_WEEKS)
        return DEFAULT_FIRST_READ_WEEKS


# ------------------------------------------------------------------------------------ periods
def plain_datetime(value: datetime) -> datetime:
    """A stdlib aware datetime (UTC when naive). pendulum's DateTime (Airflow's logical dates) with a
    zoneinfo tz turns naive on arithmetic, so it never enters the library."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(value.timestamp(), tz=timezone.utc)


def week_context(logical_date: datetime, calendar: WorkCalendar) -> dict[str, Any]:
    """The weeks a run at `logical_date` looks at: the current week (as of now) and the closed one."""
    as_of = plain_datetime(logical_date).astimezone(TZ)
    current = Period.week_of(as_of)
    closed = current.previous()
    reminder = calendar.reminder_day(current)
    return {"as_of": as_of, "current": current, "closed": closed, "reminder_day": reminder,
            "notice_day": reminder is not None and as_of.date() >= reminder}


def reminder_deadline(wk: dict[str, Any]):
    """The day a reminder asks units to update by, and the one date every view gives for it (the
    reminder itself, make run's summary): the reminder day — or, when the run comes after it, the
    week's end (the rule's own deadline: a reminder never names a day already past)."""
    day = wk["reminder_day"]
    if day is None or wk["as_of"].date() > day:
        return wk["current"].end
    return day


def evaluate_week(rt: Runtime, logical_date: datetime, unit_ids: Sequence[str] | None = None) -> dict[str, Any]:
    wk = week_context(logical_date, rt.calendar)
    units = rt.registry.select(list(unit_ids) if unit_ids else None)
    out = {}
    for name in ("closed", "current"):
        period = wk[name]
        verdicts = in_force(rt, period, evaluate_period(rt.store, units, period,
                                                        as_of=latest_as_of(rt, period, wk["as_of"]),
                                                        policies=rt.policies, calendar=rt.calendar))
        out[name] = period_result(period, verdicts)
        out.setdefault("lines", []).extend(week_lines(rt, verdicts, period))
    out["lines"].extend(e.skipped_line for e in rt.registry.errors)   # never silently absent
    # Weeks before the closed one that were never evaluated (a new install, a gap in runs) — or that
    # were, while a unit could not be verified (its site down on the first run, a crawl killed): evaluate
    # those units now from the stored posts, so streaks and escalation see the unit's real history.
    lookback = int(rt.policies.setting("escalate_after") or 2) + 2
    earlier = wk["closed"]
    for _ in range(lookback):
        earlier = earlier.previous()
        todo = unsettled_units(rt, units, earlier)
        if todo:
            evaluate_period(rt.store, todo, earlier, as_of=latest_as_of(rt, earlier, wk["as_of"]),
                            policies=rt.policies, calendar=rt.calendar)
    # Months too: quotas and their early warnings (the current month, and the one just closed).
    month = Period.month_of(wk["as_of"])
    for name, period in (("month", month), ("closed_month", month.previous())):
        verdicts = evaluate_period(rt.store, units, period, as_of=latest_as_of(rt, period, wk["as_of"]),
                                   policies=rt.policies, calendar=rt.calendar)
        out[name] = period_result(period, in_force(rt, period, verdicts))
    out["as_of"] = wk["as_of"].isoformat()
    out["reminder_day"] = wk["reminder_day"].isoformat() if wk["reminder_day"] else None
    return out


SETTLED = frozenset({Status.MET.value, Status.MISSED.value, Status.EXEMPT.value})


def unsettled_units(rt: Runtime, units: Sequence[Any], period: Period) -> list[Any]:
    """The units whose weekly verdicts for the closed `period` are missing or not final (无法核实, or an
    open week's 预警/待定 left by a gap in runs): the ones worth evaluating again."""
    history = rt.store.status_history([u.id for u in units], [period.key], "weekly")
    known: dict[str, bool] = {}
    for (unit_id, _channel), by_period in history.items():
        status = by_period.get(period.key)
        known[unit_id] = known.get(unit_id, True) and status in SETTLED
    return [u for u in units if not known.get(u.id, False)]


def latest_as_of(rt: Runtime, period: Period, as_of: datetime) -> datetime:
    """The time to evaluate `period` at: `as_of`, or later if the period was already evaluated with later
    knowledge. A backfill of an older week re-evaluates the week after it too (its "current" week) and
    the month; done at the backfill's own time it would replace e.g. a closed week's "missed" by the
    "at_risk"/"unknown" of a week still open — never let an older run regress a newer verdict."""
    stored = rt.store.latest_evaluation_as_of(period.key)
    return max(as_of, stored) if stored else as_of


def evaluate(rt: Runtime, period_key: str, *, as_of: datetime | None = None,
             unit_ids: Sequence[str] | None = None) -> list[Verdict]:
    period = Period.parse(period_key)
    as_of = as_of or min(datetime.now(timezone.utc), period.end_dt + timedelta(days=7))
    units = rt.registry.select(list(unit_ids) if unit_ids else None)
    return evaluate_period(rt.store, units, period, as_of=as_of, policies=rt.policies, calendar=rt.calendar)


def evaluate_as_known(rt: Runtime, period_key: str, as_of: datetime,
                      unit_ids: Sequence[str] | None = None) -> list[Verdict]:
    """`period` as the store knew it at `as_of` (posts first seen and crawls started by then); read-only."""
    from .evaluate import evaluate_known

    units = rt.registry.select(list(unit_ids) if unit_ids else None)
    return evaluate_known(rt.store, units, Period.parse(period_key), as_of=plain_datetime(as_of),
                          policies=rt.policies, calendar=rt.calendar)


def in_force(rt: Runtime, period: Period, verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Freshly computed verdicts as the reviews in force set them (人工复核 #20), for what a step
    reports — the same statuses the circular and the board read back from the store."""
    from .store import overlay_reviews

    return overlay_reviews(verdicts, rt.store.reviews.current(periods=[period.key]))


def period_result(period: Period, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """What a step reports of an evaluated period: its verdicts by status, and the one count every
    view prints (counts.PeriodCounts: units first, then unit·channel items)."""
    from .counts import PeriodCounts

    return {"period": period.key, "label": period.label, "counts": count_statuses(verdicts),
            "summary": PeriodCounts.of(verdicts).headline()}


def count_statuses(verdicts: Sequence[Verdict]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for v in verdicts:
        counts[v.status.value] += 1
    return counts


def status_label(status: str) -> str:
    return STATUS_LABELS[Status(status)]


def run_time_for(logical_date: datetime, period_key: str | None = None) -> datetime:
    """The 'as of' time of a run: its logical date, or — when a past week is asked for — the Friday
    09:00 of the week after it, so that week is the run's closed week."""
    logical_date = plain_datetime(logical_date)
    if not period_key:
        return logical_date.astimezone(TZ)
    week = Period.parse(period_key)
    if week.kind != "week":
        raise ValueError(f"period 参数应为周, 如 2026-W47: {period_key}")
    nxt = week.next()
    return datetime.combine(nxt.start + timedelta(days=4), datetime.min.time(), TZ).replace(hour=9)


def week_lines(rt: Runtime, verdicts: Sequence[Verdict], period: Period) -> list[str]:
    """One human line per unit, e.g. "县教育局: 门户网站 2 篇 达标, 微信公众号 0 篇 未达标"."""
    from .types import CHANNEL_LABELS

    by_unit: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.rule == "weekly":
            by_unit.setdefault(v.unit_id, []).append(v)
    names = {u.id: u.name for u in rt.registry.units}
    lines = []
    for uid, vs in by_unit.items():
        parts = [f"{CHANNEL_LABELS.get(v.channel, v.channel)} {v.count} 篇 → {STATUS_LABELS[v.status]}"
                 + (f" ({v.reason})" if v.status in (Status.UNKNOWN, Status.EXEMPT) and v.reason else "")
                 for v in sorted(vs, key=lambda v: v.channel)]
        lines.append(f"[{period.key}] {names.get(uid, uid)}: " + ", ".join(parts))
    return lines


def notify_week(rt: Runtime, as_of: datetime, *, send: bool, channel_configs: dict[str, dict] | None = None,
                run_id: str | None = None, unit_ids: Sequence[str] | None = None,
                attachments: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Plan and deliver the week's notices. The outbox always gets a copy; real channels only if `send`.
    `attachments`: the closed week's circular files if already written (else they are written here)."""
    from .report_data import build_period_report, write_period_files
    from .notices.dispatch import OFFICE, PlannedNotice, deliver, plan_unit_notices
    from .notices.ledger import Ledger
    from .notices.render import render

    wk = week_context(as_of, rt.calendar)
    registry = rt.registry
    selected = {u.id for u in registry.select(list(unit_ids) if unit_ids else None)}
    closed, current = wk["closed"], wk["current"]
    office = registry.settings.get("office") or {}
    base_ctx = {"office": office, "generated_at": datetime.now(TZ), "as_of": wk["as_of"],
                "deadline": wk["current"].end, "period_label": None}
    channels = _channels(send, channel_configs)
    result = _deliver_early_warnings(rt, wk, selected, base_ctx, channels, run_id)
    if not wk["notice_day"]:
        reason = (f"今天不是提醒日 (本周提醒日: {wk['reminder_day']})" if wk["reminder_day"]
                  else "本周没有工作日, 不发提醒")
        result["skipped"].append(reason)
        return result
    closed_v = [v for v in rt.store.verdicts(closed.key) if v.unit_id in selected]
    current_v = [v for v in rt.store.verdicts(current.key) if v.unit_id in selected]
    sel_units = [u for u in registry.units if u.id in selected]
    streak_map = streaks(rt.store, sel_units, closed)
    escalate_after = int(rt.policies.setting("escalate_after") or 2)
    planned = plan_unit_notices(registry, closed_period=closed.key, closed=closed_v, current_period=current.key,
                                current=current_v, reminder_due=True, streaks=streak_map,
                                escalate_after=escalate_after, base_ctx=base_ctx)
    for p in planned:
        period = closed if p.period == closed.key else current
        p.ctx["period_label"] = period.label
        p.ctx["deadline"] = reminder_deadline(wk) if p.kind == "reminder" else period.end
    ledger = Ledger(rt.store)
    weekly = deliver(ledger, planned, channels, render=render, make_message=_make_message, run_id=run_id).as_dict()
    result = {k: result[k] + weekly[k] for k in result}
    if not unit_ids:   # the supervisors' summary belongs to a full run — after the units' notices, so that
        # it lists the ones this very run left unconfirmed
        report = build_period_report(rt.store, registry, rt.policies, closed, closed_v, streak=streak_map)
        files = ([Path(p) for p in attachments] if attachments
                 else write_period_files(rt.store, registry, rt.policies, closed, report=report))
        summary = [PlannedNotice(
            OFFICE, closed.key, "summary", [], [], attachments=files,
            to_emails=list(office.get("supervisors") or []),
            ctx={**base_ctx, "period_key": closed.key, "period_label": closed.label, "rows": report.rows,
                 "counts": report.counts, "tally": report.tally,
                 # one line per unit · channel, overlapping rules listed in it (counts.findings)
                 "late_by_category": report.late_items_by_category,
                 "unknown_rows": report.unknown_items, "findings": report.findings,
                 "notice_states": notice_states(rt, (closed.key, current.key)),
                 "unconfirmed": unconfirmed_notices(rt),
                 "corrections": summary_corrections(rt, closed),
                 "skipped_units": [e.skipped_line for e in registry.errors],
                 "calendar_warnings": rt.calendar.coverage_warnings(wk["as_of"].date())})]
        weekly = deliver(ledger, summary, channels, render=render, make_message=_make_message,
                         run_id=run_id).as_dict()
        result = {k: result[k] + weekly[k] for k in result}
    return result


def summary_corrections(rt: Runtime, closed: Period) -> list[dict[str, Any]]:
    """人工复核 (#20): the reviews recorded since the previous supervisors' summary — the latest one made
    for another period that was sent (or, where nothing was ever sent, previewed) — each listed once.
    "Latest made", not "of the latest earlier period": a backfill's summary of an older week comes
    after the later weeks' summaries, which already listed the corrections made before them."""
    from .notices.dispatch import OFFICE
    from .notices.ledger import PREVIEW, SENT
    from .reviews import corrections

    earlier = [n for n in rt.store.notices.rows(unit_id=OFFICE) if n.kind == "summary" and n.period != closed.key]
    shown = [n for n in earlier if n.status == SENT] or [n for n in earlier if n.status == PREVIEW]
    return corrections(rt.store, rt.registry, after=max((n.created_at for n in shown), default=None))


def _deliver_early_warnings(rt: Runtime, wk: dict[str, Any], selected: set[str], base_ctx: dict[str, Any],
                            channels: dict[str, Any], run_id: str | None) -> dict[str, list[str]]:
    """The early warnings (monthly quota etc.) due as of `wk["as_of"]`, from the stored verdicts of the
    open week and month; each goes out once per unit, period and rule (the ledger decides)."""
    from .notices.dispatch import deliver, plan_early_warnings
    from .notices.ledger import Ledger
    from .notices.render import render

    current = wk["current"]
    month = Period.month_of(wk["as_of"])
    open_v = [v for p in (current, month) for v in rt.store.verdicts(p.key) if v.unit_id in selected]
    warnings = plan_early_warnings(rt.registry, open_v, base_ctx=base_ctx,
                                   period_labels={current.key: current.label, month.key: month.label})
    return deliver(Ledger(rt.store), warnings, channels, render=render, make_message=_make_message,
                   run_id=run_id).as_dict()


def evaluate_open(rt: Runtime, as_of: datetime, unit_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate the periods still open at `as_of` — the current week and month — from the stored posts
    (the daily crawl DAG does this after each crawl, for the early warnings and the board)."""
    wk = week_context(as_of, rt.calendar)
    units = rt.registry.select(list(unit_ids) if unit_ids else None)
    out: dict[str, Any] = {"as_of": wk["as_of"].isoformat()}
    for name, period in (("current", wk["current"]), ("month", Period.month_of(wk["as_of"]))):
        verdicts = evaluate_period(rt.store, units, period, as_of=latest_as_of(rt, period, wk["as_of"]),
                                   policies=rt.policies, calendar=rt.calendar)
        out[name] = period_result(period, in_force(rt, period, verdicts))
    return out


def notify_early_warnings(rt: Runtime, as_of: datetime, *, send: bool,
                          channel_configs: dict[str, dict] | None = None, run_id: str | None = None,
                          unit_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The daily early warnings (the TRS 预警 model): on a working day, every warning due as of `as_of`
    (outbox always, real channels only if `send`); on a day off nothing — they wait for the next
    working day, as the office does. The weekly notices stay with `notify_week` on reminder day."""
    wk = week_context(as_of, rt.calendar)
    if not rt.calendar.is_workday(wk["as_of"].date()):
        return {"sent": [], "already": [], "failed": [], "unconfirmed": [], "previewed": [],
                "skipped": [f"{wk['as_of']:%Y-%m-%d} 不是工作日, 预警留到下一个工作日发送"]}
    selected = {u.id for u in rt.registry.select(list(unit_ids) if unit_ids else None)}
    base_ctx = {"office": rt.registry.settings.get("office") or {}, "generated_at": datetime.now(TZ),
                "as_of": wk["as_of"], "deadline": wk["current"].end, "period_label": None}
    return _deliver_early_warnings(rt, wk, selected, base_ctx, _channels(send, channel_configs), run_id)


def notice_states(rt: Runtime, periods: Sequence[str]) -> list[tuple[str, int]]:
    """The units' notices of `periods` by delivery state, in words (已发送 / 仅预览(未发送) / 发送失败 /
    结果不明 …), for the supervisors' summary: what left the machine and what did not."""
    from collections import Counter

    from .notices.dispatch import OFFICE
    from .notices.ledger import STATUS_LABELS as NOTICE_LABELS
    from .notices.ledger import Ledger

    ledger = Ledger(rt.store)
    states = Counter(NOTICE_LABELS.get(n.status, n.status) for p in periods for n in ledger.rows(period=p)
                     if n.unit_id != OFFICE)
    return sorted(states.items(), key=lambda kv: -kv[1])


def unconfirmed_notices(rt: Runtime) -> list[dict[str, Any]]:
    """Notices that may or may not have arrived, for the supervisors: id, unit, kind, channel."""
    from .notices.channels import channel_label
    from .notices.ledger import Ledger, kind_label

    names = {u.id: u.name for u in rt.registry.units}
    out = []
    for n in Ledger(rt.store).unconfirmed():
        out.append({"id": n.id, "unit_id": n.unit_id, "unit_name": names.get(n.unit_id, "政务公开办" if n.unit_id.startswith("_")
                                                                           else n.unit_id),
                    "period": n.period, "kind": n.kind, "kind_label": kind_label(n.kind),
                    "channel": n.channel, "channel_label": channel_label(n.channel),
                    "subject": n.subject, "error": n.last_error})
    return out


def _channels(send: bool, channel_configs: dict[str, dict] | None) -> dict[str, Any]:
    """The outbox always (an archive and a preview); real channels only when the run may send."""
    from .notices.channels import OutboxChannel, channel_from_config

    channels: dict[str, Any] = {"outbox": OutboxChannel(config.outbox_dir())}
    if send:
        for name, conf in (channel_configs or {}).items():
            try:
                channels[name] = channel_from_config(name, conf)
            except (ValueError, KeyError) as exc:   # one broken connection must not stop the others
                log.error("通知渠道 %s 配置错误, 本次跳过: %s", name, exc)
    return channels


def _make_message(rendered, notice):
    from .notices.channels import Message

    to = notice.to_emails or [c.email for c in notice.to if c.email]
    return Message(subject=rendered.subject, text=rendered.text, html=rendered.html,
                   markdown=rendered.markdown, to_emails=to, cc_emails=[c.email for c in notice.cc if c.email],
                   mention_mobiles=[c.mobile for c in notice.to if c.mobile],
                   attachments=list(notice.attachments),
                   meta={"unit_id": notice.unit_id, "period": notice.period, "kind": notice.kind})


def periodic_reports(rt: Runtime, as_of: datetime) -> dict[str, Any]:
    """At the start of a month: evaluate the month that closed (and the quarter / year that closed with
    it) from stored posts, and write its circular (.docx/.xlsx) and ranking table (.xlsx)."""
    from .report_data import write_period_files
    from .ranking import ranking, write_ranking_xlsx

    as_of = plain_datetime(as_of).astimezone(TZ)
    closed = [Period.month_of(as_of).previous()]
    if closed[0].end.month in (3, 6, 9, 12):
        closed.append(Period.quarter_of(closed[0].end))
    if closed[0].end.month == 12:
        closed.append(Period.year_of(closed[0].end))
    out: dict[str, Any] = {"periods": [], "files": []}
    for period in closed:
        verdicts = evaluate_period(rt.store, rt.registry.units, period, as_of=as_of, policies=rt.policies,
                                   calendar=rt.calendar)
        # a period no rule judges (a quarter under weekly and monthly rules) gets its ranking, no
        # circular: "本期共监测0个单位" would read as if every unit had been checked
        files = write_period_files(rt.store, rt.registry, rt.policies, period) if verdicts else []
        files.append(write_ranking_xlsx(ranking(rt.store, rt.registry.units, rt.policies, period),
                                        config.reports_dir() / f"pubwatch-{period.key}-排名.xlsx"))
        out["periods"].append(period_result(period, in_force(rt, period, verdicts)))
        out["files"] += [str(f) for f in files]
    return out
