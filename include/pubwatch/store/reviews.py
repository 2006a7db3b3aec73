"""人工复核 — the reviews' queries (`store.reviews`) and how a review is laid over a stored verdict.

A review row is written once and never changed nor deleted; the newest review (highest id) of a
verdict key (unit, channel, period, rule) is the one in force, the older ones are its trail. The
evaluations table keeps what the rules computed — a re-evaluation rewrites it freely — and the reads
of stored verdicts (`Store.verdicts`, `Store.status_history`, `store.board`) lay the reviews in
force over it (`reviewed`), so the board, the circular, scores, rankings, streaks and notices all
see one status. Whether a review is acceptable (known unit, period, verdict; a reason; an http(s)
URL) is decided by pubwatch/reviews.py before `add`."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..types import Status, Verdict
from .base import chunks
from .models import ReviewRow

if TYPE_CHECKING:
    from . import Store

Key = tuple[str, str, str, str]          # (unit_id, channel, period, rule)
REASON_PREFIX = "人工复核: "


@dataclass(frozen=True)
class Review:
    """One review as stored. `previous_status`: the status in force when it was recorded (what it
    corrected); None when no verdict was stored then."""

    id: int
    unit_id: str
    channel: str
    period: str
    rule: str
    status: Status
    reason: str
    evidence_url: str | None
    reviewer: str
    created_at: datetime
    previous_status: Status | None = None

    @property
    def key(self) -> Key:
        return (self.unit_id, self.channel, self.period, self.rule)

    def brief(self) -> dict[str, Any]:
        """What a reviewed verdict carries in its evidence (`evidence["review"]`)."""
        return {"id": self.id, "status": self.status.value, "reason": self.reason,
                "evidence_url": self.evidence_url, "reviewer": self.reviewer,
                "created_at": self.created_at.isoformat(),
                "previous_status": self.previous_status.value if self.previous_status else None}


def _review(r: ReviewRow) -> Review:
    return Review(r.id, r.unit_id, r.channel, r.period, r.rule, Status(r.status), r.reason, r.evidence_url,
                  r.reviewer, r.created_at, Status(r.previous_status) if r.previous_status else None)


def reviewed(verdict: Verdict, review: Review | None) -> Verdict:
    """`verdict` as the review in force has it: the reviewed status, the reason 「人工复核: …」, and in
    the evidence what the rules computed (`computed_status`, `computed_reason`) and the review
    (`review`). A new object; without a review `verdict` itself."""
    if review is None:
        return verdict
    evidence = {**verdict.evidence, "computed_status": verdict.status.value, "computed_reason": verdict.reason,
                "review": review.brief()}
    return dataclasses.replace(verdict, status=review.status, reason=REASON_PREFIX + review.reason,
                               evidence=evidence)


def latest(reviews: Iterable[Review]) -> dict[Key, Review]:
    """The review in force per key: the highest id."""
    out: dict[Key, Review] = {}
    for r in reviews:
        if r.key not in out or r.id > out[r.key].id:
            out[r.key] = r
    return out


class ReviewQueries:
    def __init__(self, store: Store):
        self.store = store

    def add(self, *, unit_id: str, channel: str, period: str, rule: str, status: str, reason: str,
            evidence_url: str | None, reviewer: str, created_at: datetime,
            previous_status: str | None) -> Review:
        """Store one review (validated by the caller) and return it."""
        with self.store.Session.begin() as s:
            row = ReviewRow(unit_id=unit_id, channel=channel, period=period, rule=rule, status=status,
                            previous_status=previous_status, reason=reason, evidence_url=evidence_url,
                            reviewer=reviewer, created_at=created_at)
            s.add(row)
            s.flush()
            return _review(row)

    def rows(self, *, periods: Sequence[str] | None = None, unit_ids: Sequence[str] | None = None,
             rule: str | None = None, created_after: datetime | None = None,
             created_until: datetime | None = None) -> list[Review]:
        """Every review matching the filters, oldest first (the trail)."""
        with self.store.Session() as s:
            q = select(ReviewRow)
            if periods is not None:
                q = q.where(ReviewRow.period.in_(list(periods)))
            if rule is not None:
                q = q.where(ReviewRow.rule == rule)
            if created_after is not None:
                q = q.where(ReviewRow.created_at > created_after)
            if created_until is not None:
                q = q.where(ReviewRow.created_at <= created_until)
            q = q.order_by(ReviewRow.id)
            if unit_ids is None:
                return [_review(r) for r in s.scalars(q)]
            wanted = set(unit_ids)
            if len(wanted) > 900 and periods is not None:     # most of a period: one pass, not IN lists
                return [_review(r) for r in s.scalars(q) if r.unit_id in wanted]
            out: list[Review] = []
            for chunk in chunks(sorted(wanted), 900):
                out += [_review(r) for r in s.scalars(q.where(ReviewRow.unit_id.in_(list(chunk))))]
            return sorted(out, key=lambda r: r.id)

    def current(self, *, periods: Sequence[str] | None = None, unit_ids: Sequence[str] | None = None,
                rule: str | None = None) -> dict[Key, Review]:
        """{(unit, channel, period, rule): the review in force}."""
        return latest(self.rows(periods=periods, unit_ids=unit_ids, rule=rule))


def overlay(verdicts: Iterable[Verdict], current: Mapping[Key, Review]) -> list[Verdict]:
    """Each verdict as reviewed (see `reviewed`)."""
    if not current:
        return list(verdicts)
    return [reviewed(v, current.get((v.unit_id, v.channel, v.period, v.rule))) for v in verdicts]
