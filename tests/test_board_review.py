"""人工复核 on the board (#20): the unit page's review form inside a real Airflow 3.3 api-server
(SimpleAuthManager), over HTTP and in Debian chromium.

Who may review: users with the auth manager's edit permission on the board's view; under
SimpleAuthManager that is the op and admin roles (its custom-view check ignores the method, see
plugins/pubwatch_board.py `can_review`). Viewers (and the `user` role) see the board read-only and get
403 on the form and its POST. Every POST needs the signed double-submit CSRF token.

Slow: starts `airflow api-server` once for the module (about 10 s here).
"""
from __future__ import annotations

import hashlib
import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from airflow_server import AirflowServer
from pubwatch.registry import load_registry
from pubwatch.reviews import review_history
from pubwatch.store import Store, upgrade
from pubwatch.types import TZ
from test_board import SCENARIO, seed, write_registry
from test_board_browser import CHROMIUM_ARGS, chromium_or_skip, open_board

ROOT = Path(__file__).resolve().parents[1]
CSRF_SECRET = "pubwatch-review-test-" + "k" * 40
USERS = "supervisor:viewer,clerk:user,editor:op,boss:admin"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("board_review")
    db_url = f"sqlite:///{base / 'pubwatch.db'}"
    upgrade(db_url)
    registry_path = write_registry(base / "units.yaml", SCENARIO)
    store = Store(db_url)
    try:
        weeks = seed(store, load_registry(registry_path), SCENARIO, today=datetime.now(TZ).date())
    finally:
        store.close()
    env = {"PUBWATCH_DB_URL": db_url, "PUBWATCH_REGISTRY": str(registry_path), "PUBWATCH_VAR_DIR": str(base / "var"),
           "PUBWATCH_CSRF_SECRET": CSRF_SECRET}
    with AirflowServer(base / "airflow", users=USERS, env=env) as af:
        yield af, db_url, weeks


@pytest.fixture
def history(server):
    """The review trail in the tracking DB, read by this test process (not through the board)."""
    _, db_url, _ = server

    def read(unit_id: str) -> list:
        store = Store(db_url)
        try:
            return review_history(store, unit_id)
        finally:
            store.close()
    return read


def form_fields(period: str, **over) -> dict[str, str]:
    fields = {"period": period, "channel": "portal", "rule": "weekly", "status": "met",
              "reason": "单位提供了本周发布的工作动态截图, 经核实属实", "evidence_url": ""}
    fields.update(over)
    return fields


def editor_page(af, user: str, unit: str = "czj") -> tuple[requests.Session, str]:
    """A logged-in session of `user` that opened the unit page, and the form's CSRF token."""
    s = af.session(user)
    page = s.get(af.url(f"/pubwatch/unit/{unit}"), timeout=30)
    assert page.status_code == 200, page.text[:500]
    match = TOKEN_RE.search(page.text)
    assert match, "no review form on the editor's unit page"
    return s, match.group(1)


@pytest.mark.airflow
@pytest.mark.slow
def test_viewer_sees_the_board_read_only_and_gets_403_on_the_form(server, history):
    af, _, weeks = server
    closed = weeks[-2].key
    for user in ("supervisor", "clerk"):                  # viewer, and the `user` role: not editors
        s = af.session(user)
        page = s.get(af.url("/pubwatch/unit/czj"), timeout=30)
        assert page.status_code == 200 and "县财政局" in page.text
        assert 'id="review-form"' not in page.text and "csrf_token" not in page.text
        assert 'id="review-readonly"' in page.text and "/review?" not in page.text
        assert "pubwatch_csrf" not in s.cookies
        form = s.get(af.url("/pubwatch/unit/czj/review"), params={"period": closed}, timeout=30)
        assert form.status_code == 403, (user, form.status_code)
        post = s.post(af.url("/pubwatch/unit/czj/review"), data=form_fields(closed, csrf_token="x"), timeout=30,
                      allow_redirects=False)
        assert post.status_code == 403, (user, post.status_code)
    assert requests.post(af.url("/pubwatch/unit/czj/review"), data=form_fields(closed), timeout=30).status_code == 401
    assert history("czj") == []


