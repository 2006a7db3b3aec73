"""人工复核 (#20): a supervisor's review of a verdict is kept with its trail, survives re-evaluation and
backfill, and is the status everything downstream uses — board, circular, scores, streaks, notices."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from pubwatch import reviews
from pubwatch.evaluate import evaluate_period, streaks
from pubwatch.periods import Period
from pubwatch.registry import parse_registry
from pubwatch.reviews import ReviewError, current_reviews, record_review, review_history
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult, Status

REG_DATA = {"units": [
    {"id": uid, "name": name, "category": "department",
     "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
     "portal": {"columns": [{"id": "gzdt", "url": f"https://www.example.gov.cn/{uid}/gzdt/"}]}}
    for uid, name in [("ok", "按时单位"), ("late", "迟报单位"), ("down", "宕机单位")]]}
REG = parse_registry(REG_DATA)
W = Period.parse("2026-W46")          # Nov 9-15; "late" missed W45 and W46
AS_OF = datetime(2026, 11, 16, 7, 30, tzinfo=TZ)   # Monday after the week
NOW = datetime(2026, 11, 17, 10, 0, tzinfo=TZ)


def seed(store, *, weeks_back=8):
    """Weekly crawls of each unit's one column; "late" posts nothing in W45 and W46, "down" answers 503
    for W46 and has no post at all."""
    store.sync_units(REG.units)
    for unit in REG.units:
        col = unit.sources_of("portal")[0]
        week = W
        for k in range(weeks_back):
            at = datetime.combine(week.end, datetime.min.time(), TZ) + timedelta(days=1, hours=6, minutes=30)
            a = store.start_attempt(col, started_at=at, run_id="seed")
            if unit.id == "down" and k == 0:
                store.finish_attempt(a, col, SourceResult(Outcome.HTTP_ERROR, message="HTTP 503", http_status=503),
                                     finished_at=at, items_new=0)
            else:
                posts = [] if (unit.id == "late" and k in (0, 1)) or unit.id == "down" else [
                    ListItem(f"{unit.name}动态{k}", f"https://www.example.gov.cn/{unit.id}/gzdt/t{k}.html",
                             datetime.combine(week.start + timedelta(days=2), datetime.min.time(), TZ)
                             .replace(hour=10))]
                new = store.upsert_posts(col, posts, seen_at=at, attempt_id=a)
                store.finish_attempt(a, col, SourceResult(Outcome.OK, posts), finished_at=at, items_new=new,
                                     covered_from=COVERS_ALL)
            week = week.previous()


def weekly(verdicts, unit_id, channel="portal"):
    return next(v for v in verdicts if v.unit_id == unit_id and v.channel == channel and v.rule == "weekly")


def evaluate_weeks(store, *weeks):
    for p in weeks:
        evaluate_period(store, REG.units, p, as_of=AS_OF if p == W else p.end_dt + timedelta(days=1))


def review(store, **kw):
    args = dict(unit_id="late", period=W.key, channel="portal", status="met",
                reason="单位提供了群发截图, 11月12日已发布", reviewer="督查员甲", now=NOW)
    args.update(kw)
    return record_review(store, REG, **args)


# --------------------------------------------------------------------------------- the record
def test_a_review_is_stored_and_laid_over_the_computed_verdict(store):
    seed(store)
    evaluate_weeks(store, W.previous(), W)
    assert weekly(store.verdicts(W.key), "late").status is Status.MISSED
    r = review(store, evidence_url=None)
    assert (r.status, r.previous_status, r.reviewer, r.created_at) == (Status.MET, Status.MISSED, "督查员甲", NOW)
    v = weekly(store.verdicts(W.key), "late")
    assert v.status is Status.MET and v.reason == "人工复核: 单位提供了群发截图, 11月12日已发布"
    assert v.evidence["computed_status"] == "missed" and v.evidence["review"]["reviewer"] == "督查员甲"
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED
    assert weekly(store.verdicts(W.key), "ok").evidence.get("review") is None
    assert current_reviews(store, W.key) == {("late", "portal", W.key, "weekly"): r}


def test_a_later_review_supersedes_and_both_are_kept(store):
    seed(store)
    evaluate_weeks(store, W)
    first = review(store)
    second = review(store, status="exempt", reason="该周网站改版, 经领导同意免检", reviewer="督查员乙",
                    now=NOW + timedelta(hours=2))
    assert second.previous_status is Status.MET               # what it corrected: the first review
    assert [r.id for r in review_history(store, "late")] == [first.id, second.id]
    assert review_history(store, "late", W.previous().key) == []
    assert current_reviews(store, W.key)[("late", "portal", W.key, "weekly")] == second
    assert weekly(store.verdicts(W.key), "late").status is Status.EXEMPT


def test_a_review_survives_re_evaluation_and_backfill(store):
    seed(store)
    evaluate_weeks(store, W)
    review(store)
    evaluate_weeks(store, W)                                   # the next run, same knowledge
    evaluate_period(store, REG.units, W, as_of=AS_OF + timedelta(days=30))   # a backfill, later knowledge
    assert weekly(store.verdicts(W.key), "late").status is Status.MET
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED
    assert store.status_history(["late"], [W.key], "weekly")[("late", "portal")][W.key] == "met"
    assert store.status_history(["late"], [W.key], "weekly", reviewed=False)[("late", "portal")][W.key] == "missed"


@pytest.mark.parametrize(("change", "field"), [
    ({"unit_id": "nobody"}, "unit"),
    ({"period": "2026-W99"}, "period"),
    ({"period": "last week"}, "period"),
    ({"period": "2026-W40"}, "period"),                      # never evaluated
    ({"channel": "weibo"}, "channel"),
    ({"channel": "wechat"}, "channel"),                      # the unit has no WeChat verdict
    ({"rule": "no_such_rule"}, "rule"),
    ({"status": "at_risk"}, "status"),
    ({"status": "good"}, "status"),
    ({"reason": "  \t "}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reviewer": ""}, "reviewer"),
    ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
    ({"evidence_url": "ftp://example.gov.cn/a"}, "evidence_url"),
    ({"evidence_url": "https://www.example.gov.cn/late/a.html", "published": date(2026, 11, 20)}, "published"),
    ({"evidence_url": "https://www.example.gov.cn/late/a.html", "published": "2026-11-31"}, "published"),
])
def test_bad_input_is_refused_naming_the_field(store, change, field):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    with pytest.raises(ReviewError) as err:
        review(store, **change)
    assert err.value.field == field and f"字段 {field}:" in str(err.value)
    assert review_history(store) == []


def test_chinese_status_words_and_a_unit_name_are_accepted(store):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    r = review(store, unit_id="迟报单位", status="免检")
    assert (r.unit_id, r.status) == ("late", Status.EXEMPT)


# --------------------------------------------------------------------------------- everywhere consistent
def test_scores_and_ranking_follow_the_review(store):
    from pubwatch import rules
    from pubwatch.ranking import ranking
    from pubwatch.scoring import ScoreTable

    seed(store)
    evaluate_weeks(store, W.previous(), W)
    policies = rules.load_policies()
    month = Period.parse("2026-11")

    def score(unit_id):
        return next(r["score"] for r in ranking(store, REG.units, policies, month)["rows"] if r["unit_id"] == unit_id)

    before = score("late")
    review(store)
    table = ScoreTable.from_policies(policies)
    gain = table.points("weekly", Status.MET) - table.points("weekly", Status.MISSED)
    assert gain > 0 and score("late") == pytest.approx(before + gain)


def test_a_reviewed_met_breaks_the_streak_so_no_escalation_is_planned(store):
    from pubwatch.notices.dispatch import plan_unit_notices

    seed(store)
    evaluate_weeks(store, W.previous().previous(), W.previous(), W)

    def planned():
        """(weekly streak, {notice kind: the rules it names}) for "late" in W46."""
        closed = store.verdicts(W.key)
        streak = streaks(store, REG.units, W)
        notices = plan_unit_notices(REG, closed_period=W.key, closed=closed, current_period=W.next().key,
                                    current=[], reminder_due=False, streaks=streak, escalate_after=2, base_ctx={})
        return streak[("late", "portal")], {p.kind: {v.rule for v in p.ctx["verdicts"]}
                                            for p in notices if p.unit_id == "late"}

    streak, notices = planned()
    assert streak == 2 and "weekly" in notices["overdue"] and "escalation" in notices
    review(store, period=W.previous().key, reason="第45周的发文在另一栏目, 已核实")
    streak, notices = planned()
    assert streak == 1 and "weekly" in notices["overdue"] and "escalation" not in notices   # still late in W46
    review(store, reason="第46周的群发已核实")
    streak, notices = planned()
    assert streak == 0 and "weekly" not in notices.get("overdue", set()) and "escalation" not in notices


def test_the_circular_and_its_xlsx_show_the_reviewed_status(store, tmp_path):
    from openpyxl import load_workbook

    from pubwatch import rules
    from pubwatch.documents import write_xlsx
    from pubwatch.report_data import build_period_report, rule_label

    seed(store)
    evaluate_weeks(store, W)
    review(store)
    report = build_period_report(store, REG, rules.load_policies(), W)
    weekly_label = rule_label("weekly")
    [row] = [r for r in report.rows if r.unit_id == "late" and r.rule == weekly_label]
    assert row.status is Status.MET and row.reason.startswith("人工复核: 单位提供了群发截图")
    assert row.extra["人工复核(原判)"] == "未达标" and row.streak == 0
    assert not any(r.unit_id == "late" and r.rule == weekly_label
                   for rows in report.late_by_category.values() for r in rows)
    ws = load_workbook(write_xlsx(report, tmp_path / "w46.xlsx"))["汇总"]   # after the 统计 sheet
    values = [[c.value for c in r] for r in ws.iter_rows()]
    header = next(v for v in values if "人工复核(原判)" in v)
    [late] = [v for v in values if "迟报单位" in v and weekly_label in v]
    assert late[header.index("人工复核(原判)")] == "未达标" and "达标" in late
    assert any(str(c).startswith("人工复核: 单位提供了群发截图") for c in late)


def test_the_verdicts_of_several_periods_are_read_reviewed_in_one_pass(store):
    """`verdicts_in` (the board's trend, rankings) gives what `verdicts` gives period by period."""
    from pubwatch.board_charts import category_trend

    seed(store)
    weeks = [W.previous(), W]
    evaluate_weeks(store, *weeks)
    review(store)
    per_period = [v for p in weeks for v in store.verdicts(p.key)]
    assert store.verdicts_in([p.key for p in weeks]) == per_period
    assert weekly(store.verdicts_in([W.key, W.previous().key], ["late"]), "late").status is Status.MET
    trend = category_trend(store, REG, weeks)
    [series] = trend.series
    assert (series.met, series.judged) == ([1, 2], [3, 2])   # W46: "ok" and the reviewed "late"; "down" unknown


def test_the_board_shows_the_reviewed_and_the_computed_status(store):
    from pubwatch import board

    seed(store)
    evaluate_weeks(store, W.previous(), W)
    review(store, evidence_url="https://www.example.gov.cn/late/gzdt/proof.html")
    today = date(2026, 11, 17)
    view = board.matrix(store, REG, [W.previous(), W], today=today)
    line = next(r for r in view.rows if r.unit_id == "late").lines[0]
    cell = next(c for c in line.cells if c.period == W.key)
    assert (cell.status, cell.computed) == ("met", "未达标") and "原判未达标" in cell.title
    assert line.streak == 0                       # W46 reviewed 达标 ends the run of misses
    html = board.render("matrix.j2", root="/pubwatch", view=view)
    assert 'class="reviewed">复</sup>' in html
    page = board.unit_page(store, REG, "late", [W.previous(), W], today=today)
    [ev] = [e for e in page.evaluations if e.period == W.key and e.computed_label]
    assert (ev.status, ev.computed_label, ev.reviewer) == ("met", "未达标", "督查员甲")
    html = board.render("unit.j2", root="/pubwatch", u=page)
    assert "人工复核 · 原判 未达标" in html and "复核人 督查员甲" in html
    assert 'href="https://www.example.gov.cn/late/gzdt/proof.html"' in html


def late_quota(store, month):
    """The November quota verdict of "late", evaluated after the month."""
    verdicts = evaluate_period(store, REG.units, month, as_of=month.end_dt + timedelta(days=1))
    return next(v for v in verdicts if v.unit_id == "late" and v.rule == "monthly_quota")


def test_a_manual_post_counts_in_the_monthly_quota(store):
    seed(store)
    month = Period.parse("2026-11")
    evaluate_weeks(store, W)

    def quota():
        return late_quota(store, month)

    before = quota().count
    url = "https://www.example.gov.cn/late/xxgk/t20261112_1.html"        # a column the registry does not know
    review(store, evidence_url=url, published=date(2026, 11, 12))
    assert quota().count == before + 1
    [post] = [p for p in store.post_facts(["late"], month.start_dt, month.end_dt)["late"] if p.url == url]
    assert post.published == datetime(2026, 11, 12, tzinfo=TZ) and post.source_id == "late.portal.gzdt"
    with store.Session() as s:
        from pubwatch.store import Post

        row = s.query(Post).filter_by(url=url).one()
    assert row.evidence["dates"]["date_from"] == "manual" and "人工复核 #" in row.evidence["dates"]["date_check"]
    assert row.first_seen_attempt_id is None and not row.date_suspicious
    evaluate_weeks(store, W)                                   # the week now counts it too
    v = weekly(store.verdicts(W.key), "late")
    assert v.status is Status.MET and v.evidence["computed_status"] == "met" and v.count == 1


def test_a_revoked_proof_no_longer_counts_in_the_monthly_quota(store):
    """达标 with an evidence link, then revoked (链接打不开/证据不实 → 未达标): the post that review stored
    leaves the unit's posts, so the month's quota no longer counts it; a proof still relied on by
    another review in force stays."""
    seed(store)
    month = Period.parse("2026-11")
    evaluate_weeks(store, W)

    def quota():
        return late_quota(store, month).count

    before = quota()
    url = "https://www.example.gov.cn/late/xxgk/t20261112_1.html"
    review(store, evidence_url=url, published=date(2026, 11, 12))
    review(store, rule="staleness:news", evidence_url=url, published=date(2026, 11, 12))
    assert quota() == before + 1
    review(store, status="missed", reason="链接打不开, 撤销", now=NOW + timedelta(hours=1))
    assert quota() == before + 1                       # staleness:news's review still relies on it
    review(store, rule="staleness:news", status="missed", reason="证据不实", now=NOW + timedelta(hours=2))
    assert quota() == before
    evaluate_weeks(store, W)
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED


def test_a_later_review_corrects_the_date_of_its_proof_post(store):
    """First recorded without the article's date (the week's last day), then again with it: the
    proof post takes the stated date (the windows across periods count from it)."""
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    url = "https://www.example.gov.cn/late/gzdt/late-proof.html"

    def proof_day():
        [post] = [p for p in store.post_facts(["late"], W.start_dt, W.end_dt)["late"] if p.url == url]
        return post.local_day

    review(store, evidence_url=url)
    assert proof_day() == W.end
    review(store, evidence_url=url, published=date(2026, 11, 12), now=NOW + timedelta(hours=1))
    assert proof_day() == date(2026, 11, 12)
    review(store, evidence_url=url, reason="补充说明", now=NOW + timedelta(hours=2))   # no date: kept
    assert proof_day() == date(2026, 11, 12)


def test_a_wechat_proof_is_never_credited_to_the_portal(store):
    """A WeChat verdict reviewed 达标 with a link after the unit's account left the registry (no WeChat
    source any more): the review stands, but its post is not stored on a portal column, where it
    would make the portal's week 达标."""
    seed(store, weeks_back=2)
    with_wechat = parse_registry({"units": [
        {**u, "wechat": {"account": u["name"], "sources": [{"type": "rss", "url": f"https://feeds.example.cn/{u['id']}.xml"}]}}
        for u in REG_DATA["units"]]})
    store.sync_units(with_wechat.units)
    evaluate_period(store, with_wechat.units, W, as_of=AS_OF)
    store.sync_units(REG.units)
    url = "https://mp.weixin.qq.com/s/late-proof"
    r = review(store, channel="wechat", evidence_url=url)
    assert weekly(store.verdicts(W.key), "late", "wechat").status is Status.MET and r.evidence_url == url
    assert [p for p in store.post_facts(["late"], W.start_dt, W.end_dt)["late"] if p.url == url] == []
    evaluate_weeks(store, W)
    assert weekly(store.verdicts(W.key, reviewed=False), "late").status is Status.MISSED


def test_a_proof_post_cannot_be_dated_after_today(store):
    """The open week (W47 on Tuesday 17 November): its proof may be dated today at the latest."""
    seed(store, weeks_back=2)
    open_week = Period.week_of(NOW)
    evaluate_period(store, REG.units, open_week, as_of=NOW)
    url = "https://www.example.gov.cn/late/gzdt/open-proof.html"
    with pytest.raises(ReviewError) as exc:
        review(store, period=open_week.key, evidence_url=url, published=date(2026, 11, 20))
    assert exc.value.field == "published" and "晚于今天" in str(exc.value)
    assert review_history(store, "late") == []
    review(store, period=open_week.key, evidence_url=url, published=NOW.date())


def test_evidence_already_crawled_keeps_the_crawled_post_as_it_was(store):
    """The evidence URL of a crawled post: the post keeps its own title, date and flags (a deadline
    rule finds the annual report by its title), no second post is stored."""
    seed(store, weeks_back=4)
    evaluate_weeks(store, W)
    url = "https://www.example.gov.cn/late/gzdt/t2.html"          # crawled: "late" posted it in W44
    with store.Session() as s:
        from pubwatch.store import Post

        s.query(Post).filter_by(url=url).update({"pinned": True})
        s.commit()
    posts = store.counts()["posts"]
    review(store, evidence_url=url)
    assert store.counts()["posts"] == posts
    with store.Session() as s:
        row = s.query(Post).filter_by(url=url).one()
    assert (row.title, row.published_at.astimezone(TZ).date(), row.pinned) == (
        "迟报单位动态2", W.previous().previous().start + timedelta(days=2), True)
    assert row.first_seen_attempt_id is not None and "manual" not in str(row.evidence)


def test_a_proof_the_crawler_later_finds_is_a_crawled_post_and_stays_when_revoked(store):
    """The unit's proof is stored from the review first; the next crawl lists the same article: from
    then on it is a crawled post (the crawl's date and evidence), and revoking the review leaves it."""
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    col = REG.unit("late").sources_of("portal")[0]
    url = "https://www.example.gov.cn/late/gzdt/t20261112_1.html"
    review(store, evidence_url=url)                               # stored dated the week's last day
    crawled_at = NOW + timedelta(hours=1)
    a = store.start_attempt(col, started_at=crawled_at, run_id="crawl")
    item = ListItem("迟报单位补发动态", url, datetime(2026, 11, 12, 10, 0, tzinfo=TZ), extra={"date_from": "list"})
    store.upsert_posts(col, [item], seen_at=crawled_at, attempt_id=a)
    store.finish_attempt(a, col, SourceResult(Outcome.OK, [item]), finished_at=crawled_at, items_new=0,
                         covered_from=COVERS_ALL)
    review(store, status="missed", reason="截图不实, 撤销", now=NOW + timedelta(hours=2))
    with store.Session() as s:
        from pubwatch.store import Post

        [row] = s.query(Post).filter_by(url=url).all()
    assert row.evidence["dates"]["date_from"] == "list"
    assert row.published_at.astimezone(TZ) == datetime(2026, 11, 12, 10, 0, tzinfo=TZ)


def test_a_review_without_a_url_or_of_another_status_stores_no_post(store):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    posts = store.counts()["posts"]
    review(store)
    review(store, status="missed", reason="证据不实", evidence_url="https://www.example.gov.cn/late/x.html")
    assert store.counts()["posts"] == posts


def test_the_default_date_of_the_manual_post_is_the_last_day_of_the_period(store):
    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    url = "https://www.example.gov.cn/late/gzdt/late-proof.html"
    review(store, evidence_url=url)
    [post] = [p for p in store.post_facts(["late"], W.start_dt, W.end_dt)["late"] if p.url == url]
    assert post.local_day == W.end


# --------------------------------------------------------------------------------- the summary
def test_the_next_summary_lists_each_correction_once(demo_runtime):
    from pubwatch import config, jobs
    from tests.conftest import TEST_AS_OF

    rt = demo_runtime
    closed = Period.parse("2026-W46")
    missed = [v for v in rt.store.verdicts(closed.key) if v.rule == "weekly" and v.status is Status.MISSED]
    assert len(missed) >= 2
    names = {u.id: u.name for u in rt.registry.units}
    first = record_review(rt.store, rt.registry, unit_id=missed[0].unit_id, period=closed.key,
                          channel=missed[0].channel, status="met", reason="单位提供群发记录截图, 已核实", reviewer="督查员甲")
    line = reviews.correction_line(first, names[first.unit_id])
    assert line.startswith(f"更正: {names[first.unit_id]} 2026年第46周 ") and "未达标→达标, 理由: 单位提供群发记录截图" in line
    jobs.notify_week(rt, TEST_AS_OF, send=False)
    outbox = config.outbox_dir()
    summary = (outbox / "2026-W46" / "office-summary.txt").read_text(encoding="utf-8")
    assert "人工复核更正" in summary and line in summary and summary.count("更正: ") == 1
    second = record_review(rt.store, rt.registry, unit_id=missed[1].unit_id, period=closed.key,
                           channel=missed[1].channel, status="exempt", reason="该周网站迁移, 经批准免检",
                           reviewer="督查员乙")
    jobs.notify_week(rt, TEST_AS_OF + timedelta(days=7), send=False)
    following = (outbox / "2026-W47" / "office-summary.txt").read_text(encoding="utf-8")
    assert reviews.correction_line(second, names[second.unit_id]) in following
    assert line not in following and following.count("更正: ") == 1
    html = (outbox / "2026-W47" / "office-summary.html").read_text(encoding="utf-8")
    assert "未达标→免检" in html


def test_the_weekly_step_reports_the_reviewed_statuses(demo_runtime):
    """The evaluate step's counts, its one-line summary and its per-unit lines (the DAG log, make run)
    give the statuses in force, as the circular and the board do."""
    from pubwatch import jobs
    from pubwatch.counts import PeriodCounts
    from tests.conftest import TEST_AS_OF

    rt = demo_runtime
    closed = Period.parse("2026-W46")
    missed = next(v for v in rt.store.verdicts(closed.key) if v.rule == "weekly" and v.status is Status.MISSED)
    record_review(rt.store, rt.registry, unit_id=missed.unit_id, period=closed.key, channel=missed.channel,
                  status="exempt", reason="该周网站迁移, 经批准免检", reviewer="督查员甲")
    result = jobs.evaluate_week(rt, TEST_AS_OF)
    in_force = rt.store.verdicts(closed.key)
    assert result["closed"]["counts"] == jobs.count_statuses(in_force)
    assert result["closed"]["summary"] == PeriodCounts.of(in_force).headline()
    name = next(u.name for u in rt.registry.units if u.id == missed.unit_id)
    [line] = [ln for ln in result["lines"] if ln.startswith(f"[{closed.key}] {name}:")]
    assert "免检 (人工复核: 该周网站迁移, 经批准免检)" in line


def test_a_backfilled_summary_does_not_repeat_corrections_already_listed(demo_runtime):
    """A backfill of an older week (its summary never made) comes after the later weeks' summaries:
    the corrections those listed are not listed again, nor are later weeks' reviews back-dated
    into it."""
    from pubwatch import config, jobs
    from tests.conftest import TEST_AS_OF

    rt = demo_runtime
    closed = Period.parse("2026-W46")
    missed = next(v for v in rt.store.verdicts(closed.key) if v.rule == "weekly" and v.status is Status.MISSED)
    record_review(rt.store, rt.registry, unit_id=missed.unit_id, period=closed.key, channel=missed.channel,
                  status="met", reason="单位提供群发记录截图, 已核实", reviewer="督查员甲")
    jobs.notify_week(rt, TEST_AS_OF, send=False)                          # W46's summary lists it
    outbox = config.outbox_dir()
    assert (outbox / "2026-W46" / "office-summary.txt").read_text(encoding="utf-8").count("更正: ") == 1
    jobs.notify_week(rt, TEST_AS_OF - timedelta(days=7), send=False)     # a backfill of W45, run afterwards
    backfilled = (outbox / "2026-W45" / "office-summary.txt").read_text(encoding="utf-8")
    assert "更正: " not in backfilled and "人工复核更正" not in backfilled


# --------------------------------------------------------------------------------- CLI
def test_the_review_command_round_trip(store, tmp_path, capsys, monkeypatch):
    import yaml

    from pubwatch.cli import main

    seed(store, weeks_back=2)
    evaluate_weeks(store, W)
    registry = tmp_path / "units.yaml"
    registry.write_text(yaml.safe_dump(REG_DATA, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("USER", "clerk_li")
    monkeypatch.setenv("LOGNAME", "clerk_li")
    base = ["--db-url", store.url, "--registry", str(registry), "review"]
    assert main(base + ["--unit", "late", "--period", W.key, "--channel", "portal", "--status", "met",
                        "--reason", "已核实 11月12日 发布", "--url", "https://www.example.gov.cn/late/a.html",
                        "--date", "2026-11-12"]) == 0
    out = capsys.readouterr().out
    assert "已记录人工复核 #" in out and "迟报单位 2026年第46周 门户网站 未达标→达标" in out and "clerk_li" in out
    assert main(base + ["--unit", "late", "--period", W.key, "--channel", "portal", "--status", "missed",
                        "--reason", "链接打不开, 撤销", "--by", "督查员乙"]) == 0
    capsys.readouterr()
    assert main(base + ["--list", "--unit", "迟报单位"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "未达标→达标" in lines[0] and "已被取代" in lines[0] and "复核人 clerk_li" in lines[0]
    assert "达标→未达标" in lines[1] and "生效" in lines[1] and "复核人 督查员乙" in lines[1]
    assert weekly(store.verdicts(W.key), "late").status is Status.MISSED
    assert main(base + ["--unit", "late", "--period", W.key, "--channel", "portal", "--status", "met",
                        "--reason", "x", "--url", "javascript:alert(1)"]) == 1
    assert "复核 字段 evidence_url:" in capsys.readouterr().err
    assert main(base + ["--unit", "late", "--period", W.key]) == 1
    assert "--channel --status --reason" in capsys.readouterr().err
    assert len(review_history(store, "late")) == 2
    # a re-evaluation prints the review in force; the revoked proof post no longer counts (computed 未达标)
    assert main(["--db-url", store.url, "--registry", str(registry), "evaluate", "--period", W.key,
                 "--units", "late"]) == 0
    out = capsys.readouterr().out
    assert "人工复核: 链接打不开, 撤销" in out
    assert weekly(store.verdicts(W.key), "late").evidence["computed_status"] == "missed"
