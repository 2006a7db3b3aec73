"""The compliance board: view-models and rendered pages against a seeded tracking store, and the
real plugin app behind Airflow's auth dependency."""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pubwatch import board
from pubwatch.notices.ledger import Ledger, NoticeKey
from pubwatch.periods import Period
from pubwatch.registry import load_registry
from pubwatch.store import Store
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult, Status, Verdict

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 20)                    # Friday of 2026-W47 (the open week)
XSS = "<script>alert(1)</script>"
M, R, X, U, E = "met", "at_risk", "missed", "unknown", "exempt"
UNREACHABLE_REASON = "门户网站「工作动态」无法访问(连接超时), 无法核实"

# unit -> (category, {channel: statuses for W44..W47, oldest first})
SCENARIO: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "jyj": ("县教育局", "department", {"portal": [M, M, M, M], "wechat": [M, M, M, M]}),
    "czj": ("县财政局", "department", {"portal": [X, X, X, R], "wechat": [M, M, M, M]}),
    "gaj": ("县公安局", "department", {"portal": [M, M, U, U], "wechat": [M, M, M, M]}),
    "tjj": ("县统计局", "department", {"portal": [M, E, M, M]}),
    "cgz": ("城关镇", "town", {"portal": [M, M, X, M], "wechat": [M, M, M, R]}),
}


def registry_data(scenario=SCENARIO, base: str = "http://127.0.0.1:9") -> dict:
    units = []
    for i, (uid, (name, category, channels)) in enumerate(scenario.items()):
        unit = {"id": uid, "name": name, "category": category,
                "contacts": {"leader": {"name": f"领导{i}", "title": "副县长", "email": f"l{i}@example.gov.cn"},
                             "staff": {"name": f"信息员{i}", "email": f"s{i}@example.gov.cn"}}}
        if "portal" in channels:
            unit["portal"] = {"columns": [{"id": "gzdt", "name": "工作动态", "url": f"{base}/{uid}/gzdt/"}]}
        if "wechat" in channels:
            unit["wechat"] = {"account": name, "sources": [{"type": "rss", "url": f"{base}/feeds/{uid}.xml"}]}
        units.append(unit)
    return {"office": {"name": "某某县人民政府办公室", "short": "县政务公开办"}, "units": units}


def write_registry(path: Path, scenario=SCENARIO) -> Path:
    path.write_text(yaml.safe_dump(registry_data(scenario), allow_unicode=True), encoding="utf-8")
    return path


def seed(store: Store, registry, scenario=SCENARIO, today: date = TODAY) -> list[Period]:
    """Verdicts, posts, attempts and notices for the weeks of `scenario` ending with today's week."""
    store.sync_units(registry.units)
    weeks = board.recent_weeks(len(next(iter(scenario.values()))[2]["portal"]), today)
    for unit in registry.units:
        for ch, statuses in scenario[unit.id][2].items():
            (src,) = unit.sources_of(ch)
            for week, st in zip(weeks, statuses):
                day = datetime.combine(week.start + timedelta(days=1), datetime.min.time(), TZ).replace(hour=10)
                ok = st != U
                att = store.start_attempt(src, started_at=day, run_id="seed")
                result = SourceResult(Outcome.OK if ok else Outcome.UNREACHABLE,
                                      message="" if ok else "连接超时 (timeout after 5 s)",
                                      http_status=200 if ok else None)
                store.finish_attempt(att, src, result, finished_at=day + timedelta(seconds=2), items_new=0,
                                     covered_from=COVERS_ALL)
                count = 2 if st == M else 0
                title = XSS if (unit.id == "jyj" and ch == "portal" and week == weeks[-1]) else "召开工作推进会"
                items = [ListItem(f"{title}{'' if title == XSS else n}", f"{src.url}{week.key}-{n}.html", day)
                         for n in range(count)]
                store.upsert_posts(src, items, seen_at=day + timedelta(hours=1), attempt_id=att)
                reason = {M: "本周发文2篇, 已达标", X: "本周发文0篇(要求至少1篇), 未达标",
                          U: UNREACHABLE_REASON, R: "截至周五发文0篇, 尚未达标", E: "春节假期周, 免检"}[st]
                store.save_verdicts([Verdict(unit.id, ch, week.key, "weekly", Status(st), count=count, required=1,
                                             reason=reason, evidence={})], as_of=day)
    Ledger(store).ensure(NoticeKey("czj", weeks[-2].key, "overdue", "email"), recipients="s@example.gov.cn",
                         subject="县财政局 未达标通报", run_id="seed")
    return weeks


