"""Notice rendering: every kind in all four forms, Chinese wording, and crawled-text injection."""
from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pubwatch.notices.render import KINDS, kinds_and_parts, md_escape, md_link, render, safe_url
from pubwatch.registry import parse_unit
from pubwatch.documents import PeriodReport, ReportRow
from pubwatch.types import TZ, Status, Verdict

OFFICE = {"name": "某某县人民政府办公室", "short": "县政务公开办", "phone": "0550-1234567",
          "supervisors": ["gongkai@county.example.gov.cn"]}
EVIL_TITLE = "<script>alert(1)</script>[点我](http://evil.example/x) @all **加粗**\n# 伪造标题 <img src=x onerror=alert(2)>"
GENERATED = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)
LABEL = "2026年第47周(11月16日-11月22日)"


@pytest.fixture
def unit():
    return parse_unit({"id": "jyj", "name": "县教育局", "category": "department",
                       "contacts": {"leader": {"name": "王建国", "title": "副局长", "mobile": "13900000010"},
                                    "staff": {"name": "张丽", "title": "信息员", "email": "xxy.jyj@example.gov.cn",
                                              "mobile": "13800000010"}},
                       "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": "http://127.0.0.1/gzdt/"}]},
                       "wechat": {"account": "县教育局", "sources": [{"type": "rss", "url": "http://127.0.0.1/f.xml"}]}},
                      0)


def missed(channel: str, title: str = "关于开展冬季安全生产检查的通知", url: str = "http://www.example.gov.cn/jyj/gzdt/t1.html",
           day: str = "2026-11-05") -> Verdict:
    return Verdict("jyj", channel, "2026-W47", "weekly", Status.MISSED, count=0, required=1,
                   reason="本周0条, 未达标", deadline=date(2026, 11, 22),
                   evidence={"posts": [], "last_post": {"title": title, "url": url, "date": day}})


def unit_ctx(unit, kind: str, verdicts, streak: int = 1) -> dict:
    recipient = unit.contact("leader" if kind == "escalation" else "staff")
    return {"office": OFFICE, "unit": unit, "recipient": recipient, "period_key": "2026-W47", "period_label": LABEL,
            "deadline": date(2026, 11, 20) if kind == "reminder" else date(2026, 11, 22), "verdicts": verdicts,
            "all_verdicts": verdicts, "streak": streak, "generated_at": GENERATED}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def html_tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


# ----- each kind ----------------------------------------------------------------------------------
def test_reminder_names_unit_channels_counts_and_deadline(unit):
    at_risk = Verdict("jyj", "wechat", "2026-W47", "weekly", Status.AT_RISK, count=0, required=1,
                      evidence={"posts": []})
    out = render("reminder", unit_ctx(unit, "reminder", [at_risk]), strict=True)
    assert out.subject == f"关于县教育局{LABEL}政府网站和政务新媒体信息更新的提醒"
    assert "县教育局张丽同志：" in out.text
    assert "微信公众号（每周更新）：应更新不少于1条，目前0条。" in out.text
    assert "请于今天（11月20日，星期五）下班前完成更新" in out.text      # sent on the deadline day
    later = render("reminder", {**unit_ctx(unit, "reminder", [at_risk]), "deadline": date(2026, 11, 22)})
    assert "请于2026年11月22日（星期日）前完成更新" in later.text and "2026年11月22日（星期日）前" in later.markdown
    assert "门户网站" not in out.text.split("以下渠道")[1].split("请于")[0]   # only the channel at risk
    assert "0550-1234567" in out.text and out.text.rstrip().endswith("2026年11月20日")
    assert out.markdown.startswith("### 信息更新提醒") and "微信公众号（每周更新）" in out.markdown
    assert "<title>" + out.subject + "</title>" in out.html


