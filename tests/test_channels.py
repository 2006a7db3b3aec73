"""Delivery channels against real local servers: aiosmtpd SMTP and tests/webhookrecv.py robots."""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import logging
import re
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pubwatch.notices.channels import (DeliveryError, DingTalkRobotChannel, EmailChannel, Message, OutboxChannel,
                                       WeComRobotChannel, channel_from_config, mask_url, numbered_parts, split_lines,
                                       utf8_len)
from webhookrecv import WebhookReceiver

WECOM_KEY = "wecom-key-S3CRET-7f3a"
DT_TOKEN = "dt-token-S3CRET-5678"
DT_SECRET = "SECdingtalk-sign-S3CRET-9999"
SMTP_PASSWORD = "smtp-pass-S3CRET-42"
SECRETS = (WECOM_KEY, DT_TOKEN, DT_SECRET, SMTP_PASSWORD)
STAFF_MOBILE = "13800000010"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret leaked: {text!r}"


def message(**kw) -> Message:
    base = dict(subject="关于县教育局2026年第47周政府网站和政务新媒体信息未按要求更新的通报",
                text="县教育局张丽同志：\n    经监测，贵单位门户网站未达到更新要求。\n",
                html="<p>县教育局张丽同志：</p><p>经监测，贵单位门户网站未达到更新要求。</p>",
                markdown="### 信息更新情况通报\n**县教育局** 张丽同志：\n- 门户网站：应更新 1 条，实际 **0** 条",
                to_emails=["xxy.jyj@county.example.gov.cn"], cc_emails=["leader.jyj@county.example.gov.cn"],
                mention_mobiles=[STAFF_MOBILE], meta={"unit_id": "jyj", "period": "2026-W47", "kind": "overdue"})
    base.update(kw)
    return Message(**base)


# ----- SMTP -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """aiosmtpd handler: records envelopes; refuses recipients listed in `refuse` with their reply."""

    def __init__(self):
        self.envelopes: list = []
        self.refuse: dict[str, str] = {}
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    recorder = Recorder()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == SMTP_PASSWORD.encode()
        if ok:
            recorder.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)   # handled=False: the server answers 535

    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    yield recorder, controller.port
    controller.stop()


def email_channel(port: int, **kw) -> EmailChannel:
    opts = dict(login="gongkai@county.example.gov.cn", password=SMTP_PASSWORD, from_name="县政务公开办",
                security="none", timeout=5)
    opts.update(kw)
    return EmailChannel("127.0.0.1", port, **opts)


def test_email_delivers_both_parts_chinese_subject_and_rfc2231_attachment(smtp_server, tmp_path):
    recorder, port = smtp_server
    attachment = tmp_path / "关于2026年第47周政府网站和政务新媒体信息更新情况的通报.docx"
    payload = bytes(range(256)) * 40
    attachment.write_bytes(payload)
    receipt = email_channel(port).send(message(attachments=[attachment]))

    assert receipt.startswith("email: <") and "2 位收件人" in receipt
    env = recorder.envelopes[0]
    assert env.mail_from == "gongkai@county.example.gov.cn"
    assert env.rcpt_tos == ["xxy.jyj@county.example.gov.cn", "leader.jyj@county.example.gov.cn"]
    assert recorder.logins == ["gongkai@county.example.gov.cn"]
    raw = env.content if isinstance(env.content, bytes) else env.content.encode()
    assert re.search(rb"filename\*(0\*)?=utf-8''%E5%85%B3", raw)   # RFC 2231 (continued when long)
    assert "通报".encode() not in raw.split(b"\r\n\r\n", 1)[0]   # headers are ASCII (encoded words)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "关于县教育局2026年第47周政府网站和政务新媒体信息未按要求更新的通报"
    assert "县政务公开办" in str(parsed["From"]) and parsed["Cc"] == "leader.jyj@county.example.gov.cn"
    assert "Bcc" not in parsed
    plain = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "经监测，贵单位门户网站未达到更新要求" in plain and "<p>县教育局张丽同志：</p>" in html
    atts = list(parsed.iter_attachments())
    assert [a.get_filename() for a in atts] == [attachment.name]
    assert atts[0].get_content_type() == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert atts[0].get_content() == payload


