"""The `deadline` kind (rules/kinds/deadline.py): the 政府信息公开工作年度报告 by 31 January
(departments) / 31 March (the county government), judged in the year, honest about reads."""
import pytest

from pubwatch import report_data, rules
from pubwatch.notices import render
from pubwatch.periods import Period
from pubwatch.rules import Policies, PolicyError
from pubwatch.types import PORTAL, Status
from tests.test_rules import CAL, at, fail, make_unit, ok, post

Y2027 = Period.parse("2027")
POLICIES = rules.load_policies()                    # shipped: enabled for departments
RULE = "deadline:annual_report"
REPORT = "县教育局2026年政府信息公开工作年度报告"
COLS = (("gzdt", "工作动态", "news"), ("xxgk", "政府信息公开", "other"))


def unit(**kw):
    return make_unit(columns=COLS, **kw)


def judge(posts, reads, as_of, u=None, period=Y2027, policies=POLICIES):
    u = u or unit()
    vs = rules.evaluate_unit(u, period, posts, reads, as_of=as_of, policies=policies, calendar=CAL)
    found = [v for v in vs if v.rule == RULE]
    assert len(found) <= 1
    return found[0] if found else None


def reads(when, **kw):
    return [ok(f"jyj.portal.{c}", when, **kw) for c, _, _ in COLS]


def report(when, title=REPORT, column="xxgk"):
    return post(f"jyj.portal.{column}", when, title=title)


CASES = [
    # name, posts, reads, as_of, status
    ("met before the deadline", [report(at(2027, 1, 20))], reads(at(2027, 2, 1, 7)), at(2027, 2, 3), Status.MET),
    ("met on the due day itself", [report(at(2027, 1, 31, 23, 30))], reads(at(2027, 2, 1, 7)), at(2027, 2, 3),
     Status.MET),
    ("met, judged early, nothing else needed", [report(at(2027, 1, 5))], [], at(2027, 1, 6), Status.MET),
    ("预警 within the lead", [], reads(at(2027, 1, 25, 7)), at(2027, 1, 25, 10), Status.AT_RISK),
    ("before the lead: pending", [], reads(at(2027, 1, 15, 7)), at(2027, 1, 15, 10), Status.PENDING),
    ("预警 but stale reads: unknown", [], reads(at(2027, 1, 20, 7)), at(2027, 1, 25, 10), Status.UNKNOWN),
    ("missed after, proven, year still open", [], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), Status.MISSED),
    ("missed: posted late", [report(at(2027, 2, 5))], reads(at(2027, 2, 10, 7)), at(2027, 2, 10, 9),
     Status.MISSED),
    ("missed, judged when the year closed", [], reads(at(2027, 3, 1, 7)), at(2028, 1, 1, 9, 30), Status.MISSED),
    ("listing reaches back only to 20 Jan: unknown", [], reads(at(2027, 2, 1, 7), covered_from=at(2027, 1, 20)),
     at(2027, 2, 2), Status.UNKNOWN),
    ("no read after the due day, year closed: unknown", [], reads(at(2027, 1, 30, 7)), at(2028, 1, 1, 9, 30),
     Status.UNKNOWN),
    ("a failed read: unknown", [], [fail("jyj.portal.xxgk", at(2027, 2, 1, 7)), ok("jyj.portal.gzdt", at(2027, 2, 1, 7))],
     at(2027, 2, 2), Status.UNKNOWN),
    ("a notice about the reports is not the report",
     [report(at(2027, 1, 10), title="关于做好2026年度政府信息公开工作年度报告编制和发布工作的通知")],
     reads(at(2027, 2, 1, 7)), at(2027, 2, 2), Status.MISSED),
    ("last year's report, published in December, is not this year's",
     [report(at(2026, 12, 20))], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), Status.MISSED),
    ("spaces in the title", [report(at(2027, 1, 20), title="县教育局 2026年 政府信息公开工作 年度报告")],
     reads(at(2027, 2, 1, 7)), at(2027, 2, 3), Status.MET),
]


@pytest.mark.parametrize("name,posts,attempts,as_of,status", CASES, ids=[c[0] for c in CASES])
def test_deadline_table(name, posts, attempts, as_of, status):
    v = judge(posts, attempts, as_of)
    assert v is not None and v.status is status, (v.status, v.reason)
    assert v.period == "2027" and v.channel == PORTAL and v.required == 1
    assert v.evidence["due"] == "2027-01-31" and v.evidence["window"] == ["2027-01-01", "2027-01-31"]
    if status is Status.MISSED:
        assert str(v.deadline) == "2027-01-31" and "未公布" in v.reason
    if status is Status.UNKNOWN:
        assert "无法核实" in v.reason


