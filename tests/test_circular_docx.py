"""The demo week's circular (通报) as the units receive it: rendered by docxtpl from the Word
template, read back with python-docx, and as pages (PDF via LibreOffice, page 1 as PNG) (#16.1, #16.2).

LibreOffice (Debian: libreoffice-writer-nogui, poppler-utils for pdftotext/pdftoppm): without it the
page test is skipped, unless PUBWATCH_REQUIRE_OFFICE or PUBWATCH_REQUIRE_BROWSER is set (CI), then
it fails. Page 1 is kept as test-output/circular-page1.png.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from pubwatch.documents import DEFAULT_TEMPLATE, PeriodReport, ReportRow, write_docx
from pubwatch.periods import Period
from pubwatch.registry import load_registry
from pubwatch.report_data import build_period_report
from pubwatch.types import TZ, Status

ROOT = Path(__file__).resolve().parents[1]
CLOSED = Period.parse("2026-W46")            # the week closed on the demo Friday (TEST_AS_OF)
TITLE = "关于2026年第46周政府网站和政务新媒体信息更新情况的通报"
ISSUER = "某某县人民政府办公室"
# What units must never read in their circular: our HTTP log, crawler and bridge states.
FORBIDDEN = ("http", "HTTP", "127.0.0.1", "WAF", "反爬", "防护", "拦截", "挑战页", "瑞数", "白名单", "桥接",
             "登录", "扫码", "we-mp-rss", "wechat2rss", "RSSHub", "Traceback", "抓取", "数据源", "县政务公开办")
STATUS_CODE = re.compile(r"(?<!\d)[1-5]\d\d(?!\d)")      # 403, 412, 502 … (the demo has no other 3-digit number)


def docx_text(path: Path) -> str:
    """Every text of the document: body paragraphs, table cells, headers and footers."""
    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [c.text for r in table.rows for c in r.cells]
    for section in document.sections:
        for part in (section.header, section.footer, section.even_page_footer, section.first_page_footer):
            parts += [p.text for p in part.paragraphs]
    return "\n".join(parts)


def late_or_unknown_units(store) -> set[str]:
    return {v.unit_id for v in store.verdicts(CLOSED.key) if v.status in (Status.MISSED, Status.UNKNOWN)}


@pytest.fixture
def demo_circular(demo_runtime, tmp_path):
    rt = demo_runtime
    report = build_period_report(rt.store, rt.registry, rt.policies, CLOSED)
    return rt, report, write_docx(report, tmp_path / "通报.docx")


def check_units_text(text: str) -> None:
    """The checks shared by the .docx and its rendered pages."""
    assert ISSUER in text
    for word in FORBIDDEN:
        assert word not in text, word
    assert not STATUS_CODE.findall(text), STATUS_CODE.findall(text)
    assert "空白栏目" not in text          # the demo's unreadable columns are not 空白栏目


def test_demo_circular_speaks_to_the_units(demo_circular):
    rt, report, path = demo_circular
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs if p.text.strip()]
    # 红头 = the issuer (not the office's short name), 文号 = prefix〔year〕blank serial号 (not the ISO week)
    assert texts[0] == ISSUER
    assert texts[1] == f"某政办〔{report.generated_at.year}〕\u3000\u3000号"
    assert "46号" not in texts[1] and "县政务公开办" not in texts[1]
    assert TITLE in texts
    text = docx_text(path)
    check_units_text(text)
    assert "{{" not in text and "{%" not in text
    # unverified units: listed as 无法核实 with a unit-facing reason and a day to report back
    assert "县公安局：门户网站无法核实（网站无法访问）。" in texts
    assert "县审计局：门户网站无法核实（网站无法访问）。" in texts
    assert "县退役军人事务局：微信公众号无法核实（公众号数据无法获取）。" in texts
    assert re.search(r"请相关单位于\d{4}年\d{1,2}月\d{1,2}日前自查并反馈", text)
    # the objection deadline is the same date as the report-back one (was a fixed 3个工作日内)
    feedback = re.search(r"请相关单位于(\d{4}年\d{1,2}月\d{1,2}日)前自查并反馈", text).group(1)
    assert f"对监测结果有异议的，请于{feedback}前联系" in text
    # the rules in force, quoted from the policies (staleness is enabled in the demo)
    assert "“原则上一个星期不低于一条工作动态”“监测时间点前14天内应有信息更新”" in text
    # one table row per unit (the late and the unverified), channels and rules in the row
    (table,) = document.tables
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    names = [r[1] for r in rows]
    assert len(names) == len(set(names))
    units = {u.id: u.name for u in rt.registry.units}
    assert set(names) == {units[u] for u in late_or_unknown_units(rt.store)}
    czj = next(r for r in rows if r[1] == "县财政局")
    assert czj[3] == "未达标" and czj[5] == "3"
    assert czj[4].splitlines() == [
        "门户网站：每周更新未达标（发文0篇，要求至少1篇）；栏目更新时效(动态要闻)未达标，最近更新2026年10月22日",
        "微信公众号：每周更新未达标（发文0篇，要求至少1篇）；公众号更新时效未达标，最近更新2026年10月22日"]
    # page numbers: a PAGE field in the odd and even footers, "— n —"
    footers = [document.sections[0].footer, document.sections[0].even_page_footer]
    for footer in footers:
        instr = [el.text for el in footer._element.iter(qn("w:instrText"))]
        assert [i.strip() for i in instr] == ["PAGE"]
        assert footer.paragraphs[0].text.startswith("— ") and footer.paragraphs[0].text.endswith(" —")


def test_unreadable_column_is_not_called_blank_anywhere(demo_runtime):
    """空白栏目 is a national veto term: never for a column that could not be read (#16.2). The demo's
    公安局 (503) and 审计局 (412) columns never answered: their verdicts (board, .xlsx) say so."""
    verdicts = {(v.unit_id, v.rule): v for v in demo_runtime.store.verdicts(CLOSED.key)}
    for unit in ("gaj", "sjj"):
        v = verdicts[(unit, "staleness:news")]
        assert v.status is Status.UNKNOWN
        assert "空白栏目" not in v.reason and "尚未成功读取" in v.reason
        assert v.evidence["empty_columns"] == []


def test_doc_number_takes_the_serial_the_office_sets(demo_runtime, tmp_path):
    rt = demo_runtime
    report = build_period_report(rt.store, rt.registry, rt.policies, CLOSED, serial=12)
    assert report.doc_number == f"某政办〔{report.generated_at.year}〕12号"
    texts = [p.text for p in docx.Document(str(write_docx(report, tmp_path / "c.docx"))).paragraphs if p.text]
    assert texts[1] == report.doc_number


def test_the_office_edits_the_wording_in_the_template(demo_runtime, tmp_path):
    """The office opens the shipped template in Word, rewrites a sentence, points the registry at its
    copy: the next circular says it — no code change."""
    template = docx.Document(str(DEFAULT_TEMPLATE))
    (para,) = [p for p in template.paragraphs if p.text.startswith("（二）压实责任。")]
    new = "（二）压实责任。各单位主要负责同志要亲自过问，每周五前向县政府办公室报送更新台账。"
    para.runs[0].text = new
    for run in para.runs[1:]:
        run.text = ""
    template.save(str(tmp_path / "通报模板.docx"))
    registry_text = (ROOT / "include" / "units.yaml").read_text(encoding="utf-8")
    assert "  # circular_template: 通报模板.docx" in registry_text
    (tmp_path / "units.yaml").write_text(
        registry_text.replace("  # circular_template: 通报模板.docx", "  circular_template: 通报模板.docx"),
        encoding="utf-8")
    registry = load_registry(tmp_path / "units.yaml")
    rt = demo_runtime
    report = build_period_report(rt.store, registry, rt.policies, CLOSED)
    assert report.template == tmp_path / "通报模板.docx"
    text = docx_text(write_docx(report, tmp_path / "out.docx"))
    assert new in text and "杜绝“僵尸”栏目和账号" not in text
    assert TITLE in text                      # the rest still rendered from the edited file


AVAILABILITY = ("县财政局门户网站「工作动态」: 本期监测访问140次, 打不开或超过15秒21次, 占15.0%, "
                "达到站点无法访问标准(≥5%)")


def test_same_unit_is_one_row_whatever_its_rules_and_channels(tmp_path):
    """Two overlapping rules × two channels: one row, one mention in 存在的问题 (#16: up to 4 times)."""
    def row(channel, rule, key, status=Status.MISSED, **kw):
        return ReportRow("czj", "县财政局", "县直部门", channel, rule, status, 0, 1, rule_key=key, **kw)

    report = PeriodReport(ISSUER, "2026-W46", "2026年第46周(11月9日-11月15日)", datetime(2026, 11, 20, tzinfo=TZ),
                          [row("门户网站", "每周更新", "weekly", last_post_date="2026-10-22"),
                           row("门户网站", "栏目更新时效(动态要闻)", "staleness:news", empty_columns=["工作动态"]),
                           row("微信公众号", "每周更新", "weekly"),
                           row("微信公众号", "公众号更新时效", "staleness:wechat", Status.UNKNOWN,
                               reason="HTTP 412 被防护拦截 http://x.example/", unit_reason="公众号数据无法获取")],
                          doc_number="某政办〔2026〕\u3000\u3000号", feedback_by=date(2026, 11, 25),
                          findings=[{"unit_id": "czj", "unit_name": "县财政局", "kind": "availability",
                                     "detail": AVAILABILITY + "; 另有3次被防护拦截(不计为无法访问)"},
                                    {"unit_id": "czj", "unit_name": "县财政局", "kind": "burst",
                                     "detail": "县财政局门户网站「工作动态」: 一次新出现5篇, 其中3篇疑似补发倒填日期"}])
    assert len(report.unit_rows) == 1
    path = write_docx(report, tmp_path / "c.docx")
    document = docx.Document(str(path))
    cells = [[c.text for c in r.cells] for r in document.tables[0].rows]
    assert len(cells) == 2 and cells[1][1] == "县财政局" and cells[1][3] == "未达标"
    assert cells[1][4].splitlines() == [
        "门户网站：每周更新未达标（发文0篇，要求至少1篇）；栏目更新时效(动态要闻)未达标，「工作动态」为空白栏目，"
        "最近更新2026年10月22日",
        "微信公众号：每周更新未达标（发文0篇，要求至少1篇）；无法核实（公众号数据无法获取），无更新记录"]
    text = docx_text(path)
    assert text.count("县财政局（门户网站、微信公众号）未达到更新要求") == 1
    assert "http" not in text and "412" not in text and "拦截" not in text
    # the inspectors' availability measure is the unit's business; a suspected back-dating is a lead
    # for the supervisors (.xlsx, board), not an accusation in the circular
    # czj is late, so it is counted and listed once, as late (counts.PRECEDENCE): no 无法核实 section
    # naming it again ("无法核实的单位0个" next to a list of one); its 附表 row says which rule could not be verified
    assert "无法核实的单位0个" in text and "、无法核实的单位" not in text
    assert f"三、其他情况\n{AVAILABILITY}\n四、工作要求" in text
    assert "倒填" not in text


# ----- rendered pages ---------------------------------------------------------------------------
def _office_tools() -> tuple[str, str, str]:
    tools = tuple(shutil.which(t) for t in ("soffice", "pdftotext", "pdftoppm"))
    if all(tools):
        return tools  # type: ignore[return-value]
    missing = "apt-get install -y libreoffice-writer-nogui poppler-utils"
    if os.environ.get("PUBWATCH_REQUIRE_OFFICE") or os.environ.get("PUBWATCH_REQUIRE_BROWSER"):
        pytest.fail(f"LibreOffice/poppler required (PUBWATCH_REQUIRE_OFFICE/BROWSER) but missing: {missing}")
    pytest.skip(f"LibreOffice/poppler not installed ({missing}); set PUBWATCH_REQUIRE_OFFICE=1 to fail instead")


def test_demo_circular_pages_via_libreoffice(demo_circular, tmp_path):
    soffice, pdftotext, pdftoppm = _office_tools()
    rt, report, path = demo_circular
    profile = tmp_path / "lo-profile"          # its own profile: no clash with a running LibreOffice
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=180)
    pdf = path.with_suffix(".pdf")
    assert pdf.is_file()
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=60).stdout
    flat = re.sub(r"\s+", "", text)
    check_units_text(flat)
    first = subprocess.run([pdftotext, "-f", "1", "-l", "1", str(pdf), "-"], check=True, capture_output=True,
                           text=True, timeout=60).stdout
    first_flat = re.sub(r"\s+", "", first)
    assert first_flat.startswith(ISSUER + f"某政办〔{report.generated_at.year}〕号")   # 红头, then 文号 (blank serial)
    assert re.sub(r"\s+", "", TITLE) in first_flat
    assert "—1—" in first_flat                                                    # the page number
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) >= 2
    assert any("—2—" in re.sub(r"\s+", "", p) for p in pages)
    # one row per unit: each late or unverified unit starts exactly one numbered row of the 附表
    # (a long name wraps in its cell, so its first characters are matched)
    appendix = flat.split("未达标及无法核实单位情况表")[1].split("注：")[0]
    units = {u.id: u.name for u in rt.registry.units}
    expected = [u.unit_name for u in report.unit_rows]
    assert sorted(expected) == sorted(units[uid] for uid in late_or_unknown_units(rt.store))
    for i, name in enumerate(expected, 1):
        assert appendix.count(name[:5]) == 1, name
        assert re.search(rf"(?<!\d){i}{re.escape(name[:5])}", appendix), (i, name)
    assert not re.search(rf"(?<!\d){len(expected) + 1}县", appendix)
    # page 1 as PNG, kept for the reader
    subprocess.run([pdftoppm, "-f", "1", "-l", "1", "-r", "80", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "page1")], check=True, timeout=60)
    target = ROOT / "test-output"
    target.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "page1.png", target / "circular-page1.png")
    assert (target / "circular-page1.png").stat().st_size > 10_000


