"""SQLAlchemy 2 models of the tracking database (not Airflow's metadata DB).

Every timestamp is stored as naive UTC and read back as an aware UTC datetime (`UTCDateTime`), so
SQLite and PostgreSQL behave the same. Uniqueness that the product promises is enforced by the
database: one post per (unit, channel, url_key), one evaluation per (unit, channel, period, rule),
one notice per (unit, period, kind, delivery channel).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, Date, DateTime, Float, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the tracking DB; pass an aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class UnitRow(Base):
    """A supervised unit as last loaded from the registry (kept for history and the board)."""

    __tablename__ = "units"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class SourceRow(Base):
    """A portal column or a WeChat source, with what the last attempt left behind."""

    __tablename__ = "sources"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text, default="")
    column_type: Mapped[str] = mapped_column(String(20), default="news")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)       # validators etc.
    last_attempt_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    last_message: Mapped[str | None] = mapped_column(Text)
    last_ok_at: Mapped[datetime | None]
    last_ok_items: Mapped[int | None] = mapped_column(Integer)


class CrawlAttempt(Base):
    __tablename__ = "crawl_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(120))
    unit_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    run_id: Mapped[str | None] = mapped_column(String(250))
    kind: Mapped[str] = mapped_column(String(10), default="crawl")   # crawl | probe
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    http_status: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    source_updated: Mapped[datetime | None]
    covered_from: Mapped[datetime | None]        # how far back the listing reached (None: never computed)

    __table_args__ = (
        Index("ix_attempts_unit_started", "unit_id", "started_at"),
        Index("ix_attempts_source_started", "source_id", "started_at"),
    )


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    url_key: Mapped[str] = mapped_column(String(40))                 # sha1 of the canonical URL
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(String(120))             # the source that saw it first
    column_type: Mapped[str] = mapped_column(String(20), default="news")
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None]                            # stated publication time
    first_seen_at: Mapped[datetime]
    first_seen_attempt_id: Mapped[int | None] = mapped_column(Integer)
    last_seen_at: Mapped[datetime]
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    date_suspicious: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("unit_id", "channel", "url_key", name="uq_posts_unit_channel_url"),
        Index("ix_posts_unit_published", "unit_id", "published_at"),
        Index("ix_posts_published", "published_at"),
        Index("ix_posts_source_published", "source_id", "published_at"),   # the rules' history tail
    )


class Evaluation(Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer, default=0)
    required: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[float | None] = mapped_column(Float)
    as_of: Mapped[datetime]                # the evaluation that last changed this row
    evaluated_at: Mapped[datetime]
    digest: Mapped[str | None] = mapped_column(String(32))   # md5 of the content: unchanged rows are not rewritten

    __table_args__ = (
        # Period first: every query names the period, and a new period's rows land in one region.
        UniqueConstraint("period", "unit_id", "channel", "rule", name="uq_evaluations_key"),
    )


class EvaluationRun(Base):
    """One evaluation of one period: as of when, how many verdicts, how many rows it wrote."""

    __tablename__ = "evaluation_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(10))
    as_of: Mapped[datetime]
    evaluated_at: Mapped[datetime]
    units: Mapped[int] = mapped_column(Integer)
    verdicts: Mapped[int] = mapped_column(Integer)
    written: Mapped[int] = mapped_column(Integer)       # new or changed rows
    removed: Mapped[int] = mapped_column(Integer)       # rows of rules that no longer apply
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_evaluation_runs_period", "period", "as_of"),)


class Notice(Base):
    """The ledger: one row per (unit, period, kind, delivery channel); sent at most once."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(40))                 # "_office" for summaries
    period: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(60))                    # reminder|overdue|escalation|summary|warn:<rule>
    channel: Mapped[str] = mapped_column(String(20))                 # email|wecom|dingtalk|outbox
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sending|sent|failed|dead
    recipients: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    receipt: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[str | None] = mapped_column(String(250))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("unit_id", "period", "kind", "channel", name="uq_notices_key"),
        Index("ix_notices_status", "status"),
    )


class ReviewRow(Base):
    """人工复核: a supervisor's decision on one verdict (unit, channel, period, rule). Never updated
    nor deleted: a later review of the same verdict supersedes an earlier one (the highest id wins),
    both kept as the trail. `previous_status`: the status in effect when it was recorded (the
    computed one, or the earlier review's)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10))
    previous_status: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_reviews_period_unit", "period", "unit_id"),
        Index("ix_reviews_created", "created_at"),
    )
