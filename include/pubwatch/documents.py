"""The period's formal circular (通报, .docx) and its full table (.xlsx).

report_data.py decides what goes in a report (rows built from verdicts); this module lays it out:
- write_docx: the office circular, rendered by docxtpl from a Word template the office edits
  (include/templates/circular/circular.docx, or the registry's office.circular_template): red head,
  文号, title, 主送, 总体情况, 存在的问题 (late units by category), 无法核实的单位 (never counted as
  late, with a unit-facing reason and a day to report back), 工作要求 quoting the rules in force,
  落款, date, 附表 with one row per unit, page numbers, 版记. circular_context() is what it shows:
  for the units, so no URLs, HTTP codes or crawler states (those stay in the .xlsx and the board).
- write_xlsx: sheets 统计 (counts.PeriodCounts), 汇总 (every row), 未达标, 无法核实 (and 其他发现 when there are findings),
  frozen header, autofilter, widths, status colours, ReportRow.extra as further columns.

Crawled text is cleaned of XML-illegal control characters, and a cell never becomes a formula.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Sequence

from .counts import PRECEDENCE, PeriodCounts, findings, merged_rule_label
from .types import STATUS_LABELS, Status
from .urls import http_url

_ILLEGAL_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")   # not XML 1.0 Chars
CATEGORY_ORDER = ("县直部门", "乡镇", "事业单位", "党群部门")


@dataclass
class ReportRow:
    unit_id: str
    unit_name: str
    category: str                 # Chinese label (县直部门 / 乡镇 …)
    channel: str                  # Chinese label (门户网站 / 微信公众号)
    rule: str                     # Chinese label (每周更新 …)
    status: Status
    count: int
    required: int
    last_post_title: str = ""
    last_post_url: str = ""
    last_post_date: str = ""      # YYYY-MM-DD
    reason: str = ""
    streak: int = 0
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # numbers stay numbers
    rule_key: str = ""            # the verdict's rule ("weekly", "staleness:news" …)
    unit_reason: str = ""         # 无法核实: the unit-facing category (网站无法访问 …); `reason` is the technical one
    empty_columns: list[str] = field(default_factory=list)   # 未达标 columns read successfully and never posted in

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(Status(self.status), str(self.status))


@dataclass
class PeriodReport:
    office_name: str
    period_key: str
    period_label: str
    generated_at: datetime
    rows: list[ReportRow]
    doc_number: str = ""          # 文号, e.g. "某政办〔2026〕12号" (serial blank: filled in by hand)
    findings: list[dict] = field(default_factory=list)   # {unit_name, kind, detail}
    # The circulars' sentences of the rules judged (report_data.rule_sentences); none: the weekly rule's.
    rule_sentences: list[str] = field(default_factory=list)
    template: Path | None = None  # the circular's Word template (None: the shipped one)
    feedback_by: date | None = None   # unverified units report back by this day
    cc: str = ""                  # 版记: 抄送

    @property
    def counts(self) -> dict[Status, int]:
        """Rows per status (every status present as a key, zero when none)."""
        out = {s: 0 for s in Status}
        for r in self.rows:
            out[Status(r.status)] += 1
        return out

    @property
    def late_rows(self) -> list[ReportRow]:
        return [r for r in self.rows if Status(r.status) is Status.MISSED]

    @property
    def late_by_category(self) -> dict[str, list[ReportRow]]:
        """Missed rows grouped by category label, categories in the office's usual order."""
        groups: dict[str, list[ReportRow]] = {}
        for r in self.late_rows:
            groups.setdefault(r.category or "未分类", []).append(r)
        order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    @property
    def unknown_rows(self) -> list[ReportRow]:
        """Rows that could not be verified. Never counted or listed as late."""
        return [r for r in self.rows if Status(r.status) is Status.UNKNOWN]

    @property
    def tally(self) -> PeriodCounts:
        """The period's numbers (units first, then unit·channel items), the same in every view."""
        return PeriodCounts.of(self.rows)

    @property
    def unit_rows(self) -> list["UnitRow"]:
        """One row per unit with a 未达标 or 无法核实 requirement, its channels and rules combined."""
        return group_by_unit(self)

    @property
    def unit_count(self) -> int:
        return self.tally.units_total

    @property
    def late_unit_count(self) -> int:
        return self.tally.units_missed

    @property
    def unknown_unit_count(self) -> int:
        """Units that could not be verified and were not found late (counts.PRECEDENCE)."""
        return self.tally.units_unknown

    def merged_rows(self, status: Status) -> list[ReportRow]:
        """One row per unit · channel whose status (by precedence) is `status`: overlapping rules
        for the same unit and channel are one finding, their rules listed (counts.findings)."""
        out = []
        for f in findings(self.rows):
            if f.status is not status:
                continue
            first = f.primary
            out.append(replace(first, rule=merged_rule_label([r.rule for r in f.members]),
                               reason="；".join(dict.fromkeys(r.reason for r in f.members if r.reason)),
                               streak=max(r.streak for r in f.members),
                               extra=dict(first.extra)))
        return out

    @property
    def late_items_by_category(self) -> dict[str, list[ReportRow]]:
        """Like late_by_category, one row per unit · channel (rules listed)."""
        groups: dict[str, list[ReportRow]] = {}
        for r in self.merged_rows(Status.MISSED):
            groups.setdefault(r.category or "未分类", []).append(r)
        order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
        return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    @property
    def unknown_items(self) -> list[ReportRow]:
        """Unit · channel items that could not be verified (and were not found late), rules listed."""
        return self.merged_rows(Status.UNKNOWN)


