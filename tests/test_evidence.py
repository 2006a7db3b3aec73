"""Evidence: back-dated posts, bursts after a circular, availability probes (issue 10).

Real parts only: a local HTTP server whose list the tests change between simulated crawls
(crawl_unit with now=...), the real Fetcher, the real store on SQLite and PostgreSQL, the real rules.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from pubwatch import crawl as crawl_mod
from pubwatch import evidence
from pubwatch.evaluate import evaluate_period
from pubwatch.http import Fetcher, FetchError, FetchSettings
from pubwatch.store.models import CrawlAttempt, Notice, Post
from pubwatch.periods import Period
from pubwatch.registry import Registry, SourceConfig, Unit
from pubwatch.sources.base import Source
from pubwatch.types import PORTAL, TZ, ListItem, Outcome, SourceResult, Status

W47 = Period.parse("2026-W47")          # Mon 16 Nov – Sun 22 Nov 2026


def at(day: int, hour: int = 9, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


# ------------------------------------------------------------------------------- a column we control
class Site:
    """A tiny portal on 127.0.0.1: JSON list pages whose items tests change between crawls,
    plus scripted per-request delays / statuses for availability probes."""

    def __init__(self) -> None:
        self.lists: dict[str, list[dict]] = {}
        self.script: dict[str, list[tuple[int, float]]] = {}   # path -> [(status, delay)] in turn
        self.hits: dict[str, int] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                n = site.hits.get(path, 0)
                site.hits[path] = n + 1
                status, delay = 200, 0.0
                if path in site.script:
                    steps = site.script[path]
                    status, delay = steps[min(n, len(steps) - 1)]
                if delay:
                    time.sleep(delay)
                if status == 412:        # a WAF challenge page as 瑞数 serves it
                    body = b"<html><head><script>$_ts=window['$_ts'];</script></head><body></body></html>"
                    ctype = "text/html"
                elif path in site.lists:
                    body = json.dumps(site.lists[path], ensure_ascii=False).encode()
                    ctype = "application/json; charset=utf-8"
                else:
                    body, ctype = b"<html><body>ok</body></html>", "text/html"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:          # the prober gave up (timeout): fine
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def post(self, path: str, slug: str, title: str, date: str) -> None:
        self.lists.setdefault(path, []).insert(0, {"title": title, "url": f"{path}{slug}.html", "date": date})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class JsonListSource(Source):
    """A minimal portal source for these tests: one JSON list page through the real Fetcher."""

    type_name = "evtest"

    def fetch(self, ctx):
        try:
            res = ctx.fetcher.get(self.config.url, owned_site=True)
        except FetchError as exc:
            return SourceResult(outcome=exc.outcome, message=exc.message, http_status=exc.http_status,
                                requests=exc.requests)
        base = self.config.url.split("/", 3)
        items = []
        for it in res.json():
            stated = datetime.fromisoformat(it["date"])
            items.append(ListItem(title=it["title"], url=f"{base[0]}//{base[2]}{it['url']}",
                                  published=stated if stated.tzinfo else stated.replace(tzinfo=TZ)))
        return SourceResult(outcome=Outcome.OK, items=items, http_status=res.status, requests=res.requests, pages=1)


@pytest.fixture
def site(monkeypatch):
    monkeypatch.setattr(crawl_mod, "make_source", lambda cfg: JsonListSource(cfg))
    s = Site()
    yield s
    s.close()


@pytest.fixture
def fetcher():
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, retries=0,
                               respect_robots=False, timeout=5)) as f:
        yield f


def make_unit(site: Site, *columns: str, uid: str = "jyj", name: str = "县教育局") -> Unit:
    sources = tuple(SourceConfig(id=f"{uid}.portal.{c}", unit_id=uid, channel=PORTAL, type="evtest",
                                 name={"gzdt": "工作动态", "tzgg": "通知公告"}.get(c, c),
                                 url=site.url(f"/{uid}/{c}/")) for c in columns)
    return Unit(id=uid, name=name, category="department", contacts=(), sources=sources)


def crawl(store, unit, fetcher, now):
    return crawl_mod.crawl_unit(store, unit, fetcher=fetcher, now=now)


def post_row(store, title: str) -> Post:
    with store.Session() as s:
        return s.scalars(select(Post).where(Post.title == title)).one()


def weekly_portal(store, unit, period, as_of):
    verdicts = evaluate_period(store, [unit], period, as_of=as_of)
    return next(v for v in verdicts if v.rule == "weekly" and v.channel == PORTAL)


# ------------------------------------------------------------------------------- back-dated posts
def test_post_dated_before_the_previous_crawl_is_flagged_and_still_counted(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    store.sync_units([unit])
    col = "/jyj/gzdt/"
    for slug, day in (("a1", "2026-11-03"), ("a2", "2026-11-06"), ("a3", "2026-11-10")):
        site.post(col, slug, f"旧闻{slug}", day)
    crawl(store, unit, fetcher, at(12))                   # W46: sees three posts
    crawl(store, unit, fetcher, at(19))                   # Thursday of W47: nothing new
    site.post(col, "late", "县教育局召开安全工作会议", "2026-11-16")
    report = crawl(store, unit, fetcher, at(20))          # Friday: a post "dated Monday" appears

    assert report.sources[0].items_new == 1
    row = post_row(store, "县教育局召开安全工作会议")
    assert row.date_suspicious is True
    ev = row.evidence
    assert ev["kind"] == "backdated"
    assert datetime.fromisoformat(ev["stated"]) == at(16, 0)
    assert datetime.fromisoformat(ev["previous_ok_crawl"]) == at(19)
    assert datetime.fromisoformat(ev["first_seen"]) == at(20)
    assert ev["hours_early"] == 57.0                      # end of 16 Nov → 19 Nov 09:00
    # the older posts are untouched
    assert post_row(store, "旧闻a3").date_suspicious is False

    verdict = weekly_portal(store, unit, W47, as_of=at(23, 10))
    assert verdict.status is Status.MET and verdict.count == 1       # counted (default policy) ...
    assert [p["title"] for p in verdict.evidence["suspicious_posts"]] == ["县教育局召开安全工作会议"]  # ... flagged

    found = evidence.findings_for_period(store, Registry([unit], [], {}), W47)
    assert [f["kind"] for f in found] == ["date_suspicious"]
    assert found[0]["unit_name"] == "县教育局"
    assert found[0]["detail"] == ("县教育局门户网站「工作动态」: 文章《县教育局召开安全工作会议》标注日期11月16日, "
                                  "但11月19日09:00抓取时尚未出现, 首次发现于11月20日09:00 (早于上次抓取约57.0小时)")


def test_new_post_within_the_grace_is_not_flagged(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "a1", "旧闻", "2026-11-10")
    crawl(store, unit, fetcher, at(19))
    site.post(col, "d1", "只有日期的新文章", "2026-11-19")           # dated the day of the last crawl
    site.post(col, "d2", "前一天上午写的文章", "2026-11-18T10:00:00")  # 23 h before the last crawl
    site.post(col, "d3", "超出宽限的文章", "2026-11-18T08:00:00")     # 25 h before the last crawl
    crawl(store, unit, fetcher, at(20))
    assert post_row(store, "只有日期的新文章").date_suspicious is False
    assert post_row(store, "前一天上午写的文章").date_suspicious is False
    flagged = post_row(store, "超出宽限的文章")
    assert flagged.date_suspicious is True and flagged.evidence["hours_early"] == 25.0


def test_grace_is_configurable(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "a1", "旧闻", "2026-11-10")
    crawl(store, unit, fetcher, at(19))
    site.post(col, "d3", "晚两天发布的文章", "2026-11-17T08:00:00")   # 49 h before the last crawl
    settings = evidence.EvidenceSettings.from_mapping({"backdate_grace_hours": 72})
    crawl_mod.crawl_unit(store, unit, fetcher=fetcher, now=at(20), evidence_settings=settings)
    assert post_row(store, "晚两天发布的文章").date_suspicious is False
    with pytest.raises(ValueError, match="evidence.backdate_grace: 未知字段"):
        evidence.EvidenceSettings.from_mapping({"backdate_grace": 72})
    with pytest.raises(ValueError, match="evidence.burst_min_posts: 应为整数: 'three'"):
        evidence.EvidenceSettings.from_mapping({"burst_min_posts": "three"})


def test_post_older_than_the_previous_list_reached_is_not_flagged(store, site, fetcher):
    """The previous crawl's list started at 10 Nov; a 1 Oct post could not have been on it."""
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "a1", "旧闻", "2026-11-10")
    crawl(store, unit, fetcher, at(19))
    site.lists[col].append({"title": "十月的旧通知", "url": f"{col}old.html", "date": "2026-10-01"})
    crawl(store, unit, fetcher, at(20))
    assert post_row(store, "十月的旧通知").date_suspicious is False