def test_overdue_shows_last_post_evidence_and_streak(unit):
    verdicts = [missed("portal"), missed("wechat", title="县教育局召开教师节表彰大会",
                                         url="https://mp.weixin.qq.com/s/abc_DEF", day="2026-11-10T10:00:00+08:00")]
    out = render("overdue", unit_ctx(unit, "overdue", verdicts, streak=3), strict=True)
    assert out.subject == f"关于县教育局{LABEL}政府网站和政务新媒体信息未按要求更新的通报"
    assert ("1. 门户网站（每周更新）：应更新不少于1条，实际0条；最近一次更新为2026年11月5日"
            "《关于开展冬季安全生产检查的通知》（http://www.example.gov.cn/jyj/gzdt/t1.html）。") in out.text
    assert "2. 微信公众号（每周更新）" in out.text and "2026年11月10日《县教育局召开教师节表彰大会》" in out.text
    assert "贵单位已连续3周未达到更新要求。" in out.text
    assert "如对监测结果有异议" in out.text
    assert "[《县教育局召开教师节表彰大会》](https://mp.weixin.qq.com/s/abc_DEF)" in out.markdown
    assert ("a", {"href": "http://www.example.gov.cn/jyj/gzdt/t1.html"}) in html_tags(out.html)
    assert "连续3周" in out.markdown


def test_overdue_first_miss_has_no_streak_line_and_handles_no_post_at_all(unit):
    v = Verdict("jyj", "portal", "2026-W47", "weekly", Status.MISSED, count=0, required=1, evidence={"posts": []})
    out = render("overdue", unit_ctx(unit, "overdue", [v], streak=1), strict=True)
    assert "连续" not in out.text and "连续" not in out.markdown
    assert "未发现更新记录" in out.text and "未发现更新记录" in out.markdown


def test_overdue_asks_what_the_unit_s_rule_asks_not_a_fixed_weekly_sentence(unit):
    """A unit whose rule is 2 posts a week was told "确保每周至少更新一条工作动态" (#16)."""
    v = Verdict("jyj", "portal", "2026-W47", "weekly", Status.MISSED, count=1, required=2, evidence={"posts": []})
    for out in (render("overdue", unit_ctx(unit, "overdue", [v], streak=1), strict=True),):
        assert "应更新不少于2条，实际1条" in out.text
        for text in (out.text, out.html):
            assert "每周至少更新一条" not in text and "确保按上述要求及时更新" in text


def test_escalation_goes_to_the_leader_with_streak(unit):
    out = render("escalation", unit_ctx(unit, "escalation", [missed("portal")], streak=4), strict=True)
    assert out.subject == "关于县教育局连续4周未按要求更新政府网站和政务新媒体信息的督办提醒"
    assert out.text.splitlines()[2] == "王建国副局长："
    assert "已连续4周未达到" in out.text and "督促" in out.text
    assert "**王建国副局长**" in out.markdown


def summary_report() -> PeriodReport:
    rows = [
        ReportRow("jyj", "县教育局", "县直部门", "门户网站", "每周更新", Status.MISSED, 0, 1,
                  last_post_title="关于开展冬季安全生产检查的通知", last_post_url="http://x.gov.cn/1.html",
                  last_post_date="2026-11-05", streak=2),
        ReportRow("czj", "县财政局", "县直部门", "门户网站", "每周更新", Status.UNKNOWN, 0, 1,
                  reason="站点无法访问 (连接超时), 本周无法核实"),
        ReportRow("dz", "东镇", "乡镇", "微信公众号", "每周更新", Status.MISSED, 0, 1),
        ReportRow("xz", "西镇", "乡镇", "微信公众号", "每周更新", Status.MET, 3, 1),
    ]
    return PeriodReport(OFFICE["name"], "2026-W47", LABEL, GENERATED, rows, "县政务公开办〔2026〕47号",
                        findings=[{"unit_name": "县民政局", "kind": "日期存疑", "detail": "3篇文章发布日期早于首次抓取 [x](http://e)"}])


def summary_ctx(report: PeriodReport, **kw) -> dict:
    ctx = {"office": OFFICE, "period_key": report.period_key, "period_label": report.period_label,
           "generated_at": GENERATED, "counts": report.counts, "rows": report.rows,
           "late_by_category": report.late_by_category, "unknown_rows": report.unknown_rows,
           "findings": report.findings}
    ctx.update(kw)
    return ctx