@pytest.mark.parametrize(("channel", "outcome", "expected"), [
    ("portal", "http_error", "网站无法访问"), ("portal", "blocked", "网站无法访问"),
    ("portal", "unreachable", "网站无法访问"), ("portal", "parse_failed", "栏目无法读取"),
    ("portal", "suspect_empty", "栏目无法读取"), ("portal", "redirected", "栏目地址已变更"),
    ("portal", "config_error", "未配置监测地址"), ("wechat", "stale", "公众号数据无法获取"),
    ("wechat", "source_error", "公众号数据无法获取"), ("wechat", "config_error", "未配置公众号监测"),
    ("portal", None, "监测数据不完整")])
def test_unverified_reasons_in_the_units_words(channel, outcome, expected):
    """The technical reason (HTTP 412, a bridge's login …) becomes a short phrase a unit can act on."""
    from pubwatch.report_data import unit_reason
    from pubwatch.types import Verdict

    evidence = {"failed_attempts": {"count": 1, "by_outcome": {outcome: 1},
                                    "last": {"outcome": outcome, "message": "HTTP 412 瑞数 http://x/"}}} if outcome else {}
    v = Verdict("czj", channel, "2026-W46", "weekly", Status.UNKNOWN, reason="…", evidence=evidence)
    assert unit_reason(v) == expected