def test_first_crawl_and_failed_crawls_flag_nothing(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "a1", "第一次抓取前的文章", "2026-10-01")
    crawl(store, unit, fetcher, at(19))                   # first crawl: everything is old and new
    assert post_row(store, "第一次抓取前的文章").date_suspicious is False
    site.script[col] = [(503, 0)]                         # the site goes down ...
    crawl(store, unit, fetcher, at(20))
    del site.script[col]
    site.post(col, "b1", "停机期间补发的文章", "2026-11-19T20:00:00")
    crawl(store, unit, fetcher, at(21))                   # ... the failed crawl proves nothing
    assert post_row(store, "停机期间补发的文章").date_suspicious is False


def test_site_that_changes_its_urls_is_not_accused(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    for i in range(12):
        site.post(col, f"old{i}", f"文章{i}", f"2026-11-{i + 1:02d}")
    crawl(store, unit, fetcher, at(13))
    site.lists[col] = [dict(it, url=it["url"].replace("old", "new/")) for it in site.lists[col]]
    site.post(col, "fresh", "改版后的新文章", "2026-11-14")          # dated after the last crawl
    crawl(store, unit, fetcher, at(20))
    with store.Session() as s:
        assert s.scalar(select(Post.id).where(Post.date_suspicious.is_(True))) is None
        assert len(s.scalars(select(Post)).all()) == 25             # never dropped
    assert evidence.findings(store, ["jyj"], at(1, 0), at(30, 0)) == []


def test_recrawls_never_move_first_seen(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "a0", "更早的旧闻", "2026-11-02")
    site.post(col, "a1", "旧闻", "2026-11-10")
    crawl(store, unit, fetcher, at(12))
    site.post(col, "late", "补发的文章", "2026-11-09")
    crawl(store, unit, fetcher, at(19))
    before = post_row(store, "补发的文章")
    assert before.date_suspicious is True
    for day in (20, 21, 22):
        crawl(store, unit, fetcher, at(day))
    after = post_row(store, "补发的文章")
    assert (after.first_seen_at, after.first_seen_attempt_id) == (before.first_seen_at, before.first_seen_attempt_id)
    assert after.first_seen_at == at(19)
    assert after.last_seen_at == at(22)
    assert after.evidence == before.evidence and after.date_suspicious is True


# ------------------------------------------------------------------------------- bursts
def _sent_overdue(store, unit_id: str, period: str, sent_at: datetime) -> None:
    with store.Session.begin() as s:
        s.add(Notice(unit_id=unit_id, period=period, kind="overdue", channel="email", status="sent",
                     created_at=sent_at, updated_at=sent_at, sent_at=sent_at))


def test_burst_of_backdated_posts_after_an_overdue_notice(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "o1", "十月文章一", "2026-10-20")
    site.post(col, "o2", "十月文章二", "2026-10-28")
    for day in (2, 9, 16):
        crawl(store, unit, fetcher, at(day))              # three quiet weeks
    _sent_overdue(store, "jyj", "2026-W45", at(13, 10))   # 通报 for the missed week
    _sent_overdue(store, "other", "2026-W45", at(17, 10))  # another unit's notice is not ours
    for i, day in enumerate((3, 5, 9, 11, 12)):
        site.post(col, f"b{i}", f"补发文章{i}", f"2026-11-{day:02d}")
    crawl(store, unit, fetcher, at(18))

    raw = evidence.findings(store, ["jyj"], W47.start_dt, W47.end_dt)
    bursts = [f for f in raw if f["kind"] == "burst"]
    assert len(bursts) == 1
    ev = bursts[0]["evidence"]
    assert ev["posts"] == 5 and datetime.fromisoformat(ev["first_seen"]) == at(18)
    assert ev["quiet_days"] >= 14
    assert ev["after_notice"]["period"] == "2026-W45"
    assert datetime.fromisoformat(ev["after_notice"]["sent_at"]) == at(13, 10)
    assert sorted(i["title"] for i in ev["items"]) == [f"补发文章{i}" for i in range(5)]
    assert sorted(i["stated"][:10] for i in ev["items"]) == ["2026-11-03", "2026-11-05", "2026-11-09",
                                                              "2026-11-11", "2026-11-12"]
    assert all(i["date_suspicious"] for i in ev["items"])    # all dated before the 16 Nov crawl
    assert sum(f["kind"] == "date_suspicious" for f in raw) == 5

    found = evidence.findings_for_period(store, Registry([unit], [], {}), W47)
    burst = next(f for f in found if f["kind"] == "burst")
    assert "一次新出现5篇" in burst["detail"] and "2026-W45未达标通报之后" in burst["detail"]
    assert "11月13日10:00" in burst["detail"]


def test_steady_posting_is_no_burst(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "o1", "旧文", "2026-11-01")
    crawl(store, unit, fetcher, at(2))
    site.post(col, "w1", "周中文章", "2026-11-10")
    crawl(store, unit, fetcher, at(10, 18))
    for i in range(4):                                    # four honest posts today, a week after the last
        site.post(col, f"t{i}", f"今日文章{i}", "2026-11-17")
    crawl(store, unit, fetcher, at(17, 18))
    assert [f for f in evidence.findings(store, ["jyj"], at(1, 0), at(30, 0)) if f["kind"] == "burst"] == []


def test_burst_without_notice_has_no_after_notice(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "o1", "旧文", "2026-10-20")
    crawl(store, unit, fetcher, at(2))
    crawl(store, unit, fetcher, at(19, 18))
    for i in range(3):
        site.post(col, f"n{i}", f"集中发布{i}", "2026-11-20")
    crawl(store, unit, fetcher, at(20, 18))
    (burst,) = [f for f in evidence.findings(store, ["jyj"], W47.start_dt, W47.end_dt) if f["kind"] == "burst"]
    assert burst["evidence"]["after_notice"] is None and burst["evidence"]["posts"] == 3
    assert all(not i["date_suspicious"] for i in burst["evidence"]["items"])


def test_posts_piled_up_during_our_outage_are_no_burst(store, site, fetcher):
    """Our crawler could not reach the site for two weeks; the unit posted every few days."""
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "o1", "旧文", "2026-10-30")
    crawl(store, unit, fetcher, at(2))
    site.script[col] = [(503, 0)]
    for day in range(3, 18):
        crawl(store, unit, fetcher, at(day))
    del site.script[col]
    for i, day in enumerate((4, 7, 10, 13, 16)):
        site.post(col, f"h{i}", f"按时发布{i}", f"2026-11-{day:02d}")
    crawl(store, unit, fetcher, at(18))
    raw = evidence.findings(store, ["jyj"], at(1, 0), at(30, 0))
    assert raw == []                                      # no burst, and honest dates are not back-dated