@pytest.mark.airflow
@pytest.mark.slow
def test_post_without_a_valid_csrf_token_is_refused_and_stores_nothing(server, history, monkeypatch):
    af, _, weeks = server
    closed = weeks[-2].key
    url = af.url("/pubwatch/unit/czj/review")
    s, token = editor_page(af, "editor")
    cookie = s.cookies.get("pubwatch_csrf")
    assert cookie and len(cookie) >= 32
    (jar,) = [c for c in s.cookies if c.name == "pubwatch_csrf"]
    assert jar.path == "/pubwatch" and jar.has_nonstandard_attr("HttpOnly")
    assert jar.get_nonstandard_attr("SameSite", "").lower() == "strict"

    def post(session, **fields):
        return session.post(url, data=form_fields(closed, **fields), timeout=30, allow_redirects=False)

    refused = {
        "no token": post(s),
        "empty token": post(s, csrf_token=""),
        "tampered token": post(s, csrf_token=token[:-2] + ("AA" if not token.endswith("AA") else "BB")),
        "token of another browser (no csrf cookie)": post(af.session("editor"), csrf_token=token),
        "cross-site request": s.post(url, data=form_fields(closed, csrf_token=token), timeout=30,
                                     allow_redirects=False, headers={"Sec-Fetch-Site": "cross-site"}),
    }
    boss, boss_token = editor_page(af, "boss")
    refused["another user's token"] = post(s, csrf_token=boss_token)

    # tokens made with the server's secret: a fresh one for this user and cookie is accepted below,
    # the same made 9 hours ago is expired
    from itsdangerous import URLSafeTimedSerializer
    from itsdangerous.timed import TimestampSigner

    def crafted(age: int) -> str:
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age)
        try:
            return URLSafeTimedSerializer(CSRF_SECRET, salt="pubwatch-review-csrf").dumps(
                ["editor", hashlib.sha256(cookie.encode()).hexdigest()[:32]])
        finally:
            monkeypatch.undo()
    refused["expired token"] = post(s, csrf_token=crafted(9 * 3600))
    for what, resp in refused.items():
        assert resp.status_code == 403, (what, resp.status_code, resp.text[:300])
        assert "CSRF" in resp.text, what
    assert history("czj") == []

    ok = post(s, csrf_token=crafted(60))                 # the same recipe, in time: accepted
    assert ok.status_code == 303, ok.text[:500]
    (review,) = history("czj")
    assert review.reviewer == "editor" and review.period == closed


