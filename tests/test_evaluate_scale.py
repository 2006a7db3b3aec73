"""Evaluation at scale: shards in worker processes give exactly the serial verdicts, unchanged verdicts
are not rewritten, every evaluation is recorded, and migration 0004 upgrades an existing database."""
import logging
import os
import random
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from pubwatch import evaluate, rules
from pubwatch.evaluate import evaluate_period, worker_count
from pubwatch.periods import Period
from pubwatch.store import Store, upgrade
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult
from test_backfill import _scale_units, _seed_random_history

WEEK = Period.parse("2026-W47")
AS_OF = WEEK.end_dt + timedelta(days=4, hours=9)


def _snapshot(store: Store, period: str) -> list[tuple]:
    return sorted((r.unit_id, r.channel, r.rule, r.status, r.count, r.required, r.reason, r.deadline, r.evidence)
                  for r in store.evaluations(period))


def _key(v):
    return (v.unit_id, v.channel, v.period, v.rule)


@pytest.fixture
def seeded(store):
    units = _scale_units(48)
    _seed_random_history(store, units, random.Random(11))
    return store, units


def test_shards_in_worker_processes_give_the_serial_verdicts(seeded):
    store, units = seeded
    policies = rules.load_policies()
    for period in (WEEK, Period.parse("2026-11"), Period.parse("2026-W40")):
        serial = evaluate_period(store, units, period, as_of=AS_OF, policies=policies, workers=1)
        stored = _snapshot(store, period.key)
        for workers in (2, 3):
            with store.engine.begin() as c:       # a first evaluation each time: every row written
                c.execute(sa.text("DELETE FROM evaluations WHERE period = :p"), {"p": period.key})
            sharded = evaluate_period(store, units, period, as_of=AS_OF, policies=policies, workers=workers)
            assert sorted(sharded, key=_key) == sorted(serial, key=_key), (period.key, workers)
            assert _snapshot(store, period.key) == stored, (period.key, workers)
    assert len(serial) > 100


def test_a_failed_worker_has_its_shard_redone_here(seeded, monkeypatch, caplog):
    store, units = seeded
    serial = evaluate_period(store, units, WEEK, as_of=AS_OF, workers=1)

    def broken(send, *args):            # runs in the forked worker
        send.send(("error", "RuntimeError: boom"))
        send.close()

    monkeypatch.setattr(evaluate, "_shard_worker", broken)
    with caplog.at_level(logging.WARNING, logger="pubwatch.evaluate"):
        again = evaluate_period(store, units, WEEK, as_of=AS_OF, workers=2)
    assert sorted(again, key=_key) == sorted(serial, key=_key)
    assert "a worker failed (RuntimeError: boom)" in caplog.text and "redoing its" in caplog.text


@pytest.mark.parametrize("fault", ["dies", "hangs"])
def test_a_dead_or_hung_worker_has_its_shard_redone_here(seeded, monkeypatch, caplog, fault):
    store, units = seeded
    serial = evaluate_period(store, units, WEEK, as_of=AS_OF, workers=1)

    def worker(send, *args):            # runs in the forked worker
        if fault == "dies":
            os._exit(3)                  # killed mid-way: the pipe closes without an answer
        time.sleep(120)

    monkeypatch.setattr(evaluate, "_shard_worker", worker)
    monkeypatch.setattr(evaluate, "WORKER_TIMEOUT", 2)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pubwatch.evaluate"):
        again = evaluate_period(store, units, WEEK, as_of=AS_OF, workers=2)
    assert sorted(again, key=_key) == sorted(serial, key=_key)
    assert ("a worker died" if fault == "dies" else "gave no answer in 2 s") in caplog.text
    assert time.monotonic() - started < 60                 # the hung worker was killed, not waited for


def test_worker_count_defaults():
    on_disk = Store("sqlite:////tmp/x.db")                          # never connects here
    assert worker_count(60, on_disk) == 1                           # a county: one process
    assert worker_count(evaluate.PARALLEL_MIN_UNITS, on_disk) >= 1
    assert worker_count(5000, on_disk, workers=3) == 3
    assert worker_count(2, on_disk, workers=8) == 2                 # never more shards than units
    assert worker_count(5000, Store("sqlite://"), workers=3) == 1   # in-memory: workers cannot see it


