"""Build the period's circular (通报) data from stored verdicts, and write its .docx / .xlsx files.

reports.py lays the documents out; this module decides what goes in them.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Sequence

from . import config
from .periods import Period
from .registry import COLUMN_TYPES
from .types import CHANNEL_LABELS, TZ, Status, Verdict

RULE_LABELS = {"weekly": "每周更新", "monthly_quota": "月度报送数量", "rolling_window": "连续未更新天数",
               "max_gap": "最长更新间隔", "staleness:wechat": "公众号更新时效"}
# The sentence of the circular (通知/通报) each rule enforces, in the reading pubwatch applies
# (README "Rules and how each text is read"; rules.py, each policy kind's docstring). `{n}` is the
# rule's number of days, filled in from the verdict's evidence where the notice quotes it.
RULE_SENTENCES = {
    "weekly": "原则上一个星期不低于一条工作动态",
    "monthly_quota": "每月至少报送规定条数的信息",
    "rolling_window": "保证每{n}内都能更新信息",        # every day: the {n} ending it hold a post
    "staleness": "监测时间点前{n}内应有信息更新",         # stale at any moment its last post is older
    "max_gap": "更新间隔时间不得超过{n}",                 # one longer silence = one breach, counted once
}


def rule_label(rule: str) -> str:
    if rule in RULE_LABELS:
        return RULE_LABELS[rule]
    kind, _, arg = rule.partition(":")
    if kind == "staleness":
        return f"栏目更新时效({COLUMN_TYPES.get(arg, arg)})"
    if kind == "topic_quota":
        return f"专题栏目报送({arg})"
    return rule


def rule_sentences(verdicts: Sequence[Verdict]) -> list[str]:
    """The circulars' sentences of the rules among `verdicts`, with their numbers of days, in
    RULE_SENTENCES order (the weekly rule first), each once."""
    found: dict[str, str] = {}
    for v in verdicts:
        kind = v.rule.partition(":")[0]
        if kind not in RULE_SENTENCES:
            continue
        ev = v.evidence or {}
        unit = "个工作日" if ev.get("gap_unit") == "working_days" else "天"
        n = {"rolling_window": f"{ev.get('days', '')}{unit}", "staleness": ev.get("max_age", "规定期限"),
             "max_gap": f"{v.required}{unit}"}.get(kind, "")
        text = RULE_SENTENCES[kind].format(n=n)
        found.setdefault(f"{list(RULE_SENTENCES).index(kind)}:{text}", text)
    return [found[k] for k in sorted(found)]


def build_period_report(rt, period_key: str, verdicts: Sequence[Verdict] | None = None):
    from .evaluate import streaks
    from .reports import PeriodReport, ReportRow

    period = Period.parse(period_key)
    verdicts = list(verdicts) if verdicts is not None else rt.store.verdicts(period.key)
    units = {u.id: u for u in rt.registry.units}
    streak = streaks(rt.store, list(units.values()), period) if period.kind == "week" else {}
    rows = []
    for v in sorted(verdicts, key=lambda v: (units[v.unit_id].category if v.unit_id in units else "",
                                             v.unit_id, v.channel, v.rule)):
        unit = units.get(v.unit_id)
        last = v.evidence.get("last_post") or {}
        extra = {}
        if "longest_gap_days" in v.evidence:
            extra["最长间隔(天)"] = str(v.evidence["longest_gap_days"])
        if "days_out_of_compliance" in v.evidence:
            extra["未达标天数"] = str(v.evidence["days_out_of_compliance"])
        if v.evidence.get("suspicious_posts"):
            extra["日期存疑"] = str(len(v.evidence["suspicious_posts"]))
        rows.append(ReportRow(
            unit_id=v.unit_id, unit_name=unit.name if unit else v.unit_id,
            category=unit.category_label if unit else "", channel=CHANNEL_LABELS.get(v.channel, v.channel),
            rule=rule_label(v.rule), status=v.status, count=v.count, required=v.required,
            last_post_title=str(last.get("title") or ""), last_post_url=str(last.get("url") or ""),
            last_post_date=str(last.get("published") or "")[:10], reason=v.reason,
            streak=streak.get((v.unit_id, v.channel), 0) if v.status is Status.MISSED else 0, extra=extra))
    from .evidence import availability, findings_for_period

    findings = findings_for_period(rt.store, rt.registry, period)
    if period.kind == "week":   # availability as the inspectors measure it, its own column
        avail = availability(rt.store, list(units), period)
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
    office = rt.registry.settings.get("office") or {}
    number = f"{office.get('short', '县政务公开办')}〔{period.start.year}〕{period.key.split('-W')[-1] if period.kind == 'week' else period.key}号"
    return PeriodReport(office_name=office.get("name", "县人民政府办公室"), period_key=period.key,
                        period_label=period.label, generated_at=datetime.now(TZ), rows=rows, doc_number=number,
                        findings=findings, rule_sentences=rule_sentences(verdicts))


def write_period_files(rt, period_key: str, *, formats: Sequence[str] = ("docx", "xlsx"),
                       out: Path | None = None) -> list[Path]:
    from .reports import write_docx, write_xlsx

    report = build_period_report(rt, period_key)
    paths = []
    for fmt in formats:
        target = out if (out and len(formats) == 1) else (out or config.reports_dir()) / f"pubwatch-{period_key}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        paths.append((write_docx if fmt == "docx" else write_xlsx)(report, target))
    return paths
