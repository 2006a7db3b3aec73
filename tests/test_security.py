"""Security, end to end: hostile crawled text is escaped wherever it is shown, the fetcher refuses
non-web schemes and internal targets, and no secret reaches a log line, a return value, a rendered
page or an exception text. (Unit-level escaping is in test_render.py, fetcher basics in
test_http.py; here the text travels from a real page through the store to every output.)"""
from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import socket
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import TEST_AS_OF
from httpfaults import FaultServer, Reply
from pubwatch import board, jobs
from pubwatch.crawl import crawl_unit
from pubwatch.evaluate import evaluate_period
from pubwatch.http import Fetcher, FetchError, FetchSettings
from pubwatch.notices.channels import DingTalkRobotChannel, EmailChannel, WeComRobotChannel
from pubwatch.notices.dispatch import deliver, plan_unit_notices
from pubwatch.notices.ledger import Ledger
from pubwatch.notices.render import render
from pubwatch.periods import Period
from pubwatch.registry import parse_registry
from pubwatch.sources import CrawlContext, make_source
from pubwatch.registry import SourceConfig
from pubwatch.types import TZ, Outcome, Status
from webhookrecv import WebhookReceiver

EVIL = ('<script>alert(1)</script>[点我](http://evil.example/x) @all **加粗** <img src=x onerror=alert(2)>'
        '"><svg/onload=alert(3)> \u202e反转 ![图](http://evil.example/p.png) <@13800000000>')
W47 = Period.parse("2026-W47")
MON = datetime(2026, 11, 23, 6, 30, tzinfo=TZ)

SMTP_PASSWORD = "smtp-pass-S3CRET-1a2b"
WECOM_KEY = "wecom-key-S3CRET-3c4d"
DT_TOKEN = "dt-token-S3CRET-5e6f"
DT_SECRET = "SECdt-sign-S3CRET-7a8b"


class Tags(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe_html(page: str, *, bidi_stripped: bool = True) -> None:
    tags = Tags(page).tags
    assert not any(t in ("img", "svg", "iframe", "object") for t, _ in tags), [t for t, _ in tags]
    assert not any(k.startswith("on") for _, a in tags for k in a), "event handler attribute"
    assert not any(str(a.get(k, "")).strip().lower().startswith(("javascript:", "data:"))
                   for _, a in tags for k in ("href", "src", "action")), "script URL"
    scripts = [page[i:i + 40] for i in range(len(page)) if page.startswith("<script", i)]
    assert not any("alert" in s for s in scripts)
    if bidi_stripped:
        assert "\u202e" not in page


def assert_safe_markdown(md: str) -> None:
    for bad in ("[点我](", "](http://evil", "@all", "**加粗**", "<script", "<img", "![图]", "javascript:",
                "<@13800000000>", "\u202e"):
        assert bad not in md, (bad, md)


@pytest.fixture
def evil_site():
    lis = [f'<li><a href="./202611/t20261110_1.html" title="{html.escape(EVIL)}">{html.escape(EVIL)}</a>'
           f"<span>2026-11-10</span></li>",
           '<li><a href="javascript:alert(4)">县某局召开安全生产会议</a><span>2026-11-09</span></li>',
           '<li><a href="./202611/t20261103_2.html">县某局开展普法宣传</a><span>2026-11-03</span></li>']
    page = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态</title></head><body>'
            '<div class="nav"><a href="/">首页</a></div><ul class="list">' + "".join(lis) +
            "</ul></body></html>")
    with FaultServer() as srv:
        srv.route("/evil/gzdt/", body=page)
        yield srv


def _evil_registry(srv):
    return parse_registry({"units": [{
        "id": "evil", "name": "县某局", "category": "department",
        "contacts": {"leader": {"name": "王建国", "email": "leader@county.example.gov.cn", "mobile": "13900000010"},
                     "staff": {"name": "张丽", "email": "xxy@county.example.gov.cn", "mobile": "13800000010"}},
        "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": srv.url("/evil/gzdt/")}]}}]})