def clean(value: Any) -> str:
    """Text safe for OOXML: control characters, surrogates and U+FFFE/U+FFFF removed (they make
    python-docx/openpyxl fail)."""
    if value is None:
        return ""
    return _ILLEGAL_XML_RE.sub("", str(value))


def cn_date(value: date | datetime | str) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.year}年{value.month}月{value.day}日"


def title_of(report: PeriodReport) -> str:
    return f"关于{report.period_label.split('(')[0]}政府网站和政务新媒体信息更新情况的通报"


# ----- .docx ------------------------------------------------------------------------------------
# The circular is rendered by docxtpl (Jinja2 inside a Word file) from a template the office edits
# in Word: include/templates/circular/circular.docx (made by scripts/make_circular_template.py), or
# the file the registry's `office.circular_template` names. This module only computes the values.
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "circular" / "circular.docx"
COUNTED_KINDS = ("weekly", "monthly_quota")     # rules whose (count/required) a unit understands


def _channel_line(channel: str, rows: Sequence[ReportRow]) -> str:
    """门户网站：每周更新未达标（0/1）；栏目更新时效(动态要闻)未达标，最近更新2026年10月22日."""
    from . import rules

    parts: list[str] = []
    unknown: list[str] = []
    kinds = {r.rule_key: rules.kind_of(r.rule_key) for r in rows if r.rule_key}
    for r in sorted(rows, key=lambda r: (kinds[r.rule_key].order if kinds.get(r.rule_key) else 99, r.rule)):
        status = Status(r.status)
        if status is Status.MISSED:
            kind = kinds.get(r.rule_key)
            text = f"{r.rule}未达标"
            if kind is not None and kind.kind in COUNTED_KINDS:
                text += f"（发文{r.count}篇，要求至少{r.required}篇）"
            if r.empty_columns:
                text += "，" + "、".join(f"「{c}」" for c in r.empty_columns) + "为空白栏目"
            parts.append(text)
        elif status is Status.UNKNOWN and (r.unit_reason or "监测数据不完整") not in unknown:
            unknown.append(r.unit_reason or "监测数据不完整")
    if unknown:
        parts.append(f"无法核实（{'、'.join(unknown)}）")
    line = f"{channel}：{'；'.join(parts)}"
    if any(Status(r.status) is Status.MISSED for r in rows):
        dates = [r.last_post_date for r in rows if r.last_post_date]
        line += f"，最近更新{cn_date(max(dates))}" if dates else "，无更新记录"
    return clean(line)


