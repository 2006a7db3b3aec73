"""One count everywhere, messages that fit their channel, honest dates and states (#16.3, #16.4, #16.5).

The wrong texts of issue #16 ("Why") each have a test here that fails on the code before the fix:
counts that disagree between make run (unit·channel), the board (unit·channel·rule) and the circular;
a unit listed once per overlapping rule; "http：//" in a robot message; a reminder "截至" a day after
its own deadline; a monthly warning saying "本周结束后"; make run and the reminder giving two dates.
"""
from __future__ import annotations

import re
from datetime import date, datetime

import openpyxl
import pytest

from pubwatch import board, jobs
from pubwatch.counts import PeriodCounts, findings, worst
from pubwatch.notices.render import md_text, render
from pubwatch.periods import Period
from pubwatch.registry import parse_unit
from pubwatch.report_data import build_period_report
from pubwatch.summary import weekly_summary_text
from pubwatch.types import TZ, Status, Verdict

from tests.conftest import TEST_AS_OF

CLOSED = Period.parse("2026-W46")


def v(unit, channel, rule, status, period="2026-W46", **kw):
    return Verdict(unit, channel, period, rule, status, count=0, required=1, **kw)


# ------------------------------------------------------------------------------------ the counting rule
def test_precedence_counts_a_unit_once_and_overlapping_rules_as_one_item():
    verdicts = [
        v("a", "portal", "weekly", Status.MISSED), v("a", "portal", "staleness:news", Status.MISSED),
        v("a", "wechat", "weekly", Status.UNKNOWN),                     # a: missed, never also unknown
        v("b", "portal", "weekly", Status.UNKNOWN), v("b", "portal", "staleness:news", Status.MISSED),
        v("c", "portal", "weekly", Status.UNKNOWN), v("c", "portal", "staleness:news", Status.MET),
        v("c", "wechat", "weekly", Status.AT_RISK),
        v("d", "portal", "weekly", Status.MET), v("d", "wechat", "weekly", Status.EXEMPT),
        v("e", "portal", "weekly", Status.EXEMPT),
    ]
    t = PeriodCounts.of(verdicts)
    assert (t.units_total, t.units_missed, t.units_unknown) == (5, 2, 1)
    assert (t.units[Status.MET], t.units[Status.EXEMPT], t.units[Status.AT_RISK]) == (1, 1, 0)
    assert (t.items_total, t.items_missed, t.items_unknown) == (8, 2, 2)      # a·wechat, c·portal
    assert t.verdicts == len(verdicts)
    a_portal = next(f for f in findings(verdicts) if (f.unit_id, f.channel) == ("a", "portal"))
    assert a_portal.rules == ["weekly", "staleness:news"]                # one finding, both rules, weekly first
    assert worst([Status.MET, Status.AT_RISK, Status.PENDING]) is Status.AT_RISK
    assert t.headline().startswith("监测单位 5 个; 未达标单位 2 个, 涉及 2 项(单位·渠道); 无法核实单位 1 个(2 项, 不计入未达标)")


# ------------------------------------------------------------------------------------ the demo week
@pytest.fixture
def notified(demo_runtime):
    rt = demo_runtime
    result = jobs.notify_week(rt, TEST_AS_OF, send=False, run_id="counts")
    return rt, result


def _outbox(name: str) -> str:
    from pubwatch import config

    return (config.outbox_dir() / name).read_text(encoding="utf-8")


