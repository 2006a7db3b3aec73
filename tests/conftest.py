"""Shared fixtures: tracking stores on SQLite and PostgreSQL, the demo portal, the demo registry."""
from __future__ import annotations

import os
import uuid
from datetime import datetime

import pytest

from pubwatch import store as store_mod
from pubwatch.demo import DemoPortal
from pubwatch.registry import load_registry
from pubwatch.types import TZ

PG_ADMIN_URL = os.environ.get("PUBWATCH_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
# The demo week used by tests: fixed, so results never depend on today's date.
TEST_AS_OF = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)   # Friday of 2026-W47


def _pg_available() -> bool:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN_URL)
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if not _pg_available():
        if os.environ.get("PUBWATCH_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    import sqlalchemy as sa

    name = f"pubwatch_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as c:
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _reset_pg(url: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A migrated, empty tracking DB URL — every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pubwatch.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    store_mod.upgrade(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'pubwatch.db'}"
    store_mod.upgrade(url)
    return url


@pytest.fixture
def store(db_url):
    s = store_mod.Store(db_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_portal():
    """The bundled demo portal for the fixed test week (2026-W47, as of Friday 09:00)."""
    with DemoPortal(as_of=TEST_AS_OF) as portal:
        yield portal


@pytest.fixture
def demo_env(demo_portal, monkeypatch, tmp_path):
    for k, v in demo_portal.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PUBWATCH_VAR_DIR", str(tmp_path / "var"))
    return demo_portal


@pytest.fixture
def demo_registry(demo_env):
    return load_registry()



@pytest.fixture
def demo_runtime(demo_env, sqlite_url):
    """The demo county crawled once at TEST_AS_OF and its weeks evaluated (SQLite)."""
    from pubwatch import jobs

    rt = jobs.Runtime(sqlite_url)
    jobs.prepare(rt)
    fetcher = rt.fetcher()
    for unit in rt.registry.units:
        jobs.crawl(rt, unit.id, fetcher=fetcher, now=TEST_AS_OF)
    fetcher.close()
    jobs.evaluate_week(rt, TEST_AS_OF)
    yield rt
    rt.close()
