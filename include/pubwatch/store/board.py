"""The compliance board's read queries (`store.board`): a handful of queries per page, never one per
cell. Rows come back as named tuples (and detached `SourceRow` / `Notice` rows); board.py builds
its view-models from them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from sqlalchemy import func, select

from .models import CrawlAttempt, Evaluation, Notice, Post, SourceRow
from .reviews import REASON_PREFIX, Review

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from . import Store


class CellRow(NamedTuple):
    unit_id: str
    channel: str
    period: str
    status: str
    count: int
    required: int
    reason: str
    computed_status: str | None = None      # 人工复核: what the rules said, when a review is in force
    review: Review | None = None


class ScoreRow(NamedTuple):
    unit_id: str
    rule: str
    status: str
    score: float | None
    channel: str = ""
    period: str = ""


class PostRow(NamedTuple):
    channel: str
    title: str
    url: str
    published_at: datetime | None
    first_seen_at: datetime
    source_id: str
    column_type: str
    date_suspicious: bool


class AttemptRow(NamedTuple):
    started_at: datetime
    channel: str
    source_id: str
    outcome: str
    http_status: int | None
    message: str
    items_found: int
    items_new: int


class EvaluationRow(NamedTuple):
    period: str
    channel: str
    rule: str
    status: str
    count: int
    required: int
    reason: str
    deadline: date | None
    computed_status: str | None = None      # 人工复核: what the rules said, when a review is in force
    review: Review | None = None


@dataclass
class MatrixFacts:
    """What the matrix reads: one rule's cells over some periods, the evidence of those cells in one
    status, every rule's rows of the scored periods, the newest stated post per (unit, channel)."""

    cells: list[CellRow]
    evidence: dict[tuple[str, str, str], dict[str, Any]]      # (unit, channel, period) -> evidence
    scores: list[ScoreRow]
    newest_posts: dict[tuple[str, str], datetime]


@dataclass
class UnitFacts:
    """What a unit page reads (lists newest first, each cut at its limit)."""

    sources: list[SourceRow]
    posts: list[PostRow]
    attempts: list[AttemptRow]
    notices: list[Notice]
    evaluations: list[EvaluationRow]