@pytest.fixture
def seeded(store, tmp_path):
    registry = load_registry(write_registry(tmp_path / "units.yaml"))
    weeks = seed(store, registry)
    return store, registry, weeks


# ------------------------------------------------------------------------------------ view-models
def cell_of(view, unit_id, channel, period):
    row = next(r for r in view.rows if r.unit_id == unit_id)
    line = next(ln for ln in row.lines if ln.channel == channel)
    return next(c for c in line.cells if c.period == period), line, row


def test_matrix_cells_streaks_and_scores(seeded):
    store, registry, weeks = seeded
    view = board.matrix(store, registry, weeks, today=TODAY)
    assert [w.key for w in view.weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert view.weeks[-1].is_current and not view.weeks[0].is_current
    cell, line, row = cell_of(view, "czj", "portal", "2026-W45")
    assert cell.status == "missed" and cell.label == "未达标" and cell.css == "missed"
    assert line.streak == 3 and line.since == date(2026, 10, 26)      # W44..W46, the open W47 is only 预警
    assert row.streak == 3 and row.since == date(2026, 10, 26)
    assert cell_of(view, "czj", "portal", "2026-W47")[0].status == "at_risk"
    gaj, gaj_line, _ = cell_of(view, "gaj", "portal", "2026-W46")
    assert gaj.status == "unknown" and gaj.label == "无法核实" and gaj.text == "?"
    assert UNREACHABLE_REASON in gaj.title and gaj_line.streak == 0
    assert cell_of(view, "tjj", "portal", "2026-W45")[0].status == "exempt"
    assert [ln.channel for ln in next(r for r in view.rows if r.unit_id == "tjj").lines] == ["portal"]
    # default sort: the longest streak first; the newest closed week's counts (W46)
    assert view.rows[0].unit_id == "czj"
    assert view.counts_week == "2026-W46"
    assert {k: v for k, v in view.counts.items() if v} == {"met": 6, "missed": 2, "unknown": 1}
    # scores from policies.yaml: weekly met +0.5, missed -1; unknown/exempt/at_risk score 0
    assert next(r for r in view.rows if r.unit_id == "jyj").score == 4.0
    assert next(r for r in view.rows if r.unit_id == "czj").score == -1.0    # 3 × -1 + 4 × 0.5
    assert next(r for r in view.rows if r.unit_id == "gaj").score == 3.0
    assert cell_of(view, "jyj", "portal", "2026-W47")[2].lines[0].last_post.date() == date(2026, 11, 17)


def test_matrix_filters_and_sorts(seeded):
    store, registry, weeks = seeded
    towns = board.matrix(store, registry, weeks, category="town", today=TODAY)
    assert [r.unit_id for r in towns.rows] == ["cgz"]
    wechat = board.matrix(store, registry, weeks, channel="wechat", today=TODAY)
    assert {ln.channel for r in wechat.rows for ln in r.lines} == {"wechat"}
    assert "tjj" not in [r.unit_id for r in wechat.rows]               # no WeChat account
    by_score = board.matrix(store, registry, weeks, sort="score", today=TODAY)
    assert [r.score for r in by_score.rows] == sorted(r.score for r in by_score.rows)
    by_name = board.matrix(store, registry, weeks, sort="name", today=TODAY)
    assert [r.unit_id for r in by_name.rows] == ["jyj", "czj", "gaj", "tjj", "cgz"]
    bogus = board.matrix(store, registry, weeks, channel="weibo", category="x", sort="drop", today=TODAY)
    assert bogus.channel is None and bogus.category is None and bogus.sort == "streak"


def test_streak_counts_back_beyond_the_weeks_shown(seeded):
    store, registry, weeks = seeded
    view = board.matrix(store, registry, weeks[-2:], today=TODAY)     # only W46, W47 shown
    _, line, _ = cell_of(view, "czj", "portal", "2026-W46")
    assert line.streak == 3 and line.since == date(2026, 10, 26)


def test_open_week_not_decided_yet_shows_as_in_progress(seeded):
    store, registry, weeks = seeded
    store.save_verdicts([Verdict("jyj", "wechat", "2026-W47", "weekly", Status.UNKNOWN, reason="本期尚未结束",
                                 evidence={"pending": True})], as_of=datetime(2026, 11, 17, 9, tzinfo=TZ))
    cell = cell_of(board.matrix(store, registry, weeks, today=TODAY), "jyj", "wechat", "2026-W47")[0]
    assert cell.pending and cell.label == "进行中" and cell.css == "pending" and cell.text == "…"
    real_unknown = cell_of(board.matrix(store, registry, weeks, today=TODAY), "gaj", "portal", "2026-W47")[0]
    assert not real_unknown.pending and real_unknown.label == "无法核实"


def test_unit_page_evidence(seeded):
    store, registry, weeks = seeded
    u = board.unit_page(store, registry, "gaj", weeks, today=TODAY)
    assert u.name == "县公安局" and u.category_label == "县直部门" and u.leader == "领导2(副县长)"
    failed = [a for a in u.attempts if not a.ok]
    assert failed and all(a.outcome_label == "无法访问" and "连接超时" in a.message for a in failed)
    assert len(u.attempts) == 8
    assert [e.status_label for e in u.evaluations if e.period == "2026-W46" and e.channel == "门户网站"] == ["无法核实"]
    assert len(u.posts["portal"]) == 4 and all(p.published and p.first_seen for p in u.posts["portal"])
    czj = board.unit_page(store, registry, "czj", weeks, today=TODAY)
    assert [(n.kind, n.status_label) for n in czj.notices] == [("未达标通报", "待发送")]
    assert czj.row.streak == 3
    with pytest.raises(KeyError):
        board.unit_page(store, registry, "nobody", weeks)


def test_period_summary_never_lists_unknown_as_late(seeded):
    store, registry, _ = seeded
    p = board.period_summary(store, registry, Period.parse("2026-W46"), today=TODAY)
    late = {line.unit_id for lines in p.late_by_category.values() for line in lines}
    assert late == {"czj", "cgz"}
    assert set(p.late_by_category) == {"县直部门", "乡镇"}
    czj = next(ln for ln in p.late_by_category["县直部门"] if ln.unit_id == "czj")
    assert czj.streak == 3
    assert czj.last_post == ""                       # czj's portal never posted in the seeded weeks
    cgz = next(ln for ln in p.late_by_category["乡镇"] if ln.unit_id == "cgz")
    assert cgz.last_post == "2026-11-03"             # from the store: its W45 posts (Tuesday)
    assert [(ln.unit_id, ln.reason) for ln in p.unverified] == [("gaj", UNREACHABLE_REASON)]
    assert p.counts["missed"] == 2 and p.counts["unknown"] == 1
    assert p.downloads == {"xlsx": "period/2026-W46/download.xlsx", "docx": "period/2026-W46/download.docx"}
    assert p.previous == "2026-W45" and p.next == "2026-W47"
    assert p.as_of == datetime(2026, 11, 10, 10, tzinfo=TZ)      # the latest evaluation of that week
    assert board.period_summary(store, registry, Period.parse("2026-W47"), today=TODAY).next is None
    empty = board.period_summary(store, registry, Period.parse("2025-W01"), today=TODAY)
    assert not empty.evaluated and not empty.late_by_category


# ------------------------------------------------------------------------------------ rendered HTML
def test_rendered_matrix_shows_statuses_and_links(seeded):
    store, registry, weeks = seeded
    html = board.render("matrix.j2", root="/pubwatch", view=board.matrix(store, registry, weeks, today=TODAY))
    row = re.search(r'<tr[^>]*data-unit="gaj" data-channel="portal">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'data-period="2026-W46" data-status="unknown"><a class="unknown" '
                     r'href="/pubwatch/unit/gaj\?weeks=4#w-2026-W46" title="2026-W46 无法核实: '
                     + re.escape(UNREACHABLE_REASON), row)
    czj = re.search(r'<tr[^>]*data-unit="czj" data-channel="portal">(.*?)</tr>', html, re.S).group(1)
    assert czj.count('data-status="missed"') == 3 and "3 周" in czj and "自 2026-10-26 起" in czj
    for label in ("达标", "预警", "未达标", "无法核实", "免检"):
        assert label in html
    assert "http://" not in html.replace('http://www.w3.org', '')      # no external assets


def test_crawled_title_is_escaped(seeded):
    store, registry, weeks = seeded
    html = board.render("unit.j2", root="/pubwatch", u=board.unit_page(store, registry, "jyj", weeks, today=TODAY))
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'target="_blank" rel="noopener noreferrer"' in html


def test_rendered_period_page(seeded):
    store, registry, _ = seeded
    html = board.render("period.j2", root="/pubwatch",
                        p=board.period_summary(store, registry, Period.parse("2026-W46"), today=TODAY))
    late_part, unverified_part = html.split('id="unverified"')
    assert "县财政局" in late_part and "城关镇" in late_part and "县公安局" not in late_part
    assert "县公安局" in unverified_part and UNREACHABLE_REASON in unverified_part
    assert 'href="/pubwatch/period/2026-W46/download.xlsx"' in html
    assert '依据截至 <span class="as-of">2026-11-10 10:00</span> 的抓取结果评估' in html


# ------------------------------------------------------------------------------------ the plugin app
@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The real plugin module, with Airflow's real SimpleAuthManager initialised in a temp home."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("airflow_home_board")
    mp.setenv("AIRFLOW_HOME", os.environ.get("AIRFLOW_HOME") or str(home))
    mp.setenv("AIRFLOW__CORE__AUTH_MANAGER",
              "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "supervisor:viewer")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(home / "passwords.json"))
    mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "pubwatch-board-test-secret-" + "x" * 64)
    spec = importlib.util.spec_from_file_location("pubwatch_board_under_test", ROOT / "plugins" / "pubwatch_board.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    from airflow import settings
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.models.revoked_token import RevokedToken

    # token validation looks up revoked tokens in the metadata DB: that one table is all it needs
    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    module.test_auth_manager = init_auth_manager()
    yield module
    mp.undo()


def token_for(plugin, role: str | None) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return plugin.test_auth_manager.generate_jwt(SimpleAuthManagerUser(username="supervisor", role=role))


@pytest.fixture
def client(plugin, seeded, db_url, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("PUBWATCH_DB_URL", db_url)
    monkeypatch.setenv("PUBWATCH_REGISTRY", str(tmp_path / "units.yaml"))
    monkeypatch.setenv("PUBWATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(plugin, "resources", plugin._Resources())
    return TestClient(plugin.app)


@pytest.fixture
def logged_in(client, plugin):
    """A client carrying the `_token` cookie the Airflow UI sets at login (a viewer)."""
    client.cookies.set("_token", token_for(plugin, "viewer"))
    return client


def test_plugin_import_opens_nothing(plugin):
    fresh = plugin._Resources()
    assert plugin.resources._store is None and fresh._store is None and fresh._registry is None


def test_plugin_declares_app_and_nav_entry(plugin):
    (view,) = plugin.PubwatchBoardPlugin.external_views
    assert view["name"] == "政务公开监测看板" and view["url_route"] == "pubwatch" and view["destination"] == "nav"
    assert view["href"] == "/pubwatch/"
    (fa,) = plugin.PubwatchBoardPlugin.fastapi_apps
    assert fa["url_prefix"] == "/pubwatch" and fa["app"] is plugin.app


@pytest.mark.parametrize("path", ["/", "/unit/czj", "/period/2026-W46", "/period/2026-W46/download.xlsx"])
def test_anonymous_and_forged_requests_are_refused(client, plugin, path):
    resp = client.get(path)
    assert resp.status_code == 401
    assert "县财政局" not in resp.text
    assert client.get(path, cookies={"_token": "not-a-jwt"}).status_code in (401, 403)
    no_role = client.get(path, headers={"Authorization": f"Bearer {token_for(plugin, None)}"})
    assert no_role.status_code == 403                         # authenticated, but not allowed to see views


def test_logged_in_pages(logged_in):
    resp = logged_in.get("/", params={"weeks": 4, "end": "2026-W47"})
    assert resp.status_code == 200 and "政务公开监测看板" in resp.text
    assert 'data-unit="czj"' in resp.text and 'data-status="missed"' in resp.text
    towns = logged_in.get("/", params={"weeks": 4, "end": "2026-W47", "category": "town"})
    assert 'data-unit="cgz"' in towns.text and 'data-unit="czj"' not in towns.text
    unit = logged_in.get("/unit/jyj", params={"weeks": 4, "end": "2026-W47"})
    assert unit.status_code == 200 and XSS not in unit.text and "&lt;script&gt;" in unit.text
    missing = logged_in.get("/unit/nobody")
    assert missing.status_code == 404 and "登记表中没有单位" in missing.text
    assert logged_in.get("/period/last-week").status_code == 404
    period = logged_in.get("/period/2026-W46")
    assert period.status_code == 200 and "无法核实(不作未达标处理)" in period.text
    assert logged_in.get("/period/2026-W46/download.pdf").status_code == 404
    bad = logged_in.get("/", params={"weeks": 0})
    assert bad.status_code == 400 and "weeks" in bad.text and "请求参数有误" in bad.text


@pytest.mark.parametrize("params", [{"end": "0001-W01"}, {"end": "9999-W52"}, {"end": "2026-W99"},
                                    {"channel": "weibo"}, {"category": "<script>"}, {"sort": "random"},
                                    {"weeks": "many"}, {"weeks": 10**30}])
def test_bad_board_parameters_are_400_with_a_message(logged_in, params):
    resp = logged_in.get("/", params=params)
    assert resp.status_code == 400, resp.text
    assert "请求参数有误" in resp.text and "<script>" not in resp.text
    assert logged_in.get("/unit/jyj", params={k: v for k, v in params.items() if k in ("end", "weeks")}
                         ).status_code in (400, 200)
    assert logged_in.get("/period/0001-W01").status_code == 404


def test_board_query_parameters_never_answer_500(logged_in):
    """Whatever a person types in the address bar: 200, 400 or 404 — never an Internal Server Error."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    junk = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
        ["2026-W47", "0001-W01", "2026-13", "2026-Q9", "1999", "portal", "wechat", "town", "score", "-1", "53"]))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(["/", "/unit/jyj", "/unit/%s", "/period/%s"]), weeks=junk, end=junk,
           channel=junk, category=junk, sort=junk, key=st.text(min_size=1, max_size=10))
    def probe(path, weeks, end, channel, category, sort, key):
        from urllib.parse import quote

        params = {k: v for k, v in dict(weeks=weeks, end=end, channel=channel, category=category,
                                         sort=sort).items() if v is not None}
        url = path % quote(key, safe="") if "%s" in path else path
        assert logged_in.get(url, params=params).status_code in (200, 400, 404)

    probe()


def test_download_generates_the_file_on_demand(logged_in, seeded):
    store, registry, weeks = seeded
    early = logged_in.get("/period/2026-W46/download.docx")     # seeded verdicts were saved mid-week
    assert early.status_code == 409 and "本期结束之前" in early.text and "pubwatch evaluate" in early.text
    after = datetime(2026, 11, 16, 9, 0, tzinfo=TZ)                # the Monday after 2026-W46
    store.save_verdicts([Verdict("czj", "portal", "2026-W46", "weekly", Status.MISSED, reason="未达标")], as_of=after)
    for fmt in ("xlsx", "docx"):
        resp = logged_in.get(f"/period/2026-W46/download.{fmt}")
        assert resp.status_code == 200, resp.text
        assert resp.content[:2] == b"PK"                      # both are zip containers
        assert f"pubwatch-2026-W46.{fmt}" in resp.headers["content-disposition"]


def test_bidi_override_characters_in_crawled_titles_are_removed():
    from pubwatch.board import _finalize

    assert _finalize("县教育局\u202e动态\u202c") == "县教育局动态"
    assert _finalize(3) == 3


def test_only_http_links_are_rendered_on_the_unit_page(seeded):
    """A post stored before URLs were cleaned (or by any other path) still never becomes a
    clickable javascript:/data: link (#19, defence in depth)."""
    from pubwatch.store.models import Post

    store, registry, weeks = seeded
    day = datetime.combine(weeks[-1].start, datetime.min.time(), TZ).replace(hour=10)
    with store.Session.begin() as s:
        for i, url in enumerate(["java\tscript:alert(1)", "data:text/html;base64,PHNjcmlwdD4="]):
            s.add(Post(unit_id="jyj", channel="portal", url_key=f"evil{i}", url=url, source_id="jyj.portal.gzdt",
                       title=f"恶意链接{i}", published_at=day, first_seen_at=day, last_seen_at=day))
    html = board.render("unit.j2", root="/pubwatch", u=board.unit_page(store, registry, "jyj", weeks, today=TODAY))
    assert "恶意链接0" in html and "恶意链接1" in html
    assert "script:alert" not in html and 'href="data:' not in html and "base64" not in html


def test_registry_mistakes_are_named_on_the_board(logged_in, tmp_path):
    """A unit dropped for a typo is named with its field (#17.2); an unreadable registry is a page."""
    path = tmp_path / "units.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["units"].append({"id": "xfj", "name": "县信访局", "category": "department", "portl": {}})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    page = logged_in.get("/", params={"weeks": 4, "end": "2026-W47"})
    assert page.status_code == 200
    assert "登记表错误, 本周未监测: 县信访局 (单位 xfj) — 字段 portl: 未知字段" in page.text
    path.write_text("units:\n  - id: jyj\n   name: bad indent\n", encoding="utf-8")
    broken = logged_in.get("/")
    assert broken.status_code == 503 and "单位登记表无法读取" in broken.text and "units.yaml:3:" in broken.text
    assert "Traceback" not in broken.text


def test_charts_are_on_the_board_with_their_numbers(logged_in):
    page = logged_in.get("/", params={"weeks": 4, "end": "2026-W47"})
    assert page.status_code == 200
    assert 'id="trend-chart"' in page.text and "各类单位每周更新达标率(近26周)" in page.text
    assert "/static/echarts.min.js" in page.text and "得分排名(按类别)" in page.text
    assert "<details><summary>数据表</summary>" in page.text            # every chart has its numbers
    js = logged_in.get("/static/echarts.min.js")
    assert js.status_code == 200 and "Apache" in js.text[:400] and len(js.content) > 500_000
    unit = logged_in.get("/unit/czj", params={"weeks": 4, "end": "2026-W47"})
    assert 'id="calendar-chart"' in unit.text and "发文日历(近一年, 两个渠道合计)" in unit.text
    assert "最长连续未发文" in unit.text
