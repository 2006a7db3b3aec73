"""The tracking store: engine, migrations and the few queries the rest of pubwatch needs."""
from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.orm import sessionmaker

from . import config
from .models import CrawlAttempt, Evaluation, EvaluationRun, Notice, Post, SourceRow, UnitRow
from .rawsql import Raw
from .registry import SourceConfig, Unit
from .rules import dedupe_posts
from .types import COVERS_ALL, TZ, WECHAT, AttemptFact, ListItem, Outcome, PostFact, SourceResult, Verdict

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


DATE_EVIDENCE_KEYS = ("list_date", "article_date", "article_date_from", "date_from", "date_field", "date_check",
                      "list_dates", "date_implausible")


def date_evidence(item: ListItem) -> dict[str, Any]:
    """What the source said about a new post's date (list date, article date, which was used and
    why it was checked), kept on the post as evidence for the supervisors."""
    dates = {k: item.extra[k] for k in DATE_EVIDENCE_KEYS if item.extra.get(k) not in (None, "", [])}
    return {"dates": dates} if dates else {}


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


_EVAL_KEY = ("unit_id", "channel", "period", "rule")
_EVAL_UPDATE = ("status", "count", "required", "reason", "deadline", "evidence", "as_of", "evaluated_at", "digest")
_EVAL_COLS = _EVAL_KEY + _EVAL_UPDATE


@dataclass(frozen=True)
class SaveStats:
    """What one save of verdicts did: verdicts given, rows written (new or changed), rows removed."""

    verdicts: int
    written: int
    removed: int


class VerdictWriter:
    """Saves verdict rows (`verdict_rows`) in one transaction, added in as many parts as the caller
    has (a sharded evaluation writes its own shard while a worker still computes another).

    A verdict whose content (status, count, required, reason, deadline, evidence) equals the stored
    row's — compared by digest — is not rewritten: its row keeps the as_of of the evaluation that
    last changed it, so a re-evaluation of 10,000 units writes only what changed. With
    replace_units + period, stored rows of those units for that period that no part produced (a
    rule that stopped applying) are removed at the end. The transaction opens with the first part.
    Use as a context manager; `stats` afterwards."""

    def __init__(self, store: Store, *, as_of: datetime, replace_units: Sequence[str] | None = None,
                 period: str | None = None):
        self.store, self.as_of, self.period = store, as_of, period
        self.replace_units = set(replace_units) if replace_units is not None else None
        self.stats = SaveStats(0, 0, 0)
        self._session: Any = None
        self._raw: Raw | None = None
        self._stored: dict[tuple[str, str, str, str], tuple[int, str | None]] = {}
        self._fetched: set[tuple[str, str | None]] = set()      # (period, unit or None = all of them)
        self._seen: set[tuple[str, str, str, str]] = set()
        self._parts = 0

    def __enter__(self) -> VerdictWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._session is None:
            if exc_type is None and self.replace_units and self.period:
                self._open()                  # nothing produced: stored rows may still need removing
            else:
                return
        try:
            if exc_type is None:
                self._remove_gone()
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._raw.close()
            self._session.close()

    def _open(self) -> None:
        self._session = self.store.Session()
        self._raw = Raw(self._session)
        now = utcnow()
        stamps = (self._raw.ts_param(self.as_of), self._raw.ts_param(now))
        # The same two for every row: formatted once here, not once per CSV row.
        self._stamps = tuple(str(t) for t in stamps) if self._raw.pg else stamps

    def _fetch_stored(self, per: str, units: set[str]) -> None:
        raw = self._raw
        sql = "SELECT id, unit_id, channel, rule, digest FROM evaluations WHERE period = ?"
        if (per, None) in self._fetched:
            return
        if self.replace_units is not None and per == self.period:
            units = self.replace_units
            self._fetched.add((per, None))
        else:
            units = {u for u in units if (per, u) not in self._fetched}
            self._fetched.update((per, u) for u in units)
        if not units:
            return
        if len(units) > 900:              # most of the period: one pass over it beats IN lists
            found = [r for r in raw.rows(sql, [per]) if r[1] in units]
        else:
            found = raw.rows(f"{sql} AND unit_id IN ({raw.marks(len(units))})", [per, *units])
        for rid, uid, channel, rule, digest in found:
            self._stored[(uid, channel, per, rule)] = (rid, digest)

    def add(self, rows: dict[tuple[str, str, str, str], tuple]) -> None:
        if self._session is None:
            self._open()
        by_period: dict[str, set[str]] = defaultdict(set)
        for key in rows:
            by_period[key[2]].add(key[0])
        for per, units in by_period.items():
            self._fetch_stored(per, units)
        new, changed = [], []
        stored, stamps = self._stored, self._stamps
        for key, row in rows.items():
            old = stored.get(key)
            if old is None:
                new.append((*key, *row[:6], *stamps, row[6]))
            elif old[1] != row[6]:
                changed.append((*key, *row[:6], *stamps, row[6]))
        self._seen.update(rows)
        if new or changed:
            self._parts += 1
            _write_evaluations(self._raw, new, changed, self._parts)
        self.stats = SaveStats(self.stats.verdicts + len(rows), self.stats.written + len(new) + len(changed),
                               self.stats.removed)

    def _remove_gone(self) -> None:
        if self.replace_units is None or self.period is None:
            return
        self._fetch_stored(self.period, set())
        gone = [rid for key, (rid, _) in self._stored.items()
                if key[2] == self.period and key[0] in self.replace_units and key not in self._seen]
        for chunk in _chunks(gone, 900):
            self._raw.execute(f"DELETE FROM evaluations WHERE id IN ({self._raw.marks(len(chunk))})", chunk)
        self.stats = SaveStats(self.stats.verdicts, self.stats.written, len(gone))


