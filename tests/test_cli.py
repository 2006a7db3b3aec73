"""The CLI contracts, run as real subprocesses: `python -m pubwatch …` with PYTHONPATH=include."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import chinese_calendar
import pytest

from pubwatch.registry import load_registry
from pubwatch.store import Store, upgrade

from test_backfill import crawl_demo

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
STATUSES = {"met", "at_risk", "missed", "unknown", "exempt", "pending"}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PUBWATCH_")}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT / "include")
    return subprocess.run([sys.executable, "-m", "pubwatch", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


# ------------------------------------------------------------------------------------ calendar
def test_calendar_national_day_week():
    r = run("calendar", "2026-10-01")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    expected = [date(2026, 9, 28) + timedelta(days=i) for i in range(7)
                if chinese_calendar.is_workday(date(2026, 9, 28) + timedelta(days=i))]
    assert out["week"] == "2026-W40" and out["start"] == "2026-09-28" and out["end"] == "2026-10-04"
    assert out["working_days"] == [d.isoformat() for d in expected] == ["2026-09-28", "2026-09-29", "2026-09-30"]
    assert out["reminder_day"] == "2026-09-30"          # Friday Oct 2 is a holiday: the last working day before


def test_calendar_spring_festival_week_has_no_reminder():
    r = run("calendar", "2026-02-18")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["week"] == "2026-W08" and out["working_days"] == [] and out["reminder_day"] is None


@pytest.mark.parametrize("arg", ["2026-02-30", "tomorrow"])
def test_calendar_bad_date_exits_2(arg):
    r = run("calendar", arg)
    assert r.returncode == 2 and r.stdout == ""
    assert "YYYY-MM-DD" in r.stderr and "Traceback" not in r.stderr


def test_calendar_of_a_year_without_data_is_provisional():
    r = run("calendar", "2027-03-01")
    assert r.returncode == 0 and '"provisional": true' in r.stdout


# ------------------------------------------------------------------------------------ parsers
@pytest.mark.parametrize("name,url", [
    ("trs_gzdt_gbk.html", "http://www.example.gov.cn/col/gzdt/index.html"),
    ("generic_date_in_link_basehref.html", "https://www.example.gov.cn/xxgk/list.html"),
    ("jcms_gzdt_utf8.html", "https://www.example.gov.cn/col/col123/index.html"),
])
def test_parse_list_prints_json_lines_with_absolute_urls(name, url):
    r = run("parse-list", str(FIXTURES / "lists" / name), "--url", url)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert rows
    for row in rows:
        parts = urlsplit(row["url"])
        assert parts.scheme in ("http", "https") and parts.netloc, row
        assert row["title"].strip()


@pytest.mark.parametrize("name", ["we_mp_rss.xml", "wechat2rss.xml", "rsshub_wechat.atom"])
def test_parse_feed_prints_json_lines_in_shanghai_time(name):
    r = run("parse-feed", str(FIXTURES / "feeds" / name))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert rows
    dated = [row for row in rows if row.get("published")]
    assert dated and all(row["published"].endswith("+08:00") for row in dated)
    assert all(row["url"].startswith("http") for row in rows)


# ------------------------------------------------------------------------------------ demo store
@pytest.fixture(scope="module")
def demo_db(demo_portal, tmp_path_factory):
    """A SQLite store with the demo crawled once at the demo Friday; the env a CLI run needs."""
    tmp = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{tmp / 'pubwatch.db'}"
    env = {**demo_portal.env(), "PUBWATCH_DB_URL": url, "PUBWATCH_VAR_DIR": str(tmp / "var")}
    upgrade(url)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        registry = load_registry()
    store = Store(url)
    crawl_demo(store, registry)
    store.close()
    return {"env": env, "registry": registry, "tmp": tmp}


def test_evaluate_prints_a_table_and_json_lines(demo_db):
    names = {u.id: u.name for u in demo_db["registry"].units}
    r = run("evaluate", "--period", "2026-W47", env=demo_db["env"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["单位", "渠道", "规则"]
    for name in names.values():
        assert any(line.startswith(name) for line in lines[1:]), name
    r = run("evaluate", "--period", "2026-W47", "--json", env=demo_db["env"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {row["unit"] for row in rows} == set(names)
    assert all(row["period"] == "2026-W47" and row["status"] in STATUSES for row in rows)
    by_key = {(row["unit"], row["channel"], row["rule"]): row for row in rows}
    assert by_key[("jyj", "portal", "weekly")]["status"] == "met" and by_key[("jyj", "portal", "weekly")]["count"] == 2
    assert all(row["status"] != "missed" for row in rows if row["unit"] in ("gaj", "sjj") and row["channel"] == "portal")
    assert len(by_key) == len(rows)


@pytest.mark.parametrize("period,rule", [("2026-11", "monthly_quota"), ("2026-Q4", None), ("2026", None)])
def test_evaluate_month_quarter_year(demo_db, period, rule):
    r = run("evaluate", "--period", period, "--json", env=demo_db["env"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert all(row["period"] == period for row in rows)
    if rule:                                     # the shipped policies have no quarterly / yearly rule
        assert rule in {row["rule"] for row in rows}


@pytest.mark.parametrize("bad", ["2026-13", "2026-W60"])
def test_evaluate_bad_period_exits_2_before_touching_anything(demo_db, bad, tmp_path):
    env = {**demo_db["env"], "PUBWATCH_DB_URL": f"sqlite:///{tmp_path / 'untouched.db'}"}
    r = run("evaluate", "--period", bad, env=env)
    assert r.returncode == 2
    assert bad in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "untouched.db").exists()


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_report_writes_files_that_open(demo_db, fmt, tmp_path):
    assert run("evaluate", "--period", "2026-W47", env=demo_db["env"]).returncode == 0
    out = tmp_path / f"report.{fmt}"
    serial = ["--serial", "12"] if fmt == "docx" else []
    r = run("report", "--period", "2026-W47", "--format", fmt, "--out", str(out), *serial, env=demo_db["env"])
    assert r.returncode == 0, r.stderr
    assert out.exists() and str(out) in r.stdout
    if fmt == "docx":
        import docx

        doc = docx.Document(str(out))
        text = "\n".join([p.text for p in doc.paragraphs]
                         + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    else:
        import openpyxl

        wb = openpyxl.load_workbook(str(out))
        text = "\n".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                         if c.value is not None)
    assert "2026年第47周" in text or fmt == "xlsx"
    assert fmt == "xlsx" or re.search(r"某政办〔\d{4}〕12号", text)          # the serial the clerk gave
    # the circular names the units it reports on (late or unverifiable); the table lists every unit
    names = ["县财政局", "县公安局"] if fmt == "docx" else [u.name for u in demo_db["registry"].units]
    missing = [n for n in names if n not in text]
    assert not missing, missing


def test_report_refuses_a_week_not_evaluated_or_evaluated_before_it_ended(demo_db, tmp_path):
    """A circular stating that every unit met its duty for a week nobody checked must not exist (#16.6)."""
    never = run("report", "--period", "2024-W30", "--out", str(tmp_path / "x.docx"), env=demo_db["env"])
    assert never.returncode == 1 and "尚未评估" in never.stderr
    assert "pubwatch evaluate --period 2024-W30" in never.stderr and not (tmp_path / "x.docx").exists()
    assert run("evaluate", "--period", "2027-W30", env=demo_db["env"]).returncode == 0   # evaluated today
    early = run("report", "--period", "2027-W30", "--out", str(tmp_path / "y.docx"), env=demo_db["env"])
    assert early.returncode == 1 and "本期结束之前" in early.stderr and "Traceback" not in early.stderr


# ------------------------------------------------------------------------------------ db, pools
def test_db_upgrade_twice(tmp_path):
    env = {"PUBWATCH_DB_URL": f"sqlite:///{tmp_path / 'x.db'}", "PUBWATCH_VAR_DIR": str(tmp_path / "var")}
    for _ in range(2):
        r = run("db", "upgrade", env=env)
        assert r.returncode == 0, r.stderr
        assert "newest schema" in r.stdout
    import sqlalchemy as sa

    eng = sa.create_engine(env["PUBWATCH_DB_URL"])
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    eng.dispose()


def test_pools_one_line_per_portal_host(demo_db):
    r = run("pools", env=demo_db["env"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    hosts = {s.host for u in demo_db["registry"].units for s in u.sources if s.channel == "portal" and s.host}
    assert len(lines) == len(hosts) >= 1
    assert all(line.startswith("airflow pools set ") for line in lines)
