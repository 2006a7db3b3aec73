"""The tracking store: engine, migrations and the few queries the rest of pubwatch needs."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Engine, and_, case, create_engine, delete, event, func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from . import config
from .models import CrawlAttempt, Evaluation, Notice, Post, SourceRow, UnitRow, UTCDateTime
from .registry import SourceConfig, Unit
from .rules import dedupe_posts
from .types import TZ, WECHAT, AttemptFact, ListItem, Outcome, PostFact, SourceResult, Verdict

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def url_key(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def _insert_ignore(dialect: str, table):
    """INSERT … ON CONFLICT DO NOTHING for the two dialects we support."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {dialect}")


def _upsert(dialect: str, table, index_elements: list[str], update_cols: list[str]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as pg_insert  # same API
    else:
        raise RuntimeError(f"unsupported database dialect {dialect}")
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(index_elements=index_elements,
                                      set_={c: getattr(stmt.excluded, c) for c in update_cols})


_EVAL_KEY = ("unit_id", "channel", "period", "rule")
_EVAL_UPDATE = ("status", "count", "required", "reason", "deadline", "evidence", "as_of", "evaluated_at")


def _pg_upsert_evaluations(session: Session, rows: list[dict[str, Any]]) -> None:
    """Evaluation upsert through psycopg2's execute_values: multi-row statements, 1000 rows each
    (SQLAlchemy sends this ON CONFLICT statement row by row with psycopg2's executemany, ~0.15 ms a
    row). Binds as the models do: naive-UTC timestamps, JSON text for the evidence."""
    import json

    from psycopg2.extras import execute_values

    cols = _EVAL_KEY + _EVAL_UPDATE
    utc = UTCDateTime().process_bind_param
    values = [tuple(json.dumps(r[c]) if c == "evidence" else utc(r[c], None) if c in ("as_of", "evaluated_at")
                    else r[c] for c in cols) for r in rows]
    sql = (f"INSERT INTO evaluations ({', '.join(cols)}) VALUES %s "
           f"ON CONFLICT ({', '.join(_EVAL_KEY)}) DO UPDATE SET "
           + ", ".join(f"{c} = EXCLUDED.{c}" for c in _EVAL_UPDATE))
    template = "(" + ", ".join("%s::json" if c == "evidence" else "%s" for c in cols) + ")"
    cur = session.connection().connection.dbapi_connection.cursor()
    try:
        execute_values(cur, sql, values, template=template, page_size=1000)
    finally:
        cur.close()


def make_engine(url: str | None = None) -> Engine:
    url = config.normalise_db_url(url) if url else config.db_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):  # WAL lets the board read while a crawl writes
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def upgrade(url: str | None = None) -> None:
    """Bring the tracking DB to the newest schema with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = config.normalise_db_url(url) if url else config.db_url()
    command.upgrade(cfg, "head")


@dataclass
class SourceMemory:
    """What the crawler needs to remember about a source between attempts."""

    state: dict[str, Any]
    known_urls: frozenset[str]
    previous_items: int | None
    last_ok_at: datetime | None = None


class Store:
    def __init__(self, url: str | None = None, engine: Engine | None = None):
        self.engine = engine or make_engine(url)
        self.dialect = self.engine.dialect.name
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # ----------------------------------------------------------------- registry sync
    def sync_units(self, units: Iterable[Unit]) -> None:
        now = utcnow()
        with self.Session.begin() as s:
            for u in units:
                s.merge(UnitRow(id=u.id, name=u.name, category=u.category, active=True,
                                data={"start_date": u.start_date.isoformat() if u.start_date else None,
                                      "suspended": sorted(u.suspended)},
                                updated_at=now))
                for src in u.sources:
                    row = s.get(SourceRow, src.id)
                    if row is None:
                        s.add(SourceRow(id=src.id, unit_id=u.id, channel=src.channel, type=src.type,
                                        name=src.name, url=src.url, column_type=src.column_type, state={}))
                    else:
                        row.channel, row.type, row.name = src.channel, src.type, src.name
                        row.url, row.column_type = src.url, src.column_type

    # ----------------------------------------------------------------- crawl
    def source_memory(self, source: SourceConfig) -> SourceMemory:
        with self.Session() as s:
            row = s.get(SourceRow, source.id)
            urls = s.scalars(select(Post.url).where(Post.unit_id == source.unit_id,
                                                    Post.channel == source.channel,
                                                    Post.source_id == source.id)).all()
        if row is None:
            return SourceMemory({}, frozenset(urls), None)
        return SourceMemory(dict(row.state or {}), frozenset(urls), row.last_ok_items, row.last_ok_at)

    def start_attempt(self, source: SourceConfig, *, started_at: datetime, run_id: str | None,
                      kind: str = "crawl") -> int:
        with self.Session.begin() as s:
            att = CrawlAttempt(source_id=source.id, unit_id=source.unit_id, channel=source.channel,
                               run_id=run_id, kind=kind, started_at=started_at, outcome="running")
            s.add(att)
            s.flush()
            return att.id

    def finish_attempt(self, attempt_id: int, source: SourceConfig, result: SourceResult, *,
                       finished_at: datetime, items_new: int, covered_from: datetime | None = None) -> None:
        ok = result.outcome.verified
        with self.Session.begin() as s:
            att = s.get(CrawlAttempt, attempt_id)
            att.finished_at = finished_at
            att.outcome = result.outcome.value
            att.http_status = result.http_status
            att.message = result.message[:4000]
            att.items_found = len(result.items)
            att.items_new = items_new
            att.requests = result.requests
            att.pages = result.pages
            att.elapsed_ms = int((finished_at - att.started_at).total_seconds() * 1000)
            att.source_updated = result.source_updated
            att.covered_from = covered_from if ok else None
            row = s.get(SourceRow, source.id)
            if row is not None and att.kind == "crawl":
                row.last_attempt_at = att.started_at
                row.last_outcome = result.outcome.value
                row.last_message = att.message
                if ok:
                    row.last_ok_at = att.started_at
                    if result.outcome is Outcome.OK:
                        row.last_ok_items = len(result.items)
                    state = {**(row.state or {}), **(result.state or {})}
                    state["covered_from"] = covered_from.isoformat() if covered_from else "all"
                    row.state = state

    def upsert_posts(self, source: SourceConfig, items: Sequence[ListItem], *, seen_at: datetime,
                     attempt_id: int | None) -> int:
        """Insert new posts, refresh known ones. Returns how many were new. Never deletes."""
        by_key: dict[str, ListItem] = {}
        for it in items:
            if it.url:
                by_key.setdefault(url_key(it.url), it)
        if not by_key:
            return 0
        keys = list(by_key)
        with self.Session.begin() as s:
            existing = {}
            for chunk in _chunks(keys, 500):
                for row in s.scalars(select(Post).where(Post.unit_id == source.unit_id,
                                                        Post.channel == source.channel,
                                                        Post.url_key.in_(chunk))):
                    existing[row.url_key] = row
            new_rows = []
            for key, it in by_key.items():
                row = existing.get(key)
                if row is None:
                    new_rows.append(dict(unit_id=source.unit_id, channel=source.channel, url_key=key,
                                         url=it.url, source_id=source.id, column_type=source.column_type,
                                         title=it.title[:2000], published_at=it.published,
                                         first_seen_at=seen_at, first_seen_attempt_id=attempt_id,
                                         last_seen_at=seen_at, pinned=it.pinned, date_suspicious=False,
                                         evidence={}))
                    continue
                row.last_seen_at = seen_at
                if it.title and it.title != row.title:
                    row.title = it.title[:2000]               # an edited post stays one post
                if row.published_at is None and it.published is not None:
                    row.published_at = it.published
                row.pinned = it.pinned
            inserted = 0
            if new_rows:
                # ON CONFLICT DO NOTHING: a parallel crawl of the same unit cannot duplicate posts.
                res = s.execute(_insert_ignore(self.dialect, Post.__table__), new_rows)
                inserted = res.rowcount if res.rowcount is not None and res.rowcount >= 0 else len(new_rows)
            return inserted

    # ----------------------------------------------------------------- evaluate
    def post_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[PostFact]]:
        """Posts with a stated date in [start, end), grouped by unit."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        with self.Session() as s:
            for chunk in _chunks(list(unit_ids), 900):
                q = (select(Post.unit_id, Post.source_id, Post.channel, Post.url, Post.title, Post.published_at,
                            Post.first_seen_at, Post.column_type, Post.date_suspicious)
                     .where(Post.unit_id.in_(chunk), Post.published_at >= start, Post.published_at < end,
                            Post.pinned.is_(False))
                     .order_by(Post.unit_id, Post.published_at, Post.id))
                for r in s.execute(q):
                    out[r.unit_id].append(PostFact(source_id=r.source_id, channel=r.channel, url=r.url,
                                                   title=r.title, published=r.published_at,
                                                   first_seen=r.first_seen_at, column_type=r.column_type,
                                                   date_suspicious=r.date_suspicious))
        return out

    def rule_post_facts(self, unit_ids: Sequence[str], history_from: datetime, recent_from: datetime,
                        end: datetime) -> dict[str, list[PostFact]]:
        """What the rules need of the posts in [history_from, end), without shipping all of them.

        Posts in [recent_from, end) come in full. Of the older history only the tail the rules can
        look at comes back: per (unit, channel), every post on the days from the oldest "latest
        post" of its sources (the latest non-suspicious one where a source has one) up to
        recent_from. That holds each source's latest post and latest non-suspicious post (staleness,
        the last post before a period) and whole days, so WeChat's same-title-same-day dedupe gives
        the same answers as over the full history. See `_history_tail_is_complete` for the one case
        that needs the full history instead (then it is fetched)."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        if recent_from <= history_from:
            return self.post_facts(unit_ids, history_from, end)
        recent = self.post_facts(unit_ids, recent_from, end)
        tail = self._history_tail(unit_ids, history_from, recent_from)
        incomplete = [uid for uid, posts in tail.items() if not _history_tail_is_complete(posts)]
        if incomplete:
            full = self.post_facts(incomplete, history_from, recent_from)
            for uid in incomplete:
                tail[uid] = full.get(uid, [])
        for uid in unit_ids:
            posts = tail.get(uid, []) + recent.get(uid, [])
            if posts:
                out[uid] = posts
        return out

    def _history_tail(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[PostFact]]:
        """See `rule_post_facts`: the per (unit, channel) tail of the posts in [start, end)."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        live = (Post.published_at >= start, Post.published_at < end, Post.pinned.is_(False))
        with self.Session() as s:
            for chunk in _chunks(list(unit_ids), 900):
                per_source = (select(Post.unit_id, Post.channel, Post.source_id,
                                     func.max(Post.published_at).label("last_any"),
                                     func.max(case((Post.date_suspicious.is_(False), Post.published_at)))
                                     .label("last_ok"))
                              .where(Post.unit_id.in_(chunk), *live)
                              .group_by(Post.unit_id, Post.channel, Post.source_id)).subquery()
                cut = (select(per_source.c.unit_id, per_source.c.channel,
                              func.min(func.coalesce(per_source.c.last_ok, per_source.c.last_any)).label("c"))
                       .group_by(per_source.c.unit_id, per_source.c.channel)).subquery()
                # A day earlier than the cut, in SQL; the exact local-midnight cut is applied below.
                lower = (cut.c.c - literal_column("interval '1 day'") if self.dialect == "postgresql"
                         else func.datetime(cut.c.c, "-1 day"))
                q = (select(Post.unit_id, Post.source_id, Post.channel, Post.url, Post.title, Post.published_at,
                            Post.first_seen_at, Post.column_type, Post.date_suspicious)
                     .join(cut, and_(Post.unit_id == cut.c.unit_id, Post.channel == cut.c.channel))
                     .where(Post.unit_id.in_(chunk), Post.published_at >= lower, *live))
                rows: dict[tuple[str, str], list[PostFact]] = defaultdict(list)
                for r in s.execute(q):
                    rows[(r.unit_id, r.channel)].append(PostFact(
                        source_id=r.source_id, channel=r.channel, url=r.url, title=r.title,
                        published=r.published_at, first_seen=r.first_seen_at, column_type=r.column_type,
                        date_suspicious=r.date_suspicious))
                for (uid, _), posts in rows.items():
                    out[uid].extend(_whole_days_from_cut(posts))
        for posts in out.values():
            posts.sort(key=lambda p: (p.published, p.url))
        return out

    def attempt_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[AttemptFact]]:
        out: dict[str, list[AttemptFact]] = defaultdict(list)
        with self.Session() as s:
            for chunk in _chunks(list(unit_ids), 900):
                q = (select(CrawlAttempt.unit_id, CrawlAttempt.source_id, CrawlAttempt.channel,
                            CrawlAttempt.started_at, CrawlAttempt.outcome, CrawlAttempt.message,
                            CrawlAttempt.source_updated, CrawlAttempt.covered_from)
                     .where(CrawlAttempt.unit_id.in_(chunk), CrawlAttempt.kind == "crawl",
                            CrawlAttempt.started_at >= start, CrawlAttempt.started_at < end,
                            CrawlAttempt.outcome != "running")
                     .order_by(CrawlAttempt.unit_id, CrawlAttempt.started_at, CrawlAttempt.id))
                for r in s.execute(q):
                    out[r.unit_id].append(AttemptFact(source_id=r.source_id, channel=r.channel,
                                                      started_at=r.started_at, outcome=Outcome(r.outcome),
                                                      message=r.message, source_updated=r.source_updated,
                                                      covered_from=r.covered_from))
        return out

    def save_verdicts(self, verdicts: Sequence[Verdict], *, as_of: datetime,
                      replace_units: Sequence[str] | None = None, period: str | None = None) -> None:
        """Upsert verdicts; with replace_units+period, rows of those units for that period that the
        new evaluation no longer produces (a rule that stopped applying) are removed. One transaction."""
        now = utcnow()
        rows = [dict(unit_id=v.unit_id, channel=v.channel, period=v.period, rule=v.rule,
                     status=v.status.value, count=v.count, required=v.required, reason=v.reason,
                     deadline=v.deadline, evidence=_jsonable(v.evidence), as_of=as_of, evaluated_at=now)
                for v in verdicts]
        with self.Session.begin() as s:
            if replace_units is not None and period is not None:
                keep = {(v.unit_id, v.channel, v.rule) for v in verdicts}
                gone = []
                for chunk in _chunks(list(replace_units), 900):
                    gone += [row.id for row in s.execute(
                        select(Evaluation.id, Evaluation.unit_id, Evaluation.channel, Evaluation.rule)
                        .where(Evaluation.period == period, Evaluation.unit_id.in_(chunk)))
                        if (row.unit_id, row.channel, row.rule) not in keep]
                for chunk in _chunks(gone, 900):
                    s.execute(delete(Evaluation).where(Evaluation.id.in_(chunk)))
            if self.engine.dialect.driver == "psycopg2":
                _pg_upsert_evaluations(s, rows)
                return
            stmt = _upsert(self.dialect, Evaluation.__table__, list(_EVAL_KEY), list(_EVAL_UPDATE))
            for chunk in _chunks(rows, 500):
                s.execute(stmt, chunk)

    def evaluations(self, period: str, unit_ids: Sequence[str] | None = None) -> list[Evaluation]:
        with self.Session() as s:
            q = select(Evaluation).where(Evaluation.period == period)
            if unit_ids is not None:
                q = q.where(Evaluation.unit_id.in_(list(unit_ids)))
            return list(s.scalars(q.order_by(Evaluation.unit_id, Evaluation.channel, Evaluation.rule)))

    def verdicts(self, period: str, unit_ids: Sequence[str] | None = None) -> list[Verdict]:
        from .types import Status

        return [Verdict(unit_id=r.unit_id, channel=r.channel, period=r.period, rule=r.rule,
                        status=Status(r.status), count=r.count, required=r.required, reason=r.reason,
                        deadline=r.deadline, evidence=dict(r.evidence or {}))
                for r in self.evaluations(period, unit_ids)]

    def status_history(self, unit_ids: Sequence[str], periods: Sequence[str], rule: str) -> dict[tuple[str, str], dict[str, str]]:
        """{(unit, channel): {period: status}} for the given periods and rule."""
        out: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        with self.Session() as s:
            q = select(Evaluation.unit_id, Evaluation.channel, Evaluation.period, Evaluation.status).where(
                Evaluation.period.in_(list(periods)), Evaluation.rule == rule,
                Evaluation.unit_id.in_(list(unit_ids)))
            for r in s.execute(q):
                out[(r.unit_id, r.channel)][r.period] = r.status
        return out

    # ----------------------------------------------------------------- misc reads
    def counts(self) -> dict[str, int]:
        with self.Session() as s:
            return {name: s.scalar(select(func.count()).select_from(model)) or 0
                    for name, model in (("posts", Post), ("attempts", CrawlAttempt),
                                        ("evaluations", Evaluation), ("notices", Notice))}

    def last_attempts(self, unit_ids: Sequence[str]) -> dict[str, SourceRow]:
        with self.Session() as s:
            return {r.id: r for r in s.scalars(select(SourceRow).where(SourceRow.unit_id.in_(list(unit_ids))))}

    def latest_posts(self, unit_id: str, channel: str, before: datetime, limit: int = 1) -> list[Post]:
        with self.Session() as s:
            q = (select(Post).where(Post.unit_id == unit_id, Post.channel == channel,
                                    Post.published_at < before, Post.pinned.is_(False))
                 .order_by(Post.published_at.desc(), Post.id.desc()).limit(limit))
            return list(s.scalars(q))


