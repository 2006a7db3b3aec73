"""The notice ledger: every notice is sent at most once per (unit, period, kind, delivery channel).

The database's unique constraint is the guard, not a Python check: two runs racing to create the
same notice both INSERT … ON CONFLICT DO NOTHING and only one row exists. Sending is a claimed
state transition (pending|failed → sending, by a conditional UPDATE whose rowcount tells who won),
recorded *before* the call and turned into sent/failed *after* it (the rsspush#10 lesson). A crash
between the two leaves the row in `sending`: it is shown to the admin as "unconfirmed", never
blindly resent. So is a send whose outcome the wire left open (`ambiguous`: the SMTP connection
dropped after DATA, a robot answered late or with a 5xx): a person confirms it (→ sent) or asks for
it to be resent (→ failed, retried by the next run) with `pubwatch notices confirm|resend ID`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from ..store import Notice, Store, utcnow

PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"
AMBIGUOUS = "ambiguous"          # may have been delivered: a person decides (confirm / resend)
PREVIEW = "preview"              # written to the outbox only: nothing left the machine
STATUS_LABELS = {PENDING: "待发送", SENDING: "发送中(未确认)", SENT: "已发送", FAILED: "发送失败(将重试)",
                 DEAD: "发送失败(不再重试)", AMBIGUOUS: "结果不明(待人工确认)", PREVIEW: "仅预览(未发送)"}
KIND_LABELS = {"reminder": "周五提醒", "overdue": "未达标通报", "escalation": "报分管领导", "summary": "监测汇总",
               "warn": "预警提醒"}
STUCK_AFTER = timedelta(minutes=30)  # a row `sending` this long was interrupted by a crash
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NoticeKey:
    unit_id: str        # "_office" for the supervisors' summary
    period: str
    kind: str           # reminder | overdue | escalation | summary | warning:<rule>
    channel: str        # email | wecom | dingtalk | outbox


class Ledger:
    """The notice state machine over the store's notice queries (`store.notices`)."""

    def __init__(self, store: Store):
        self.store = store

    def ensure(self, key: NoticeKey, *, recipients: str, subject: str, run_id: str | None) -> Notice:
        """Create the ledger row if it does not exist; return the row (new or existing)."""
        now = utcnow()
        return self.store.notices.ensure(dict(
            unit_id=key.unit_id, period=key.period, kind=key.kind, channel=key.channel, status=PENDING,
            recipients=recipients, subject=subject[:1000], attempts=0, last_error="", receipt="", run_id=run_id,
            created_at=now, updated_at=now, sent_at=None))

    def claim(self, notice_id: int) -> bool:
        """pending|failed → sending. True only for the one caller that wins the row."""
        return self.store.notices.claim(notice_id, from_statuses=(PENDING, FAILED), to_status=SENDING,
                                        max_attempts=MAX_ATTEMPTS, now=utcnow())

    def mark_sent(self, notice_id: int, receipt: str, *, preview: bool = False) -> None:
        """Delivered — or, for the outbox (`preview`), written for a person to read: never called sent."""
        now = utcnow()
        self.store.notices.set(notice_id, status=PREVIEW if preview else SENT, receipt=receipt[:1000], last_error="",
                               sent_at=None if preview else now, updated_at=now)

    def mark_failed(self, notice_id: int, error: str, *, retryable: bool, ambiguous: bool = False) -> None:
        """A failed send: retried later (`retryable`), never again (dead), or — when the message
        may have reached its recipients (`ambiguous`) — left for a person to confirm or resend."""
        values = dict(last_error=error[:2000], updated_at=utcnow())
        if ambiguous:
            self.store.notices.set(notice_id, status=AMBIGUOUS, **values)
        elif retryable:
            self.store.notices.set_failed(notice_id, status=FAILED, exhausted_status=DEAD, max_attempts=MAX_ATTEMPTS,
                                          **values)
        else:
            self.store.notices.set(notice_id, status=DEAD, **values)

    def confirm(self, notice_id: int, note: str = "") -> Notice:
        """A person checked that an unconfirmed notice arrived: it counts as sent."""
        return self._decide(notice_id, SENT, f"人工确认已送达{('：' + note) if note else ''}")

    def resend(self, notice_id: int, note: str = "") -> Notice:
        """A person checked that an unconfirmed (or dead) notice did not arrive: the next run sends it."""
        return self._decide(notice_id, FAILED, f"人工要求重发{('：' + note) if note else ''}")

    def _decide(self, notice_id: int, status: str, why: str) -> Notice:
        now = utcnow()
        row = self.store.notices.get(notice_id)
        if row is None:
            raise KeyError(f"没有编号为 {notice_id} 的通知")
        stuck = row.status == SENDING and _aware(row.updated_at) < now - STUCK_AFTER
        allowed = {AMBIGUOUS, DEAD} if status == FAILED else {AMBIGUOUS}
        if row.status not in allowed and not stuck:
            raise ValueError(f"通知 {notice_id} 的状态是「{STATUS_LABELS.get(row.status, row.status)}」, "
                             f"无需人工处理")
        values: dict = dict(status=status, updated_at=now)
        if status == SENT:
            values.update(sent_at=now, receipt=(f"{why}; {row.receipt}" if row.receipt else why)[:1000])
        else:
            values.update(attempts=0, last_error=(f"{why}; {row.last_error}" if row.last_error else why)[:2000])
        decided = self.store.notices.set_if_unchanged(notice_id, row, **values)
        if decided is None:
            raise ValueError(f"通知 {notice_id} 的状态刚被其他操作改变, 请查看后重试")
        return decided

    def retryable(self, periods: Sequence[str] | None = None) -> list[Notice]:
        """Failed sends that the next run retries (a failed send is retried later)."""
        return self.store.notices.with_status((PENDING, FAILED), max_attempts=MAX_ATTEMPTS, periods=periods)

    def unconfirmed(self, older_than: timedelta = STUCK_AFTER, periods: Sequence[str] | None = None) -> list[Notice]:
        """Notices that may or may not have arrived — ambiguous sends, and rows left in `sending` by a
        crash: listed for the supervisors, never resent by themselves."""
        return self.store.notices.unconfirmed(status=AMBIGUOUS, or_status=SENDING,
                                              updated_before=utcnow() - older_than, periods=periods)

    def rows(self, *, period: str | None = None, unit_id: str | None = None) -> list[Notice]:
        return self.store.notices.rows(period=period, unit_id=unit_id)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def kind_label(kind: str) -> str:
    """A notice kind in Chinese ("warn:<rule>" → 预警提醒)."""
    return KIND_LABELS.get(kind.split(":")[0], kind)