def test_summary_counts_late_by_category_and_unknown_never_as_late():
    out = render("summary", summary_ctx(summary_report()), strict=True)
    assert out.subject == f"{LABEL}政府网站和政务新媒体信息更新情况汇总"
    # units first, then unit·channel items (counts.PeriodCounts), the same sentence as every other view
    assert ("监测单位 4 个；未达标单位 2 个，涉及 2 项（单位·渠道）；无法核实单位 1 个（1 项，不计入未达标）；"
            "达标单位 1 个（1 项）。") in out.text
    late_section = out.text.split("二、未达标单位")[1].split("三、")[0]
    assert "县直部门" in late_section and "乡镇" in late_section
    assert "县教育局" in late_section and "东镇" in late_section and "连续2周未达标" in late_section
    assert "县财政局" not in late_section and "西镇" not in late_section
    unknown_section = out.text.split("三、无法核实的单位（不计入未达标）")[1].split("四、")[0]
    assert "县财政局，门户网站：站点无法访问" in unknown_section
    assert "四、其他发现" in out.text and "县民政局（日期存疑）" in out.text
    md_late = out.markdown.split("**未达标单位**")[1].split("**无法核实")[0]
    assert "县财政局" not in md_late and "县教育局" in md_late
    # finding text is crawled-derived: its markdown escaped, its URL a link whose text is the URL itself
    # (clickable, and nothing else can pose as it) — never a dead "http：//" (#16.4)
    assert "［x］（[e](http://e)）" in out.markdown and "：//" not in out.markdown
    assert "县财政局" in out.html and "不计入未达标" in out.html


def test_summary_lists_unconfirmed_notices_for_a_person_to_decide():
    pending = [{"id": 17, "unit_name": "县教育局", "kind_label": "未达标通报", "channel_label": "邮件"}]
    out = render("summary", summary_ctx(summary_report(), unconfirmed=pending), strict=True)
    section = out.text.split("五、发送结果不明的通知（请人工核实）")[1]
    assert "县教育局，未达标通报（邮件，编号17）" in section and "pubwatch notices confirm 17" in section
    assert "编号17" in out.markdown and "notices resend 17" in out.html
    assert "发送结果不明" not in render("summary", summary_ctx(summary_report()), strict=True).text


def test_group_robot_summary_promises_no_attachment():
    """A group robot message has no attachment: it must not say 见附件 (#16.4)."""
    out = render("summary", summary_ctx(summary_report()), strict=True)
    assert "附件" not in out.markdown.replace("已随邮件发给督查人员", "")
    assert "已随邮件发给督查人员" in out.markdown and "见附件" in out.text     # the e-mail keeps its attachments


def test_summary_carries_the_calendar_warning():
    warn = "2027年节假日安排尚未录入: 暂按《全国年节及纪念日放假办法》推算(不含调休)"
    out = render("summary", summary_ctx(summary_report(), calendar_warnings=[warn]), strict=True)
    assert f"提示：{warn}" in out.text and "2027年节假日安排尚未录入" in out.markdown and warn in out.html


def test_summary_without_findings_or_late_units():
    report = PeriodReport(OFFICE["name"], "2026-W47", LABEL, GENERATED,
                          [ReportRow("xz", "西镇", "乡镇", "微信公众号", "每周更新", Status.MET, 3, 1)])
    out = render("summary", summary_ctx(report, findings=[]), strict=True)
    assert "其他发现" not in out.text and "其他发现" not in out.markdown
    assert "二、未达标单位（按类别）\n    无。" in out.text


# ----- injection from crawled titles ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["overdue", "escalation", "reminder"])
def test_crawled_title_cannot_inject_markup(unit, kind):
    v = missed("portal", title=EVIL_TITLE, url="javascript:alert(3)")
    v.evidence["posts"] = [{"title": EVIL_TITLE, "url": "javascript:alert(4)", "published": "2026-11-17T08:00:00+08:00"}]
    out = render(kind, unit_ctx(unit, kind, [v], streak=2), strict=True)
    # HTML: escaped text, no script/img element, no javascript: link
    tags = html_tags(out.html)
    assert not any(t in ("script", "img") for t, _ in tags)
    assert not any("javascript" in str(a.get("href", "")) for _, a in tags)
    assert "alert(" not in out.html or "&lt;script&gt;" in out.html
    # markdown: no link, no mention, no bold, no new heading line, no raw tags from the title
    for bad in ("[点我](", "](http", "@all", "**加粗**", "<script", "<img", "javascript:"):
        assert bad not in out.markdown
    assert not any(line.startswith("# 伪造") for line in out.markdown.splitlines())
    # plain text keeps the words, on one line, without the javascript: URL
    assert "javascript:" not in out.text and not any(line.startswith("# 伪造") for line in out.text.splitlines())