def _whole_days_from_cut(posts: list[PostFact]) -> list[PostFact]:
    """One (unit, channel)'s history posts from local midnight of the cut day on (the cut: the oldest of
    its sources' latest post, the latest non-suspicious one where a source has one)."""
    latest: dict[str, list[datetime | None]] = {}
    for p in posts:
        last_any, last_ok = latest.setdefault(p.source_id, [None, None])
        if last_any is None or p.published > last_any:
            latest[p.source_id][0] = p.published
        if not p.date_suspicious and (last_ok is None or p.published > last_ok):
            latest[p.source_id][1] = p.published
    cut = min(ok or any_ for any_, ok in latest.values())
    midnight = datetime.combine(cut.astimezone(TZ).date(), time.min, tzinfo=TZ)
    return [p for p in posts if p.published >= midnight]


def _history_tail_is_complete(posts: list[PostFact]) -> bool:
    """False when one unit's WeChat history tail cannot stand in for the full history: it has
    non-suspicious posts but same-title dedupe drops every one of them (two bridges, the earlier copy
    flagged suspicious), so the latest kept non-suspicious post may lie further back."""
    wechat = [p for p in posts if p.channel == WECHAT]
    if not any(not p.date_suspicious for p in wechat):
        return True
    return any(not p.date_suspicious for p in dedupe_posts(wechat))


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return str(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON data (dates as ISO text, enums as values) — through the C encoder, it is on the hot
    path of saving tens of thousands of verdicts."""
    import json

    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))
