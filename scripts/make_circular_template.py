"""Generate the shipped circular template include/templates/circular/circular.docx.

The circular (通报) is rendered by docxtpl from that Word file (Jinja2 tags inside the document);
the office edits the wording in Word and keeps the tags. This script is how the shipped file is
made, so that it can be made again after a change here:

    PYTHONPATH=include .venv/bin/python scripts/make_circular_template.py [--out PATH]

Layout after GB/T 9704-2012 (党政机关公文格式) as far as a template reasonably goes: A4, margins
37/35/28/26 mm, 28 pt lines; 红头 (the issuer in red 小标宋) and 文号 over a red rule; title in
小标宋 二号; 主送; body in 仿宋_GB2312 三号 with 黑体 / 楷体 headings; 落款 and date; page numbers
"— 1 —" in 宋体 四号, odd pages right and even pages left; 附表 on a new page, one row per unit;
版记 (抄送 / 印发) between rules on the last page.

The tags (see README "The circular's template"): {{ issuer }}, {{ doc_number }}, {{ period_name }},
{{ period_label }}, {{ rules_quoted }}, {{ rules_text }}, {{ unit_count }}, {{ late_unit_count }},
{{ unknown_unit_count }}, late_groups (number, category, units), unknown_units (name, text),
{{ feedback_by }}, other_findings, unit_rows (no, name, category, verdict, detail, streak),
{{ issue_date }}, {{ cc }}, {{ print_date }}, n (section numbers: unknown, other, requirements).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

OUT = Path(__file__).resolve().parents[1] / "include" / "templates" / "circular" / "circular.docx"

FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEADING = "黑体"
FONT_SUBHEADING = "楷体_GB2312"
FONT_PAGE = "宋体"
RED = RGBColor(0xE6, 0x00, 0x12)
ALIGN = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT,
         "left": WD_ALIGN_PARAGRAPH.LEFT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def font(run, name: str, size: float, *, color: RGBColor | None = None, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    rfonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    if color is not None:
        run.font.color.rgb = color


def para(container, text: str = "", *, face: str = FONT_BODY, size: float = 16, align: str = "justify",
         indent: bool = False, color: RGBColor | None = None, before: float = 0, after: float = 0,
         line: float | None = 28, page_break_before: bool = False, keep_with_next: bool = False):
    p = container.add_paragraph()
    p.alignment = ALIGN[align]
    fmt = p.paragraph_format
    if line:
        fmt.line_spacing = Pt(line)            # 公文: fixed lines
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    fmt.page_break_before = page_break_before
    fmt.keep_with_next = keep_with_next or face in (FONT_HEADING, FONT_SUBHEADING)
    if indent:
        fmt.first_line_indent = Pt(size * 2)   # two characters
    if text:
        font(p.add_run(text), face, size, color=color)
    return p


def tag(container, text: str):
    """A paragraph holding only a docxtpl block tag ({%p ... %}): removed when rendered."""
    p = container.add_paragraph()
    font(p.add_run(text), FONT_BODY, 16)
    return p


def border(paragraph, side: str, *, size: int, color: str = "000000", space: int = 1) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    el = OxmlElement(f"w:{side}")
    for k, v in (("w:val", "single"), ("w:sz", str(size)), ("w:space", str(space)), ("w:color", color)):
        el.set(qn(k), v)
    borders.append(el)


def page_field(paragraph) -> None:
    """"— PAGE —" (a real PAGE field, so Word and LibreOffice number every page)."""
    def run(el=None, text=None):
        r = paragraph.add_run(text or "")
        font(r, FONT_PAGE, 14)
        if el is not None:
            r._r.append(el)
        return r

    run(text="— ")
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    run(instr)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run(sep)
    run(text="1")
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run(end)
    run(text=" —")


def cell_text(cell, text: str, *, face: str = FONT_BODY, size: float = 10.5, align: str = "center") -> None:
    cell.text = ""
    p = cell.paragraphs[0]
    p.alignment = ALIGN[align]
    p.paragraph_format.line_spacing = Pt(18)
    if text:
        font(p.add_run(text), face, size)


def set_widths(table, widths_mm) -> None:
    tbl_pr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tbl_pr.append(layout)
    for row in table.rows:
        for cell, w in zip(row.cells, widths_mm):
            cell.width = Mm(w)
    grid = table._tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(int(Mm(w).twips)))


def repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


TABLE_HEADER = ("序号", "单位", "类别", "结论", "具体情况", "连续未达标周数")
TABLE_WIDTHS = (12, 27, 19, 19, 61, 18)        # mm, 156 mm of text width; 五号 (10.5 pt) in the table
TABLE_ROW = ("{{ u.no }}", "{{ u.name }}", "{{ u.category }}", "{{ u.verdict }}", "{{ u.detail }}",
             "{{ u.streak }}")


def build() -> Document:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(20)
    normal = doc.styles["Normal"]
    normal.font.name = FONT_BODY
    normal.font.size = Pt(16)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_BODY)

    # page numbers: odd pages right, even pages left, one character from the edge
    doc.settings.odd_and_even_pages_header_footer = True
    odd = section.footer.paragraphs[0]
    odd.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    odd.paragraph_format.right_indent = Pt(14)
    page_field(odd)
    even = section.even_page_footer.paragraphs[0]
    even.alignment = WD_ALIGN_PARAGRAPH.LEFT
    even.paragraph_format.left_indent = Pt(14)
    page_field(even)

    # 版头: 发文机关标志, 文号, red rule
    first = doc.paragraphs[0] if doc.paragraphs else para(doc)
    first.alignment = WD_ALIGN_PARAGRAPH.CENTER
    first.paragraph_format.space_before = Pt(24)
    font(first.add_run("{{ issuer }}"), FONT_TITLE, 26, color=RED)
    para(doc)
    number = para(doc, "{{ doc_number }}", align="center", after=6)
    border(number, "bottom", size=18, color="E60012", space=8)
    para(doc)
    para(doc, "关于{{ period_name }}政府网站和政务新媒体信息更新情况的通报", face=FONT_TITLE, size=22,
         align="center", line=35)
    para(doc)
    para(doc, "各乡镇人民政府，县直各部门，各有关单位：", align="left")
    para(doc, "按照{{ rules_quoted }}和“对不及时更新的单位给予通报”的要求，{{ issuer }}对{{ period_label }}"
              "各单位政府网站栏目和政务新媒体（微信公众号）信息更新情况进行了监测，现将有关情况通报如下：", indent=True)

    para(doc, "一、总体情况", face=FONT_HEADING, indent=True)
    para(doc, "本期共监测{{ unit_count }}个单位。未达标单位{{ late_unit_count }}个；"
              "因网站或公众号数据无法获取、本期更新情况无法核实的单位{{ unknown_unit_count }}个，"
              "不计入未达标。", indent=True)

    para(doc, "二、存在的问题", face=FONT_HEADING, indent=True)
    tag(doc, "{%p if late_groups %}")
    tag(doc, "{%p for g in late_groups %}")
    para(doc, "（{{ g.number }}）{{ g.category }}", face=FONT_SUBHEADING, indent=True)
    para(doc, "{{ g.units }}未达到更新要求。", indent=True)
    tag(doc, "{%p endfor %}")
    para(doc, "各单位具体情况见附表。", indent=True)
    tag(doc, "{%p else %}")
    para(doc, "本期未发现未达标单位。", indent=True)
    tag(doc, "{%p endif %}")

    tag(doc, "{%p if unknown_units %}")
    para(doc, "{{ n.unknown }}、无法核实的单位", face=FONT_HEADING, indent=True)
    para(doc, "以下单位本期更新情况无法核实，不计入未达标。请相关单位于{{ feedback_by }}前自查网站栏目、"
              "公众号的访问和更新情况，并向{{ issuer }}反馈：", indent=True)
    tag(doc, "{%p for x in unknown_units %}")
    para(doc, "{{ x.name }}：{{ x.text }}。", indent=True)
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p endif %}")

    tag(doc, "{%p if other_findings %}")
    para(doc, "{{ n.other }}、其他情况", face=FONT_HEADING, indent=True)
    tag(doc, "{%p for text in other_findings %}")
    para(doc, "{{ text }}", indent=True)
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p endif %}")

    para(doc, "{{ n.requirements }}、工作要求", face=FONT_HEADING, indent=True)
    para(doc, "（一）立即整改。被通报单位要高度重视，立即组织更新，严格落实{{ rules_text }}的要求。", indent=True)
    para(doc, "（二）压实责任。各单位要明确分管领导和信息员，落实信息更新、审核、发布责任，杜绝“僵尸”栏目和账号。",
         indent=True)
    para(doc, "（三）如实发布。不得突击更新、伪造发布日期；对监测结果有异议的，请于{{ feedback_by }}前联系{{ issuer }}核实。",
         indent=True)

    para(doc)
    para(doc, "{{ issuer }}", align="right").paragraph_format.right_indent = Pt(64)
    para(doc, "{{ issue_date }}", align="right").paragraph_format.right_indent = Pt(64)

    # 附表: one row per unit with a finding
    tag(doc, "{%p if unit_rows %}")
    para(doc, "附表", face=FONT_HEADING, align="left", page_break_before=True)
    para(doc, "{{ period_label }}未达标及无法核实单位情况表", face=FONT_TITLE, size=18, align="center", after=8)
    table = doc.add_table(rows=4, cols=len(TABLE_HEADER))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, TABLE_HEADER):
        cell_text(cell, text, face=FONT_HEADING)
    repeat_header(table.rows[0])
    cell_text(table.rows[1].cells[0], "{%tr for u in unit_rows %}")
    for j, (cell, text) in enumerate(zip(table.rows[2].cells, TABLE_ROW)):
        cell_text(cell, text, align="left" if j in (1, 4) else "center")
    cell_text(table.rows[3].cells[0], "{%tr endfor %}")
    set_widths(table, TABLE_WIDTHS)
    para(doc, "注：“无法核实”指本期网站栏目或公众号数据无法获取，不计入未达标；请相关单位于{{ feedback_by }}前自查并反馈。",
         size=12, line=20, before=6)
    tag(doc, "{%p endif %}")

    # 版记: 抄送 and 印发 between rules (thick, thin, thick)
    para(doc)
    cc = para(doc, "抄送：{{ cc }}。", size=14, align="left", before=6)
    cc.paragraph_format.left_indent = Pt(14)
    border(cc, "top", size=8)
    border(cc, "bottom", size=6)
    printed = para(doc, "{{ issuer }}", size=14, align="left")
    printed.paragraph_format.left_indent = Pt(14)
    printed.add_run("\t")
    font(printed.add_run("{{ print_date }}印发"), FONT_BODY, 14)
    printed.paragraph_format.tab_stops.add_tab_stop(Mm(150), alignment=WD_TAB_ALIGNMENT.RIGHT)
    border(printed, "bottom", size=8)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    build().save(str(args.out))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
