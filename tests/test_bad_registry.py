"""A registry with broken entries, through a whole run: jobs.prepare → jobs.crawl → jobs.evaluate_week
against the demo portal. Each broken entry is one clear error naming the unit and the field; the
good units still crawl and are judged. (Parsing details are in test_registry.py.)"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import yaml

from conftest import TEST_AS_OF
from pubwatch import jobs
from pubwatch.store.models import SourceRow
from pubwatch.registry import default_registry_path

GOOD = ("jyj", "wjw", "mzj")


def _demo_units() -> dict:
    with open(default_registry_path(), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _broken(units: list[dict]) -> list[tuple[dict, str, str]]:
    """(entry, unit named in the error, field named in the error)."""
    base = copy.deepcopy(units[0])

    def variant(uid: str, name: str, **changes) -> dict:
        e = copy.deepcopy(base)
        e.update(id=uid, name=name, **changes)
        return e

    col = base["portal"]["columns"][0]
    missing_contacts = variant("nocontact", "县无联系人局")
    del missing_contacts["contacts"]
    no_staff = variant("nostaff", "县无信息员局")
    del no_staff["contacts"]["staff"]
    return [
        (variant("jyj", "县教育局(重复)"), "jyj", "id"),
        (variant("typo", "县拼写错误局", emial="x@y.cn"), "typo", "emial"),
        (variant("coltypo", "县栏目拼写局", portal={"columns": [{**col, "urll": col["url"]}]}), "coltypo", "portal.columns[0].urll"),
        (variant("badurl", "县坏网址局", portal={"columns": [{**col, "url": "www.example.gov.cn/gzdt"}]}),
         "badurl", "portal.columns[0].url"),
        (variant("nohost", "县无主机局", portal={"columns": [{**col, "url": "http:///gzdt/"}]}),
         "nohost", "portal.columns[0].url"),
        (variant("ftp", "县FTP局", portal={"columns": [{**col, "url": "ftp://files.example.gov.cn/gzdt/"}]}),
         "ftp", "portal.columns[0].url"),
        (variant("fileurl", "县文件局", portal={"columns": [{**col, "url": "file:///etc/passwd"}]}),
         "fileurl", "portal.columns[0].url"),
        (variant("feedscheme", "县订阅局", wechat={"account": "县订阅局",
                                                  "sources": [{"type": "rss", "url": "gopher://x/1"}]}),
         "feedscheme", "wechat.sources[0].url"),
        (missing_contacts, "nocontact", "contacts"),
        (no_staff, "nostaff", "contacts.staff"),
        (variant("BadId!", "县坏编号局"), "县坏编号局", "id"),
    ]


@pytest.fixture
def bad_registry(demo_env, tmp_path) -> tuple[Path, list[tuple[str, str]]]:
    data = _demo_units()
    good = [u for u in data["units"] if u["id"] in GOOD]
    broken = _broken(good)
    # Broken entries interleaved with the good ones: order must not matter.
    data["units"] = [good[0], broken[0][0], *[b[0] for b in broken[1:6]], good[1], *[b[0] for b in broken[6:]],
                     good[2]]
    path = tmp_path / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, [(unit, fld) for _, unit, fld in broken]


def test_each_bad_entry_is_one_clear_error_and_the_rest_crawl(bad_registry, sqlite_url, caplog):
    path, expected = bad_registry
    rt = jobs.Runtime(db_url=sqlite_url, registry_path=str(path))
    try:
        with caplog.at_level(logging.ERROR, logger="pubwatch.jobs"):
            prep = jobs.prepare(rt)
        assert [u["unit_id"] for u in prep["units"]] == list(GOOD)
        errors = prep["registry_errors"]
        assert len(errors) == len(expected), errors
        for (unit, fld), err in zip(expected, errors):
            assert f"单位 {unit}" in err and f"字段 {fld}" in err, (unit, fld, err)
        dup = errors[0]
        assert "重复" in dup                                   # the first jyj wins, the second is skipped
        assert rt.registry.unit("jyj").name == "县教育局"
        logged = [r.getMessage() for r in caplog.records if "登记表错误" in r.getMessage()]
        assert len(logged) == len(expected)                   # the admin sees every error in the task log

        # The good units crawl normally; nothing of the broken ones is ever fetched or stored.
        outcomes = {}
        for u in prep["units"]:
            res = jobs.crawl(rt, u["unit_id"], now=TEST_AS_OF, run_id="bad-registry")
            outcomes[u["unit_id"]] = [s["outcome"] for s in res["sources"]]
        assert all(o and set(o) <= {"ok", "not_modified"} for o in outcomes.values()), outcomes
        with rt.store.Session() as s:
            unit_ids = {r.unit_id for r in s.query(SourceRow)}
        assert unit_ids == set(GOOD)
        week = jobs.evaluate_week(rt, TEST_AS_OF)
        assert sum(week["current"]["counts"].values()) > 0
        assert all(any(f"] {rt.registry.unit(uid).name}:" in line for line in week["lines"]) for uid in GOOD)
        # the broken entries are not evaluated, but named in the run's lines — never silently absent (#17.2)
        skipped = [line for line in week["lines"] if line.startswith("登记表错误, 本周未监测: ")]
        assert len(skipped) == len(expected) and not any(line.startswith("[") and "拼写" in line
                                                         for line in week["lines"])
    finally:
        rt.close()


def test_selecting_a_broken_unit_reports_it_unknown_not_crash(bad_registry, sqlite_url):
    path, _ = bad_registry
    rt = jobs.Runtime(db_url=sqlite_url, registry_path=str(path))
    try:
        prep = jobs.prepare(rt, only=["jyj", "typo", "ftp", "nosuchunit"])
        assert [u["unit_id"] for u in prep["units"]] == ["jyj"]
        assert prep["unknown_selection"] == ["ftp", "nosuchunit", "typo"]
        with pytest.raises(KeyError):
            jobs.crawl(rt, "ftp", now=TEST_AS_OF)
    finally:
        rt.close()


def test_a_registry_that_is_not_a_mapping_fails_loudly(tmp_path, sqlite_url):
    path = tmp_path / "units.yaml"
    path.write_text("- id: jyj\n  name: 县教育局\n", encoding="utf-8")
    rt = jobs.Runtime(db_url=sqlite_url, registry_path=str(path))
    try:
        with pytest.raises(ValueError, match="units"):
            jobs.prepare(rt)
    finally:
        rt.close()


def test_bad_fetch_settings_fail_the_run_with_the_field_named(demo_env, tmp_path, sqlite_url):
    data = _demo_units()
    data["units"] = [u for u in data["units"] if u["id"] == "jyj"]
    data["fetch"] = {**data["fetch"], "timout": 5}
    path = tmp_path / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rt = jobs.Runtime(db_url=sqlite_url, registry_path=str(path))
    try:
        jobs.prepare(rt)
        with pytest.raises(ValueError, match="timout"):
            jobs.crawl(rt, "jyj", now=TEST_AS_OF)
    finally:
        rt.close()
