"""A readable plain-text summary of a weekly run (printed by `make run` and the CLI)."""
from __future__ import annotations

from datetime import datetime

from .types import CHANNEL_LABELS, STATUS_LABELS, Status


def weekly_summary_text(store, registry, calendar, as_of: datetime) -> str:
    from .jobs import week_context
    from .notices.ledger import STATUS_LABELS as NOTICE_LABELS
    from .notices.ledger import Ledger

    wk = week_context(as_of, calendar)
    ledger = Ledger(store)
    lines: list[str] = []
    for key in ("closed", "current"):
        period = wk[key]
        title = "上周(已结束, 通报依据)" if key == "closed" else f"本周(截至 {wk['as_of']:%m月%d日 %H:%M})"
        lines.append(f"\n== {period.label} — {title} ==")
        verdicts = [v for v in store.verdicts(period.key) if v.rule == "weekly"]
        by_unit: dict[str, dict[str, object]] = {}
        for v in verdicts:
            by_unit.setdefault(v.unit_id, {})[v.channel] = v
        counts = {s: 0 for s in Status}
        for unit in registry.units:
            cells = []
            for ch in ("portal", "wechat"):
                v = by_unit.get(unit.id, {}).get(ch)
                if v is None:
                    cells.append(f"{CHANNEL_LABELS[ch]}: —")
                    continue
                counts[v.status] += 1
                note = f" ({v.reason})" if v.status in (Status.UNKNOWN, Status.EXEMPT, Status.AT_RISK) and v.reason else ""
                cells.append(f"{CHANNEL_LABELS[ch]}: {v.count}篇 {STATUS_LABELS[v.status]}{note}")
            lines.append(f"  {unit.name:<10} " + " | ".join(cells))
        lines.append("  合计: " + ", ".join(f"{STATUS_LABELS[s]} {n}" for s, n in counts.items() if n))
        notices = ledger.rows(period=period.key)
        if notices:
            lines.append(f"  通知 ({len(notices)} 条):")
            names = {u.id: u.name for u in registry.units}
            for n in notices:
                who = "督查汇总" if n.unit_id == "_office" else names.get(n.unit_id, n.unit_id)
                lines.append(f"    {who} · {n.kind} · {n.channel} · {NOTICE_LABELS.get(n.status, n.status)}")
    return "\n".join(lines)
