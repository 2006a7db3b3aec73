"""Build the period's circular (通报) data from stored verdicts, and write its .docx / .xlsx files.

documents.py lays the documents out; this module decides what goes in them.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from . import config, rules
from .counts import rule_rank
from .periods import Period
from .notices.render import channel_label
from .types import CHANNEL_LABELS, CHANNELS, PORTAL, STATUS_LABELS, TZ, Outcome, Status, Verdict

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


# Why a unit could not be verified, in the units' words (the technical reason stays in the .xlsx,
# the board and the supervisors' summary). Keyed by the last failed attempt's outcome.
_PORTAL_REASONS = {Outcome.UNREACHABLE: "网站无法访问", Outcome.HTTP_ERROR: "网站无法访问",
                   Outcome.BLOCKED: "网站无法访问", Outcome.PARSE_FAILED: "栏目无法读取",
                   Outcome.SUSPECT_EMPTY: "栏目无法读取", Outcome.REDIRECTED: "栏目地址已变更",
                   Outcome.CONFIG_ERROR: "未配置监测地址"}
_WECHAT_REASONS = {Outcome.CONFIG_ERROR: "未配置公众号监测"}
_SOURCE_CHANNEL_RE = re.compile(r"\.(%s)\." % "|".join(CHANNELS))   # source ids: "<unit>.<channel>.<name>"


def unit_reason(v: Verdict) -> str:
    """The unit-facing category of an unverified verdict: 网站无法访问 / 栏目无法读取 / 栏目地址已变更 /
    未配置监测地址 / 公众号数据无法获取 / 监测数据不完整 (no failure: reads did not cover the period)."""
    last = ((v.evidence or {}).get("failed_attempts") or {}).get("last") or {}
    try:
        outcome = Outcome(last.get("outcome"))
    except ValueError:
        return "监测数据不完整"
    channel = v.channel
    if channel not in CHANNELS:      # a whole-unit rule: the channel of the source that failed
        found = _SOURCE_CHANNEL_RE.search(str(last.get("source") or ""))
        channel = found.group(1) if found else None
    if channel == PORTAL:
        return _PORTAL_REASONS.get(outcome, "监测数据暂缺")
    if channel is None:
        return "监测数据暂缺"
    return _WECHAT_REASONS.get(outcome, "公众号数据无法获取")


def empty_columns(v: Verdict) -> list[str]:
    """空白栏目 only for a 未达标 verdict proven by reads (the column was read and never had a post),
    and only for website columns (a WeChat account that never posted is not a 栏目)."""
    ev = v.evidence or {}
    if v.status is not Status.MISSED or not ev.get("verified") or v.channel != PORTAL:
        return []
    return [str(c) for c in ev.get("empty_columns") or ()]


def doc_number(office: dict, year: int, serial: str | int | None = None) -> str:
    """文号: the registry's office.doc_number_prefix (e.g. "某政办"), the year in 〔〕 and the serial
    the office sets (argument, else office.doc_serial) or two blanks to fill in by hand (so is a
    missing prefix)."""
    serial = serial if serial not in (None, "") else office.get("doc_serial")
    number = str(serial).strip() if serial not in (None, "") else "\u3000\u3000"
    prefix = str(office.get("doc_number_prefix") or "").strip() or "\u3000\u3000"
    return f"{prefix}〔{year}〕{number}号"


def circular_template(registry) -> Path | None:
    """The Word template the registry's office.circular_template names (relative to the registry
    file), or None for the shipped one."""
    name = (registry.settings.get("office") or {}).get("circular_template")
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute() and getattr(registry, "path", None):
        path = Path(registry.path).parent / path
    return path


def feedback_day(office: dict, issued, calendar=None):
    """The day unverified units report back by: office.feedback_working_days (default 3) working
    days after the circular's date; None when the calendar has no data for it."""
    from .workdays import WorkCalendar

    try:
        return (calendar or WorkCalendar()).add_working_days(issued, int(office.get("feedback_working_days", 3)))
    except (LookupError, ValueError):
        return None


