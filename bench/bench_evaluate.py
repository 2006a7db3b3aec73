"""Evaluation at scale: N units x 2 channels, five years of posts and crawl attempts, on PostgreSQL and SQLite.

Usage:
  .venv/bin/python bench/bench_evaluate.py [--units 10000] [--backends postgresql,sqlite]
                                           [--recompute weeks|none] [--keep] [--reuse URL]

Seeds a fresh PostgreSQL database (pubwatch_bench_<random> on 127.0.0.1:5432, dropped at the end) and
a temp SQLite file with bulk loads (COPY / executemany, not the ORM), then times one week's
evaluation of every unit step by step (queries, rules, serialising, saving), then the whole
`evaluate_period` in one process and in shards (one per CPU), each a first time (no stored verdicts)
and again (nothing changed: no row rewritten), then a month; optionally a five-year recompute (every
week, then every month). `--keep` keeps the databases, `--reuse URL` times against a kept one.
Prints a table: backend, step, seconds, rows. Not a test: it asserts nothing about speed.

Data per unit: portal columns 工作动态 (news) and 通知公告 (notice), one WeChat account (rss source);
~250 posts over five years (news ~2/3 of weeks, WeChat ~half, notices ~monthly); every 9th unit
went quiet a year ago (stale, missed), every 11th unit has back-dated (suspicious) posts, every 13th
unit's WeChat source failed in the last weeks (unknown). One crawl attempt per source per week; an
OK one listed the column's whole history (covered_from = COVERS_ALL), so it verifies silences.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

import sqlalchemy as sa  # noqa: E402

from pubwatch import rules  # noqa: E402
from pubwatch.evaluate import evaluate_period, recent_from, worker_count  # noqa: E402
from pubwatch.periods import Period  # noqa: E402
from pubwatch.registry import Contact, SourceConfig, Unit  # noqa: E402
from pubwatch.store import Store, upgrade, url_key, verdict_rows  # noqa: E402
from pubwatch.types import COVERS_ALL, PORTAL, TZ, WECHAT  # noqa: E402
from pubwatch.workdays import WorkCalendar  # noqa: E402

PG_ADMIN = os.environ.get("PUBWATCH_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
CATS = ("department", "town", "institution", "party")
WEEK = Period.parse("2026-W47")                         # the week timed; data ends with it
FIRST_WEEK = Period.week_of(WEEK.start - timedelta(days=5 * 365))
POST_COLS = ("unit_id", "channel", "url_key", "url", "source_id", "column_type", "title", "published_at",
             "first_seen_at", "last_seen_at", "pinned", "date_suspicious", "evidence")
ATT_COLS = ("source_id", "unit_id", "channel", "run_id", "kind", "started_at", "finished_at", "outcome",
            "message", "items_found", "items_new", "requests", "pages", "covered_from")
ROWS: list[tuple[str, str, float, int]] = []


def record(backend: str, step: str, seconds: float, rows: int) -> None:
    ROWS.append((backend, step, seconds, rows))
    print(f"  {backend:<11} {step:<44} {seconds:9.3f} s {rows:>11,}", flush=True)


# ------------------------------------------------------------------------------------ data
def make_units(n: int) -> list[Unit]:
    contacts = (Contact("leader", "甲", email="a@example.org"), Contact("staff", "乙", email="b@example.org"))
    units = []
    for i in range(n):
        uid = f"u{i:05d}"
        sources = (SourceConfig(f"{uid}.portal.gzdt", uid, PORTAL, "portal", "工作动态", f"http://p/{uid}/gzdt/"),
                   SourceConfig(f"{uid}.portal.tzgg", uid, PORTAL, "portal", "通知公告", f"http://p/{uid}/tzgg/",
                                column_type="notice"),
                   SourceConfig(f"{uid}.wechat.rss", uid, WECHAT, "rss", f"公众号{i}", f"http://r/{uid}"))
        units.append(Unit(uid, f"单位{i}", CATS[i % 4], contacts, sources))
    return units


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def post_rows(units: list[Unit]):
    """Tuples in POST_COLS order (timestamps as naive-UTC text, the models' storage format)."""
    weeks = (WEEK.start - FIRST_WEEK.start).days // 7 + 1
    quiet_from = WEEK.start - timedelta(days=365)
    for i, unit in enumerate(units):
        rnd = random.Random(i)
        gzdt, tzgg, rss = unit.sources
        for w in range(weeks):
            monday = FIRST_WEEK.start + timedelta(days=7 * w)
            if i % 9 == 0 and monday >= quiet_from:
                continue
            for src, share in ((gzdt, 0.5), (rss, 0.4), (tzgg, 0.08)):
                if rnd.random() >= share:
                    continue
                day = monday + timedelta(days=rnd.randrange(5))
                published = datetime(day.year, day.month, day.day, 9 + rnd.randrange(8), rnd.randrange(60), tzinfo=TZ)
                suspicious = i % 11 == 0 and rnd.random() < 0.1
                seen = published + timedelta(days=30 if suspicious else 1)
                url = f"{src.url}t{day:%Y%m%d}_{w}_{src.id[-4:]}.html"
                yield (unit.id, src.channel, url_key(url), url, src.id, src.column_type, f"{src.name}{w}",
                       _utc(published), _utc(seen), _utc(seen), False, suspicious, "{}")


def attempt_rows(units: list[Unit]):
    weeks = (WEEK.start - FIRST_WEEK.start).days // 7 + 2      # through the Monday after WEEK
    for i, unit in enumerate(units):
        for w in range(weeks):
            monday = FIRST_WEEK.start + timedelta(days=7 * w)
            at = datetime(monday.year, monday.month, monday.day, 6, 30, tzinfo=TZ)
            for src in unit.sources:
                failed = i % 13 == 0 and src.channel == WECHAT and w >= weeks - 3
                yield (src.id, unit.id, src.channel, "bench", "crawl", _utc(at), _utc(at + timedelta(seconds=20)),
                       "unreachable" if failed else "ok", "timeout" if failed else "", 20, 1, 2, 1,
                       None if failed else _utc(COVERS_ALL))


# ------------------------------------------------------------------------------------ loading
def _csv_field(v) -> str:
    if v is None:
        return ""                                  # unquoted: NULL
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace('"', '""') + '"'


def copy_pg(engine: sa.Engine, table: str, cols: tuple[str, ...], rows, batch: int = 200_000) -> int:
    raw = engine.raw_connection()
    n = 0
    try:
        cur = raw.cursor()
        buf, k = io.StringIO(), 0
        sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)"
        for row in rows:
            buf.write(",".join(_csv_field(v) for v in row) + "\n")
            k += 1
            if k == batch:
                buf.seek(0)
                cur.copy_expert(sql, buf)
                n, buf, k = n + k, io.StringIO(), 0
        if k:
            buf.seek(0)
            cur.copy_expert(sql, buf)
            n += k
        raw.commit()
    finally:
        raw.close()
    return n


