"""A readable plain-text summary of a weekly run (printed by `make run` and the CLI).

Its numbers are counts.PeriodCounts over every rule of each week — the same as the board, the
circular, its .xlsx and the supervisors' summary message: units first, then unit·channel items.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from .counts import PeriodCounts, findings, merged_rule_label
from .types import CHANNEL_LABELS, STATUS_LABELS, Status


def weekly_summary_text(store, registry, calendar, as_of: datetime) -> str:
    from .jobs import reminder_deadline, week_context
    from .notices.ledger import STATUS_LABELS as NOTICE_LABELS
    from .notices.ledger import Ledger, kind_label
    from .notices.channels import channel_label
    from .report_data import rule_label

    wk = week_context(as_of, calendar)
    ledger = Ledger(store)
    names = {u.id: u.name for u in registry.units}
    lines: list[str] = []
    for key in ("closed", "current"):
        period = wk[key]
        title = "上周(已结束, 通报依据)" if key == "closed" else f"本周(截至 {wk['as_of']:%m月%d日 %H:%M})"
        lines.append(f"\n== {period.label} — {title} ==")
        verdicts = [v for v in store.verdicts(period.key) if v.unit_id in names]
        by_item = {(f.unit_id, f.channel): f for f in findings(verdicts)}
        deadline = reminder_deadline(wk) if key == "current" else None
        for unit in registry.units:
            cells = []
            channels = [ch for ch in ("portal", "wechat")] + sorted(
                {ch for (uid, ch) in by_item if uid == unit.id} - {"portal", "wechat"})
            for ch in channels:
                f = by_item.get((unit.id, ch))
                label = CHANNEL_LABELS.get(ch, "整体")
                if f is None:
                    if ch in ("portal", "wechat"):
                        cells.append(f"{label}: —")
                    continue
                weekly = next((v for v in f.members + f.others if v.rule == "weekly"), None)
                posts = f"{weekly.count}篇 " if weekly is not None else ""
                cell = f"{label}: {posts}{STATUS_LABELS[f.status]}"
                if f.status in (Status.MISSED, Status.UNKNOWN) and (len(f.members) > 1 or f.rules != ["weekly"]):
                    cell += f" [{merged_rule_label([rule_label(r) for r in f.rules])}]"
                if f.status is Status.AT_RISK:
                    # the reminder's own date (jobs.reminder_deadline), never the rule's period end
                    when = deadline if f.primary.rule == "weekly" and deadline else f.primary.deadline
                    cell += f" (请于{when:%m月%d日}前更新)" if when else ""
                elif f.status in (Status.UNKNOWN, Status.EXEMPT) and f.primary.reason:
                    cell += f" ({f.primary.reason})"
                cells.append(cell)
            lines.append(f"  {unit.name:<10} " + " | ".join(cells))
        lines.append("  合计: " + PeriodCounts.of(verdicts).headline())
        notices = ledger.rows(period=period.key)
        if notices:
            states = Counter(NOTICE_LABELS.get(n.status, n.status) for n in notices)
            lines.append(f"  通知 ({len(notices)} 条: " + ", ".join(f"{k} {n}" for k, n in states.items()) + "):")
            for n in notices:
                who = "督查汇总" if n.unit_id == "_office" else names.get(n.unit_id, n.unit_id)
                lines.append(f"    {who} · {kind_label(n.kind)} · {channel_label(n.channel)} · "
                             f"{NOTICE_LABELS.get(n.status, n.status)}")
    return "\n".join(lines)