@dataclass
class UnitRow:
    """One unit of the circular: every channel and rule of the unit not met (未达标 / 无法核实)."""
    unit_id: str
    unit_name: str
    category: str
    rows: list[ReportRow]

    @property
    def late(self) -> bool:
        return any(Status(r.status) is Status.MISSED for r in self.rows)

    @property
    def verdict(self) -> str:
        return STATUS_LABELS[Status.MISSED] if self.late else STATUS_LABELS[Status.UNKNOWN]

    @property
    def streak(self) -> int:
        return max((r.streak for r in self.rows if Status(r.status) is Status.MISSED), default=0)

    def by_channel(self) -> dict[str, list[ReportRow]]:
        out: dict[str, list[ReportRow]] = {}
        for r in self.rows:
            out.setdefault(r.channel, []).append(r)
        return out

    def lines(self, *, only: Status | None = None) -> list[str]:
        return [_channel_line(ch, [r for r in rows if only is None or Status(r.status) is only])
                for ch, rows in self.by_channel().items()
                if only is None or any(Status(r.status) is only for r in rows)]


def group_by_unit(report: PeriodReport) -> list[UnitRow]:
    """One row per unit with a 未达标 or 无法核实 requirement (channels and rules combined): the late
    units by category (the office's order), then the units only unverified."""
    units: dict[str, UnitRow] = {}
    for r in report.rows:
        if Status(r.status) in (Status.MISSED, Status.UNKNOWN):
            units.setdefault(r.unit_id, UnitRow(r.unit_id, r.unit_name, r.category, [])).rows.append(r)
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    first = {u: i for i, u in enumerate(dict.fromkeys(r.unit_id for r in report.rows))}
    return sorted(units.values(), key=lambda u: (not u.late, order.get(u.category, len(order)), u.category,
                                                 first[u.unit_id]))


def _period_name(report: PeriodReport) -> str:
    return report.period_label.split("(")[0]


def circular_context(report: PeriodReport) -> dict[str, Any]:
    """The values the circular's template shows. Unit-facing only: no URLs, HTTP codes or crawler
    states (those stay in the .xlsx and the board)."""
    rows = report.unit_rows
    late_groups, order = [], {c: i for i, c in enumerate(CATEGORY_ORDER)}
    by_category: dict[str, list[UnitRow]] = {}
    for u in rows:
        if u.late:
            by_category.setdefault(u.category or "未分类", []).append(u)
    for i, (category, units) in enumerate(sorted(by_category.items(),
                                                 key=lambda kv: (order.get(kv[0], len(order)), kv[0])), 1):
        names = "、".join(
            f"{u.unit_name}（{'、'.join(ch for ch, rs in u.by_channel().items() if any(Status(r.status) is Status.MISSED for r in rs))}）"
            for u in units)
        late_groups.append({"number": _cn_number(i), "category": category, "units": clean(names)})
    unknown_units = [{"name": clean(u.unit_name), "text": "；".join(
        line.replace("：无法核实", "无法核实", 1) for line in u.lines(only=Status.UNKNOWN))}
        # a unit counts once (counts.PRECEDENCE): a late unit is not listed again here (its 附表 row
        # still says which channel could not be verified), so the list matches unknown_unit_count
        for u in rows if not u.late and any(Status(r.status) is Status.UNKNOWN for r in u.rows)]
    # availability as the inspectors measure it is the units' business; back-dating and bursts are
    # leads for the supervisors (.xlsx, board), and so is how often a firewall turned us away
    from .evidence import KIND_AVAILABILITY

    other = [clean(str(f.get("detail", "")).split("; 另有")[0]) for f in report.findings
             if f.get("kind") == KIND_AVAILABILITY]
    section = 3
    numbers = {}
    for key, present in (("unknown", bool(unknown_units)), ("other", bool(other)), ("requirements", True)):
        if present:
            numbers[key] = _cn_number(section)
            section += 1
    sentences = [clean(s) for s in (report.rule_sentences or ["原则上一个星期不低于一条工作动态"])]
    issued = report.generated_at.date() if isinstance(report.generated_at, datetime) else report.generated_at
    return {
        "issuer": clean(report.office_name),
        "doc_number": clean(report.doc_number),
        "period_name": clean(_period_name(report)),
        "period_label": clean(report.period_label),
        "rules_quoted": "".join(f"“{s}”" for s in sentences),
        "rules_text": "、".join(f"“{s}”" for s in sentences),
        "unit_count": report.unit_count,
        "late_unit_count": report.late_unit_count,
        "unknown_unit_count": report.unknown_unit_count,
        "late_groups": late_groups,
        "unknown_units": unknown_units,
        "feedback_by": cn_date(report.feedback_by) if report.feedback_by else "规定时间",
        "other_findings": other,
        "unit_rows": [{"no": i, "name": clean(u.unit_name), "category": clean(u.category), "verdict": u.verdict,
                       "detail": "\n".join(u.lines()), "streak": u.streak or ""}
                      for i, u in enumerate(rows, 1)],
        "issue_date": cn_date(issued),
        "print_date": cn_date(issued),
        "cc": clean(report.cc or "县人民政府领导"),
        "n": numbers,
    }


