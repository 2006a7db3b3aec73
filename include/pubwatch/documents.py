"""The period's formal circular (通报, .docx) and its full table (.xlsx).

report_data.py decides what goes in a report (rows built from verdicts); this module lays it out:
- write_docx: an office circular — red head (office name + red rule), 文号, title, 主送, 总体情况,
  存在的问题 (late units by category), 无法核实的单位 (explicitly not counted as late), 其他发现,
  工作要求, a table of late units, 落款 and date; Chinese fonts set through w:eastAsia.
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
from typing import Any, Iterable, Sequence

from .counts import PRECEDENCE, PeriodCounts, findings, merged_rule_label
from .types import STATUS_LABELS, Status
from .urls import http_url

_ILLEGAL_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
    doc_number: str = ""          # 文号, e.g. "县政务公开办〔2026〕47号"
    findings: list[dict] = field(default_factory=list)   # {unit_name, kind, detail}
    # The circulars' sentences of the rules judged (report_data.rule_sentences); none: the weekly rule's.
    rule_sentences: list[str] = field(default_factory=list)

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
    """Text safe for OOXML: control characters removed (they make python-docx/openpyxl fail)."""
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


def _unit_list(rows: Iterable[ReportRow]) -> str:
    """县教育局（门户网站、微信公众号）、县民政局（微信公众号）."""
    by_unit: dict[str, list[str]] = {}
    for r in rows:
        channels = by_unit.setdefault(r.unit_name, [])
        if r.channel not in channels:
            channels.append(r.channel)
    return "、".join(f"{name}（{'、'.join(chs)}）" for name, chs in by_unit.items())


def title_of(report: PeriodReport) -> str:
    return f"关于{report.period_label.split('(')[0]}政府网站和政务新媒体信息更新情况的通报"


# ----- .docx ------------------------------------------------------------------------------------
FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEADING = "黑体"
FONT_SUBHEADING = "楷体_GB2312"
RED = (0xE6, 0x00, 0x12)


def _set_run_font(run, name: str, size_pt: float, *, bold: bool = False, color: tuple | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    run.font.name = name
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    if color:
        run.font.color.rgb = RGBColor(*color)


def _para(doc, text: str = "", *, font: str = FONT_BODY, size: float = 16, align: str = "justify",
          indent: bool = False, bold: bool = False, color: tuple | None = None, space_after: float = 0):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    p = doc.add_paragraph()
    p.alignment = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
                   "left": WD_ALIGN_PARAGRAPH.LEFT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}[align]
    fmt = p.paragraph_format
    fmt.line_spacing = Pt(28)           # 公文: fixed 28 pt lines
    fmt.space_after = Pt(space_after)
    fmt.space_before = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if text:
        _set_run_font(p.add_run(clean(text)), font, size, bold=bold, color=color)
    return p


def _red_rule(paragraph) -> None:
    """A red horizontal rule under the red head (paragraph bottom border)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "E60012")):
        bottom.set(qn(k), v)
    borders.append(bottom)
    ppr.append(borders)


def _set_cell(cell, text: str, *, bold: bool = False, size: float = 10.5, center: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    cell.text = ""
    p = cell.paragraphs[0]
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_run_font(p.add_run(clean(text)), FONT_HEADING if bold else FONT_BODY, size, bold=False)


def _page_setup(doc) -> None:
    from docx.shared import Mm, Pt

    for section in doc.sections:       # GB/T 9704 A4 margins: top 37, bottom 35, left 28, right 26 mm
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    normal.font.name = FONT_BODY
    normal.font.size = Pt(16)
    from docx.oxml.ns import qn

    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_BODY)


LATE_TABLE_HEADER = ("序号", "单位", "类别", "渠道", "应更新", "实际", "最近更新", "连续未达标周数")


def _late_table(doc, report: PeriodReport) -> None:
    rows = [r for group in report.late_by_category.values() for r in group]
    table = doc.add_table(rows=1, cols=len(LATE_TABLE_HEADER))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, LATE_TABLE_HEADER):
        _set_cell(cell, text, bold=True, center=True)
    for i, r in enumerate(rows, 1):
        last = r.last_post_date
        if r.last_post_title:
            last = f"{last} {r.last_post_title}".strip()
        values = (str(i), r.unit_name, r.category, r.channel, str(r.required), str(r.count),
                  last or "无更新记录", str(r.streak) if r.streak else "")
        cells = table.add_row().cells
        for j, (cell, text) in enumerate(zip(cells, values)):
            _set_cell(cell, text, center=j in (0, 4, 5, 7))