def _crawled(store, srv):
    reg = _evil_registry(srv)
    store.sync_units(reg.units)
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, respect_robots=False)) as f:
        out = crawl_unit(store, reg.units[0], fetcher=f, now=MON)
    assert out.sources[0].outcome == "ok"
    verdicts = evaluate_period(store, reg.units, W47, as_of=MON + timedelta(hours=1))
    weekly = next(v for v in verdicts if v.rule == "weekly")
    assert weekly.status is Status.MISSED
    return reg, verdicts


def test_crawled_text_is_escaped_on_every_board_page(store, evil_site):
    reg, _ = _crawled(store, evil_site)
    weeks = board.recent_weeks(4, W47.end)
    pages = [board.render("matrix.j2", view=board.matrix(store, reg, weeks, today=MON.date()), registry_errors=0),
             board.render("unit.j2", u=board.unit_page(store, reg, "evil", weeks, today=MON.date())),
             board.render("period.j2", p=board.period_summary(store, reg, W47, today=MON.date()))]
    unit_page = pages[1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in unit_page         # shown, as text
    for page in pages:
        assert_safe_html(page, bidi_stripped=False)    # the board shows titles as crawled (escaped)


def _hooks_and_smtp():
    class Rec:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    rec = Rec()

    def auth(server, session, envelope, mechanism, data):
        return AuthResult(success=isinstance(data, LoginPassword) and data.password == SMTP_PASSWORD.encode(),
                          handled=False)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(rec, hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
    return rec, ctl, port


def test_crawled_text_is_escaped_in_delivered_email_wecom_and_dingtalk(store, evil_site, caplog):
    reg, verdicts = _crawled(store, evil_site)
    closed = [v for v in verdicts if v.rule == "weekly"]
    planned = plan_unit_notices(reg, closed_period=W47.key, closed=closed, current_period=W47.next().key,
                                current=[], reminder_due=False, streaks={("evil", "portal"): 3}, escalate_after=2,
                                base_ctx={"office": {"name": "某某县人民政府办公室"}, "period_label": W47.label,
                                          "deadline": W47.end})
    assert {p.kind for p in planned} == {"overdue", "escalation"}
    rec, ctl, port = _hooks_and_smtp()
    ctl.start()
    try:
        with WebhookReceiver() as wecom, WebhookReceiver() as ding, caplog.at_level(logging.DEBUG):
            channels = {
                "email": EmailChannel("127.0.0.1", port, login="gk@county.example.gov.cn", password=SMTP_PASSWORD,
                                      security="none", timeout=5),
                "wecom": WeComRobotChannel(wecom.url_for("/cgi-bin/webhook/send", key=WECOM_KEY), min_interval=0),
                "dingtalk": DingTalkRobotChannel(ding.url_for("/robot/send", access_token=DT_TOKEN), DT_SECRET,
                                                 min_interval=0)}
            report = deliver(Ledger(store), planned, channels, render=render, make_message=jobs._make_message,
                             run_id="sec")
            assert len(report.sent) == 6, report
            bodies = [json.dumps(r.json, ensure_ascii=False) for r in wecom.requests + ding.requests]
    finally:
        ctl.stop()
    for env in rec.envelopes:
        msg = email.message_from_bytes(env.content, policy=email.policy.default)
        html_part = msg.get_body(("html",)).get_content()
        assert "&lt;script&gt;" in html_part
        assert_safe_html(html_part)
        text_part = msg.get_body(("plain",)).get_content()
        assert "javascript:" not in text_part and "\u202e" not in text_part
    mds = []
    for r in wecom.requests + ding.requests:
        payload = r.json
        for key in ("markdown", "text"):
            if key in payload:
                mds.append(payload[key].get("content") or payload[key].get("text") or "")
    assert mds and any("县某局" in m for m in mds)
    for md in mds:
        assert_safe_markdown(md)
    # at-mentions come only from the registry (the unit's mobiles), never from crawled text
    ats = [a for r in wecom.requests + ding.requests for a in
           (r.json.get("at", {}).get("atMobiles", []) + r.json.get("text", {}).get("mentioned_mobile_list", []))]
    assert set(ats) <= {"13800000010", "13900000010"} and not any(
        r.json.get("at", {}).get("isAtAll") for r in ding.requests)
    scan(bodies + [r.getMessage() for r in caplog.records] + [str(report.as_dict())],
         (SMTP_PASSWORD, WECOM_KEY, DT_TOKEN, DT_SECRET))


# ---------------------------------------------------------------------------------------------
# The fetcher refuses non-web schemes and internal targets (through a real crawl of a column)
# ---------------------------------------------------------------------------------------------
def _column(url: str) -> SourceConfig:
    return SourceConfig(id="x.portal.c", unit_id="x", channel="portal", type="portal", name="栏目", url=url,
                        options={"profile": "auto"})


@pytest.fixture
def target():
    with FaultServer() as srv:
        srv.route("/", body="<ul><li><a href='/a.html'>内网页面</a><span>2026-11-19</span></li></ul>")
        yield srv


def _internal_urls(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://[::ffff:127.0.0.1]:{port}/",
            f"http://2130706433:{port}/", f"http://0x7f.0.0.1:{port}/", f"http://0.0.0.0:{port}/",
            f"http://127.1:{port}/", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
            "http://192.168.1.1/", "http://[fe80::1]/", "http://224.0.0.1/"]


def test_internal_targets_are_refused_in_any_spelling(target):
    with Fetcher(FetchSettings(per_host_interval=0, respect_robots=False, retries=0, timeout=2)) as f:
        for url in _internal_urls(target.port):
            res = make_source(_column(url)).fetch(CrawlContext(fetcher=f, now=MON))
            assert res.outcome is Outcome.CONFIG_ERROR, (url, res.outcome, res.message)
            assert "内网" in res.message or "无效" in res.message, res.message
    assert target.log == []                                   # nothing ever reached the internal server


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/pub/", "gopher://127.0.0.1:6379/_INFO",
                                      "dict://127.0.0.1:11211/stat", "http://169.254.169.254/latest/"])
