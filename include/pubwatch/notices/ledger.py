"""The notice ledger: every notice is sent at most once per (unit, period, kind, delivery channel).

The database's unique constraint is the guard, not a Python check: two runs racing to create the
same notice both INSERT … ON CONFLICT DO NOTHING and only one row exists. Sending is a claimed
state transition (pending|failed → sending, by a conditional UPDATE whose rowcount tells who won),
recorded *before* the call and turned into sent/failed *after* it (the rsspush#10 lesson). A crash
between the two leaves the row in `sending`: it is shown to the admin as "unconfirmed", never
blindly resent.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Sequence

from sqlalchemy import select, update

from ..models import Notice
from ..store import Store, _insert_ignore, utcnow

PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"
STATUS_LABELS = {PENDING: "待发送", SENDING: "发送中(未确认)", SENT: "已发送", FAILED: "发送失败(将重试)",
                 DEAD: "发送失败(不再重试)"}
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NoticeKey:
    unit_id: str        # "_office" for the supervisors' summary
    period: str
    kind: str           # reminder | overdue | escalation | summary | warning:<rule>
    channel: str        # email | wecom | dingtalk | outbox


class Ledger:
    def __init__(self, store: Store):
        self.store = store

    def ensure(self, key: NoticeKey, *, recipients: str, subject: str, run_id: str | None) -> Notice:
        """Create the ledger row if it does not exist; return the row (new or existing)."""
        now = utcnow()
        row = dict(unit_id=key.unit_id, period=key.period, kind=key.kind, channel=key.channel,
                   status=PENDING, recipients=recipients, subject=subject[:1000], attempts=0,
                   last_error="", receipt="", run_id=run_id, created_at=now, updated_at=now, sent_at=None)
        with self.store.Session.begin() as s:
            s.execute(_insert_ignore(self.store.dialect, Notice.__table__), [row])
            return s.scalars(select(Notice).where(Notice.unit_id == key.unit_id, Notice.period == key.period,
                                                  Notice.kind == key.kind, Notice.channel == key.channel)).one()

    def claim(self, notice_id: int) -> bool:
        """pending|failed → sending. True only for the one caller that wins the row."""
        with self.store.Session.begin() as s:
            res = s.execute(update(Notice)
                            .where(Notice.id == notice_id, Notice.status.in_([PENDING, FAILED]),
                                   Notice.attempts < MAX_ATTEMPTS)
                            .values(status=SENDING, attempts=Notice.attempts + 1, updated_at=utcnow()))
            return res.rowcount == 1

    def mark_sent(self, notice_id: int, receipt: str) -> None:
        now = utcnow()
        with self.store.Session.begin() as s:
            s.execute(update(Notice).where(Notice.id == notice_id)
                      .values(status=SENT, receipt=receipt[:1000], last_error="", sent_at=now, updated_at=now))

    def mark_failed(self, notice_id: int, error: str, *, retryable: bool) -> None:
        with self.store.Session.begin() as s:
            row = s.get(Notice, notice_id)
            row.last_error = error[:2000]
            row.updated_at = utcnow()
            row.status = FAILED if retryable and row.attempts < MAX_ATTEMPTS else DEAD

    def retryable(self, periods: Sequence[str] | None = None) -> list[Notice]:
        """Failed sends that the next run retries (a failed send is retried later)."""
        with self.store.Session() as s:
            q = select(Notice).where(Notice.status.in_([PENDING, FAILED]), Notice.attempts < MAX_ATTEMPTS)
            if periods:
                q = q.where(Notice.period.in_(list(periods)))
            return list(s.scalars(q.order_by(Notice.id)))

    def unconfirmed(self, older_than: timedelta = timedelta(minutes=30)) -> list[Notice]:
        """Rows left in `sending` by a crash: surfaced to the admin, not resent."""
        cutoff = utcnow() - older_than
        with self.store.Session() as s:
            return list(s.scalars(select(Notice).where(Notice.status == SENDING, Notice.updated_at < cutoff)))

    def rows(self, *, period: str | None = None, unit_id: str | None = None) -> list[Notice]:
        with self.store.Session() as s:
            q = select(Notice)
            if period:
                q = q.where(Notice.period == period)
            if unit_id:
                q = q.where(Notice.unit_id == unit_id)
            return list(s.scalars(q.order_by(Notice.period.desc(), Notice.unit_id, Notice.kind, Notice.channel)))