def test_demo_week_counts_agree_in_make_run_board_circular_xlsx_and_summary(notified, tmp_path):
    """'未达标 5' (make run), '未达标 7 项(单位·渠道·规则)' (board), '58 项…未达标单位 4 个' (circular):
    now one count — 4 units, 5 unit·channel items — wherever the office looks (#16.3)."""
    rt, _ = notified
    verdicts = rt.store.verdicts(CLOSED.key)
    missed_units = {x.unit_id for x in verdicts if x.status is Status.MISSED}
    missed_items = {(x.unit_id, x.channel) for x in verdicts if x.status is Status.MISSED}
    unknown_units = {x.unit_id for x in verdicts if x.status is Status.UNKNOWN} - missed_units
    assert (len(missed_units), len(missed_items), len(unknown_units)) == (4, 5, 3)     # the demo's facts
    assert sum(x.status is Status.MISSED for x in verdicts) == 7                      # verdicts: 7, not 5 items
    want = "未达标单位 4 个, 涉及 5 项(单位·渠道)"

    # make run's summary (the closed week's section)
    text = weekly_summary_text(rt.store, rt.registry, rt.calendar, TEST_AS_OF)
    closed_section = text.split("== 2026年第47周")[0]
    assert want in closed_section and "无法核实单位 3 个" in closed_section

    # the board: matrix page (the newest closed week) and the period page
    today = TEST_AS_OF.date()
    matrix_html = board.render("matrix.j2", view=board.matrix(rt.store, rt.registry, board.recent_weeks(4, today),
                                                               today=today))
    period_html = board.render("period.j2", p=board.period_summary(rt.store, rt.registry, CLOSED, today=today))
    for html in (matrix_html, period_html):
        assert 'data-units-missed="4" data-items-missed="5" data-units-unknown="3"' in html
        assert want in html
    assert "项(单位·渠道·规则)" not in period_html

    # the circular's data and its .xlsx
    report = build_period_report(rt.store, rt.registry, rt.policies, CLOSED)
    assert (report.late_unit_count, report.tally.items_missed, report.unknown_unit_count) == (4, 5, 3)
    assert report.unit_count == 15
    from pubwatch.documents import write_xlsx

    import docx

    from pubwatch.documents import write_docx

    body = "\n".join(p.text for p in docx.Document(str(write_docx(report, tmp_path / "w46.docx"))).paragraphs)
    assert "本期共监测15个单位。未达标单位4个" in body and "无法核实的单位3个" in body

    ws = openpyxl.load_workbook(write_xlsx(report, tmp_path / "w46.xlsx"))["统计"]
    table = {r[0]: r[1:] for r in ws.iter_rows(min_row=2, max_row=8, values_only=True)}
    assert table["未达标"] == (4, 5, 7) and table["无法核实"] == (3, 3, 5) and table["合计"][0] == 15
    assert ws.freeze_panes == "A2"

    # the supervisors' summary message, every form
    for part in ("txt", "md", "html"):
        body = _outbox(f"2026-W46/office-summary.{part}")
        assert "未达标单位 4 个，涉及 5 项（单位·渠道）" in body, part
        assert "无法核实单位 3 个（3 项，不计入未达标）" in body, part


def test_overlapping_rules_are_one_finding_in_the_summary_and_the_notices(notified):
    """县财政局's portal missed the weekly rule and the staleness rule: one line with both rules, not two
    (the summary listed the unit four times)."""
    md = _outbox("2026-W46/office-summary.md")
    late = md.split("**未达标单位**")[1].split("**无法核实")[0]
    assert late.count("县财政局（门户网站") == 1 and late.count("县财政局（微信公众号") == 1
    assert "县财政局（门户网站：每周更新、栏目更新时效（动态要闻）" in late
    unknown = md.split("**无法核实（不计入未达标）**")[1]
    assert unknown.count("- 县公安局（门户网站）") == 1
    for part in ("txt", "md"):
        notice = _outbox(f"2026-W46/czj-overdue.{part}")
        assert notice.count("门户网站（每周更新、栏目更新时效") == 1, part
        assert notice.count("门户网站（") == 1 and notice.count("微信公众号（") == 1, part


def test_robot_messages_link_urls_and_promise_no_attachment(notified):
    """Group robots get clickable links, never "http：//", and no 见附件 (#16.4)."""
    for name in ("2026-W46/office-summary.md", "2026-W46/czj-overdue.md", "2026-W47/czj-reminder.md"):
        md = _outbox(name)
        assert "：//" not in md and "见附件" not in md, name
    summary = _outbox("2026-W46/office-summary.md")
    assert re.search(r"\[127\.0\.0\.1:\d+/gaj/gzdt/index\.html\]\(http://127\.0\.0\.1:\d+/gaj/gzdt/index\.html\)",
                     summary)
    assert "见附件" in _outbox("2026-W46/office-summary.txt")            # the e-mail carries the files
    assert len(summary.encode()) <= 4096                                 # one WeCom markdown message


def test_md_text_links_only_http_and_escapes_the_rest():
    assert md_text("失败: http://a.example/x_1.html (12:00)") == "失败: [a.example/x＿1.html](http://a.example/x_1.html) （12:00）"
    assert md_text("[点我](javascript:alert(1)) **粗**") == "［点我］（javascript:alert（1）） ＊＊粗＊＊"
    assert md_text("见 https://e.example/a?b=1&c=(2)") == "见 [e.example/a?b＝1＆c＝](https://e.example/a?b=1&c=)（2）"


def test_reminder_dates_agree_with_its_deadline_and_with_make_run(notified):
    """The reminder is 截至 the run's as-of (not the clock's day: it said 截至2026年12月3日 for a deadline of
    11-27), asks for the reminder day, and make run's summary gives that same day (it gave Sunday)."""
    rt, _ = notified
    for part in ("txt", "md", "html"):
        reminder = _outbox(f"2026-W47/nyncj-reminder.{part}")
        assert "截至2026年11月20日" in reminder, part
        assert "11月20日" in reminder.split("请于")[1][:40], part
    line = next(ln for ln in weekly_summary_text(rt.store, rt.registry, rt.calendar, TEST_AS_OF)
                .split("== 2026年第47周")[1].splitlines() if ln.strip().startswith("县农业农村局"))
    assert line.count("请于11月20日前更新") == 2 and "11月22日" not in line