def test_redirects_to_other_schemes_or_internal_hosts_are_refused(location):
    with FaultServer() as srv:
        srv.route("/gzdt/", Reply(status=302, redirect=location))
        # The public-looking site is allowed (it is the test server); its redirect target is not.
        with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, respect_robots=False,
                                   retries=0)) as f:
            f._allowed_hosts = frozenset()                    # only the IP range rule lets the test server in
            res = make_source(_column(srv.url("/gzdt/"))).fetch(CrawlContext(fetcher=f, now=MON))
    if location.startswith("http://169"):
        assert res.outcome is Outcome.CONFIG_ERROR and "169.254.169.254" in res.message
    else:
        assert res.outcome is Outcome.CONFIG_ERROR and "只允许 http/https" in res.message, res.message


def test_allow_private_admits_only_what_it_lists(target):
    with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0, respect_robots=False,
                               retries=0)) as f:
        ok = make_source(_column(target.url("/"))).fetch(CrawlContext(fetcher=f, now=MON))
        other = make_source(_column("http://10.0.0.1/")).fetch(CrawlContext(fetcher=f, now=MON))
    assert ok.outcome is Outcome.OK
    assert other.outcome is Outcome.CONFIG_ERROR


# ---------------------------------------------------------------------------------------------
# No secret anywhere: logs (DEBUG, urllib3 included), return values, rendered text, exceptions
# ---------------------------------------------------------------------------------------------
def scan(texts, secrets) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in str(text), f"secret {secret[:6]}… leaked in: {str(text)[:300]!r}"