def test_env_sets_the_workers(monkeypatch):
    pg = Store("postgresql+psycopg2://u@h/db")                      # never connects here
    monkeypatch.setenv("PUBWATCH_EVAL_WORKERS", "1")
    assert worker_count(50_000, pg) == 1
    monkeypatch.setenv("PUBWATCH_EVAL_WORKERS", "2")
    assert worker_count(100, pg) == 2
    monkeypatch.setenv("PUBWATCH_EVAL_WORKERS", "many")
    assert worker_count(50_000, pg) == 1


def _runs(store: Store, period: str) -> list[tuple]:
    with store.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(
            "SELECT units, verdicts, written, removed FROM evaluation_runs WHERE period = :p ORDER BY id"),
            {"p": period})]


def test_unchanged_verdicts_are_not_rewritten_and_every_run_is_recorded(seeded):
    store, units = seeded
    first = evaluate_period(store, units, WEEK, as_of=AS_OF, workers=1)
    stamps = {(r.unit_id, r.channel, r.rule): r.evaluated_at for r in store.evaluations(WEEK.key)}
    evaluate_period(store, units, WEEK, as_of=AS_OF + timedelta(hours=1), workers=1)
    assert _runs(store, WEEK.key) == [(len(units), len(first), len(first), 0), (len(units), len(first), 0, 0)]
    assert {(r.unit_id, r.channel, r.rule): r.evaluated_at for r in store.evaluations(WEEK.key)} == stamps
    assert store.latest_evaluation_as_of(WEEK.key) == AS_OF + timedelta(hours=1)

    # One unit posts on its news column during the week: only its changed verdicts are written.
    unit = units[0]
    col = unit.sources_of("portal")[0]
    store.upsert_posts(col, [ListItem("补发的动态", "http://p/s0/gzdt/new.html", datetime(2026, 11, 18, 10, tzinfo=TZ))],
                       seen_at=AS_OF, attempt_id=None)
    third = evaluate_period(store, units, WEEK, as_of=AS_OF + timedelta(hours=2), workers=1)
    changed = {(v.channel, v.rule) for v in third if v.unit_id == unit.id} - \
        {(v.channel, v.rule) for v in first if v.unit_id == unit.id and v in third}
    written = _runs(store, WEEK.key)[-1][2]
    assert 1 <= written == len(changed) <= 5
    rows = {(r.unit_id, r.channel, r.rule): r for r in store.evaluations(WEEK.key)}
    weekly = rows[(unit.id, "portal", "weekly")]
    assert weekly.status == "met" and weekly.count >= 1
    assert weekly.as_of == AS_OF + timedelta(hours=2)               # the evaluation that changed it
    assert rows[(units[1].id, "portal", "weekly")].as_of == AS_OF   # untouched since the first


def test_a_rule_that_stops_applying_loses_its_rows(seeded, tmp_path):
    store, units = seeded
    evaluate_period(store, units, WEEK, as_of=AS_OF, workers=1)
    text = rules.DEFAULT_POLICIES_PATH.read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("  staleness:", "  staleness:\n    enabled: false", 1), encoding="utf-8")
    evaluate_period(store, units, WEEK, as_of=AS_OF, policies=rules.load_policies(path), workers=2)
    assert not [r for r in store.evaluations(WEEK.key) if r.rule.startswith("staleness")]
    assert _runs(store, WEEK.key)[-1][3] > 0


