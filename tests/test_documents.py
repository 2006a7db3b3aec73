"""The circular (.docx) and the full table (.xlsx), opened again with python-docx / openpyxl."""
from __future__ import annotations

from datetime import date, datetime

import docx
import openpyxl
import pytest
from docx.oxml.ns import qn

from pubwatch.documents import PeriodReport, ReportRow, write_docx, write_xlsx
from pubwatch.periods import Period
from pubwatch.types import TZ, Status

LABEL = "2026年第47周(11月16日-11月22日)"
TITLE = "关于2026年第47周政府网站和政务新媒体信息更新情况的通报"
FORMULA = '=HYPERLINK("http://evil.example","点击")'


def row(uid, name, category, channel, status, count=0, required=1, **kw) -> ReportRow:
    return ReportRow(uid, name, category, channel, "每周更新", status, count, required, rule_key="weekly", **kw)


@pytest.fixture
def report() -> PeriodReport:
    rows = [
        row("dz", "东镇", "乡镇", "微信公众号", Status.MISSED, streak=3,
            last_post_title="东镇召开秋冬季森林防火工作会议", last_post_date="2026-10-30",
            last_post_url="https://mp.weixin.qq.com/s/dz1", extra={"最长间隔(天)": "21"}),
        row("jyj", "县教育局", "县直部门", "门户网站", Status.MISSED, streak=2, last_post_title=FORMULA,
            last_post_url="javascript:alert(1)", last_post_date="2026-11-05", extra={"日期存疑": "2"}),
        row("jyj", "县教育局", "县直部门", "微信公众号", Status.MET, count=2, last_post_title="教师节\x07表彰",
            last_post_date="2026-11-18", last_post_url="https://mp.weixin.qq.com/s/jyj2"),
        row("czj", "县财政局", "县直部门", "门户网站", Status.UNKNOWN, reason="站点无法访问 (连接超时), 本周无法核实",
            unit_reason="网站无法访问"),
        row("czj", "县财政局", "县直部门", "微信公众号", Status.AT_RISK, score=92.5),
        row("xz", "西镇", "乡镇", "门户网站", Status.EXEMPT, reason="栏目停更审批中"),
    ]
    return PeriodReport("某某县人民政府办公室", "2026-W47", LABEL, datetime(2026, 11, 23, 9, 0, tzinfo=TZ), rows,
                        doc_number="某政办〔2026〕12号", feedback_by=date(2026, 11, 26), cc="县人民政府领导",
                        findings=[{"unit_name": "县民政局", "kind": "日期存疑", "detail": "3篇文章发布日期早于首次抓取7天以上"}])


def test_report_properties(report):
    assert {s: n for s, n in report.counts.items() if n} == {Status.MET: 1, Status.AT_RISK: 1, Status.MISSED: 2,
                                                             Status.UNKNOWN: 1, Status.EXEMPT: 1}
    assert set(report.counts) == set(Status)
    assert list(report.late_by_category) == ["县直部门", "乡镇"]          # the office's category order
    assert [r.unit_name for r in report.late_by_category["乡镇"]] == ["东镇"]
    assert [r.unit_name for r in report.unknown_rows] == ["县财政局"]
    assert (report.unit_count, report.late_unit_count, report.unknown_unit_count) == (4, 2, 1)


def paragraphs(path) -> list[str]:
    return [p.text for p in docx.Document(str(path)).paragraphs]


def test_docx_is_laid_out_like_a_circular(report, tmp_path):
    path = write_docx(report, tmp_path / "通报.docx")
    document = docx.Document(str(path))
    texts = [t for t in (p.text for p in document.paragraphs) if t.strip()]
    assert texts[0] == "某某县人民政府办公室" and texts[1] == "某政办〔2026〕12号"
    assert TITLE in texts and texts.index(TITLE) < texts.index("一、总体情况")
    assert texts[texts.index(TITLE) + 1] == "各乡镇人民政府，县直各部门，各有关单位："
    body = "\n".join(texts)
    assert "本期共监测4个单位。未达标单位2个" in body and "无法核实的单位1个" in body
    problems = body.split("二、存在的问题")[1].split("三、")[0]
    assert "（一）县直部门\n县教育局（门户网站）未达到更新要求。" in problems
    assert "（二）乡镇\n东镇（微信公众号）未达到更新要求。" in problems
    assert "县财政局" not in problems                        # unknown is never listed as late
    unknown = body.split("三、无法核实的单位")[1].split("四、")[0]
    assert "不计入未达标" in unknown and "县财政局：门户网站无法核实（网站无法访问）" in unknown
    assert "请相关单位于2026年11月26日前自查" in unknown
    assert "连接超时" not in body                             # the technical reason stays in the .xlsx
    assert "日期存疑" not in body                             # a supervisor's lead, not the units' text
    assert "四、工作要求" in body and "每周至少更新一条" not in body
    # 落款 and date, right-aligned, before the appendix table
    sign = texts.index("2026年11月23日")
    assert texts[sign - 1] == "某某县人民政府办公室"
    signed = next(p for p in document.paragraphs if p.text == "2026年11月23日")
    assert signed.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    assert f"{LABEL}未达标及无法核实单位情况表" in texts[sign:]
    assert texts[-2:] == ["抄送：县人民政府领导。", "某某县人民政府办公室\t2026年11月23日印发"]   # 版记