@pytest.mark.airflow
@pytest.mark.slow
def test_editor_review_is_stored_and_the_unit_page_shows_the_reviewed_cell(server, history):
    af, _, weeks = server
    period = weeks[-3].key                     # czj portal: 未达标 in the seeded scenario
    posted = weeks[-3].start + timedelta(days=2)                      # the Wednesday of that week
    s, token = editor_page(af, "boss")
    before = s.get(af.url("/pubwatch/unit/czj"), params={"end": period}, timeout=30).text
    cell = re.compile(rf'<tr data-channel="portal">.*?<td class="c" data-period="{period}" data-status="(\w+)"', re.S)
    assert cell.search(before).group(1) == "missed"

    resp = s.post(af.url("/pubwatch/unit/czj/review"), timeout=30, allow_redirects=False, data=form_fields(
        period, csrf_token=token, reason="该单位 <b>群发</b> 文章接口未列出, 经核实已发布",
        evidence_url="https://mp.weixin.qq.com/s/abcdef", published=str(posted)))
    assert resp.status_code == 303, resp.text[:500]
    location = resp.headers["location"]
    assert location.startswith("/pubwatch/unit/czj?") and "end=" not in location     # the current weeks

    page = s.get(af.url(location), timeout=30)
    assert page.status_code == 200
    assert cell.search(page.text).group(1) == "met"                 # the reviewed status …
    reviewed = re.search(rf'<tr data-channel="portal">.*?<td class="c" data-period="{period}"[^>]*>(.*?)</td>',
                         page.text, re.S).group(1)
    assert 'title="' + f"{period} 达标 (原判未达标)" in reviewed          # … and the computed one
    assert '<sup class="reviewed">复</sup>' in reviewed
    row = re.search(rf'<tr id="w-{period}">(.*?)</tr>', page.text, re.S).group(1)
    assert "原判 未达标" in row and "复核人 boss" in row and 'href="https://mp.weixin.qq.com/s/abcdef"' in row
    saved = re.search(r'<div class="panel saved" id="review-saved"[^>]*>(.*?)</div>', page.text, re.S).group(1)
    assert period in saved and "未达标" in saved and "达标" in saved and "复核人 boss" in saved
    assert "&lt;b&gt;群发&lt;/b&gt;" in saved and "<b>群发</b>" not in page.text          # the reason is escaped
    # the unit's proof is stored as a post of that day (source "manual"), listed among its posts
    proof = re.search(r'<tr>\s*<td class="title-cell"><a href="https://mp.weixin.qq.com/s/abcdef"[^>]*>(.*?)</tr>',
                      page.text, re.S)
    assert proof and "人工复核补录" in proof.group(1) and f"{posted:%Y-%m-%d}" in proof.group(1)
    reviews = [r for r in history("czj") if r.period == period]
    assert len(reviews) == 1
    (r,) = reviews
    assert (r.channel, r.rule, r.status.value, r.reviewer) == ("portal", "weekly", "met", "boss")
    assert r.previous_status.value == "missed" and r.evidence_url == "https://mp.weixin.qq.com/s/abcdef"


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.parametrize("fields, field, words", [
    ({"reason": "   "}, "reason", "复核理由"),
    ({"evidence_url": "javascript:alert(1)"}, "evidence_url", "http"),
    ({"status": "at_risk"}, "status", "状态"),
    ({"period": "2026-W99"}, "period", "周期"),
    ({"channel": "weibo"}, "channel", "渠道"),
    ({"published": "2026-13-45", "evidence_url": "https://example.gov.cn/a"}, "published", "日期"),
    ({"published": "2001-01-01", "evidence_url": "https://example.gov.cn/a"}, "published", "不在"),
])
def test_a_rejected_review_re_renders_the_form_with_the_message(server, history, fields, field, words):
    af, _, weeks = server
    closed = weeks[-2].key
    s, token = editor_page(af, "editor", unit="gaj")
    resp = s.post(af.url("/pubwatch/unit/gaj/review"), data={**form_fields(closed, csrf_token=token), **fields},
                  timeout=30, allow_redirects=False)
    assert resp.status_code == 400, resp.text[:500]
    error = re.search(r'<div class="warn" id="review-error"[^>]*>(.*?)</div>', resp.text, re.S).group(1)
    assert f"字段 {field}" in error and words in error
    assert 'id="review-form"' in resp.text and TOKEN_RE.search(resp.text)        # ready to correct and resend
    assert "href=\"javascript:" not in resp.text
    assert history("gaj") == []


@pytest.mark.airflow
@pytest.mark.slow
@pytest.mark.browser
def test_editor_submits_the_form_in_the_browser(server, history, tmp_path):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    af, _, weeks = server
    period = weeks[-2].key                       # cgz: 达标 on the portal, 预警 → the open week; W-2: met
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page, frame, dialogs = open_board(browser, af, "editor", height=1750)
            frame.locator("td.unit a", has_text="城关镇").click()
            frame.locator("h1", has_text="城关镇").wait_for(timeout=30_000)

            form = frame.locator("form#review-form")
            form.locator("input[name=period]").fill(period)
            form.locator("select[name=channel]").select_option("wechat")
            form.locator("select[name=rule]").select_option("weekly")
            form.locator("input[name=status][value=exempt]").check()
            form.locator("textarea[name=reason]").fill("该周为城关镇公众号迁移主体期间, 经县政务公开办同意免检")
            form.locator("input[name=evidence_url]").fill("https://example.gov.cn/notice/2026/qianyi.html")
            form.locator("button[type=submit]").click()

            saved = frame.locator("#review-saved")
            saved.wait_for(timeout=30_000)
            assert "复核人 editor" in saved.inner_text() and "免检" in saved.inner_text()
            cell = frame.locator(f'#unit-weeks tr[data-channel="wechat"] td[data-period="{period}"]')
            assert cell.get_attribute("data-status") == "exempt"
            assert "(原判达标)" in cell.locator("a").get_attribute("title")
            assert cell.locator("sup.reviewed").inner_text() == "复"
            out = tmp_path / "board-review.png"
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    (review,) = history("cgz")
    assert (review.period, review.channel, review.status.value, review.reviewer) == (period, "wechat", "exempt", "editor")
    target = ROOT / "test-output"
    target.mkdir(exist_ok=True)
    shutil.copy(out, target / "board-review.png")