class NotEvaluated(ValueError):
    """A period whose circular must not be written yet: never evaluated, or only before it ended
    (every unit would read as 达标 or 进行中). The message tells the clerk what to run."""


def require_final_evaluation(store, period: Period) -> None:
    """Raise NotEvaluated unless `period` was evaluated at or after its end, with verdicts (a period
    no rule judges — a quarter under weekly and monthly rules — has no circular)."""
    evaluated = store.latest_evaluation_as_of(period.key)
    if evaluated is not None and evaluated >= period.end_dt:
        if not store.verdicts(period.key):
            raise NotEvaluated(f"{period.label}没有适用的规则, 没有评估结果, 不生成通报 "
                               f"(该期的排名: pubwatch ranking --period {period.key})")
        return
    state = ("尚未评估" if evaluated is None else
             f"只在 {evaluated.astimezone(TZ):%Y-%m-%d %H:%M} (本期结束之前) 评估过")
    raise NotEvaluated(f"{period.label}{state}, 不能据此生成通报 (否则会把未核实的单位写成达标)。"
                       f"请在该期结束后评估: pubwatch evaluate --period {period.key}")


def build_period_report(store, registry, policies, period: Period,
                        verdicts: Sequence[Verdict] | None = None, streak: dict | None = None,
                        serial: str | int | None = None):
    """The circular's data for `period` from its stored verdicts (or `verdicts`). `streak` (weeks in
    a row 未达标 per unit and channel) is computed here unless the caller already has it; `serial`
    the 文号's number (else the registry's office.doc_serial, else blank)."""
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
        if v.evidence.get("review"):        # 人工复核 (#20): the status is the reviewed one; say what was computed
            extra["人工复核(原判)"] = STATUS_LABELS.get(Status(v.evidence["computed_status"]), "")
        rows.append(ReportRow(
            unit_id=v.unit_id, unit_name=unit.name if unit else v.unit_id,
            category=unit.category_label if unit else "", channel=channel_label(v.channel),
            rule=rule_label(v.rule), status=v.status, count=v.count, required=v.required,
            last_post_title=str(last.get("title") or ""), last_post_url=str(last.get("url") or ""),
            last_post_date=str(last.get("published") or last.get("date") or "")[:10], reason=v.reason,
            streak=streak.get((v.unit_id, v.channel), 0) if v.status is Status.MISSED else 0, extra=extra,
            score=table.points(v.rule, v.status) if table is not None and v.status in (Status.MET, Status.MISSED)
            else None, rule_key=v.rule, unit_reason=unit_reason(v) if v.status is Status.UNKNOWN else "",
            empty_columns=empty_columns(v)))
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
    now = datetime.now(TZ)
    return PeriodReport(office_name=office.get("name", "县人民政府办公室"), period_key=period.key,
                        period_label=period.label, generated_at=now, rows=rows,
                        doc_number=doc_number(office, now.year, serial),
                        findings=findings, rule_sentences=rule_sentences(verdicts),
                        template=circular_template(registry), feedback_by=feedback_day(office, now.date()),
                        cc=str(office.get("cc") or ""))


def write_period_files(store, registry, policies, period: Period, *,
                       formats: Sequence[str] = ("docx", "xlsx"), out: Path | None = None,
                       report=None, serial: str | int | None = None) -> list[Path]:
    """Write the circular's files for `period` (its data built unless `report` is given; `serial`:
    the 文号's number)."""
    from .documents import write_docx, write_xlsx

    report = report if report is not None else build_period_report(store, registry, policies, period,
                                                                   serial=serial)
    period_key = period.key
    paths = []
    for fmt in formats:
        target = out if (out and len(formats) == 1) else (out or config.reports_dir()) / f"pubwatch-{period_key}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        paths.append((write_docx if fmt == "docx" else write_xlsx)(report, target))
    return paths