def test_email_without_html_is_plain_text(smtp_server):
    recorder, port = smtp_server
    email_channel(port).send(message(html=None, cc_emails=[]))
    parsed = email.message_from_bytes(recorder.envelopes[0].content, policy=email.policy.default)
    assert parsed.get_content_type() == "text/plain"
    assert "未达到更新要求" in parsed.get_content()


@pytest.mark.parametrize("reply, retryable", [("550 5.1.1 用户不存在 mailbox unavailable", False),
                                               ("451 4.3.0 try again later", True)])
def test_email_refused_recipients_map_to_retryable(smtp_server, reply, retryable):
    recorder, port = smtp_server
    recorder.refuse = {"xxy.jyj@county.example.gov.cn": reply, "leader.jyj@county.example.gov.cn": reply}
    with pytest.raises(DeliveryError) as info:
        email_channel(port).send(message())
    assert info.value.retryable is retryable
    assert info.value.code == int(reply[:3])
    assert recorder.envelopes == []


def test_email_partial_refusal_delivers_to_the_rest_and_says_so(smtp_server):
    recorder, port = smtp_server
    recorder.refuse = {"leader.jyj@county.example.gov.cn": "550 no such user"}
    receipt = email_channel(port).send(message())
    assert recorder.envelopes[0].rcpt_tos == ["xxy.jyj@county.example.gov.cn"]
    assert "部分收件人被拒" in receipt and "leader.jyj@county.example.gov.cn (550)" in receipt