def _write_evaluations(raw: Raw, new: list[tuple], changed: list[tuple], part: int = 1) -> None:
    """Write evaluation rows (tuples in _EVAL_COLS order, timestamps already as stored): `new` ones
    (no stored row when read) and `changed` ones. On psycopg2 new rows are COPYed straight in (a
    concurrent evaluation that inserted one of them first sends them the upsert way instead), changed
    ones COPYed into a temporary table and upserted from it; elsewhere one executemany upsert."""
    cols = ", ".join(_EVAL_COLS)
    update = ", ".join(f"{c} = excluded.{c}" for c in _EVAL_UPDATE)
    conflict = f"ON CONFLICT ({', '.join(_EVAL_KEY)}) DO UPDATE SET {update}"
    if raw.driver != "psycopg2":
        raw.executemany(f"INSERT INTO evaluations ({cols}) VALUES ({raw.marks(len(_EVAL_COLS))}) {conflict}",
                        new + changed)
        return
    import psycopg2

    copy = f"({cols}) FROM STDIN WITH (FORMAT csv, FORCE_NULL (deadline))"
    if new:
        raw.execute("SAVEPOINT pubwatch_new_evaluations")
        try:
            raw.cur.copy_expert(f"COPY evaluations {copy}", _csv(new))
            raw.execute("RELEASE SAVEPOINT pubwatch_new_evaluations")
        except psycopg2.IntegrityError:
            raw.execute("ROLLBACK TO SAVEPOINT pubwatch_new_evaluations")
            changed = new + changed
    if changed:
        table = f"pubwatch_evaluations_in_{part}"
        raw.execute(f"CREATE TEMPORARY TABLE {table} (unit_id text, channel text, period text, "
                    "rule text, status text, count integer, required integer, reason text, deadline date, "
                    "evidence json, as_of timestamp, evaluated_at timestamp, digest text) ON COMMIT DROP")
        raw.cur.copy_expert(f"COPY {table} {copy}", _csv(changed))
        raw.execute(f"INSERT INTO evaluations ({cols}) SELECT {cols} FROM {table} {conflict}")


