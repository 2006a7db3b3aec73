"""The Friday routine end to end: crawl the demo portal, evaluate, then send through real SMTP (aiosmtpd)
and real WeCom/DingTalk robot receivers — once. A second run, and a backfill-style run, send nothing more."""
import email
import socket
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller

from pubwatch import jobs
from pubwatch.notices.ledger import Ledger
from tests.conftest import TEST_AS_OF
from tests.webhookrecv import WebhookReceiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((list(envelope.rcpt_tos), str(make_header(decode_header(msg["Subject"]))), msg))
        return "250 OK"


@pytest.fixture
def servers():
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    with WebhookReceiver() as wecom, WebhookReceiver() as ding:
        yield inbox, smtp, wecom, ding
    smtp.stop()


@pytest.fixture
def crawled(demo_runtime):
    return demo_runtime


def configs(smtp, wecom, ding):
    return {"email": {"host": "127.0.0.1", "port": smtp.port,
                      "extra": {"security": "none", "from_addr": "gongkai@county.example.gov.cn"}},
            "wecom": {"extra": {"webhook_url": wecom.url_for("/send", key="wecom-test-key"), "min_interval": 0}},
            "dingtalk": {"extra": {"webhook_url": ding.url_for("/robot/send", access_token="ding-test-token"),
                                   "secret": "SECtest-ding-secret", "min_interval": 0}}}


def test_friday_notices_reach_people_once(crawled, servers):
    inbox, smtp, wecom, ding = servers
    result = jobs.notify_week(crawled, TEST_AS_OF, send=True, channel_configs=configs(smtp, wecom, ding), run_id="r1")
    assert not result["failed"], result["failed"]
    subjects = {s for _, s, _ in inbox.messages}
    rcpts = {r for rs, _, _ in inbox.messages for r in rs}
    # overdue 通报 to the 信息员 of every unit that missed W46, the 分管领导 copied
    for unit in ("wjw", "mzj", "czj", "smx"):
        assert f"xxy.{unit}@county.example.gov.cn" in rcpts
    assert "leader.czj@county.example.gov.cn" in rcpts                  # escalation: 3 weeks in a row
    assert any("通报" in s and "县财政局" in s for s in subjects)
    assert any("提醒" in s and "县农业农村局" in s for s in subjects)    # at risk on Friday
    # could-not-verify units are never accused
    for unit in ("gaj", "sjj", "tyjrj"):
        assert not any(f"xxy.{unit}@" in r for rs, _, _ in inbox.messages for r in rs), unit
    summary = [m for rs, s, m in inbox.messages if "gongkai@county.example.gov.cn" in rs]
    assert len(summary) == 1
    names = [str(make_header(decode_header(p.get_filename()))) for p in summary[0].walk() if p.get_filename()]
    assert any(n.endswith(".docx") for n in names) and any(n.endswith(".xlsx") for n in names)
    assert wecom.requests and ding.requests
    assert all("timestamp" in r.query and "sign" in r.query for r in ding.requests)
    sent_before = (len(inbox.messages), len(wecom.requests), len(ding.requests))

    again = jobs.notify_week(crawled, TEST_AS_OF, send=True, channel_configs=configs(smtp, wecom, ding), run_id="r2")
    assert again["sent"] == [] and again["already"]
    backfill = jobs.notify_week(crawled, TEST_AS_OF, send=False, run_id="backfill__x")
    assert backfill["sent"] == []
    assert (len(inbox.messages), len(wecom.requests), len(ding.requests)) == sent_before
    rows = Ledger(crawled.store).rows(period="2026-W46")
    assert len({(r.unit_id, r.kind, r.channel) for r in rows}) == len(rows)


def test_a_failed_robot_is_retried_by_the_next_run(crawled, servers):
    inbox, smtp, wecom, ding = servers
    wecom.default = (200, {"errcode": -1, "errmsg": "system busy"})
    first = jobs.notify_week(crawled, TEST_AS_OF, send=True, channel_configs=configs(smtp, wecom, ding), run_id="r1")
    assert any("/wecom" in f for f in first["failed"])
    emails = len(inbox.messages)
    wecom.default = (200, {"errcode": 0, "errmsg": "ok"})
    second = jobs.notify_week(crawled, TEST_AS_OF, send=True, channel_configs=configs(smtp, wecom, ding), run_id="r2")
    assert second["sent"] and all(label.endswith("/wecom") for label in second["sent"])
    assert len(inbox.messages) == emails                  # nothing sent twice by email


def test_a_backfill_without_send_stores_previews_never_sent(crawled):
    """Outbox-only notices are previews everywhere: in the run's report and in the ledger (#16.5)."""
    from pubwatch.notices.ledger import PREVIEW, STATUS_LABELS

    result = jobs.notify_week(crawled, TEST_AS_OF, send=False, run_id="backfill__preview")
    assert result["sent"] == [] and result["previewed"]
    rows = Ledger(crawled.store).rows(period="2026-W46")
    assert rows and {r.status for r in rows} == {PREVIEW} and all(r.sent_at is None for r in rows)
    assert STATUS_LABELS[PREVIEW] == "仅预览(未发送)"


def test_the_summary_lists_the_notices_this_run_left_unconfirmed(crawled, servers):
    """A robot answers 502 (the message may have been posted): the supervisors' summary of the same
    run must already ask a person to confirm or resend those notices."""
    inbox, smtp, wecom, ding = servers
    wecom.default = (502, {"errcode": -1, "errmsg": "bad gateway"})
    result = jobs.notify_week(crawled, TEST_AS_OF, send=True, channel_configs=configs(smtp, wecom, ding), run_id="r1")
    unit_unconfirmed = [u for u in result["unconfirmed"] if not u.startswith("_office/")]
    assert unit_unconfirmed
    [summary] = [m for _, subject, m in inbox.messages if "汇总" in subject or "监测" in subject][-1:]
    body = "".join(p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
                   for p in summary.walk() if p.get_content_type() == "text/plain")
    assert "发送结果不明的通知" in body
    ids = {n.id for n in Ledger(crawled.store).unconfirmed() if n.unit_id != "_office"}
    assert ids and all(f"编号{i}" in body for i in ids)