def test_a_reminder_after_the_reminder_day_asks_for_the_week_end_not_a_past_day():
    from pubwatch.workdays import WorkCalendar

    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=TZ)
    wk = jobs.week_context(saturday, WorkCalendar())
    assert jobs.reminder_deadline(wk) == date(2026, 11, 22)
    assert jobs.reminder_deadline(jobs.week_context(TEST_AS_OF, WorkCalendar())) == date(2026, 11, 20)


@pytest.fixture
def unit():
    return parse_unit({"id": "jyj", "name": "县教育局", "category": "department",
                       "contacts": {"leader": {"name": "王建国", "email": "ld.jyj@example.gov.cn"},
                                    "staff": {"name": "张丽", "email": "xxy.jyj@example.gov.cn"}},
                       "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": "http://127.0.0.1/gzdt/"}]}}, 0)


def test_a_monthly_warning_speaks_of_the_month_and_is_never_dated_after_its_deadline(unit):
    """The monthly quota warning said "本周结束后…将予以通报"; rendered on a later day (a backfill), its
    "截至" went past its deadline."""
    quota = Verdict("jyj", "unit", "2026-11", "monthly_quota", Status.AT_RISK, count=7, required=10,
                    reason="本月已报送7条", deadline=date(2026, 11, 30))
    ctx = {"unit": unit, "recipient": unit.contact("staff"), "period_key": "2026-11", "period_label": "2026年11月",
           "verdicts": [quota], "deadline": quota.deadline, "as_of": datetime(2026, 11, 24, 9, tzinfo=TZ),
           "generated_at": datetime(2026, 12, 3, 9, tzinfo=TZ)}
    out = render("reminder", ctx, strict=True)
    for body in (out.text, out.markdown, out.html):
        assert "本周" not in body and "本月结束后仍未达到要求的" in body
        assert "截至2026年11月24日" in body and "2026年11月30日" in body
    late = render("reminder", {**ctx, "as_of": datetime(2026, 12, 3, 9, tzinfo=TZ)}, strict=True)
    assert "截至2026年11月30日" in late.text and "12月3日" not in late.text.split("请于")[0]


def test_every_view_says_a_preview_was_not_sent(notified):
    """Outbox-only notices were shown as 已发送 in make run's summary (#16.5)."""
    rt, result = notified
    assert result["sent"] == [] and len(result["previewed"]) == 8
    text = weekly_summary_text(rt.store, rt.registry, rt.calendar, TEST_AS_OF)
    assert "已发送" not in text and "仅预览(未发送) 6" in text and "发件箱(未发送)" in text
    assert "仅预览(未发送) 7 条" in _outbox("2026-W46/office-summary.txt")    # the units' notices of this run


def test_a_robot_summary_of_many_unverified_units_stays_short_and_says_how_many():
    """A group message has a length limit: a long list is cut honestly ("…共N项"), the e-mail keeps it all."""
    from pubwatch.documents import PeriodReport, ReportRow

    rows = [ReportRow(f"u{i}", f"单位{i}", "县直部门", "门户网站", "每周更新", Status.UNKNOWN, 0, 1,
                      reason="门户网站「工作动态」栏目抓取失败: HTTP 503 服务暂不可用, 已尝试2次: "
                             f"http://www.example.gov.cn/u{i}/gzdt/index.html " + "说明" * 60) for i in range(60)]
    report = PeriodReport("某某县人民政府办公室", "2026-W47", "2026年第47周", TEST_AS_OF, rows)
    out = render("summary", {"period_key": "2026-W47", "period_label": "2026年第47周", "rows": rows,
                             "unknown_rows": report.unknown_items, "generated_at": TEST_AS_OF}, strict=True)
    assert len(out.markdown.encode()) <= 4096
    assert "…共60项，其余详见邮件或监测看板" in out.markdown and out.markdown.count("- 单位") == 5
    assert out.text.count("单位59，门户网站") == 1                        # the e-mail lists every one


def test_notices_list_says_each_preview_was_not_sent(notified, capsys):
    from pubwatch.notices.admin import cli_notices

    rt, _ = notified
    assert cli_notices(["--db-url", rt.db_url, "list", "--all", "--period", "2026-W46"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all("\t发件箱(未发送)\t仅预览(未发送)" in ln for ln in lines)
