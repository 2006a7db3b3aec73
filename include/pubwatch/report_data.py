"""Build the period's circular (通报) data from stored verdicts, and write its .docx / .xlsx files.

documents.py lays the documents out; this module decides what goes in them.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from . import config, rules
from .counts import rule_rank
from .periods import Period
from .types import CHANNEL_LABELS, TZ, Status, Verdict

def rule_label(rule: str) -> str:
    """The label of a verdict's rule, as its kind declares it (the rule name if no kind knows it)."""
    kind = rules.kind_of(rule)
    return kind.label_of(rule) if kind else rule


def rule_sentences(verdicts: Sequence[Verdict]) -> list[str]:
    """The circulars' sentences of the rules among `verdicts` (each kind's `sentence_of`: the
    reading pubwatch applies, README "Rules and how each text is read"), with their numbers of
    days, in the kinds' order (the weekly rule first), each once."""
    found: dict[tuple[int, str, str], str] = {}
    for v in verdicts:
        kind = rules.kind_of(v.rule)
        text = kind.sentence_of(v) if kind else None
        if text:
            found.setdefault((kind.order, kind.kind, text), text)
    return [found[k] for k in sorted(found)]


class NotEvaluated(ValueError):
    """A period whose circular must not be written yet: never evaluated, or only before it ended
    (every unit would read as 达标 or 进行中). The message tells the clerk what to run."""


def require_final_evaluation(store, period: Period) -> None:
    """Raise NotEvaluated unless `period` was evaluated at or after its end."""
    evaluated = store.latest_evaluation_as_of(period.key)
    if evaluated is not None and evaluated >= period.end_dt:
        return
    state = ("尚未评估" if evaluated is None else
             f"只在 {evaluated.astimezone(TZ):%Y-%m-%d %H:%M} (本期结束之前) 评估过")
    raise NotEvaluated(f"{period.label}{state}, 不能据此生成通报 (否则会把未核实的单位写成达标)。"
                       f"请在该期结束后评估: pubwatch evaluate --period {period.key}")


def build_period_report(store, registry, policies, period: Period,
                        verdicts: Sequence[Verdict] | None = None, streak: dict | None = None):
    """The circular's data for `period` from its stored verdicts (or `verdicts`). `streak` (weeks in
    a row 未达标 per unit and channel) is computed here unless the caller already has it."""
    from .documents import PeriodReport, ReportRow
    from .evaluate import streaks
    from .scoring import ScoreTable

    verdicts = list(verdicts) if verdicts is not None else store.verdicts(period.key)
    units = {u.id: u for u in registry.units}
    if streak is None:
        streak = streaks(store, list(units.values()), period) if period.kind == "week" else {}
    try:
        table = ScoreTable.from_policies(policies)
    except Exception:  # noqa: BLE001 - a broken scoring table leaves 得分 empty, the report still goes out
        table = None
    rows = []
    for v in sorted(verdicts, key=lambda v: (units[v.unit_id].category if v.unit_id in units else "",
                                             v.unit_id, v.channel, rule_rank(v.rule), v.rule)):
        unit = units.get(v.unit_id)
        last = v.evidence.get("last_post") or {}
        extra: dict[str, Any] = {}         # numbers stay numbers in the .xlsx; empty where they do not apply
        if isinstance(v.evidence.get("longest_gap_days"), (int, float)):
            extra["最长间隔(天)"] = v.evidence["longest_gap_days"]
        if isinstance(v.evidence.get("days_out_of_compliance"), (int, float)) and v.status is Status.MISSED:
            extra["未达标天数"] = v.evidence["days_out_of_compliance"]
        if v.evidence.get("suspicious_posts"):
            extra["日期存疑"] = len(v.evidence["suspicious_posts"])
        rows.append(ReportRow(
            unit_id=v.unit_id, unit_name=unit.name if unit else v.unit_id,
            category=unit.category_label if unit else "", channel=CHANNEL_LABELS.get(v.channel, v.channel),
            rule=rule_label(v.rule), status=v.status, count=v.count, required=v.required,
            last_post_title=str(last.get("title") or ""), last_post_url=str(last.get("url") or ""),
            last_post_date=str(last.get("published") or "")[:10], reason=v.reason,
            streak=streak.get((v.unit_id, v.channel), 0) if v.status is Status.MISSED else 0, extra=extra,
            score=table.points(v.rule, v.status) if table is not None and v.status in (Status.MET, Status.MISSED)
            else None))
    from .evidence import availability, findings_for_period

    findings = findings_for_period(store, registry, period)
    if period.kind == "week":   # availability as the inspectors measure it, its own column
        avail = availability(store, list(units), period)
        for row in rows:
            unit_avail = avail.get(row.unit_id) or {}
            if row.channel == CHANNEL_LABELS["portal"] and unit_avail:
                worst = max(unit_avail.values(), key=lambda a: a.get("share") or 0)
                if worst.get("probes"):
                    row.extra["打不开占比"] = f"{worst['share']:.0%} ({worst['failures']}/{worst['probes']})"
    flagged = {f["unit_id"] for f in findings if f["kind"] in ("date_suspicious", "burst")}
    for row in rows:
        if row.unit_id in flagged and "日期存疑" not in row.extra:
            row.extra["日期存疑"] = "见“其他发现”"
    office = registry.settings.get("office") or {}
    number = f"{office.get('short', '县政务公开办')}〔{period.start.year}〕{period.key.split('-W')[-1] if period.kind == 'week' else period.key}号"
    return PeriodReport(office_name=office.get("name", "县人民政府办公室"), period_key=period.key,
                        period_label=period.label, generated_at=datetime.now(TZ), rows=rows, doc_number=number,
                        findings=findings, rule_sentences=rule_sentences(verdicts))


def write_period_files(store, registry, policies, period: Period, *,
                       formats: Sequence[str] = ("docx", "xlsx"), out: Path | None = None,
                       report=None) -> list[Path]:
    """Write the circular's files for `period` (its data built unless `report` is given)."""
    from .documents import write_docx, write_xlsx

    report = report if report is not None else build_period_report(store, registry, policies, period)
    period_key = period.key
    paths = []
    for fmt in formats:
        target = out if (out and len(formats) == 1) else (out or config.reports_dir()) / f"pubwatch-{period_key}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        paths.append((write_docx if fmt == "docx" else write_xlsx)(report, target))
    return paths