def write_docx(report: PeriodReport, path: Path, template: Path | str | None = None) -> Path:
    """Render the circular from its Word template (`template`, else the report's, else the shipped one)."""
    from docxtpl import DocxTemplate

    path = Path(path)
    source = Path(template or report.template or DEFAULT_TEMPLATE)
    if not source.is_file():
        raise FileNotFoundError(f"通报模板不存在: {source} (registry office.circular_template)")
    doc = DocxTemplate(str(source))
    doc.render(circular_context(report), autoescape=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def _cn_number(n: int) -> str:
    digits = "零一二三四五六七八九十"
    if n <= 10:
        return digits[n]
    if n < 20:
        return "十" + digits[n - 10]
    return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")


# ----- .xlsx ------------------------------------------------------------------------------------
BASE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("单位", 22), ("类别", 10), ("渠道", 12), ("要求", 18), ("状态", 10), ("实际", 7), ("应更新", 8),
    ("最近更新日期", 13), ("最近更新标题", 40), ("最近更新链接", 40), ("原因/说明", 44),
    ("连续未达标周数", 9), ("得分", 7))
STATUS_FILLS = {"met": "C6EFCE", "at_risk": "FFEB9C", "missed": "FFC7CE", "unknown": "D9D9D9",
                "exempt": "DDEBF7", "pending": "F2F2F2"}
DEFAULT_FILL = "FFFFFF"


MAX_WIDTH = 60                     # wider text wraps instead