def load_sqlite(path: str, table: str, cols: tuple[str, ...], rows, batch: int = 100_000) -> int:
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    n, chunk = 0, []
    for row in rows:
        chunk.append(tuple(int(v) if isinstance(v, bool) else v for v in row))
        if len(chunk) == batch:
            con.executemany(sql, chunk)
            n, chunk = n + len(chunk), []
    con.executemany(sql, chunk)
    n += len(chunk)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return n


def seed(backend: str, url: str, units: list[Unit]) -> None:
    upgrade(url)
    store = Store(url)
    t0 = time.perf_counter()
    store.sync_units(units)
    record(backend, "seed: units + sources (ORM)", time.perf_counter() - t0, len(units))
    for table, cols, gen in (("posts", POST_COLS, post_rows), ("crawl_attempts", ATT_COLS, attempt_rows)):
        t0 = time.perf_counter()
        if backend == "postgresql":
            n = copy_pg(store.engine, table, cols, gen(units))
        else:
            n = load_sqlite(url.removeprefix("sqlite:///"), table, cols, gen(units))
        record(backend, f"seed: {table} (bulk)", time.perf_counter() - t0, n)
    if backend == "postgresql":
        t0 = time.perf_counter()
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("VACUUM ANALYZE"))
        record(backend, "seed: VACUUM ANALYZE", time.perf_counter() - t0, 0)
    store.close()