def _csv(rows: list[tuple]) -> io.StringIO:
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    buf.seek(0)
    return buf


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

    def close_interrupted(self, source: SourceConfig, *, started_before: datetime, now: datetime) -> int:
        """Attempts of `source` still "running" that started before `started_before`: a crash left
        them; they become INTERRUPTED (a failed read) so none hangs forever. Returns how many."""
        with self.Session.begin() as s:
            res = s.execute(update(CrawlAttempt)
                            .where(CrawlAttempt.source_id == source.id, CrawlAttempt.outcome == "running",
                                   CrawlAttempt.started_at < started_before)
                            .values(outcome=Outcome.INTERRUPTED.value, finished_at=now,
                                    message="抓取进程在完成前退出(被终止或重启), 本次结果未保存; 下次抓取自动重试"))
            return res.rowcount or 0

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
                    if result.outcome is Outcome.OK and result.items:
                        state.pop("empty", None)       # a list with entries ends an empty streak
                    if covered_from is None:
                        state.pop("covered_from", None)
                    else:
                        state["covered_from"] = "all" if covered_from == COVERS_ALL else covered_from.isoformat()
                    row.state = state
                elif result.outcome is Outcome.SUSPECT_EMPTY and result.state:
                    # An unconfirmed empty read keeps only its streak (sources.base.settle_empty): never
                    # validators, never coverage.
                    row.state = {**(row.state or {}), **{k: v for k, v in result.state.items() if k == "empty"}}

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
            existing.update(self._moved_posts(s, source, by_key, existing))
            new_rows = []
            for key, it in by_key.items():
                row = existing.get(key)
                if row is None:
                    new_rows.append(dict(unit_id=source.unit_id, channel=source.channel, url_key=key,
                                         url=it.url, source_id=source.id, column_type=source.column_type,
                                         title=it.title[:2000], published_at=it.published,
                                         first_seen_at=seen_at, first_seen_attempt_id=attempt_id,
                                         last_seen_at=seen_at, pinned=it.pinned, date_suspicious=False,
                                         evidence=date_evidence(it)))
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

    @staticmethod
    def _moved_posts(s: Any, source: SourceConfig, by_key: dict[str, ListItem],
                     existing: dict[str, Post]) -> dict[str, Post]:
        """{new url_key: stored post} for listed items that are stored posts under a new address: a
        portal moved to another domain (or http to https) lists its old posts again under new URLs.
        The same post: same source, same title, same stated publication day (the new site may show
        the time or not), the stored URL on another origin (scheme/host/port) and not itself listed
        any more. The stored row takes the new URL (the old one kept in its evidence), so it is
        neither stored twice nor counted twice. A column the registry declares moved (`moved_to`) may
        also have moved within its site (another path, same origin): then the origin may be the same.
        Undated items and same-origin look-alikes (two notices of one title on one day) stay apart."""
        fresh = {k: it for k, it in by_key.items() if k not in existing and it.published is not None and it.title}
        if not fresh:
            return {}
        listed = {it.url for it in by_key.values()}
        titles = sorted({it.title[:2000] for it in fresh.values()})
        candidates: dict[tuple[str, Any], list[Post]] = defaultdict(list)
        for chunk in _chunks(titles, 500):
            for row in s.scalars(select(Post).where(Post.unit_id == source.unit_id, Post.channel == source.channel,
                                                    Post.source_id == source.id, Post.title.in_(chunk))
                                 .order_by(Post.id)):
                if row.published_at is not None and row.url not in listed:
                    candidates[(row.title, row.published_at.astimezone(TZ).date())].append(row)
        moved: dict[str, Post] = {}
        relocated = bool(source.options.get("moved_to"))
        for key, it in fresh.items():
            origin = _origin(it.url)
            for row in candidates.get((it.title[:2000], it.published.astimezone(TZ).date()), ()):
                if (relocated or _origin(row.url) != origin) and row not in moved.values():
                    previous = list((row.evidence or {}).get("previous_urls", []))
                    row.evidence = {**(row.evidence or {}), "previous_urls": previous + [row.url]}
                    row.url, row.url_key = it.url, key
                    moved[key] = row
                    break
        return moved

    # ----------------------------------------------------------------- evaluate
    _POST_COLS = ("p.unit_id, p.source_id, p.channel, p.url, p.title, p.published_at, p.first_seen_at, "
                  "p.column_type, p.date_suspicious")

    @staticmethod
    def _post_fact_rows(raw: Raw, rows: list[tuple], out: dict[str, list[PostFact]]) -> None:
        ts = raw.ts_reader()
        for uid, sid, channel, url, title, published, seen, ctype, susp in rows:
            out[uid].append(PostFact(sid, channel, url, title, ts(published), ts(seen), ctype, bool(susp)))

    def post_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[PostFact]]:
        """Posts with a stated date in [start, end), grouped by unit, oldest first."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        with self.Session() as s, Raw(s) as raw:
            for chunk in _chunks(list(unit_ids), 900):
                rows = raw.rows(f"SELECT {self._POST_COLS} FROM posts p WHERE p.unit_id IN ({raw.marks(len(chunk))}) "
                                "AND p.published_at >= ? AND p.published_at < ? AND NOT p.pinned "
                                "ORDER BY p.unit_id, p.published_at, p.id",
                                [*chunk, raw.ts_param(start), raw.ts_param(end)])
                self._post_fact_rows(raw, rows, out)
        return out

    def rule_post_facts(self, unit_ids: Sequence[str], history_from: datetime, recent_from: datetime,
                        end: datetime) -> dict[str, list[PostFact]]:
        """What the rules need of the posts in [history_from, end), without shipping all of them.

        Posts in [recent_from, end) come in full. Of the older history only the tail the rules can
        look at comes back: for each portal column, its posts from local midnight of the day of its
        latest post (its latest non-suspicious one, if it has one); for a WeChat account, whose
        sources (two bridges) may carry one article twice, the same per account from the oldest of
        its sources' latest posts. That holds each source's latest post and latest non-suspicious
        post (staleness, the last post before a period) and whole days, so WeChat's same-title-
        same-day dedupe gives the same answers as over the full history (portal posts are unique
        per URL already). See `_history_tail_is_complete` for the one case that needs the full
        history instead (then it is fetched)."""
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
        """See `rule_post_facts`: the tail of the posts in [start, end). Each source's latest posts are
        two index probes (ix_posts_source_published), not an aggregate over years of posts."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        with self.Session() as s, Raw(s) as raw:
            lo, hi = raw.ts_param(start), raw.ts_param(end)
            latest = ("(SELECT p.published_at FROM posts p WHERE p.source_id = s.id AND p.published_at >= ? "
                      "AND p.published_at < ? AND NOT p.pinned {extra} ORDER BY p.published_at DESC LIMIT 1)")
            for chunk in _chunks(list(unit_ids), 900):
                sql = (
                    "WITH src AS (SELECT s.id, s.unit_id, s.channel, "
                    f"CASE WHEN s.channel = '{WECHAT}' THEN '' ELSE s.id END AS part, "
                    f"{latest.format(extra='')} AS last_any, "
                    f"{latest.format(extra='AND NOT p.date_suspicious')} AS last_ok "
                    f"FROM sources s WHERE s.unit_id IN ({raw.marks(len(chunk))})), "
                    "cut AS (SELECT id, MIN(COALESCE(last_ok, last_any)) "
                    "OVER (PARTITION BY unit_id, channel, part) AS c FROM src) "
                    f"SELECT {self._POST_COLS} FROM cut JOIN posts p ON p.source_id = cut.id "
                    f"WHERE cut.c IS NOT NULL AND p.published_at >= {raw.day_before('cut.c')} "
                    "AND p.published_at >= ? AND p.published_at < ? AND NOT p.pinned")
                by_unit: dict[str, list[PostFact]] = defaultdict(list)
                self._post_fact_rows(raw, raw.rows(sql, [lo, hi, lo, hi, *chunk, lo, hi]), by_unit)
                for uid, posts in by_unit.items():
                    parts: dict[str, list[PostFact]] = defaultdict(list)
                    for p in posts:                 # the SQL's partitions: a portal column, a WeChat account
                        parts[p.channel if p.channel == WECHAT else p.source_id].append(p)
                    for part in parts.values():
                        out[uid].extend(_whole_days_from_cut(part))
        for posts in out.values():
            posts.sort(key=attrgetter("published", "url"))
        return out

    def attempt_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[AttemptFact]]:
        """Finished crawl attempts started in [start, end), grouped by unit, oldest first."""
        out: dict[str, list[AttemptFact]] = defaultdict(list)
        outcomes = {o.value: o for o in Outcome}
        with self.Session() as s, Raw(s) as raw:
            ts = raw.ts_reader()
            for chunk in _chunks(list(unit_ids), 900):
                rows = raw.rows("SELECT unit_id, source_id, channel, started_at, outcome, message, source_updated, "
                                f"covered_from FROM crawl_attempts WHERE unit_id IN ({raw.marks(len(chunk))}) "
                                "AND kind = 'crawl' AND started_at >= ? AND started_at < ? AND outcome <> 'running' "
                                "ORDER BY unit_id, started_at, id", [*chunk, raw.ts_param(start), raw.ts_param(end)])
                for uid, sid, channel, started, outcome, message, updated, covered in rows:
                    out[uid].append(AttemptFact(sid, channel, ts(started), outcomes[outcome], message or "",
                                                ts(updated), ts(covered)))
        return out

    def save_verdicts(self, verdicts: Sequence[Verdict], *, as_of: datetime,
                      replace_units: Sequence[str] | None = None, period: str | None = None,
                      rows: dict[tuple[str, str, str, str], tuple] | None = None) -> SaveStats:
        """Upsert verdicts; with replace_units+period, rows of those units for that period that the
        new evaluation no longer produces (a rule that stopped applying) are removed. One transaction.
        See `VerdictWriter` (unchanged verdicts are not rewritten). `rows`: `verdict_rows(verdicts)`
        if the caller already made them."""
        with self.verdict_writer(as_of=as_of, replace_units=replace_units, period=period) as writer:
            writer.add(verdict_rows(verdicts) if rows is None else rows)
        return writer.stats

    def verdict_writer(self, *, as_of: datetime, replace_units: Sequence[str] | None = None,
                       period: str | None = None) -> VerdictWriter:
        return VerdictWriter(self, as_of=as_of, replace_units=replace_units, period=period)

    def record_evaluation_run(self, period: str, *, as_of: datetime, units: int, stats: SaveStats,
                              seconds: float) -> None:
        with self.Session.begin() as s:
            s.add(EvaluationRun(period=period, as_of=as_of, evaluated_at=utcnow(), units=units,
                                verdicts=stats.verdicts, written=stats.written, removed=stats.removed,
                                seconds=round(seconds, 3)))

    def latest_evaluation_as_of(self, period: str) -> datetime | None:
        """The latest `as_of` any evaluation of `period` used (None: never evaluated) — from the
        recorded runs, and from the rows themselves (verdicts saved without a run)."""
        with self.Session() as s:
            found = [s.scalar(select(func.max(EvaluationRun.as_of)).where(EvaluationRun.period == period)),
                     s.scalar(select(func.max(Evaluation.as_of)).where(Evaluation.period == period))]
        found = [t for t in found if t is not None]
        return max(found) if found else None

    def has_evaluations(self, period: str, unit_ids: Sequence[str]) -> bool:
        with self.Session() as s:
            for chunk in _chunks(list(unit_ids), 900):
                if s.scalar(select(Evaluation.id).where(Evaluation.period == period,
                                                        Evaluation.unit_id.in_(chunk)).limit(1)) is not None:
                    return True
        return False

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
    """One tail partition's history posts (a portal column's, a WeChat account's) from local midnight
    of the cut day on (the cut: the oldest of its sources' latest post, the latest non-suspicious one
    where a source has one). The SQL sent them from a day before the cut."""
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


def verdict_rows(verdicts: Iterable[Verdict]) -> dict[tuple[str, str, str, str], tuple]:
    """{(unit, channel, period, rule): (status, count, required, reason, deadline, evidence JSON, digest)}
    — what `save_verdicts` writes; the digest (md5 of the content) tells a changed verdict."""
    rows = {}
    dumps, md5 = orjson.dumps, hashlib.md5
    for v in verdicts:
        evidence = dumps(v.evidence, default=_json_default).decode()
        deadline = v.deadline.isoformat() if v.deadline else None
        digest = md5(f"{v.status.value}\x1f{v.count}\x1f{v.required}\x1f{deadline}\x1f{v.reason}"
                     f"\x1f{evidence}".encode()).hexdigest()
        rows[(v.unit_id, v.channel, v.period, v.rule)] = (v.status.value, v.count, v.required, v.reason,
                                                           deadline, evidence, digest)
    return rows


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


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