def display_width(value: Any) -> int:
    """Columns a value takes on screen: a CJK (wide / full-width) character counts 2."""
    if value is None:
        return 0
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit_widths(ws, minimums: Sequence[int]) -> None:
    """Each column as wide as its widest cell (CJK = 2), at least its minimum, at most MAX_WIDTH —
    cells of a column capped wrap."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    for j, column in enumerate(ws.iter_cols(min_row=1, max_row=ws.max_row), 1):
        widest = max((display_width(c.value) for c in column), default=0) + 2
        width = min(max(widest, minimums[j - 1] if j <= len(minimums) else 8), MAX_WIDTH)
        ws.column_dimensions[get_column_letter(j)].width = width
        if widest > MAX_WIDTH:
            for c in column[1:]:
                c.alignment = Alignment(wrap_text=True, vertical="top")


def _extra_keys(rows: Sequence[ReportRow]) -> list[str]:
    keys: list[str] = []
    for r in rows:
        for k in r.extra:
            if k not in keys:
                keys.append(k)
    return keys


def _row_values(r: ReportRow, extra_keys: Sequence[str]) -> list[Any]:
    return [r.unit_name, r.category, r.channel, r.rule, r.status_label, r.count, r.required,
            r.last_post_date, r.last_post_title, r.last_post_url, r.reason, r.streak or None, r.score,
            *[r.extra.get(k) for k in extra_keys]]


def _set_value(cell, value: Any) -> None:
    """Write a value; text always stays text (a crawled "=HYPERLINK(...)" never becomes a formula)."""
    if isinstance(value, str):
        cell.value = clean(value) or None       # nothing to say: an empty cell, not ""
        if cell.value is not None:
            cell.data_type = "s"
    else:
        cell.value = value


def _sheet(wb, title: str, rows: Sequence[ReportRow], extra_keys: Sequence[str]):
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    header = [name for name, _ in BASE_COLUMNS] + list(extra_keys)
    widths = [w for _, w in BASE_COLUMNS] + [display_width(k) + 2 for k in extra_keys]
    for j, name in enumerate(header, 1):
        cell = ws.cell(row=1, column=j)
        _set_value(cell, name)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    status_col = header.index("状态") + 1
    link_col = header.index("最近更新链接") + 1
    for i, r in enumerate(rows, 2):
        for j, value in enumerate(_row_values(r, extra_keys), 1):
            _set_value(ws.cell(row=i, column=j), value)
        ws.cell(row=i, column=status_col).fill = PatternFill("solid", fgColor=STATUS_FILLS.get(Status(r.status).value,
                                                                                         DEFAULT_FILL))
        url = clean(http_url(r.last_post_url))
        if url:
            ws.cell(row=i, column=link_col).hyperlink = url
            ws.cell(row=i, column=link_col).font = Font(color="0563C1", underline="single")
    _fit_widths(ws, widths)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(len(rows) + 1, 1)}"
    return ws


def _counts_sheet(wb, report: PeriodReport) -> None:
    """统计: the period's numbers as every view gives them (counts.PeriodCounts) — units first, then
    unit·channel items, then the rule verdicts the other sheets list — as numbers."""
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.active
    ws.title = "统计"
    tally, per_rule = report.tally, report.counts
    header = ("状态", "单位数", "项数(单位·渠道)", "判定条数(单位·渠道·规则)")
    for j, name in enumerate(header, 1):
        cell = ws.cell(row=1, column=j, value=name)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    i = 1
    for status in PRECEDENCE:
        i += 1
        for j, value in enumerate((STATUS_LABELS[status], tally.units[status], tally.items[status],
                                   per_rule[status]), 1):
            ws.cell(row=i, column=j, value=value)
        ws.cell(row=i, column=1).fill = PatternFill("solid", fgColor=STATUS_FILLS.get(status.value, DEFAULT_FILL))
    i += 1
    for j, value in enumerate(("合计", tally.units_total, tally.items_total, tally.verdicts), 1):
        ws.cell(row=i, column=j, value=value).font = Font(bold=True)
    notes = (("周期", report.period_label), ("结论", tally.headline()),
             ("计数口径", "每个单位只按其最严重的状态计一次: 未达标 > 无法核实 > 预警 > 进行中 > 达标 > 免检; "
                         "同一单位同一渠道多项规则的结果合为一项(单位·渠道); 无法核实不计入未达标。"))
    _fit_widths(ws, (10, 8, 16, 26))
    span = sum(ws.column_dimensions[c].width for c in "BCD")
    for k, (name, text) in enumerate(notes, i + 2):      # the sentences span B:D, wrapped
        ws.cell(row=k, column=1, value=name).font = Font(bold=True)
        _set_value(ws.cell(row=k, column=2), text)
        ws.cell(row=k, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=k, start_column=2, end_row=k, end_column=4)
        ws.row_dimensions[k].height = 15 * -(-display_width(text) // int(span))
    ws.freeze_panes = "A2"


def write_xlsx(report: PeriodReport, path: Path) -> Path:
    """Write the full table: 统计 (the counts), 汇总 (every row), 未达标, 无法核实 (and 其他发现)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    wb = Workbook()
    keys = _extra_keys(report.rows)
    _counts_sheet(wb, report)
    _sheet(wb, "汇总", report.rows, keys)
    _sheet(wb, "未达标", [r for g in report.late_by_category.values() for r in g], keys)
    _sheet(wb, "无法核实", report.unknown_rows, keys)
    if report.findings:
        ws = wb.create_sheet("其他发现")
        for j, name in enumerate(("单位", "类型", "说明"), 1):
            _set_value(ws.cell(row=1, column=j), name)
            ws.cell(row=1, column=j).font = Font(bold=True)
        for i, f in enumerate(report.findings, 2):
            for j, k in enumerate(("unit_name", "kind", "detail"), 1):
                _set_value(ws.cell(row=i, column=j), str(f.get(k, "")))
        for col, width in (("A", 22), ("B", 14), ("C", 80)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
    wb.properties.title = clean(title_of(report))
    wb.properties.creator = clean(report.office_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path