def test_docx_table_has_one_row_per_unit(report, tmp_path):
    document = docx.Document(str(write_docx(report, tmp_path / "c.docx")))
    assert len(document.tables) == 1
    cells = [[c.text for c in r.cells] for r in document.tables[0].rows]
    assert cells[0] == ["序号", "单位", "类别", "结论", "具体情况", "连续未达标周数"]
    assert cells[1] == ["1", "县教育局", "县直部门", "未达标",
                        "门户网站：每周更新未达标（发文0篇，要求至少1篇），最近更新2026年11月5日", "2"]
    assert cells[2] == ["2", "东镇", "乡镇", "未达标",
                        "微信公众号：每周更新未达标（发文0篇，要求至少1篇），最近更新2026年10月30日", "3"]
    assert cells[3] == ["3", "县财政局", "县直部门", "无法核实", "门户网站：无法核实（网站无法访问）", ""]
    assert len(cells) == 4


def test_docx_sets_chinese_fonts_through_east_asia(report, tmp_path):
    document = docx.Document(str(write_docx(report, tmp_path / "c.docx")))
    by_text = {p.text: p for p in document.paragraphs}

    def east_asia(text):
        run = by_text[text].runs[0]
        return run._element.rPr.rFonts.get(qn("w:eastAsia"))

    assert east_asia(TITLE) == "方正小标宋简体"
    assert east_asia("一、总体情况") == "黑体"
    assert east_asia("各乡镇人民政府，县直各部门，各有关单位：") == "仿宋_GB2312"
    head = document.paragraphs[0].runs[0]
    assert str(head.font.color.rgb) == "E60012"                 # the red head
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"


def test_docx_with_nothing_late(tmp_path):
    report = PeriodReport("某某县人民政府办公室", "2026-W47", LABEL, datetime(2026, 11, 23, tzinfo=TZ),
                          [row("xz", "西镇", "乡镇", "门户网站", Status.MET, count=1)])
    document = docx.Document(str(write_docx(report, tmp_path / "ok.docx")))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "本期未发现未达标单位" in body and "无法核实的单位\n" not in body and "附表" not in body
    assert "{%" not in body and "{{" not in body
    assert document.tables == []


def sheet_rows(ws) -> list[list]:
    return [[c.value for c in r] for r in ws.iter_rows()]


def test_xlsx_has_every_row_frozen_header_filter_and_extra_columns(report, tmp_path):
    wb = openpyxl.load_workbook(str(write_xlsx(report, tmp_path / "明细.xlsx")))
    assert wb.sheetnames == ["统计", "汇总", "未达标", "无法核实", "其他发现"]
    ws = wb["汇总"]
    header = sheet_rows(ws)[0]
    assert header[:5] == ["单位", "类别", "渠道", "要求", "状态"]
    assert header[-2:] == ["最长间隔(天)", "日期存疑"]
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}7"
    rows = sheet_rows(ws)[1:]
    assert len(rows) == 6
    first = dict(zip(header, rows[0]))
    assert first["单位"] == "东镇" and first["状态"] == "未达标" and first["连续未达标周数"] == 3
    assert first["最长间隔(天)"] == "21" and first["最近更新日期"] == "2026-10-30"
    assert dict(zip(header, rows[4]))["得分"] == 92.5
    assert ws.column_dimensions["A"].width >= 20


