"""The board inside a real Airflow 3.3 api-server (SimpleAuthManager), driven by Debian chromium.

Slow: starts `airflow api-server` once for the module (about 10 s here). The browser test needs
/usr/bin/chromium: without it the test is skipped, unless PUBWATCH_REQUIRE_BROWSER is set (CI),
then it fails. No browser is ever downloaded.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from airflow_server import AirflowServer
from pubwatch.registry import load_registry
from pubwatch.store import Store, upgrade
from pubwatch.types import TZ
from test_board import M, R, U, X, E, XSS, UNREACHABLE_REASON, seed, write_registry

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Eight weeks ending with the current week (real today: the board's default view).
SCENARIO = {
    "jyj": ("县教育局", "department", {"portal": [M] * 8, "wechat": [M] * 7 + [R]}),
    "wjw": ("县卫生健康委员会", "department", {"portal": [M, M, M, M, M, M, X, R], "wechat": [M] * 8}),
    "czj": ("县财政局", "department", {"portal": [M, M, M, M, X, X, X, R], "wechat": [M, M, X, M, M, M, X, R]}),
    "gaj": ("县公安局", "department", {"portal": [M, M, M, M, M, U, U, U], "wechat": [M] * 8}),
    "sjj": ("县审计局", "department", {"portal": [M, M, M, U, M, M, M, M], "wechat": [M, M, M, M, M, M, M, R]}),
    "tjj": ("县统计局", "department", {"portal": [M, M, E, M, M, M, M, M]}),
    "cgz": ("城关镇", "town", {"portal": [M, M, M, M, M, M, X, M], "wechat": [M] * 8}),
    "smx": ("石门乡", "town", {"portal": [X, X, M, M, M, X, X, R], "wechat": [M, M, M, M, U, M, M, M]}),
}


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("PUBWATCH_REQUIRE_BROWSER"):
        pytest.fail(f"PUBWATCH_REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium); set PUBWATCH_REQUIRE_BROWSER=1 to fail instead")


def open_board(browser, af, user: str, *, height: int):
    """Log `user` in through Airflow's login form, open the board from the navigation and wait for
    its matrix: (page, the board's frame, the JavaScript dialogs seen — a test expects none)."""
    page = browser.new_page(viewport={"width": 1440, "height": height}, locale="zh-CN")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(af.url("/"))
    page.wait_for_url(re.compile(r"/auth/login"))
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", af.password(user))
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/auth/login" not in u, timeout=30_000)
    page.get_by_role("link", name="政务公开监测看板").click()
    page.wait_for_url(re.compile(r"/plugin/pubwatch"), timeout=30_000)
    frame = page.frame_locator("iframe").first
    frame.locator("table#matrix").wait_for(timeout=30_000)
    return page, frame, dialogs


@pytest.fixture(scope="module")
def board_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("board_browser")
    db_url = f"sqlite:///{base / 'pubwatch.db'}"
    upgrade(db_url)
    registry_path = write_registry(base / "units.yaml", SCENARIO)
    # one entry with a typo: never silently absent — the board names it (#17.2)
    with open(registry_path, "a", encoding="utf-8") as fh:
        fh.write("- {id: xfj, name: 县信访局, category: department, portl: {}}\n")
    store = Store(db_url)
    try:
        weeks = seed(store, load_registry(registry_path), SCENARIO, today=datetime.now(TZ).date())
        closed = weeks[-2]                 # evaluated again after it ended, as the weekly run does
        again = [dataclasses.replace(v, reason=f"{v.reason} (周一复评)") for v in store.verdicts(closed.key)]
        store.save_verdicts(again, as_of=closed.end_dt + timedelta(hours=9))
    finally:
        store.close()
    env = {"PUBWATCH_DB_URL": db_url, "PUBWATCH_REGISTRY": str(registry_path), "PUBWATCH_VAR_DIR": str(base / "var")}
    with AirflowServer(base / "airflow", env=env) as af:
        yield af, weeks


@pytest.mark.airflow
@pytest.mark.slow
def test_board_in_real_api_server_requires_login(board_server):
    af, weeks = board_server
    anon = requests.get(af.url("/pubwatch/"), timeout=30)
    assert anon.status_code == 401 and "县财政局" not in anon.text
    s = af.session("supervisor")
    page = s.get(af.url("/pubwatch/"), timeout=30)
    assert page.status_code == 200
    assert all(name in page.text for name, _, _ in SCENARIO.values())
    closed = weeks[-2].key
    summary = s.get(af.url(f"/pubwatch/period/{closed}"), timeout=30)
    late = summary.text.split('id="unverified"')[0]
    assert "县财政局" in late and "县公安局" not in late      # gaj's portal could not be checked
    xlsx = s.get(af.url(f"/pubwatch/period/{closed}/download.xlsx"), timeout=60)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert requests.get(af.url(f"/pubwatch/period/{closed}/download.xlsx"), timeout=30).status_code == 401
    plugins = s.get(af.url("/api/v2/plugins"), timeout=30).json()["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "pubwatch_board"]
    assert ours["external_views"][0]["url_route"] == "pubwatch"


@pytest.mark.browser
@pytest.mark.slow
def test_supervisor_opens_board_from_navigation(board_server, tmp_path):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    af, weeks = board_server
    closed, current = weeks[-2].key, weeks[-1].key
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page, frame, dialogs = open_board(browser, af, "supervisor", height=1000)
            for name, _, _ in SCENARIO.values():
                assert frame.locator("td.unit", has_text=name).count() == 1, name
            banner = frame.locator("#registry-errors").inner_text()
            assert "登记表错误, 本周未监测: 县信访局 (单位 xfj) — 字段 portl: 未知字段" in banner

            def status(unit: str, channel: str, period: str) -> str:
                return frame.locator(f'tr[data-unit="{unit}"][data-channel="{channel}"] td[data-period="{period}"]') \
                    .get_attribute("data-status")

            assert status("czj", "portal", closed) == "missed"
            assert status("gaj", "portal", closed) == "unknown"
            assert status("jyj", "portal", closed) == "met"
            assert status("czj", "portal", current) == "at_risk"
            gaj_title = frame.locator(f'tr[data-unit="gaj"][data-channel="portal"] td[data-period="{closed}"] a') \
                .get_attribute("title")
            assert UNREACHABLE_REASON in gaj_title
            assert frame.locator('tr[data-unit="czj"][data-channel="portal"]').inner_text().count("3 周") == 1
            # worst first: the longest streak heads the list
            assert frame.locator("td.unit").first.inner_text() == "县财政局"
            out = tmp_path / "board.png"
            page.screenshot(path=str(out), full_page=True)
            # the charts render from the plugin's own ECharts file (no CDN): canvas drawn, numbers in tables
            for chart, name in (("#trend-chart", "chart-trend.png"), ("#ranking-2-chart", "chart-ranking.png")):
                frame.locator(f"{chart}[data-rendered='1'] canvas").first.wait_for(timeout=30_000)
                frame.locator(chart).screenshot(path=str(tmp_path / name))
            assert frame.locator("#trend + div + details table.data tbody tr").count() == 26

            frame.locator("td.unit a", has_text="县教育局").click()
            frame.locator("h1", has_text="县教育局").wait_for(timeout=30_000)
            assert frame.locator("td.title-cell a", has_text=XSS).count() >= 1      # shown as text
            assert frame.locator("table#attempts").count() == 1
            frame.locator("#calendar-chart[data-rendered='1'] canvas").first.wait_for(timeout=30_000)
            frame.locator("#calendar-chart").screenshot(path=str(tmp_path / "chart-calendar.png"))
            page.screenshot(path=str(tmp_path / "board-unit.png"), full_page=True)
            frame.locator("a", has_text="返回看板").click()
            frame.locator("table#matrix").wait_for(timeout=30_000)
            frame.locator("a", has_text="周通报汇总").click()
            frame.locator("table#unverified").wait_for(timeout=30_000)
            assert frame.locator('table.late tr[data-unit="czj"]').count() >= 1
            assert frame.locator('table.late tr[data-unit="gaj"]').count() == 0     # unknown is never late
            assert frame.locator('table#unverified tr[data-unit="gaj"]').count() == 1
            page.screenshot(path=str(tmp_path / "board-period.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []                                  # the crawled <script> never ran
    target = ROOT / "test-output"
    target.mkdir(exist_ok=True)
    shutil.copy(out, target / "board.png")
    for name in ("board-unit.png", "board-period.png", "chart-trend.png", "chart-ranking.png", "chart-calendar.png"):
        shutil.copy(tmp_path / name, target / name)