def test_wechat_posts_are_never_flagged(store, site, fetcher):
    """WeChat sets publish times itself; a bridge catching up lists old posts late."""
    feed = SourceConfig(id="jyj.wechat.rss", unit_id="jyj", channel="wechat", type="evtest",
                        name="教育公众号", url=site.url("/jyj/feed/"))
    unit = Unit(id="jyj", name="县教育局", category="department", contacts=(), sources=(feed,))
    site.post("/jyj/feed/", "w0", "公众号旧文", "2026-11-01")
    crawl(store, unit, fetcher, at(12))
    crawl(store, unit, fetcher, at(19))
    for i in range(4):
        site.post("/jyj/feed/", f"w{i + 1}", f"公众号文章{i}", f"2026-11-{13 + i:02d}T20:00:00")
    crawl(store, unit, fetcher, at(20))
    assert evidence.findings(store, ["jyj"], at(1, 0), at(30, 0)) == []


# ------------------------------------------------------------------------------- availability
def test_column_timing_out_in_3_of_20_probes_is_a_problem_but_never_a_miss(store, site):
    unit = make_unit(site, "gzdt", "tzgg")
    store.sync_units([unit])
    slow = {3, 9, 15}
    site.script["/jyj/gzdt/"] = [(200, 0.6 if i in slow else 0.0) for i in range(20)]
    site.script["/jyj/tzgg/"] = [(412, 0.0)]              # behind a WAF: answered, blocked
    settings = evidence.EvidenceSettings(probe_timeout=0.25)
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, retries=0,
                               respect_robots=False, timeout=0.25)) as prober:
        for i in range(20):
            evidence.probe_unit(store, unit, prober, now=at(16, 0) + timedelta(hours=8 * i), settings=settings)

    avail = evidence.availability(store, ["jyj"], W47)
    gz = avail["jyj"]["jyj.portal.gzdt"]
    assert (gz["probes"], gz["failures"], gz["share"], gz["problem"]) == (20, 3, 0.15, True)
    tz = avail["jyj"]["jyj.portal.tzgg"]
    assert (tz["failures"], tz["blocked"], tz["problem"]) == (0, 20, False)
    with store.Session() as s:
        kinds = set(s.scalars(select(CrawlAttempt.kind)))
        assert kinds == {"probe"}
    rows = store.last_attempts(["jyj"])
    assert rows["jyj.portal.gzdt"].last_ok_at is None     # probes never count as crawls

    # No crawl at all and no post: probes must not verify the week → unknown, never missed.
    assert weekly_portal(store, unit, W47, as_of=at(23, 10)).status is Status.UNKNOWN

    registry = Registry([unit], [], {"evidence": {"probe_timeout": 0.25}})
    found = evidence.findings_for_period(store, registry, W47)
    assert [(f["kind"], f["evidence"]["source_id"]) for f in found] == [("availability", "jyj.portal.gzdt")]
    assert "打不开或超过0.25秒3次, 占15.0%" in found[0]["detail"]


