"""evaluate.py: the rules fed from the store; verdicts saved once per unit/channel/period/rule."""
import random
from datetime import datetime, timedelta

from pubwatch.evaluate import evaluate_period, streaks
from pubwatch.periods import Period
from pubwatch.registry import parse_registry
from pubwatch.types import COVERS_ALL, TZ, ListItem, Outcome, SourceResult, Status

REG = parse_registry({"units": [
    {"id": uid, "name": name, "category": "department",
     "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
     "portal": {"columns": [{"id": "gzdt", "url": f"https://www.example.gov.cn/{uid}/gzdt/"}]}}
    for uid, name in [("ok", "按时单位"), ("late", "迟报单位"), ("down", "宕机单位")]]})
W = Period.parse("2026-W46")          # Nov 9-15
CRAWL = datetime(2026, 11, 16, 6, 30, tzinfo=TZ)   # Monday after the week


def seed(store, *, weeks_back=8):
    store.sync_units(REG.units)
    for unit in REG.units:
        col = unit.sources_of("portal")[0]
        for k in range(weeks_back):
            week = Period.parse("2026-W46")
            for _ in range(k):
                week = week.previous()
            at = datetime.combine(week.end, datetime.min.time(), TZ) + timedelta(days=1, hours=6, minutes=30)
            a = store.start_attempt(col, started_at=at, run_id="seed")
            if unit.id == "down" and k == 0:
                store.finish_attempt(a, col, SourceResult(Outcome.HTTP_ERROR, message="HTTP 503", http_status=503),
                                     finished_at=at, items_new=0)
                continue
            posts = [] if (unit.id == "late" and k in (0, 1)) or unit.id == "down" else [
                ListItem(f"{unit.name}动态{k}", f"https://www.example.gov.cn/{unit.id}/gzdt/t{k}.html",
                         datetime.combine(week.start + timedelta(days=2), datetime.min.time(), TZ).replace(hour=10))]
            new = store.upsert_posts(col, posts, seen_at=at, attempt_id=a)
            store.finish_attempt(a, col, SourceResult(Outcome.OK, posts), finished_at=at, items_new=new,
                                 covered_from=COVERS_ALL)


def weekly(verdicts):
    return {v.unit_id: v for v in verdicts if v.rule == "weekly"}


def test_met_missed_and_unknown_never_missed(store):
    seed(store)
    v = weekly(evaluate_period(store, REG.units, W, as_of=CRAWL + timedelta(hours=1)))
    assert v["ok"].status is Status.MET and v["ok"].count == 1
    assert v["late"].status is Status.MISSED and v["late"].count == 0
    assert v["down"].status is Status.UNKNOWN
    assert "503" in v["down"].reason
    rows = store.evaluations(W.key)
    assert len({(r.unit_id, r.channel, r.rule) for r in rows}) == len(rows)


def test_streak_of_consecutive_misses(store):
    seed(store)
    for p in (W.previous(), W):
        evaluate_period(store, REG.units, p, as_of=CRAWL + timedelta(hours=1))
    s = streaks(store, REG.units, W)
    assert s[("late", "portal")] == 2
    assert s.get(("ok", "portal"), 0) == 0


def test_backfill_is_deterministic_in_any_order(store):
    seed(store)
    weeks = [W]
    for _ in range(7):
        weeks.append(weeks[-1].previous())

    def run(order):
        for p in order:
            evaluate_period(store, REG.units, p, as_of=p.end_dt + timedelta(days=5))
        return sorted((r.unit_id, r.channel, r.period, r.rule, r.status, r.count, r.reason)
                      for p in weeks for r in store.evaluations(p.key))

    first = run(random.Random(1).sample(weeks, len(weeks)))
    second = run(random.Random(2).sample(weeks, len(weeks)))
    assert first == second
    assert store.counts()["evaluations"] == len(first)


def test_the_week_across_new_year_evaluates_today_marked_provisional(store, tmp_path):
    """2026-W53 runs into 2027, which no holiday data carries yet: it evaluates, every verdict
    marked 暂定; once the office adds 2027.yaml the mark is gone (#17.4)."""
    from pubwatch.workdays import WorkCalendar

    seed(store)
    w53 = Period.parse("2026-W53")
    as_of = datetime(2027, 1, 4, 9, 0, tzinfo=TZ)
    verdicts = evaluate_period(store, REG.units, w53, as_of=as_of, calendar=WorkCalendar(tmp_path))
    assert verdicts and all(v.evidence.get("calendar_provisional") == [2027] for v in verdicts)
    assert all("节假日安排暂定" in v.reason for v in verdicts)
    (tmp_path / "2027.yaml").write_text("year: 2027\nholidays:\n  - {name: 元旦, from: 2027-01-01, to: 2027-01-03}\n",
                                        encoding="utf-8")
    again = evaluate_period(store, REG.units, w53, as_of=as_of, calendar=WorkCalendar(tmp_path))
    assert not any("calendar_provisional" in v.evidence or "暂定" in v.reason for v in again)