def test_summary_html_and_markdown_escape_crawled_titles():
    report = summary_report()
    report.rows[0].last_post_title = EVIL_TITLE
    report.rows[0].last_post_url = "javascript:alert(5)"
    out = render("summary", summary_ctx(report), strict=True)
    tags = html_tags(out.html)
    assert not any(t in ("script", "img") for t, _ in tags)
    assert not any("javascript" in str(a.get("href", "")) for _, a in tags)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_md_escape_leaves_no_markdown_syntax(text):
    out = md_escape(text)
    assert "\n" not in out and "\r" not in out
    assert not set(out) & set("[]()*_`#<>@\\|!~&")
    assert "://" not in out
    assert not re.match(r"\s*([-+]|\d+\.)\s", out)


def test_md_link_and_safe_url():
    assert md_link("标题", "http://a.gov.cn/x(1) y.html") == "[标题](http://a.gov.cn/x%281%29%20y.html)"
    assert md_link("标题", "javascript:alert(1)") == "标题"
    assert md_link("[x](http://evil)", "https://ok.gov.cn/") == "[［x］（http：//evil）](https://ok.gov.cn/)"
    assert safe_url("https://ok.gov.cn/中文.html") == "https://ok.gov.cn/%E4%B8%AD%E6%96%87.html"
    assert safe_url("data:text/html,<b>") == "" and safe_url("//evil.example/") == ""


# ----- templates are the office's to edit -------------------------------------------------------
def test_every_template_exists_and_an_edited_copy_is_used(tmp_path, unit):
    from pubwatch.notices.render import DEFAULT_TEMPLATE_DIR

    assert all((DEFAULT_TEMPLATE_DIR / name).is_file() for _, name in kinds_and_parts())
    custom = tmp_path / "notices"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, custom)
    (custom / "reminder.subject.j2").write_text("【请尽快更新】{{ unit.name }} {{ period_key }}", encoding="utf-8")
    out = render("reminder", unit_ctx(unit, "reminder", [missed("portal")]), template_dir=custom, strict=True)
    assert out.subject == "【请尽快更新】县教育局 2026-W47"


def test_unknown_kind_is_refused_and_missing_office_gets_defaults(unit):
    with pytest.raises(ValueError):
        render("fax", {})
    ctx = unit_ctx(unit, "overdue", [missed("portal")])
    del ctx["office"], ctx["generated_at"]
    out = render("overdue", ctx)
    assert "县人民政府办公室" in out.text
    assert set(KINDS) == {"reminder", "overdue", "escalation", "summary"}


def test_silence_rule_warning_quotes_the_rule_in_its_reading(unit):
    """#21: a 预警 of a silence rule says what the rule asks, in the reading applied, and the day to post by."""
    from datetime import timedelta

    from pubwatch.periods import Period
    from pubwatch.rules import Policies, evaluate_unit
    from pubwatch.types import COVERS_ALL, PORTAL, AttemptFact, Outcome, PostFact
    from pubwatch.workdays import WorkCalendar

    src = unit.sources_of(PORTAL)[0]
    posts = [PostFact(src.id, PORTAL, "http://x/1", "动态", datetime(2026, 11, 11, 10, tzinfo=TZ),
                      datetime(2026, 11, 11, 10, tzinfo=TZ))]
    as_of = datetime(2026, 11, 18, 9, tzinfo=TZ)
    read = AttemptFact(src.id, PORTAL, as_of - timedelta(hours=1), Outcome.OK, covered_from=COVERS_ALL)
    pol = Policies({"defaults": {"rolling_window": {"kind": "rolling_window", "days": 10, "channels": ["portal"]}}})
    [v] = evaluate_unit(unit, Period.parse("2026-W47"), posts, [read], as_of=as_of, policies=pol,
                        calendar=WorkCalendar())
    assert (v.status, v.deadline) == (Status.AT_RISK, date(2026, 11, 21))
    out = render("reminder", {**unit_ctx(unit, "reminder", [v]), "deadline": v.deadline}, strict=True)
    assert "门户网站（连续未更新天数）：保证每10天内都能更新信息（任意连续10天不得无更新），目前即将出现连续10天未更新。" in out.text
    assert "请于2026年11月21日（星期六）前完成更新。按照“保证每10天内都能更新信息”的要求，逾期仍未更新的，将予以通报。" in out.text
    weekly = render("reminder", unit_ctx(unit, "reminder", [missed("portal")]), strict=True)
    assert "按照“原则上一个星期不低于一条工作动态”的要求，本周结束后仍未达到要求的，将予以通报。" in weekly.text
