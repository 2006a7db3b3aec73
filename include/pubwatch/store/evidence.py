"""The queries of evidence.py (`store.evidence`): the posts and crawls a back-dating or burst check
compares, the findings stored on posts, and the attempts availability is counted from.

Posts come back as `PostRecord`s (plain copies); evidence.py decides and hands changed records back
to `save_findings`."""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import and_, func, or_, select, update

from .models import CrawlAttempt, Notice, Post

if TYPE_CHECKING:
    from . import Store


@dataclass
class PostRecord:
    """A stored post as evidence.py reads (and amends) it."""

    id: int
    unit_id: str
    channel: str
    source_id: str
    title: str
    url: str
    published_at: datetime | None
    first_seen_at: datetime
    date_suspicious: bool
    evidence: dict[str, Any] = field(default_factory=dict)


def _record(p: Post) -> PostRecord:
    return PostRecord(p.id, p.unit_id, p.channel, p.source_id, p.title, p.url, p.published_at, p.first_seen_at,
                      bool(p.date_suspicious), dict(p.evidence or {}))


class EvidenceQueries:
    def __init__(self, store: Store):
        self.store = store

    # ----------------------------------------------------------------- crawls of a source
    def latest_crawl_before(self, source_id: str, *, outcomes: Collection[str], before: datetime,
                            excluding: int) -> datetime | None:
        """Start of the newest crawl (kind "crawl", not attempt `excluding`) of the source with one of
        `outcomes` that started before `before`."""
        with self.store.Session() as s:
            return s.scalar(select(func.max(CrawlAttempt.started_at)).where(
                CrawlAttempt.source_id == source_id, CrawlAttempt.kind == "crawl", CrawlAttempt.id != excluding,
                CrawlAttempt.outcome.in_(list(outcomes)), CrawlAttempt.started_at < before))

    def first_crawl_before(self, source_id: str, *, outcome: str, before: datetime, excluding: int) -> datetime | None:
        """Start of the oldest crawl of the source with `outcome` that started before `before`."""
        with self.store.Session() as s:
            return s.scalar(select(func.min(CrawlAttempt.started_at)).where(
                CrawlAttempt.source_id == source_id, CrawlAttempt.kind == "crawl", CrawlAttempt.id != excluding,
                CrawlAttempt.outcome == outcome, CrawlAttempt.started_at < before))

    def crawls_with_items(self, source_id: str, *, outcome: str, since: datetime, before: datetime,
                          excluding: int) -> list[tuple[int, datetime]]:
        """(id, started_at) of the source's crawls with `outcome` that found items, started in
        [since, before), newest first."""
        with self.store.Session() as s:
            return [(i, t) for i, t in s.execute(select(CrawlAttempt.id, CrawlAttempt.started_at).where(
                CrawlAttempt.source_id == source_id, CrawlAttempt.kind == "crawl", CrawlAttempt.id != excluding,
                CrawlAttempt.outcome == outcome, CrawlAttempt.items_found > 0,
                CrawlAttempt.started_at < before, CrawlAttempt.started_at >= since)
                .order_by(CrawlAttempt.started_at.desc(), CrawlAttempt.id.desc()))]

    # ----------------------------------------------------------------- posts of a source
    def posts_first_seen_by(self, unit_id: str, source_id: str, attempt_id: int) -> list[PostRecord]:
        """The source's unpinned posts first seen by `attempt_id`, in insertion order."""
        with self.store.Session() as s:
            return [_record(p) for p in s.scalars(select(Post).where(
                Post.unit_id == unit_id, Post.source_id == source_id, Post.first_seen_attempt_id == attempt_id,
                Post.pinned.is_(False)).order_by(Post.id))]

    def seen_before_under_other_url(self, post: PostRecord, *, day_start: datetime, day_end: datetime) -> bool:
        """Another post of the unit and channel with the same title, stated in [day_start, day_end),
        first seen before `post`."""
        with self.store.Session() as s:
            return s.scalar(select(func.count()).select_from(Post).where(
                Post.unit_id == post.unit_id, Post.channel == post.channel, Post.id != post.id,
                Post.title == post.title, Post.first_seen_at < post.first_seen_at,
                Post.published_at >= day_start, Post.published_at < day_end)) > 0

    def listed_at(self, unit_id: str, source_id: str, seen_at: datetime) -> int:
        """How many unpinned posts of the source the crawl at `seen_at` listed (last seen then)."""
        with self.store.Session() as s:
            return s.scalar(select(func.count()).select_from(Post).where(
                Post.unit_id == unit_id, Post.source_id == source_id, Post.last_seen_at == seen_at,
                Post.pinned.is_(False))) or 0

    def oldest_listed(self, unit_id: str, source_id: str, at: datetime) -> datetime | None:
        """The oldest stated date among the posts the crawl at `at` saw (first seen ≤ at ≤ last seen)."""
        with self.store.Session() as s:
            return s.scalar(select(func.min(Post.published_at)).where(
                Post.unit_id == unit_id, Post.source_id == source_id, Post.pinned.is_(False),
                Post.published_at.is_not(None), Post.first_seen_at <= at, Post.last_seen_at >= at))

    def newest_first_seen(self, unit_id: str, source_id: str, *, after: datetime, excluding_attempt: int) -> datetime | None:
        """When the source's newest unpinned post first seen after `after` (not by
        `excluding_attempt`) was first seen."""
        with self.store.Session() as s:
            return s.scalar(select(func.max(Post.first_seen_at)).where(
                self._others(unit_id, source_id, excluding_attempt), Post.first_seen_at > after))

    def newest_stated(self, unit_id: str, source_id: str, *, seen_until: datetime,
                      excluding_attempt: int) -> datetime | None:
        """The newest stated date of the source's unpinned posts first seen by `seen_until` (not by
        `excluding_attempt`)."""
        with self.store.Session() as s:
            return s.scalar(select(func.max(Post.published_at)).where(
                self._others(unit_id, source_id, excluding_attempt), Post.first_seen_at <= seen_until))

    @staticmethod
    def _others(unit_id: str, source_id: str, attempt_id: int) -> Any:
        return and_(Post.unit_id == unit_id, Post.source_id == source_id, Post.pinned.is_(False),
                    or_(Post.first_seen_attempt_id.is_(None), Post.first_seen_attempt_id != attempt_id))

    def save_findings(self, posts: Iterable[PostRecord]) -> None:
        """Store the `date_suspicious` flag and the evidence of these posts (one transaction)."""
        with self.store.Session.begin() as s:
            for p in posts:
                s.execute(update(Post).where(Post.id == p.id)
                          .values(date_suspicious=p.date_suspicious, evidence=p.evidence))

    # ----------------------------------------------------------------- notices
    def latest_notice_sent(self, unit_id: str, kind: str, *, status: str, since: datetime,
                           until: datetime) -> Notice | None:
        """The newest notice of `kind` in `status` sent to the unit in [since, until] (detached)."""
        with self.store.Session() as s:
            return s.scalars(select(Notice).where(
                Notice.unit_id == unit_id, Notice.kind == kind, Notice.status == status,
                Notice.sent_at.is_not(None), Notice.sent_at <= until, Notice.sent_at >= since)
                .order_by(Notice.sent_at.desc(), Notice.id.desc()).limit(1)).first()

    # ----------------------------------------------------------------- stored findings, availability
    def posts_for_findings(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> list[PostRecord]:
        """Posts of the units first seen in [start, end), or flagged date-suspicious with a stated
        date in [start, end); by first seen."""
        with self.store.Session() as s:
            return [_record(p) for p in s.scalars(select(Post).where(
                Post.unit_id.in_(list(unit_ids)),
                or_(and_(Post.first_seen_at >= start, Post.first_seen_at < end),
                    and_(Post.date_suspicious.is_(True), Post.published_at >= start, Post.published_at < end)))
                .order_by(Post.first_seen_at, Post.id))]

    def attempts_of_channel(self, unit_ids: Sequence[str], channel: str, start: datetime,
                            end: datetime) -> list[tuple[str, str, str, str, int | None, datetime]]:
        """(unit_id, source_id, kind, outcome, http_status, started_at) of every attempt (crawls and
        probes) of the units' `channel` sources started in [start, end)."""
        with self.store.Session() as s:
            return [tuple(r) for r in s.execute(
                select(CrawlAttempt.unit_id, CrawlAttempt.source_id, CrawlAttempt.kind, CrawlAttempt.outcome,
                       CrawlAttempt.http_status, CrawlAttempt.started_at)
                .where(CrawlAttempt.unit_id.in_(list(unit_ids)), CrawlAttempt.channel == channel,
                       CrawlAttempt.started_at >= start, CrawlAttempt.started_at < end))]