class BoardQueries:
    def __init__(self, store: Store):
        self.store = store

    def matrix_facts(self, unit_ids: Sequence[str], *, rule: str, periods: Sequence[str], evidence_of: str,
                     score_periods: Sequence[str]) -> MatrixFacts:
        """Four queries whatever the size: `rule`'s evaluations of `periods`, the evidence of those in
        status `evidence_of` (read only where it matters), every evaluation of `score_periods` for
        the score, and the newest stated post per unit and channel."""
        facts = MatrixFacts([], {}, [], {})
        if not unit_ids:
            return facts
        ids = list(unit_ids)
        with self.store.Session() as s:
            in_periods = (Evaluation.rule == rule, Evaluation.period.in_(list(periods)), Evaluation.unit_id.in_(ids))
            facts.cells = [CellRow(*r) for r in s.execute(
                select(Evaluation.unit_id, Evaluation.channel, Evaluation.period, Evaluation.status,
                       Evaluation.count, Evaluation.required, Evaluation.reason).where(*in_periods))]
            facts.evidence = {(uid, ch, per): dict(ev or {}) for uid, ch, per, ev in s.execute(
                select(Evaluation.unit_id, Evaluation.channel, Evaluation.period, Evaluation.evidence)
                .where(*in_periods, Evaluation.status == evidence_of))}
            facts.scores = [ScoreRow(*r) for r in s.execute(
                select(Evaluation.unit_id, Evaluation.rule, Evaluation.status, Evaluation.score, Evaluation.channel,
                       Evaluation.period)
                .where(Evaluation.period.in_(list(score_periods)), Evaluation.unit_id.in_(ids)))]
            facts.newest_posts = _newest_posts(s, ids, None)
        # 人工复核: the reviews in force replace the statuses read (cells, scores)
        current = self.store.reviews.current(periods=sorted(set(periods) | set(score_periods)), unit_ids=ids)
        if current:
            facts.cells = [_reviewed_row(r, current.get((r.unit_id, r.channel, r.period, rule))) for r in facts.cells]
            facts.scores = [r if (rv := current.get((r.unit_id, r.channel, r.period, r.rule))) is None
                            else r._replace(status=rv.status.value, score=None) for r in facts.scores]
        return facts

    def unit_facts(self, unit_id: str, *, start: datetime, end: datetime, periods: Sequence[str],
                   post_limit: int, attempt_limit: int, notice_limit: int) -> UnitFacts:
        """One unit's sources; its posts stated (or, undated, first seen) in [start, end); its crawl
        attempts started then; its notices; its evaluations of `periods`."""
        with self.store.Session() as s:
            sources = list(s.scalars(select(SourceRow).where(SourceRow.unit_id == unit_id)))
            posts = [PostRow(*r) for r in s.execute(
                select(Post.channel, Post.title, Post.url, Post.published_at, Post.first_seen_at, Post.source_id,
                       Post.column_type, Post.date_suspicious)
                .where(Post.unit_id == unit_id,
                       ((Post.published_at >= start) & (Post.published_at < end))
                       | (Post.published_at.is_(None) & (Post.first_seen_at >= start) & (Post.first_seen_at < end)))
                .order_by(func.coalesce(Post.published_at, Post.first_seen_at).desc(), Post.id.desc())
                .limit(post_limit))]
            attempts = [AttemptRow(*r) for r in s.execute(
                select(CrawlAttempt.started_at, CrawlAttempt.channel, CrawlAttempt.source_id, CrawlAttempt.outcome,
                       CrawlAttempt.http_status, CrawlAttempt.message, CrawlAttempt.items_found,
                       CrawlAttempt.items_new)
                .where(CrawlAttempt.unit_id == unit_id, CrawlAttempt.started_at >= start,
                       CrawlAttempt.started_at < end)
                .order_by(CrawlAttempt.started_at.desc(), CrawlAttempt.id.desc()).limit(attempt_limit))]
            notices = list(s.scalars(select(Notice).where(Notice.unit_id == unit_id)
                                     .order_by(Notice.updated_at.desc(), Notice.id.desc()).limit(notice_limit)))
            evaluations = [EvaluationRow(*r) for r in s.execute(
                select(Evaluation.period, Evaluation.channel, Evaluation.rule, Evaluation.status, Evaluation.count,
                       Evaluation.required, Evaluation.reason, Evaluation.deadline)
                .where(Evaluation.unit_id == unit_id, Evaluation.period.in_(list(periods))))]
        current = self.store.reviews.current(periods=list(periods), unit_ids=[unit_id])
        if current:
            evaluations = [_reviewed_row(r, current.get((unit_id, r.channel, r.period, r.rule))) for r in evaluations]
        return UnitFacts(sources, posts, attempts, notices, evaluations)

    def newest_posts(self, unit_ids: Sequence[str], before: datetime | None = None) -> dict[tuple[str, str], datetime]:
        """Newest stated publication time per (unit, channel) (before `before`) — one grouped query."""
        if not unit_ids:
            return {}
        with self.store.Session() as s:
            return _newest_posts(s, list(unit_ids), before)


def _reviewed_row(row: Any, review: Review | None) -> Any:
    """A cell / evaluation row as the review in force has it (see reviews.reviewed)."""
    if review is None:
        return row
    return row._replace(status=review.status.value, reason=REASON_PREFIX + review.reason,
                        computed_status=row.status, review=review)


def _newest_posts(s: Session, unit_ids: list[str], before: datetime | None) -> dict[tuple[str, str], datetime]:
    stated = Post.published_at.is_not(None) if before is None else Post.published_at < before
    q = (select(Post.unit_id, Post.channel, func.max(Post.published_at))
         .where(Post.unit_id.in_(unit_ids), Post.pinned.is_(False), stated)
         .group_by(Post.unit_id, Post.channel))
    return {(uid, ch): newest for uid, ch, newest in s.execute(q)}