def test_no_secret_in_logs_return_values_templates_or_errors(demo_env, demo_portal, sqlite_url, caplog, tmp_path,
                                                             monkeypatch):
    """A whole demo week — crawl (the hbj account through the official API: AppSecret, access_token),
    evaluate, notify through email/WeCom/DingTalk with failures on the way — with every logger at
    DEBUG; then a scan of everything captured for every secret."""
    from pubwatch.demo.server import DEMO_SECRET

    rec, ctl, port = _hooks_and_smtp()
    ctl.start()
    monkeypatch.setenv("PUBWATCH_VAR_DIR", str(tmp_path / "var"))
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    captured: list[str] = []
    try:
        with WebhookReceiver() as wecom, WebhookReceiver() as ding, caplog.at_level(logging.DEBUG):
            wecom.script((500, "oops"), (200, {"errcode": 93000, "errmsg": f"invalid webhook url, key={WECOM_KEY}"}))
            ding.script((200, {"errcode": 310000, "errmsg": "sign not match"}))
            rt = jobs.Runtime(db_url=sqlite_url)
            try:
                captured.append(repr(jobs.prepare(rt)))
                for unit in rt.registry.units:
                    captured.append(repr(jobs.crawl(rt, unit.id, now=TEST_AS_OF, run_id="sec")))
                captured.append(repr(jobs.evaluate_week(rt, TEST_AS_OF)))
                configs = {
                    "email": {"host": "127.0.0.1", "port": port, "login": "gk@county.example.gov.cn",
                              "password": SMTP_PASSWORD, "extra": {"security": "none", "timeout": 5}},
                    "wecom": {"extra": {"webhook_url": wecom.url_for("/cgi-bin/webhook/send", key=WECOM_KEY),
                                        "min_interval": 0, "rate_wait": 0}},
                    "dingtalk": {"extra": {"webhook_url": ding.url_for("/robot/send", access_token=DT_TOKEN),
                                           "secret": DT_SECRET, "min_interval": 0, "rate_wait": 0}}}
                result = jobs.notify_week(rt, TEST_AS_OF, send=True, channel_configs=configs, run_id="sec")
                captured.append(repr(result))
                assert result["sent"] and result["failed"]           # both paths exercised
                for row in Ledger(rt.store).rows():
                    captured.extend([row.last_error, row.receipt, row.recipients, row.subject])
                with rt.store.Session() as s:
                    from pubwatch.store.models import CrawlAttempt
                    captured.extend(m for (m,) in s.query(CrawlAttempt.message))
                # exception texts: a fetch of a URL carrying secrets, and a bad-password SMTP send
                with Fetcher(FetchSettings(retries=0, timeout=1)) as f:
                    try:
                        f.get(f"http://unreachable.invalid/api?access_token={DT_TOKEN}&appsecret={DEMO_SECRET}")
                    except FetchError as exc:
                        captured.extend([str(exc), repr(exc), exc.message])
                bad = EmailChannel("127.0.0.1", port, login="gk@county.example.gov.cn",
                                   password=SMTP_PASSWORD + "x", security="none", timeout=5)
                try:
                    bad.send(jobs._make_message(render("summary", {"office": {}, "rows": [], "counts": {}}),
                                                type("N", (), {"to_emails": ["a@b.cn"], "to": [], "cc": [],
                                                               "attachments": [], "unit_id": "_office",
                                                               "period": "x", "kind": "summary"})()))
                except Exception as exc:                         # noqa: BLE001 - any error text is scanned
                    captured.extend([str(exc), repr(exc)])
                captured.extend(repr(c) for c in (bad,))
            finally:
                rt.close()
            captured.extend(r.getMessage() for r in caplog.records)
            captured.extend(str(r.exc_text or "") for r in caplog.records)
    finally:
        ctl.stop()
        logging.getLogger("urllib3").setLevel(logging.NOTSET)
    outbox = list((tmp_path / "var").rglob("*")) if (tmp_path / "var").exists() else []
    captured.extend(p.read_text(encoding="utf-8", errors="replace") for p in outbox if p.is_file()
                    and p.suffix in (".md", ".txt", ".html", ".json", ".eml"))
    assert any("'hbj.wechat.api'" in t and "'outcome': 'ok'" in t for t in captured), \
        "the official API was used (a token was issued and batchget answered)"
    assert any("access_token=***" in t for t in captured), "urllib3 DEBUG lines were captured, masked"
    import re

    leaked_tokens = [t for t in captured if re.search(r"TOKEN_[0-9a-f]{24}", str(t))]   # the fake API's tokens
    assert leaked_tokens == [], leaked_tokens[:1]
    scan(captured, [SMTP_PASSWORD, WECOM_KEY, DT_TOKEN, DT_SECRET, DEMO_SECRET])