def test_xlsx_status_colours_and_split_sheets(report, tmp_path):
    wb = openpyxl.load_workbook(str(write_xlsx(report, tmp_path / "x.xlsx")))
    ws = wb["汇总"]
    status_col = sheet_rows(ws)[0].index("状态") + 1
    fills = {ws.cell(row=i, column=1).value + ws.cell(row=i, column=3).value:
             ws.cell(row=i, column=status_col).fill.fgColor.rgb[-6:] for i in range(2, 8)}
    assert fills["东镇微信公众号"] == "FFC7CE" and fills["县教育局微信公众号"] == "C6EFCE"
    assert fills["县财政局门户网站"] == "D9D9D9"
    assert [r[0] for r in sheet_rows(wb["未达标"])[1:]] == ["县教育局", "东镇"]
    unknown = sheet_rows(wb["无法核实"])
    assert [r[0] for r in unknown[1:]] == ["县财政局"]
    assert "站点无法访问" in unknown[1][unknown[0].index("原因/说明")]
    assert sheet_rows(wb["其他发现"])[1] == ["县民政局", "日期存疑", "3篇文章发布日期早于首次抓取7天以上"]


def test_xlsx_never_turns_crawled_text_into_formulas_or_unsafe_links(report, tmp_path):
    wb = openpyxl.load_workbook(str(write_xlsx(report, tmp_path / "x.xlsx")))
    ws = wb["汇总"]
    header = sheet_rows(ws)[0]
    title_col, link_col = header.index("最近更新标题") + 1, header.index("最近更新链接") + 1
    cell = ws.cell(row=3, column=title_col)
    assert cell.value == FORMULA and cell.data_type == "s"
    assert ws.cell(row=3, column=link_col).hyperlink is None           # javascript: is not linked
    assert ws.cell(row=2, column=link_col).hyperlink.target == "https://mp.weixin.qq.com/s/dz1"
    assert ws.cell(row=4, column=title_col).value == "教师节表彰"          # control character removed


def test_xlsx_without_findings_has_three_sheets(tmp_path):
    report = PeriodReport("办", "2026-W47", LABEL, datetime(2026, 11, 23, tzinfo=TZ), [])
    wb = openpyxl.load_workbook(str(write_xlsx(report, tmp_path / "empty.xlsx")))
    assert wb.sheetnames == ["统计", "汇总", "未达标", "无法核实"]
    assert sheet_rows(wb["汇总"])[0][0] == "单位" and wb["汇总"].max_row == 1


def test_demo_xlsx_numbers_are_numbers_and_empty_where_they_do_not_apply(demo_runtime, tmp_path):
    """得分 filled from the scoring table, 最长间隔/未达标天数 numeric, nothing for 无法核实 rows (#16.7)."""
    import openpyxl

    from pubwatch import jobs
    from pubwatch.report_data import write_period_files
    from tests.conftest import TEST_AS_OF

    jobs.evaluate(demo_runtime, "2026-11", as_of=TEST_AS_OF)
    (path,) = write_period_files(demo_runtime.store, demo_runtime.registry, demo_runtime.policies,
                                 Period.parse("2026-11"), formats=("xlsx",), out=tmp_path / "m.xlsx")
    ws = openpyxl.load_workbook(path)["汇总"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=2)]
    scored = [r for r in rows if r["状态"] in ("达标", "未达标")]
    assert scored and all(isinstance(r["得分"], (int, float)) for r in scored)
    assert all(r["得分"] is None for r in rows if r["状态"] not in ("达标", "未达标"))
    for key in ("最长间隔(天)", "未达标天数"):
        if key in header:
            assert all(r[key] is None or isinstance(r[key], (int, float)) for r in rows), key
    if "未达标天数" in header:
        assert all(r["未达标天数"] is None for r in rows if r["状态"] == "无法核实")


def test_files_are_written_whatever_noncharacters_a_crawled_title_holds(tmp_path):
    """U+FFFE / U+FFFF survive the crawler's clean_text (a mis-decoded byte-order mark) but are not
    XML characters: one such title made the .xlsx fail, and with it the week's summary mail."""
    bad = "东镇\ufffe召开\uffff会议"
    rows = [row("dz", "东镇", "乡镇", "门户网站", Status.MISSED, last_post_title=bad, reason=f"最后更新《{bad}》",
                last_post_url="https://www.example.gov.cn/\ufffe")]
    report = PeriodReport("某某县人民政府办公室", "2026-W47", LABEL, datetime(2026, 11, 23, 9, 0, tzinfo=TZ), rows)
    ws = openpyxl.load_workbook(write_xlsx(report, tmp_path / "t.xlsx"))["汇总"]
    assert ws.cell(row=2, column=9).value == "东镇召开会议"
    document = docx.Document(str(write_docx(report, tmp_path / "t.docx")))
    assert any("东镇" in p.text for p in document.paragraphs)
