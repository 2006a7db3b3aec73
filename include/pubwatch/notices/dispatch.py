"""Plan which notices a run owes, then deliver each through each channel at most once.

Who gets what (the office's Friday routine):
- reminder (提醒): units at risk in the current week, on reminder day → the unit's 信息员;
- overdue (通报): units that missed the closed week → the 信息员, copied to the 分管领导;
- escalation: N consecutive misses → the 分管领导 (the 信息员 copied);
- summary: the supervisors, with the period's .docx/.xlsx circular attached.
Units that could not be verified get no accusation: they appear only in the summary, with the reason.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..registry import Contact, Registry, Unit
from ..types import Status, Verdict
from .ledger import DEAD, PREVIEW, SENT, Ledger, NoticeKey

log = logging.getLogger(__name__)
OFFICE = "_office"
UNIT_KINDS = ("reminder", "overdue", "escalation")


@dataclass
class PlannedNotice:
    unit_id: str
    period: str
    kind: str
    to: list[Contact]
    cc: list[Contact] = field(default_factory=list)
    ctx: dict[str, Any] = field(default_factory=dict)
    attachments: list[Path] = field(default_factory=list)
    to_emails: list[str] = field(default_factory=list)     # for the office summary


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)   # may have arrived: a person confirms or resends
    previewed: list[str] = field(default_factory=list)     # written to the outbox only: nothing was sent

    def as_dict(self) -> dict[str, list[str]]:
        return {"sent": self.sent, "already": self.already, "failed": self.failed, "skipped": self.skipped,
                "unconfirmed": self.unconfirmed, "previewed": self.previewed}


def plan_unit_notices(registry: Registry, *, closed_period: str, closed: Sequence[Verdict],
                      current_period: str, current: Sequence[Verdict], reminder_due: bool,
                      streaks: Mapping[tuple[str, str], int], escalate_after: int,
                      base_ctx: dict[str, Any]) -> list[PlannedNotice]:
    by_unit_closed: dict[str, list[Verdict]] = {}
    for v in closed:
        by_unit_closed.setdefault(v.unit_id, []).append(v)
    by_unit_current: dict[str, list[Verdict]] = {}
    for v in current:
        by_unit_current.setdefault(v.unit_id, []).append(v)
    planned: list[PlannedNotice] = []
    for unit in registry.units:
        staff, leader = unit.contact("staff"), unit.contact("leader")
        missed = [v for v in by_unit_closed.get(unit.id, []) if v.status is Status.MISSED]
        if missed:
            streak = max((streaks.get((unit.id, v.channel), 1) for v in missed), default=1)
            ctx = {**base_ctx, "unit": unit, "period_key": closed_period, "verdicts": missed,
                   "all_verdicts": by_unit_closed[unit.id], "streak": streak}
            planned.append(PlannedNotice(unit.id, closed_period, "overdue", _present(staff),
                                         _present(leader), {**ctx, "recipient": staff}))
            if streak >= escalate_after and leader:
                planned.append(PlannedNotice(unit.id, closed_period, "escalation", _present(leader),
                                             _present(staff), {**ctx, "recipient": leader}))
        at_risk = [v for v in by_unit_current.get(unit.id, []) if v.status is Status.AT_RISK]
        if at_risk and reminder_due:
            ctx = {**base_ctx, "unit": unit, "period_key": current_period, "verdicts": at_risk,
                   "all_verdicts": by_unit_current[unit.id], "recipient": staff, "streak": 0}
            planned.append(PlannedNotice(unit.id, current_period, "reminder", _present(staff), [], ctx))
    return planned


def plan_early_warnings(registry: Registry, verdicts: Sequence[Verdict], *, base_ctx: dict[str, Any],
                        period_labels: Mapping[str, str]) -> list[PlannedNotice]:
    """The TRS 预警 model: a rule other than the weekly one (monthly quota, rolling window, max gap…)
    is at risk as soon as its deadline is within its warning lead — warn then, on any day, once per
    unit, period and rule (the ledger key is kind "warn:<rule>")."""
    planned = []
    units = {u.id: u for u in registry.units}
    for v in verdicts:
        if v.status is not Status.AT_RISK or v.rule == "weekly" or v.unit_id not in units:
            continue
        unit = units[v.unit_id]
        staff = unit.contact("staff")
        ctx = {**base_ctx, "unit": unit, "period_key": v.period, "period_label": period_labels.get(v.period, v.period),
               "verdicts": [v], "all_verdicts": [v], "recipient": staff, "streak": 0,
               "deadline": v.deadline}
        planned.append(PlannedNotice(unit.id, v.period, f"warn:{v.rule}"[:60], _present(staff), [], ctx))
    return planned


def _present(contact: Contact | None) -> list[Contact]:
    return [contact] if contact else []


def deliver(ledger: Ledger, planned: Sequence[PlannedNotice], channels: Mapping[str, Any], *,
            render: Callable[[str, dict], Any], make_message: Callable[..., Any], run_id: str | None) -> DeliveryReport:
    """Send each planned notice through each channel once. Safe to call again: the ledger decides."""
    from .channels import DeliveryError

    report = DeliveryReport()
    for notice in planned:
        rendered = None
        for channel_name, channel in channels.items():
            label = f"{notice.unit_id}/{notice.period}/{notice.kind}/{channel_name}"
            emails = notice.to_emails or [c.email for c in notice.to if c.email]
            mobiles = [c.mobile for c in notice.to if c.mobile]
            if not channel.reaches(emails, mobiles):
                report.skipped.append(f"{label}: 无可用的收件方式 (无邮箱)")
                continue
            recipients = ",".join(emails + mobiles)
            if rendered is None:
                rendered = render("reminder" if notice.kind.startswith("warn:") else notice.kind, notice.ctx)
            row = ledger.ensure(NoticeKey(notice.unit_id, notice.period, notice.kind, channel_name),
                                recipients=recipients, subject=rendered.subject, run_id=run_id)
            if row.status in (SENT, PREVIEW):
                report.already.append(label)
                continue
            if row.status == DEAD or not ledger.claim(row.id):
                report.skipped.append(f"{label}: {row.status}")
                continue
            message = make_message(rendered, notice)
            try:
                receipt = channel.send(message)
            except DeliveryError as exc:
                ledger.mark_failed(row.id, str(exc), retryable=exc.retryable, ambiguous=exc.ambiguous)
                if exc.ambiguous:
                    report.unconfirmed.append(f"{label}: {exc}")
                    log.warning("notice %s may have been delivered; left for a person to confirm: %s", label, exc)
                else:
                    report.failed.append(f"{label}: {exc}")
                    log.warning("notice %s failed: %s", label, exc)
                continue
            except Exception as exc:  # unexpected: record and keep going with the others
                ledger.mark_failed(row.id, f"{type(exc).__name__}: {exc}", retryable=True)
                report.failed.append(f"{label}: {type(exc).__name__}")
                log.exception("notice %s crashed", label)
                continue
            preview = not getattr(channel, "sends", True)
            ledger.mark_sent(row.id, str(receipt or ""), preview=preview)
            (report.previewed if preview else report.sent).append(label)
    return report


__all__ = ["PlannedNotice", "DeliveryReport", "plan_unit_notices", "deliver", "OFFICE", "Unit"]
