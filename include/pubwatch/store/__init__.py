"""The tracking store: the one gateway to the tracking database.

Every SQL statement of pubwatch — SQLAlchemy Core/ORM or raw DBAPI — lives in this package; the rest
of the library calls `Store` methods with plain arguments and gets plain data back (dataclasses,
tuples, detached ORM rows). No module outside it imports SQLAlchemy (tests/test_layers.py).

Layout, by concern (docs/ARCHITECTURE.md, "The store: one gateway to the database"):
- `__init__`   — `Store` (the facade), `make_engine`, `upgrade` (Alembic), counts;
- `sources`    — registry sync, what the crawler remembers of a source;
- `posts`      — post upserts, and the post facts the rules read;
- `attempts`   — crawl attempts and probes, and the attempt facts the rules read;
- `verdicts`   — evaluations: `VerdictWriter`, reads of stored verdicts and their history;
- `notices`    — the notice ledger's queries (`store.notices`);
- `evidence`   — the queries of evidence.py (`store.evidence`);
- `board`      — the compliance board's read queries (`store.board`);
- `reviews`    — 人工复核: the reviews' queries (`store.reviews`), laid over the verdicts read;
- `models`, `rawsql`, `migrations/` — the schema, the raw DBAPI layer of the hot path, Alembic.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import sessionmaker

from .. import config
from .attempts import AttemptQueries
from .base import SourceLike, UnitLike, utcnow
from .board import BoardQueries
from .evidence import EvidenceQueries, PostRecord
from .models import CrawlAttempt, Evaluation, Notice, Post, SourceRow
from .notices import NoticeQueries
from .posts import DATE_EVIDENCE_KEYS, MANUAL_DATE, PostQueries, date_evidence, url_key
from .reviews import REASON_PREFIX as REVIEW_REASON_PREFIX, Review, ReviewQueries
from .reviews import overlay as overlay_reviews
from .sources import SourceMemory, SourceQueries
from .verdicts import SaveStats, VerdictQueries, VerdictWriter, verdict_rows

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Row types handed out (detached) are exported for annotations: `Notice`, `SourceRow`, `Evaluation`, `Post`.
__all__ = ["DATE_EVIDENCE_KEYS", "MANUAL_DATE", "MIGRATIONS_DIR", "Evaluation", "Notice", "Post", "PostRecord",
           "REVIEW_REASON_PREFIX", "Review", "SaveStats", "SourceLike", "SourceMemory", "SourceRow", "Store",
           "UnitLike", "VerdictWriter", "date_evidence", "make_engine", "overlay_reviews", "upgrade", "url_key",
           "utcnow", "verdict_rows"]


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


class Store(SourceQueries, PostQueries, AttemptQueries, VerdictQueries):
    """The facade. The crawl and evaluation API is flat (`store.upsert_posts`, `store.post_facts`,
    `store.save_verdicts`, …: methods of the mixins in sources/posts/attempts/verdicts.py); the
    queries of one consumer are grouped under it: `store.notices` (the ledger), `store.evidence`,
    `store.board`, `store.reviews`. `Session` stays available for tests that seed or inspect rows directly."""

    def __init__(self, url: str | None = None, engine: Engine | None = None):
        self.engine = engine or make_engine(url)
        self.dialect = self.engine.dialect.name
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.notices = NoticeQueries(self)
        self.evidence = EvidenceQueries(self)
        self.board = BoardQueries(self)
        self.reviews = ReviewQueries(self)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def url(self) -> str:
        """The database URL, password included (for a worker process that opens its own Store)."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def in_memory(self) -> bool:
        """An in-memory SQLite database (another process cannot open it)."""
        database = self.engine.url.database or ""
        return self.dialect == "sqlite" and (database in ("", ":memory:") or database.startswith("file::memory:"))

    def counts(self) -> dict[str, int]:
        with self.Session() as s:
            return {name: s.scalar(select(func.count()).select_from(model)) or 0
                    for name, model in (("posts", Post), ("attempts", CrawlAttempt),
                                        ("evaluations", Evaluation), ("notices", Notice))}