def test_unit_scope_unverified_reason_names_the_channel_that_failed():
    """A whole-unit rule (monthly 信息报送, channel "unit") whose portal was blocked: the unit is told
    its website could not be reached — never that its WeChat account failed."""
    from pubwatch.report_data import unit_reason
    from pubwatch.types import Verdict

    def verdict(source, outcome):
        return Verdict("sjj", "unit", "2026-11", "monthly_quota", Status.UNKNOWN, reason="…", evidence={
            "failed_attempts": {"count": 1, "by_outcome": {outcome: 1},
                                "last": {"source": source, "outcome": outcome, "message": "HTTP 412"}}})

    assert unit_reason(verdict("sjj.portal.gzdt", "blocked")) == "网站无法访问"
    assert unit_reason(verdict("sjj.portal.gzdt", "parse_failed")) == "栏目无法读取"
    assert unit_reason(verdict("sjj.wechat.rss", "stale")) == "公众号数据无法获取"
    assert unit_reason(verdict("sjj.wechat.rss", "config_error")) == "未配置公众号监测"


def test_monthly_circular_names_channels_in_words(demo_runtime, tmp_path):
    """The month's circular (pubwatch_periodic): a whole-unit rule's rows read 门户网站和微信公众号合计,
    never the internal channel name "unit"; the blocked portal is 网站无法访问 there too."""
    from pubwatch.evaluate import evaluate_period

    rt = demo_runtime
    month = Period.parse("2026-11")
    evaluate_period(rt.store, rt.registry.units, month, as_of=datetime(2026, 12, 1, 9, 30, tzinfo=TZ),
                    policies=rt.policies, calendar=rt.calendar)
    report = build_period_report(rt.store, rt.registry, rt.policies, month)
    assert report.unknown_rows, "the demo month has unverified units"
    text = docx_text(write_docx(report, tmp_path / "月度通报.docx"))
    assert "关于2026年11月政府网站和政务新媒体信息更新情况的通报" in text
    assert not re.search(r"[A-Za-z]", text.replace("PAGE", "")), re.findall(r"[A-Za-z]+", text)
    assert "门户网站和微信公众号合计" in text
    assert "县审计局：门户网站和微信公众号合计无法核实（网站无法访问）" in text
    assert {r.channel for r in report.rows} <= {"门户网站", "微信公众号", "门户网站和微信公众号合计"}


