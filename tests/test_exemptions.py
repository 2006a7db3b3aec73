"""Dated exemptions and dated suspensions (#17.3): exactly the periods they cover are 免检, with the
reason shown; nothing before them changes."""
from datetime import date, timedelta

import pytest

from pubwatch.periods import Period
from pubwatch.registry import Exemption, parse_registry
from pubwatch.types import Status
from tests.test_rules import WEEKLY_ONLY, at, make_unit, ok, verdicts

W46, W47, W48, W49, W50 = (Period.parse(f"2026-W{n}") for n in (46, 47, 48, 49, 50))


def weekly_of(unit, week, channel):
    monday = week.end + timedelta(days=1)
    reads = [ok(s.id, at(monday.year, monday.month, monday.day, 1)) for s in unit.sources]
    vs = verdicts(unit, week, [], reads, at(2026, 12, 20, 9), WEEKLY_ONLY)
    return next(v for v in vs if v.channel == channel and v.rule == "weekly")


def test_an_exemption_covers_exactly_its_weeks_and_says_why():
    moving = Exemption(date(2026, 11, 23), date(2026, 12, 6), "账号迁移", "wechat")
    unit = make_unit(exemptions=(moving,))
    for week in (W48, W49):
        v = weekly_of(unit, week, "wechat")
        assert v.status is Status.EXEMPT and "账号迁移" in v.reason and "2026年11月23日至12月06日" in v.reason
    assert weekly_of(unit, W47, "wechat").status is Status.MISSED          # before it: judged as always
    assert weekly_of(unit, W50, "wechat").status is Status.MISSED          # after it: judged again
    assert weekly_of(unit, W48, "portal").status is Status.MISSED          # the other channel is not excused
    reform = make_unit(exemptions=(Exemption(date(2026, 11, 25), date(2026, 11, 26), "机构改革"),))
    assert {weekly_of(reform, W48, ch).status for ch in ("portal", "wechat")} == {Status.EXEMPT}


def test_a_dated_suspension_never_changes_the_periods_before_it():
    unit = make_unit(suspended=frozenset({"wechat"}), suspended_since={"wechat": date(2026, 11, 16)})
    assert weekly_of(unit, W46, "wechat").status is Status.MISSED          # ended before the suspension
    later = weekly_of(unit, W47, "wechat")
    assert later.status is Status.EXEMPT and "自2026年11月16日起已暂停监管" in later.reason
    legacy = make_unit(suspended=frozenset({"wechat"}), suspended_since={"wechat": None})
    assert weekly_of(legacy, W46, "wechat").status is Status.EXEMPT        # the old undated form: every period


UNIT = {"id": "jyj", "name": "县教育局", "category": "department",
        "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
        "portal": {"columns": [{"id": "gzdt", "url": "https://www.example.gov.cn/jyj/gzdt/"}]},
        "suspended": {"wechat": "2026-11-16"}}


def test_registry_reads_exemptions_and_dated_suspensions():
    reg = parse_registry({"units": [UNIT], "exemptions": [
        {"unit": "jyj", "channel": "wechat", "from": "2026-11-23", "to": "2026-12-06", "reason": "账号迁移"},
        {"unit": "jyj", "from": date(2026, 12, 1), "to": date(2026, 12, 2), "reason": "机构改革"}]})
    [unit] = reg.units
    assert reg.errors == []
    assert unit.exemptions == (Exemption(date(2026, 11, 23), date(2026, 12, 6), "账号迁移", "wechat"),
                               Exemption(date(2026, 12, 1), date(2026, 12, 2), "机构改革", None))
    assert unit.suspended_since == {"wechat": date(2026, 11, 16)} and "exemptions" not in reg.settings


@pytest.mark.parametrize("entry, field", [
    ({"unit": "nobody", "from": "2026-11-23", "to": "2026-11-30", "reason": "x"}, "exemptions[0].unit"),
    ({"unit": "jyj", "from": "2026-11-23", "to": "2026-11-01", "reason": "x"}, "exemptions[0].to"),
    ({"unit": "jyj", "from": "2026-11-23", "to": "2026-11-30"}, "exemptions[0].reason"),
    ({"unit": "jyj", "channel": "weibo", "from": "2026-11-23", "to": "2026-11-30", "reason": "x"},
     "exemptions[0].channel"),
    ({"unit": "jyj", "from": "2026-13-01", "to": "2026-11-30", "reason": "x"}, "exemptions[0].from"),
    ({"unit": "jyj", "form": "2026-11-01", "to": "2026-11-30", "reason": "x"}, "exemptions[0].form"),
])
def test_a_bad_exemption_is_one_clear_error_and_the_unit_stays(entry, field):
    reg = parse_registry({"units": [UNIT], "exemptions": [entry]})
    assert [u.id for u in reg.units] == ["jyj"] and [e.field for e in reg.errors] == [field]