def write_docx(report: PeriodReport, path: Path) -> Path:
    """Write the circular as a Word document laid out like a county office 通报."""
    from docx import Document

    path = Path(path)
    doc = Document()
    _page_setup(doc)
    counts = report.counts
    issued = cn_date(report.generated_at)

    head = _para(doc, report.office_name, font=FONT_TITLE, size=26, align="center", color=RED)
    _red_rule(_para(doc, report.doc_number, size=16, align="center", space_after=12)
              if report.doc_number else head)
    _para(doc)
    _para(doc, title_of(report), font=FONT_TITLE, size=22, align="center", space_after=12)
    _para(doc, "各乡镇人民政府，县直各部门，各有关单位：", align="left")
    quoted = "”“".join(report.rule_sentences or ["原则上一个星期不低于一条工作动态"])
    _para(doc, f"按照“{quoted}”和“对不及时更新的单位给予通报”的要求，"
               f"{report.office_name}对{report.period_label}各单位政府网站栏目和政务新媒体（微信公众号）"
               f"信息更新情况进行了监测，现将有关情况通报如下：", indent=True)

    _para(doc, "一、总体情况", font=FONT_HEADING, indent=True)
    status_text = "，".join(f"{STATUS_LABELS.get(s, s.value)}{n}项" for s, n in counts.items() if n)
    _para(doc, f"本期共监测{report.unit_count}个单位的{len(report.rows)}项更新要求（单位×渠道×要求），"
               f"其中{status_text or '无监测结果'}。未达标单位{report.late_unit_count}个；"
               f"因网站无法访问、被防护拦截或数据源异常等原因无法核实的单位{report.unknown_unit_count}个，"
               f"不计入未达标。", indent=True)

    _para(doc, "二、存在的问题", font=FONT_HEADING, indent=True)
    groups = report.late_by_category
    if groups:
        for i, (category, rows) in enumerate(groups.items(), 1):
            _para(doc, f"（{_cn_number(i)}）{category}", font=FONT_SUBHEADING, indent=True)
            _para(doc, f"{_unit_list(rows)}未达到更新要求。", indent=True)
        _para(doc, "未达标单位明细见文末附表。", indent=True)
    else:
        _para(doc, "本期各单位均达到更新要求，或无法核实，未发现未达标单位。", indent=True)

    section = 3
    if report.unknown_rows:
        _para(doc, f"{_cn_number(section)}、无法核实的单位", font=FONT_HEADING, indent=True)
        _para(doc, "以下单位因监测数据源异常，本期更新情况无法核实，不计入未达标，请相关单位协助核实网站或账号状态：",
              indent=True)
        for r in report.unknown_rows:
            _para(doc, f"{r.unit_name}（{r.channel}）：{r.reason or '数据源异常，无法核实'}。", indent=True)
        section += 1
    if report.findings:
        _para(doc, f"{_cn_number(section)}、其他发现", font=FONT_HEADING, indent=True)
        for f in report.findings:
            _para(doc, f"{f.get('unit_name', '')}（{f.get('kind', '')}）：{f.get('detail', '')}", indent=True)
        section += 1

    _para(doc, f"{_cn_number(section)}、工作要求", font=FONT_HEADING, indent=True)
    for text in ("（一）立即整改。被通报单位要高度重视，立即组织更新，确保门户网站栏目和微信公众号每周至少更新一条工作动态。",
                 "（二）压实责任。各单位要明确分管领导和信息员，落实信息更新、审核、发布责任，杜绝“僵尸”栏目和账号。",
                 "（三）如实发布。不得突击更新、伪造发布日期；对监测结果有异议的，请于3个工作日内联系政务公开办核实。"):
        _para(doc, text, indent=True)

    _para(doc)
    _para(doc, report.office_name, align="right")
    _para(doc, issued, align="right")

    if report.late_rows:
        doc.add_page_break()
        _para(doc, "附表", font=FONT_HEADING, align="left")
        _para(doc, f"{report.period_label}未达标单位明细", font=FONT_TITLE, size=18, align="center", space_after=8)
        _late_table(doc, report)
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
        url = http_url(r.last_post_url)
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