def test_migration_0004_upgrades_a_database_with_data(tmp_path):
    from alembic import command
    from alembic.config import Config

    from pubwatch.store import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "0003")
    engine = sa.create_engine(url)
    with engine.begin() as c:        # a post whose source row is missing, and an old evaluation
        c.execute(sa.text(
            "INSERT INTO posts (unit_id, channel, url_key, url, source_id, column_type, title, published_at, "
            "first_seen_at, last_seen_at, pinned, date_suspicious, evidence) VALUES ('u1', 'portal', 'k', "
            "'http://x/1', 'u1.portal.gzdt', 'news', 't', '2026-11-17 02:00:00.000000', "
            "'2026-11-17 02:00:00.000000', '2026-11-17 02:00:00.000000', 0, 0, '{}')"))
        c.execute(sa.text(
            "INSERT INTO evaluations (unit_id, channel, period, rule, status, count, required, reason, evidence, "
            "as_of, evaluated_at) VALUES ('u1', 'portal', '2026-W47', 'weekly', 'met', 1, 1, '', '{}', "
            "'2026-11-27 01:00:00.000000', '2026-11-27 01:00:00.000000')"))
    engine.dispose()
    upgrade(url)
    store = Store(url)
    assert store.latest_evaluation_as_of("2026-W47") == datetime(2026, 11, 27, 9, tzinfo=TZ)
    posts = store.rule_post_facts(["u1"], datetime(2025, 1, 1, tzinfo=TZ), datetime(2026, 11, 20, tzinfo=TZ),
                                  datetime(2026, 11, 30, tzinfo=TZ))
    assert [p.url for p in posts["u1"]] == ["http://x/1"]              # found through its new source row
    with store.engine.connect() as c:
        indexes = {r[1] for r in c.execute(sa.text("PRAGMA index_list('posts')"))}
    assert "ix_posts_source_published" in indexes
    store.close()


def test_models_match_the_migrations(sqlite_url):
    """The ORM models and the Alembic migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pubwatch.store.models import Base

    engine = sa.create_engine(sqlite_url)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    engine.dispose()
    assert diff == []


def test_attempts_and_posts_come_back_as_the_models_store_them(store):
    unit = _scale_units(1)[0]
    store.sync_units([unit])
    col = unit.sources_of("portal")[0]
    at = datetime(2026, 11, 20, 9, 15, 30, 123456, tzinfo=TZ)
    a = store.start_attempt(col, started_at=at, run_id="r")
    item = ListItem("标题", "http://p/s0/gzdt/1.html", datetime(2026, 11, 19, 23, 59, 59, tzinfo=TZ))
    store.upsert_posts(col, [item], seen_at=at, attempt_id=a)
    store.finish_attempt(a, col, SourceResult(Outcome.OK, [item], source_updated=at), finished_at=at, items_new=1,
                         covered_from=COVERS_ALL)
    post = store.post_facts([unit.id], at - timedelta(days=2), at)[unit.id][0]
    assert post.published == item.published and post.published.utcoffset() == timedelta(0)
    assert post.first_seen == at and not post.date_suspicious
    att = store.attempt_facts([unit.id], at - timedelta(seconds=1), at + timedelta(seconds=1))[unit.id][0]
    assert att.started_at == at and att.outcome is Outcome.OK and att.source_updated == at


def test_look_back_counts_only_the_policies_enabled_for_the_units(seeded):
    store, units = seeded
    policies = rules.load_policies()
    month = Period.parse("2026-11")
    assert rules.lookback_days(policies, "month", windowed_only=True) > 60   # max_gap configured, disabled
    assert rules.lookback_days(policies, "month", units, windowed_only=True) == 0   # enabled for nobody
    assert rules.lookback_days(policies, "month", units) == 730             # the last post before it
    assert rules.lookback_days(policies, "quarter", units) == 0             # no quarterly policy
    assert evaluate.recent_from(month, policies, units) == month.start_dt - timedelta(days=1)
    one = units[5]
    one.policy.update({"max_gap": {"enabled": True, "max_days": 10}})   # a unit override enables it
    try:
        assert rules.lookback_days(policies, "month", [units[4], one], windowed_only=True) == 10 + 31 + 31
        assert rules.lookback_days(policies, "week", units) == 730        # staleness: history_days
        assert rules.lookback_days(policies, "week", units, windowed_only=True) == 0
    finally:
        one.policy.clear()
    # The narrow window gives the verdicts of the full look-back, month and week alike.
    for period in (month, WEEK):
        got = evaluate_period(store, units, period, as_of=AS_OF, policies=policies, workers=1)
        p_from, p_to = rules.post_window(period, policies)
        a_from, a_to = rules.attempt_window(period, AS_OF, policies)
        ids = [u.id for u in units]
        posts, attempts = store.post_facts(ids, p_from, p_to), store.attempt_facts(ids, a_from, a_to)
        full = [v for u in units for v in rules.evaluate_unit(u, period, posts.get(u.id, []), attempts.get(u.id, []),
                                                                as_of=AS_OF, policies=policies, calendar=evaluate.WorkCalendar())]
        assert sorted(got, key=_key) == sorted(full, key=_key)