def test_availability_counts_crawl_failures_and_leaves_verdicts_alone(store, site, fetcher):
    unit = make_unit(site, "gzdt")
    col = "/jyj/gzdt/"
    site.post(col, "w1", "本周文章", "2026-11-17")
    site.script[col] = [(503, 0)] * 10 + [(200, 0)]       # 10 failed crawls, then one OK
    for i in range(11):
        crawl(store, unit, fetcher, at(17) + timedelta(hours=6 * i))
    gz = evidence.availability(store, ["jyj"], W47)["jyj"]["jyj.portal.gzdt"]
    assert (gz["probes"], gz["failures"], gz["crawl_attempts"]) == (11, 10, 11)
    assert gz["problem"] is False                         # too few samples to claim it
    strict = evidence.EvidenceSettings(availability_min_samples=10)
    assert evidence.availability(store, ["jyj"], W47, strict)["jyj"]["jyj.portal.gzdt"]["problem"] is True
    verdict = weekly_portal(store, unit, W47, as_of=at(23, 10))
    assert verdict.status is Status.MET                   # an unreachable site is a finding, not a miss


def test_slow_answer_counts_as_failure_and_classification():
    class Res:
        ok, elapsed, status, error, outcome = True, 16.0, 200, "", Outcome.OK

    outcome, message = evidence._probe_outcome(Res(), evidence.EvidenceSettings())
    assert outcome is Outcome.UNREACHABLE and "15秒" in message
    assert evidence.classify_attempt("http_error", 404) == "ok"        # the site answered
    assert evidence.classify_attempt("http_error", 502) == "failure"
    assert evidence.classify_attempt("blocked", 412) == "blocked"
    assert evidence.classify_attempt("config_error", None) is None     # our side, not the site's