def test_email_bad_password_is_not_retryable_and_never_shows_the_password(smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    recorder, port = smtp_server
    wrong = "wrong-S3CRET-pass"
    channel = email_channel(port, password=wrong)
    with pytest.raises(DeliveryError) as info:
        channel.send(message())
    assert info.value.retryable is False and info.value.code == 535
    for text in (str(info.value), repr(info.value), repr(channel), caplog.text):
        assert wrong not in text and SMTP_PASSWORD not in text
    assert recorder.envelopes == []


def test_email_connection_refused_is_retryable():
    port = free_port()        # nothing listens there
    with pytest.raises(DeliveryError) as info:
        email_channel(port).send(message())
    assert info.value.retryable is True
    assert_no_secret(str(info.value))


def test_email_needs_recipients_and_readable_attachments(smtp_server, tmp_path):
    _, port = smtp_server
    with pytest.raises(DeliveryError) as info:
        email_channel(port).send(message(to_emails=[], cc_emails=[]))
    assert info.value.retryable is False
    with pytest.raises(DeliveryError) as info:
        email_channel(port).send(message(attachments=[tmp_path / "missing.xlsx"]))
    assert info.value.retryable is False and "missing.xlsx" in str(info.value)


# ----- WeCom ------------------------------------------------------------------------------------
@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


def wecom(hook: WebhookReceiver, **kw) -> WeComRobotChannel:
    opts = dict(timeout=2, min_interval=0, rate_wait=0)
    opts.update(kw)
    return WeComRobotChannel(hook.url_for("/cgi-bin/webhook/send", key=WECOM_KEY), **opts)


def test_wecom_sends_markdown_then_text_mention_by_mobile(hook):
    msg = message(mention_mobiles=[STAFF_MOBILE, "@all", "abc"])
    receipt = wecom(hook).send(msg)
    assert [r.query for r in hook.requests] == [{"key": WECOM_KEY}] * 2
    assert hook.requests[0].headers["Content-Type"].startswith("application/json")
    assert hook.bodies() == [
        {"msgtype": "markdown", "markdown": {"content": msg.markdown}},
        {"msgtype": "text", "text": {"content": f"请查收：{msg.subject}", "mentioned_mobile_list": [STAFF_MOBILE]}},
    ]
    assert receipt == "wecom: 已发送 1 段 markdown + 1 条@提醒"
    assert_no_secret(receipt)


def test_wecom_without_mentions_sends_only_markdown(hook):
    wecom(hook).send(message(mention_mobiles=[]))
    assert [b["msgtype"] for b in hook.bodies()] == ["markdown"]


def test_wecom_splits_long_markdown_under_4096_bytes_at_line_boundaries(hook):
    lines = [f"- 县第{i}单位（门户网站）：应更新 1 条，实际 0 条；最近更新：2026年11月5日《关于开展冬季安全生产检查的通知》"
             for i in range(120)]
    msg = message(markdown="\n".join(lines), mention_mobiles=[])
    wecom(hook).send(msg)
    contents = [b["markdown"]["content"] for b in hook.bodies()]
    assert len(contents) >= 3
    assert all(utf8_len(c) <= 4096 for c in contents)
    assert contents[1].startswith(f"（续2/{len(contents)}）\n")
    rebuilt = [line for c in contents for line in c.splitlines() if not line.startswith("（续")]
    assert rebuilt == lines


@pytest.mark.parametrize("answer, retryable, ambiguous", [
    ((200, {"errcode": 45009, "errmsg": "api freq out of limit"}), True, False),
    ((200, {"errcode": 93000, "errmsg": "invalid webhook url"}), False, False),
    ((500, "server error"), False, True),        # the robot may have posted before failing: a person decides
    ((429, "slow down"), True, False),
    ((404, "not found"), False, False),
    ((200, "<html>gateway</html>"), True, False),
])
def test_wecom_errors_map_to_retryable(hook, caplog, answer, retryable, ambiguous):
    caplog.set_level(logging.DEBUG)
    hook.script(answer)
    with pytest.raises(DeliveryError) as info:
        wecom(hook).send(message())
    assert info.value.retryable is retryable and info.value.ambiguous is ambiguous
    assert len(hook.requests) == 1
    assert_no_secret(str(info.value), repr(info.value), caplog.text)


def test_wecom_timeout_and_dropped_connection_after_sending_are_unconfirmed_and_masked(hook, caplog):
    """The request was written: the robot may have posted it. Never retried by itself (#19)."""
    caplog.set_level(logging.DEBUG)
    hook.script((200, {"errcode": 0}, 1.5), "close")
    for _ in range(2):
        with pytest.raises(DeliveryError) as info:
            wecom(hook, timeout=0.3).send(message(mention_mobiles=[]))
        assert info.value.ambiguous is True and info.value.retryable is False
        assert "未收到应答" in str(info.value)
        assert_no_secret(str(info.value), caplog.text)


def test_wecom_refused_connection_is_a_clean_retryable_failure(caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()                                   # nobody listens there
    channel = WeComRobotChannel(f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={WECOM_KEY}",
                                timeout=2, min_interval=0, rate_wait=0)
    with pytest.raises(DeliveryError) as info:
        channel.send(message(mention_mobiles=[]))
    assert info.value.retryable is True and info.value.ambiguous is False
    assert_no_secret(str(info.value), caplog.text)


def test_wecom_later_part_rate_limited_is_retried_once_then_not_resent(hook):
    long_md = "\n".join(f"第{i}行 " + "政务公开" * 40 for i in range(40))
    hook.script(OK := (200, {"errcode": 0, "errmsg": "ok"}), (200, {"errcode": 45009, "errmsg": "freq"}))
    wecom(hook).send(message(markdown=long_md, mention_mobiles=[]))
    parts = len(numbered_parts(long_md, 4096, utf8_len))
    assert len(hook.requests) == parts + 1          # the limited part was posted again
    assert hook.bodies()[1] == hook.bodies()[2]

    hook.requests.clear()
    hook.script(OK, (200, {"errcode": 45009, "errmsg": "freq"}), (200, {"errcode": 45009, "errmsg": "freq"}))
    with pytest.raises(DeliveryError) as info:
        wecom(hook).send(message(markdown=long_md, mention_mobiles=[]))
    assert info.value.retryable is False            # part 1 already delivered: never resend blindly
    assert f"已发送 1/{parts} 段" in str(info.value)


def test_wecom_repr_and_masking():
    channel = WeComRobotChannel(f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}")
    assert "key=***" in repr(channel)
    assert_no_secret(repr(channel), mask_url(f"http://x/send?key={WECOM_KEY}&debug=1"))


# ----- DingTalk ---------------------------------------------------------------------------------
NOW = 1763600000.123


def dingtalk(hook: WebhookReceiver, **kw) -> DingTalkRobotChannel:
    opts = dict(timeout=2, min_interval=0, rate_wait=0, clock=lambda: NOW)
    opts.update(kw)
    return DingTalkRobotChannel(hook.url_for("/robot/send", access_token=DT_TOKEN), DT_SECRET, **opts)


def test_dingtalk_signs_request_and_mentions_by_mobile(hook):
    msg = message()
    receipt = dingtalk(hook).send(msg)
    req = hook.requests[0]
    assert req.query["access_token"] == DT_TOKEN
    assert req.query["timestamp"] == "1763600000123"
    expected = base64.b64encode(hmac.new(DT_SECRET.encode(), f"1763600000123\n{DT_SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert req.query["sign"] == expected            # parse_qsl undid the URL encoding
    assert "%2B" in req.raw_query or "+" not in expected   # base64 '+' must arrive URL-encoded
    assert req.json == {"msgtype": "markdown",
                        "markdown": {"title": msg.subject, "text": f"{msg.markdown}\n\n@{STAFF_MOBILE}"},
                        "at": {"atMobiles": [STAFF_MOBILE], "isAtAll": False}}
    assert receipt == "dingtalk: 已发送 1 段 markdown (含@提醒)"


def test_dingtalk_without_secret_sends_unsigned(hook):
    DingTalkRobotChannel(hook.url_for("/robot/send", access_token=DT_TOKEN), None, min_interval=0).send(message())
    assert set(hook.requests[0].query) == {"access_token"}


@pytest.mark.parametrize("code, retryable", [(310000, False), (300001, False), (130101, True), (-1, True)])
def test_dingtalk_errcodes(hook, caplog, code, retryable):
    caplog.set_level(logging.DEBUG)
    hook.script((200, {"errcode": code, "errmsg": "sign not match" if code == 310000 else "x"}))
    channel = dingtalk(hook)
    with pytest.raises(DeliveryError) as info:
        channel.send(message())
    assert info.value.retryable is retryable and info.value.code == code
    assert_no_secret(str(info.value), repr(info.value), repr(channel), caplog.text)


def test_dingtalk_splits_long_text_and_mentions_only_once(hook):
    lines = [f"- 县第{i}单位：门户网站 0 条" for i in range(100)]
    dingtalk(hook, text_limit=500).send(message(markdown="\n".join(lines)))
    bodies = hook.bodies()
    assert len(bodies) > 2
    assert all(len(b["markdown"]["text"]) <= 500 for b in bodies)
    assert [b["at"]["atMobiles"] for b in bodies] == [[STAFF_MOBILE]] + [[]] * (len(bodies) - 1)
    assert bodies[1]["markdown"]["title"].endswith(f"（续2/{len(bodies)}）")
    rebuilt = [ln for b in bodies for ln in b["markdown"]["text"].splitlines() if ln.startswith("- 县第")]
    assert rebuilt == lines


def test_dingtalk_keyword_is_added_when_missing(hook):
    dingtalk(hook, keyword="政务公开监测").send(message(mention_mobiles=[]))
    assert hook.bodies()[0]["markdown"]["text"].endswith("【政务公开监测】")


# ----- outbox -----------------------------------------------------------------------------------
def test_outbox_writes_every_form_and_overwrites_on_resend(tmp_path):
    outbox = OutboxChannel(tmp_path / "outbox")
    msg = message(attachments=[Path("/var/reports/pubwatch-2026-W47.docx")])
    receipt = outbox.send(msg)
    base = tmp_path / "outbox" / "2026-W47" / "jyj-overdue"
    assert receipt == f"outbox: {base}.*"
    assert base.with_suffix(".txt").read_text(encoding="utf-8") == f"{msg.subject}\n\n{msg.text}"
    assert base.with_suffix(".html").read_text(encoding="utf-8") == msg.html
    assert base.with_suffix(".md").read_text(encoding="utf-8") == msg.markdown
    record = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["to"] == msg.to_emails and record["meta"]["kind"] == "overdue"
    assert record["attachments"] == ["/var/reports/pubwatch-2026-W47.docx"]
    outbox.send(msg)
    assert sorted(p.name for p in base.parent.iterdir()) == ["jyj-overdue.html", "jyj-overdue.json",
                                                             "jyj-overdue.md", "jyj-overdue.txt"]


def test_outbox_file_names_cannot_escape_the_folder(tmp_path):
    outbox = OutboxChannel(tmp_path / "outbox")
    outbox.send(message(meta={"unit_id": "../../etc/passwd", "period": "../x", "kind": "a/b"}))
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all((tmp_path / "outbox") in p.parents for p in written)


# ----- configuration ----------------------------------------------------------------------------
def test_channel_from_config_builds_each_kind(hook, smtp_server, tmp_path):
    recorder, port = smtp_server
    mail = channel_from_config("email", {"host": "127.0.0.1", "port": port, "login": "gongkai@county.example.gov.cn",
                                         "password": SMTP_PASSWORD, "extra": {"security": "none"}})
    mail.send(message())
    assert recorder.logins == ["gongkai@county.example.gov.cn"]

    wc = channel_from_config("wecom", {"host": hook.url + "/cgi-bin/webhook/send", "password": WECOM_KEY,
                                       "extra": {"min_interval": 0}})
    wc.send(message(mention_mobiles=[]))
    assert hook.requests[-1].query == {"key": WECOM_KEY} and hook.requests[-1].path == "/cgi-bin/webhook/send"

    dt = channel_from_config("dingtalk", {"host": "127.0.0.1", "port": hook.port, "schema": "http",
                                          "password": DT_TOKEN, "extra": json.dumps({"secret": DT_SECRET,
                                                                                     "min_interval": 0})})
    dt.send(message(mention_mobiles=[]))
    assert hook.requests[-1].path == "/robot/send" and {"access_token", "timestamp", "sign"} <= set(hook.requests[-1].query)

    box = channel_from_config("outbox", {"extra": {"path": str(tmp_path)}})
    assert isinstance(box, OutboxChannel)
    for channel in (mail, wc, dt, box):
        assert_no_secret(repr(channel))
    with pytest.raises(ValueError):
        channel_from_config("fax", {})
    with pytest.raises(ValueError) as info:
        channel_from_config("wecom", {"host": "qyapi.weixin.qq.com"})     # no key anywhere
    assert "key" in str(info.value)


def test_airflow_smtp_style_extras_pick_security():
    ssl_channel = channel_from_config("email", {"host": "smtp.example.gov.cn", "port": 465, "login": "a@b.cn",
                                                "password": SMTP_PASSWORD, "extra": {"disable_ssl": False}})
    tls_channel = channel_from_config("email", {"host": "smtp.example.gov.cn", "port": 587, "login": "a@b.cn",
                                                "extra": {"disable_ssl": True, "from_email": "gk@b.cn"}})
    assert ssl_channel.security == "ssl" and tls_channel.security == "starttls"
    assert tls_channel.from_addr == "gk@b.cn"


# ----- splitting helpers ------------------------------------------------------------------------
def test_split_lines_respects_limits_and_cuts_only_overlong_lines():
    text = "短行\n" + "长" * 50 + "\n尾"
    parts = split_lines(text, 30, utf8_len)
    assert all(utf8_len(p) <= 30 for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == text.replace("\n", "")
    assert split_lines("", 10) == [] and split_lines("\n\n", 10) == []


# ----- end to end through the lead's dispatcher and ledger -------------------------------------
def test_dispatch_renders_and_delivers_each_notice_once_per_channel(store, smtp_server, hook, tmp_path):
    from datetime import date as _date

    from pubwatch.notices.dispatch import deliver, plan_unit_notices
    from pubwatch.notices.ledger import Ledger
    from pubwatch.notices.render import render
    from pubwatch.registry import parse_registry
    from pubwatch.types import Status, Verdict

    recorder, port = smtp_server
    registry = parse_registry({"units": [{
        "id": "jyj", "name": "县教育局", "category": "department",
        "contacts": {"leader": {"name": "王建国", "email": "leader.jyj@county.example.gov.cn", "mobile": "13900000010"},
                     "staff": {"name": "张丽", "email": "xxy.jyj@county.example.gov.cn", "mobile": STAFF_MOBILE}},
        "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": "http://127.0.0.1/gzdt/"}]}}]})
    closed = [Verdict("jyj", "portal", "2026-W46", "weekly", Status.MISSED, 0, 1,
                      evidence={"posts": [], "last_post": {"title": "[x](http://evil) @all", "url": "http://e/1",
                                                           "date": "2026-11-02"}})]
    planned = plan_unit_notices(registry, closed_period="2026-W46", closed=closed, current_period="2026-W47",
                                current=[], reminder_due=True, streaks={("jyj", "portal"): 3}, escalate_after=2,
                                base_ctx={"office": {"name": "某某县人民政府办公室", "short": "县政务公开办"},
                                          "period_label": "2026年第46周(11月9日-11月15日)",
                                          "deadline": _date(2026, 11, 15)})
    assert [p.kind for p in planned] == ["overdue", "escalation"]

    def make_message(rendered, notice):
        return Message(subject=rendered.subject, text=rendered.text, html=rendered.html, markdown=rendered.markdown,
                       to_emails=[c.email for c in notice.to if c.email],
                       cc_emails=[c.email for c in notice.cc if c.email],
                       mention_mobiles=[c.mobile for c in notice.to if c.mobile],
                       meta={"unit_id": notice.unit_id, "period": notice.period, "kind": notice.kind})

    channels = {"outbox": OutboxChannel(tmp_path / "outbox"), "email": email_channel(port), "wecom": wecom(hook)}
    hook.script((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))      # first WeCom post fails for good
    first = deliver(Ledger(store), planned, channels, render=render, make_message=make_message, run_id="r1")
    assert len(first.sent) == 3 and len(first.failed) == 1 and "wecom" in first.failed[0]
    assert len(first.previewed) == 2 and all(p.endswith("/outbox") for p in first.previewed)   # never "sent"
    assert_no_secret(*first.failed)
    subjects = sorted(email.message_from_bytes(e.content, policy=email.policy.default)["Subject"]
                      for e in recorder.envelopes)
    assert subjects == ["关于县教育局2026年第46周(11月9日-11月15日)政府网站和政务新媒体信息未按要求更新的通报",
                        "关于县教育局连续3周未按要求更新政府网站和政务新媒体信息的督办提醒"]
    assert (tmp_path / "outbox" / "2026-W46" / "jyj-escalation.md").is_file()
    wecom_md = [b["markdown"]["content"] for b in hook.bodies() if b["msgtype"] == "markdown"]
    assert wecom_md and all("@all" not in c and "](http://evil)" not in c for c in wecom_md)

    second = deliver(Ledger(store), planned, channels, render=render, make_message=make_message, run_id="r2")
    assert second.sent == [] and len(second.already) == 5     # nothing is sent twice
    assert len(recorder.envelopes) == 2
    dead = [n for n in Ledger(store).rows(period="2026-W46") if n.channel == "wecom" and n.status == "dead"]
    assert len(dead) == 1 and WECOM_KEY not in dead[0].last_error


# ----- TLS: implicit SSL (465) and STARTTLS (587) against a self-signed certificate -------------
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A throwaway certificate for 127.0.0.1 (cryptography ships with Airflow)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_email_over_tls(self_signed, mode):
    recorder = Recorder()
    kwargs = {"ssl_context": self_signed} if mode == "ssl" else {"tls_context": self_signed, "require_starttls": True}
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        # an untrusted certificate is a configuration problem: not retryable
        with pytest.raises(DeliveryError) as info:
            email_channel(controller.port, security=mode, login=None, password=None,
                          from_addr="gongkai@county.example.gov.cn").send(message())
        assert info.value.retryable is False and "证书" in str(info.value)
        email_channel(controller.port, security=mode, login=None, password=None, verify_tls=False,
                      from_addr="gongkai@county.example.gov.cn").send(message())
        assert len(recorder.envelopes) == 1
    finally:
        controller.stop()


# ----- the channel kind seam --------------------------------------------------------------------
def test_a_new_channel_kind_is_one_class(tmp_path):
    """A kind declared once is known to the factory, the board's labels and the dispatcher's reach."""
    from pubwatch.notices.channels import channel_label as _channel_label
    from pubwatch.notices.channels import Channel, ChannelOptions, channel_kinds

    class SmsOptions(ChannelOptions):
        gateway: str

    class SmsChannel(Channel, kind="sms_test"):
        label = "短信"
        default_conn_id = "pubwatch_sms"
        Options = SmsOptions

        def __init__(self, gateway):
            self.gateway = gateway

        @classmethod
        def from_options(cls, options):
            return cls(options.gateway)

        @classmethod
        def reaches(cls, emails, mobiles):
            return any(mobiles)

    try:
        assert channel_kinds()["sms_test"] is SmsChannel and _channel_label("sms_test") == "短信"
        built = channel_from_config("sms_test", {"host": "ignored", "extra": {"gateway": "https://sms.example"}})
        assert built.gateway == "https://sms.example"
        assert SmsChannel.reaches([], ["13800000000"]) and not SmsChannel.reaches(["a@b.cn"], [])
        with pytest.raises(TypeError):
            type("Again", (Channel,), {}, kind="sms_test")
    finally:
        Channel._kinds.pop("sms_test", None)
    assert set(channel_kinds()) >= {"email", "wecom", "dingtalk", "outbox"}
    assert EmailChannel.reaches([], ["13800000000"]) is False and WeComRobotChannel.reaches([], []) is True


def test_bad_channel_settings_name_the_field_never_the_value():
    with pytest.raises(ValueError) as info:
        channel_from_config("email", {"host": "smtp.example.gov.cn", "password": SMTP_PASSWORD,
                                      "extra": {"timeout": "soon", "security": "tls-please"}})
    text = str(info.value)
    assert "timeout" in text and "security" in text and "email" in text
    assert "soon" not in text and SMTP_PASSWORD not in text
    with pytest.raises(ValueError) as info:
        channel_from_config("dingtalk", {"password": DT_TOKEN, "extra": {"secret": DT_SECRET, "min_interval": -1}})
    assert "min_interval" in str(info.value) and DT_SECRET not in str(info.value)
    with pytest.raises(ValueError) as info:
        channel_from_config("wecom", {"password": WECOM_KEY, "extra": "{not json"})
    assert "extra" in str(info.value) and WECOM_KEY not in str(info.value)