# ------------------------------------------------------------------------------------ timing
def time_week(backend: str, url: str, units: list[Unit], policies: rules.Policies, cal: WorkCalendar) -> None:
    store = Store(url)
    ids = [u.id for u in units]
    period = WEEK
    as_of = period.end_dt + timedelta(days=4, hours=9)
    p_from, p_to = rules.post_window(period, policies)
    a_from, a_to = rules.attempt_window(period, as_of, policies)
    cal.working_days(period.start, period.end)

    t0 = time.perf_counter()
    posts = store.rule_post_facts(ids, p_from, max(p_from, recent_from(period, policies)), p_to)
    record(backend, "week: posts, period + per-column tail", time.perf_counter() - t0,
           sum(map(len, posts.values())))
    t0 = time.perf_counter()
    attempts = store.attempt_facts(ids, a_from, a_to)
    record(backend, "week: crawl attempts", time.perf_counter() - t0, sum(map(len, attempts.values())))
    t0 = time.perf_counter()
    verdicts = []
    for u in units:
        verdicts.extend(rules.evaluate_unit(u, period, posts.get(u.id, []), attempts.get(u.id, []), as_of=as_of,
                                            policies=policies, calendar=cal))
    record(backend, "week: rules (pure Python)", time.perf_counter() - t0, len(verdicts))
    t0 = time.perf_counter()
    rows = verdict_rows(verdicts)
    record(backend, "week: verdict rows (JSON + digest)", time.perf_counter() - t0, len(rows))
    _forget(store, period.key)
    t0 = time.perf_counter()
    stats = store.save_verdicts(verdicts, as_of=as_of, replace_units=ids, period=period.key, rows=rows)
    record(backend, "week: save verdicts, first time", time.perf_counter() - t0, stats.written)
    del posts, attempts, verdicts, rows
    for workers in (1, None):
        label = "1 process" if workers == 1 else f"{worker_count(len(units), store)} processes"
        _forget(store, period.key)
        for step in ("first time", "again (nothing changed)"):
            t0 = time.perf_counter()
            n = len(evaluate_period(store, units, period, as_of=as_of, policies=policies, calendar=cal,
                                    workers=workers))
            record(backend, f"week: evaluate_period, {label}, {step}", time.perf_counter() - t0, n)
    month = Period.month_of(period.start)
    t0 = time.perf_counter()
    n = len(evaluate_period(store, units, month, as_of=month.end_dt + timedelta(days=3), policies=policies,
                            calendar=cal))
    record(backend, f"month {month.key}: evaluate_period, first time", time.perf_counter() - t0, n)
    counts: dict[str, int] = {}
    for v in store.verdicts(period.key):
        counts[v.status.value] = counts.get(v.status.value, 0) + 1
    print(f"  {backend:<11} week verdicts by status: {counts}")
    store.close()


def _forget(store: Store, period: str) -> None:
    """Drop a period's stored verdicts, so the next evaluation writes every row (a first evaluation)."""
    with store.engine.begin() as c:
        c.execute(sa.text("DELETE FROM evaluations WHERE period = :p"), {"p": period})
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("VACUUM ANALYZE evaluations"))


def time_recompute(backend: str, url: str, units: list[Unit], policies: rules.Policies, cal: WorkCalendar) -> None:
    """Every week and every month of the five years, oldest first, as a backfill would."""
    store = Store(url)
    weeks, months, p = [], [], FIRST_WEEK
    while p.start <= WEEK.start:
        weeks.append(p)
        p = p.next()
    m = Period.month_of(FIRST_WEEK.end)
    while m.end <= WEEK.end:
        months.append(m)
        m = m.next()
    for label, periods in (("weeks", weeks), ("months", months)):
        t0 = time.perf_counter()
        n = 0
        for per in periods:
            n += len(evaluate_period(store, units, per, as_of=per.end_dt + timedelta(days=4, hours=9),
                                     policies=policies, calendar=cal))
        record(backend, f"5-year recompute: {len(periods)} {label}", time.perf_counter() - t0, n)
    store.close()


# ------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=10000)
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--recompute", choices=["weeks", "none"], default="none",
                    help="weeks: also every week and every month of the five years")
    ap.add_argument("--keep", action="store_true", help="keep the databases (prints their URLs)")
    ap.add_argument("--reuse", metavar="URL", default=None,
                    help="time against a database a --keep run left (same --units; one backend)")
    args = ap.parse_args()
    units = make_units(args.units)
    policies, cal = rules.load_policies(), WorkCalendar()
    print(f"{args.units} units x 2 channels, weeks {FIRST_WEEK.key} .. {WEEK.key}")
    for backend in args.backends.split(","):
        if args.reuse:
            backend = "postgresql" if args.reuse.startswith("postgresql") else "sqlite"
            upgrade(args.reuse)
            time_week(backend, args.reuse, units, policies, cal)
            if args.recompute == "weeks":
                time_recompute(backend, args.reuse, units, policies, cal)
            break
        if backend == "postgresql":
            name = f"pubwatch_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
            cleanup = lambda: _drop_pg(admin, name)  # noqa: E731
        else:
            tmp = tempfile.mkdtemp(prefix="pubwatch_bench_")
            url = f"sqlite:///{tmp}/bench.db"
            cleanup = lambda: _drop_dir(tmp)  # noqa: E731
        try:
            seed(backend, url, units)
            time_week(backend, url, units, policies, cal)
            if args.recompute == "weeks":
                time_recompute(backend, url, units, policies, cal)
        finally:
            if args.keep:
                print(f"kept {url}")
            else:
                cleanup()
    print()
    print(f"{'backend':<11} {'step':<44} {'seconds':>9}   {'rows':>11}")
    for backend, step, seconds, rows in ROWS:
        print(f"{backend:<11} {step:<44} {seconds:9.3f}   {rows:>11,}")


def _drop_pg(admin: sa.Engine, name: str) -> None:
    with admin.connect() as c:
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _drop_dir(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