# ------------------------------------------------------------------------------- job step and DAG glue
REGISTRY_YAML = """
fetch: {{per_host_interval: 0, retries: 0, timeout: 2, allow_private: [127.0.0.1]}}
evidence: {{probe_timeout: 2}}
units:
  - id: jyj
    name: 县教育局
    category: department
    contacts:
      leader: {{name: 王建国, email: leader@example.gov.cn}}
      staff: {{name: 张丽, email: staff@example.gov.cn}}
    portal:
      columns:
        - {{id: gzdt, name: 工作动态, url: '{up}'}}
        - {{id: tzgg, name: 通知公告, url: '{down}'}}
"""


def test_probe_job_and_glue_record_one_probe_per_column(db_url, site, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from pubwatch.jobs import Runtime

    site.script["/down/"] = [(502, 0)]
    path = tmp_path / "units.yaml"
    path.write_text(REGISTRY_YAML.format(up=site.url("/up/"), down=site.url("/down/")), encoding="utf-8")
    rt = Runtime(db_url=db_url, registry_path=str(path))
    fetcher = rt.fetcher()
    try:
        out = evidence.probe(rt.store, rt.registry, fetcher, "jyj", now=at(17, 10))
        assert (out["probes"], out["failures"]) == (2, 1)
        assert {r["source_id"]: r["outcome"] for r in out["results"]} == {
            "jyj.portal.gzdt": "ok", "jyj.portal.tzgg": "http_error"}
    finally:
        fetcher.close()
        rt.close()

    monkeypatch.setenv("PUBWATCH_DB_URL", db_url)
    monkeypatch.setenv("PUBWATCH_REGISTRY", str(path))
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).resolve().parents[1] / "dags"))
    glue = __import__("pubwatch_glue")
    run = SimpleNamespace(run_type="manual", run_id="manual__probe", logical_date=at(17, 11), run_after=None)
    res = glue.probe_for_run({"params": {}, "dag_run": run}, {"unit_id": "jyj", "unit_name": "县教育局"})
    assert (res["probes"], res["failures"]) == (2, 1)
    backfill = SimpleNamespace(run_type="backfill", run_id="backfill__x", logical_date=at(17, 11), run_after=None)
    assert glue.probe_for_run({"params": {}, "dag_run": backfill}, {"unit_id": "jyj", "unit_name": "县教育局"})["skipped"]

    check = Runtime(db_url=db_url, registry_path=str(path))
    try:
        with check.store.Session() as s:
            assert s.query(CrawlAttempt).filter(CrawlAttempt.kind == "probe").count() == 4
    finally:
        check.close()