def test_a_wechat_account_is_never_called_a_blank_column():
    """空白栏目 is the inspectors' term for a website column that never had content. A WeChat account
    read successfully that never posted is late (无任何信息), but the circular must not call it a 栏目."""
    from pubwatch.report_data import empty_columns
    from pubwatch.types import Verdict

    evidence = {"verified": True, "empty_columns": ["县教育局"]}
    wechat = Verdict("jyj", "wechat", "2026-W46", "staleness:news", Status.MISSED, reason="…", evidence=evidence)
    portal = Verdict("jyj", "portal", "2026-W46", "staleness:news", Status.MISSED, reason="…",
                     evidence={"verified": True, "empty_columns": ["通知公告"]})
    assert empty_columns(wechat) == []
    assert empty_columns(portal) == ["通知公告"]


def test_doc_number_without_office_settings_leaves_blanks_to_fill_in():
    """A registry with no office: settings: the 文号 keeps a place for the 机关代字 as it does for
    the serial ("　　〔2026〕　　号"), never a bare "〔2026〕　　号" that reads as complete."""
    from pubwatch.report_data import doc_number

    assert doc_number({}, 2026) == "\u3000\u3000〔2026〕\u3000\u3000号"
    assert doc_number({"doc_number_prefix": "某政办"}, 2026, 7) == "某政办〔2026〕7号"
