"""The notice ledger's queries (`store.notices`): the row per (unit, period, kind, delivery channel)
created at most once, the claimed state transitions, and the lists the supervisors see.

The ledger (notices/ledger.py) owns the state machine — which statuses exist, which may be claimed,
how many attempts a notice gets; it passes them here as plain values. Every row returned is
detached (readable after its session closed)."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import and_, case, or_, select, update

from .base import insert_ignore
from .models import Notice

if TYPE_CHECKING:
    from . import Store


class NoticeQueries:
    def __init__(self, store: Store):
        self.store = store

    def ensure(self, row: dict[str, Any]) -> Notice:
        """INSERT the row unless its (unit_id, period, kind, channel) exists — the unique constraint
        decides, so two racing runs still make one row — and return the stored row."""
        with self.store.Session.begin() as s:
            s.execute(insert_ignore(self.store.dialect, Notice.__table__), [row])
            return s.scalars(select(Notice).where(Notice.unit_id == row["unit_id"], Notice.period == row["period"],
                                                  Notice.kind == row["kind"], Notice.channel == row["channel"])).one()

    def get(self, notice_id: int) -> Notice | None:
        with self.store.Session() as s:
            return s.get(Notice, notice_id)

    def claim(self, notice_id: int, *, from_statuses: Collection[str], to_status: str, max_attempts: int,
              now: datetime) -> bool:
        """from_statuses → to_status with attempts + 1, if attempts < max_attempts: a conditional
        UPDATE whose rowcount tells the one caller that won the row."""
        with self.store.Session.begin() as s:
            res = s.execute(update(Notice)
                            .where(Notice.id == notice_id, Notice.status.in_(list(from_statuses)),
                                   Notice.attempts < max_attempts)
                            .values(status=to_status, attempts=Notice.attempts + 1, updated_at=now))
            return res.rowcount == 1

    def set(self, notice_id: int, **values: Any) -> None:
        """Set columns of one notice (status, receipt, last_error, sent_at, updated_at …)."""
        with self.store.Session.begin() as s:
            s.execute(update(Notice).where(Notice.id == notice_id).values(**values))

    def set_failed(self, notice_id: int, *, status: str, exhausted_status: str, max_attempts: int,
                   **values: Any) -> None:
        """A failed send: `status`, or `exhausted_status` once the notice has had max_attempts
        attempts — decided by the row's own attempts in the same statement."""
        with self.store.Session.begin() as s:
            s.execute(update(Notice).where(Notice.id == notice_id).values(
                status=case((Notice.attempts < max_attempts, status), else_=exhausted_status), **values))

    def set_if_unchanged(self, notice_id: int, seen: Notice, **values: Any) -> Notice | None:
        """Set columns of a notice a person decided on, if it is still as `seen` (same status, same
        updated_at); returns the updated row, or None when another run changed it meanwhile."""
        with self.store.Session.begin() as s:
            res = s.execute(update(Notice).where(Notice.id == notice_id, Notice.status == seen.status,
                                                 Notice.updated_at == seen.updated_at).values(**values))
            if res.rowcount != 1:
                return None
            return s.get(Notice, notice_id, populate_existing=True)

    def with_status(self, statuses: Collection[str], *, max_attempts: int | None = None,
                    periods: Sequence[str] | None = None) -> list[Notice]:
        """Notices in one of `statuses` (with fewer than max_attempts attempts), oldest first."""
        with self.store.Session() as s:
            q = select(Notice).where(Notice.status.in_(list(statuses)))
            if max_attempts is not None:
                q = q.where(Notice.attempts < max_attempts)
            if periods:
                q = q.where(Notice.period.in_(list(periods)))
            return list(s.scalars(q.order_by(Notice.id)))

    def unconfirmed(self, *, status: str, or_status: str, updated_before: datetime,
                    periods: Sequence[str] | None = None) -> list[Notice]:
        """Notices in `status`, or in `or_status` not updated since `updated_before`, by period,
        unit, kind, channel."""
        with self.store.Session() as s:
            q = select(Notice).where(or_(Notice.status == status,
                                         and_(Notice.status == or_status, Notice.updated_at < updated_before)))
            if periods:
                q = q.where(Notice.period.in_(list(periods)))
            return list(s.scalars(q.order_by(Notice.period, Notice.unit_id, Notice.kind, Notice.channel)))

    def rows(self, *, period: str | None = None, unit_id: str | None = None) -> list[Notice]:
        """Notices of a period and/or a unit, newest period first."""
        with self.store.Session() as s:
            q = select(Notice)
            if period:
                q = q.where(Notice.period == period)
            if unit_id:
                q = q.where(Notice.unit_id == unit_id)
            return list(s.scalars(q.order_by(Notice.period.desc(), Notice.unit_id, Notice.kind, Notice.channel)))