# ------------------------------------------------------------------------------ in-process: whatever is typed
from test_board import client, plugin, seeded  # noqa: E402,F401  (fixtures: the real plugin app, seeded store)


def test_typed_review_fields_answer_303_or_400_never_500(client, plugin, seeded, monkeypatch):
    """Whatever an editor types into the form: stored (303) or the form again with a message (400)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    store, _, weeks = seeded
    monkeypatch.setenv("PUBWATCH_CSRF_SECRET", CSRF_SECRET)
    client.cookies.set("_token", plugin.test_auth_manager.generate_jwt(SimpleAuthManagerUser(username="boss",
                                                                                           role="admin")))
    page = client.get("/unit/czj", params={"weeks": 4, "end": weeks[-1].key})
    assert page.status_code == 200
    token = TOKEN_RE.search(page.text).group(1)
    junk = st.one_of(st.text(max_size=30), st.sampled_from(
        ["2026-W46", "2026-11", "2026-Q4", "2026", "portal", "wechat", "unit", "weekly", "met", "达标", "exempt",
         "missed", "https://example.gov.cn/a", "javascript:alert(1)", "http://", "\x00", "<script>", " " * 5]))
    answers: set[int] = set()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(period=junk, channel=junk, rule=junk, status=junk, reason=junk, evidence_url=junk,
           published=st.one_of(junk, st.dates().map(str)))
    def probe(period, channel, rule, status, reason, evidence_url, published):
        resp = client.post("/unit/czj/review", follow_redirects=False, data={
            "csrf_token": token, "period": period, "channel": channel, "rule": rule, "status": status,
            "reason": reason, "evidence_url": evidence_url, "published": published})
        assert resp.status_code in (303, 400), (resp.status_code, resp.text[:300])
        if resp.status_code == 400:
            assert 'id="review-error"' in resp.text and "<script>" not in resp.text
        answers.add(resp.status_code)

    probe()
    assert 400 in answers
    ok = client.post("/unit/czj/review", follow_redirects=False, data={
        "csrf_token": token, **form_fields(weeks[-2].key)})
    assert ok.status_code == 303
    assert [r.reviewer for r in review_history(store, "czj")][-1] == "boss"


def test_a_review_of_a_month_still_running_keeps_the_current_weeks(client, plugin, seeded, monkeypatch):
    """A month, quarter or year that is still running (a monthly quota reviewed early): the redirect
    shows the current weeks, not weeks up to the period's end in the future; an older month still
    shows the weeks that end with it."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from pubwatch.periods import Period
    from pubwatch.types import Status, Verdict

    store, _, _ = seeded
    now = datetime.now(TZ)
    running, older = Period.month_of(now), Period.month_of(now - timedelta(days=200))
    store.save_verdicts([Verdict("czj", "unit", p.key, "monthly_quota", Status.MISSED, count=2, required=10,
                                 reason="本月发文2篇(要求至少10篇)", evidence={}) for p in (running, older)],
                        as_of=now)
    monkeypatch.setenv("PUBWATCH_CSRF_SECRET", CSRF_SECRET)
    client.cookies.set("_token", plugin.test_auth_manager.generate_jwt(SimpleAuthManagerUser(username="boss",
                                                                                           role="admin")))
    token = TOKEN_RE.search(client.get("/unit/czj").text).group(1)
    for period, end in ((running, None), (older, older.key)):
        resp = client.post("/unit/czj/review", follow_redirects=False, data={
            "csrf_token": token, **form_fields(period.key, channel="unit", rule="monthly_quota")})
        assert resp.status_code == 303, resp.text[:300]
        location = resp.headers["location"]
        assert (f"end={end}" in location) if end else ("end=" not in location), location
        page = client.get(location.removeprefix("/pubwatch"))
        assert page.status_code == 200 and 'id="review-saved"' in page.text