def test_reasons_and_evidence():
    v = judge([report(at(2027, 1, 20))], reads(at(2027, 2, 1, 7)), at(2027, 2, 3))
    assert "已于2027年01月20日公布政府信息公开工作年度报告" in v.reason
    assert v.evidence["last_post"]["title"] == REPORT and v.count == 1
    warn = judge([], reads(at(2027, 1, 25, 7)), at(2027, 1, 25, 10))
    assert "请于01月31日前" in warn.reason and "逾期未公布政府信息公开工作年度报告" in warn.reason
    assert str(warn.deadline) == "2027-01-31"
    late = judge([report(at(2027, 2, 5))], reads(at(2027, 2, 10, 7)), at(2027, 2, 10, 9))
    assert late.evidence["late_posts"][0]["title"] == REPORT and "02月05日逾期公布" in late.reason


def test_the_county_government_by_31_march_is_a_unit_override():
    gov = unit(policy={"annual_report": {"due": "03-31"}})
    assert judge([], reads(at(2027, 2, 2, 7)), at(2027, 2, 2), u=gov).status is Status.PENDING
    assert judge([], reads(at(2027, 3, 25, 7)), at(2027, 3, 25, 9), u=gov).status is Status.AT_RISK
    v = judge([report(at(2027, 3, 20))], reads(at(2027, 4, 1, 7)), at(2027, 4, 2), u=gov)
    assert v.status is Status.MET and v.evidence["due"] == "2027-03-31"


def test_only_departments_by_default_and_no_other_period():
    assert judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), u=unit(category="town")) is None
    assert judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), period=Period.parse("2027-01")) is None
    assert judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), period=Period.parse("2027-W05")) is None


def test_month_period_judges_the_due_days_month_only():
    pol = Policies({"defaults": {"annual_report": {"kind": "deadline", "period": "month", "warn_lead_days": 7}}})
    assert judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), period=Period.parse("2027-02"), policies=pol) is None
    v = judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), period=Period.parse("2027-01"), policies=pol)
    assert v.status is Status.MISSED and v.period == "2027-01"
    # the window starts at the month start here; with `from` in December it reaches back before it
    assert rules.lookback_days(pol, "month", windowed_only=True) == 31
    pol2 = Policies({"defaults": {"r": {"kind": "deadline", "from": "12-01", "due": "01-31"}}})
    assert rules.lookback_days(pol2, "year", windowed_only=True) == 62
    v = judge([report(at(2026, 12, 28))], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), policies=pol2)
    assert v is None                                              # rule name differs: deadline:r
    vs = rules.evaluate_unit(unit(), Y2027, [report(at(2026, 12, 28))], reads(at(2027, 2, 1, 7)),
                             as_of=at(2027, 2, 2), policies=pol2, calendar=CAL)
    assert [(v.rule, v.status) for v in vs] == [("deadline:r", Status.MET)]


def test_a_unit_joining_during_the_year_is_exempt():
    v = judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2), u=unit(start_date=at(2027, 1, 10).date()))
    assert v.status is Status.EXEMPT


def test_year_lookback_reads_nothing_before_the_year():
    assert rules.lookback_days(POLICIES, "year") == 0


def test_options_are_validated():
    for field, value in (("due", "02-30"), ("due", "0131"), ("title_pattern", "年度报告("), ("title_pattern", ""),
                         ("exclude_pattern", "[")):
        with pytest.raises(PolicyError, match=field):
            Policies({"defaults": {"r": {"kind": "deadline", field: value}}})
    Policies({"defaults": {"r": {"kind": "deadline", "exclude_pattern": None}}})


def test_circular_and_notices_speak_of_the_report():
    v = judge([], reads(at(2027, 2, 1, 7)), at(2027, 2, 2))
    assert report_data.rule_label(RULE) == "政府信息公开工作年度报告按期公开"
    assert report_data.rule_sentences([v]) == ["政府信息公开工作年度报告应于每年1月31日前向社会公布"]
    item = render.verdict_item(v)
    assert item["rule_label"] == "政府信息公开工作年度报告按期公开"
    assert item["ask"] == "政府信息公开工作年度报告应于2027年01月31日前向社会公布，实际逾期未公布"
    warn = judge([], reads(at(2027, 1, 25, 7)), at(2027, 1, 25, 10))
    assert render.verdict_item(warn)["ask_now"].endswith("目前尚未公布")
