"""The numbers behind the board's charts, worked out by hand (#17.7)."""
from datetime import date, datetime

from pubwatch import rules
from pubwatch.board_charts import category_trend, posting_calendar, ranking_bars
from pubwatch.periods import Period
from pubwatch.registry import parse_registry
from pubwatch.types import TZ, ListItem, Status, Verdict


def unit(uid, name, category):
    return {"id": uid, "name": name, "category": category,
            "contacts": {"leader": {"name": "王", "email": "w@x.cn"}, "staff": {"name": "张", "email": "z@x.cn"}},
            "portal": {"columns": [{"id": "gzdt", "url": f"https://www.example.gov.cn/{uid}/gzdt/"}]},
            "wechat": {"account": name, "sources": [{"type": "rss", "url": f"https://rss.example.cn/{uid}.xml"}]}}


REG = parse_registry({"units": [unit("jyj", "县教育局", "department"), unit("czj", "县财政局", "department"),
                                unit("dz", "东镇", "town")]})
W46, W47 = Period.parse("2026-W46"), Period.parse("2026-W47")
AFTER = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


def save(store, period, rows):
    store.save_verdicts([Verdict(u, ch, period.key, rule, st) for u, ch, rule, st in rows], as_of=AFTER)


def test_trend_is_met_over_judged_per_category(store):
    store.sync_units(REG.units)
    M, X, U, E = Status.MET, Status.MISSED, Status.UNKNOWN, Status.EXEMPT
    save(store, W46, [("jyj", "portal", "weekly", M), ("jyj", "wechat", "weekly", X),
                      ("czj", "portal", "weekly", M), ("czj", "wechat", "weekly", U),     # unknown: not judged
                      ("dz", "portal", "weekly", E), ("dz", "wechat", "weekly", E),       # exempt: not judged
                      ("jyj", "unit", "monthly_quota", X)])                                 # another rule: ignored
    save(store, W47, [("jyj", "portal", "weekly", M), ("jyj", "wechat", "weekly", M),
                      ("czj", "portal", "weekly", X), ("czj", "wechat", "weekly", M),
                      ("dz", "portal", "weekly", X), ("dz", "wechat", "weekly", M)])
    t = category_trend(store, REG, [W46, W47])
    dept, town = t.series
    assert (dept.label, dept.met, dept.judged, dept.rates) == ("县直部门", [2, 3], [3, 4], [66.7, 75.0])
    assert (town.label, town.met, town.judged, town.rates) == ("乡镇", [0, 1], [0, 2], [None, 50.0])
    assert t.as_json()["weeks"] == ["11-09", "11-16"]


def test_posting_calendar_counts_days_gaps_and_bursts(store):
    store.sync_units(REG.units)
    jyj = REG.unit("jyj")
    col, feed = jyj.sources
    day = lambda d, h=10: datetime(2026, 11, d, h, 0, tzinfo=TZ)   # noqa: E731
    store.upsert_posts(col, [ListItem(f"动态{i}", f"https://www.example.gov.cn/jyj/gzdt/{i}.html", day(d))
                             for i, d in enumerate((2, 2, 3, 20))], seen_at=day(21), attempt_id=None)
    store.upsert_posts(feed, [ListItem("推文", "https://mp.weixin.qq.com/s/a", day(3, 22))], seen_at=day(21),
                       attempt_id=None)
    cal = posting_calendar(store, jyj, date(2026, 11, 22), days=30)
    assert cal.start == date(2026, 10, 24) and cal.days == [("2026-11-02", 2), ("2026-11-03", 2), ("2026-11-20", 1)]
    assert cal.total == 5 and cal.by_channel == {"门户网站": 4, "微信公众号": 1}
    assert cal.longest_gap == 16 and cal.busiest == ("2026-11-03", 2)      # 11-04 .. 11-19 without a post
    # silence before the oldest known post is unknown, not a gap: the 9 days 10-24..11-01 of the window
    # counted as soon as an older post is known (the old reading counted the window's whole head
    # always: 338 days "without a post" for a unit monitored since October)
    early = posting_calendar(store, jyj, date(2026, 11, 22), days=60)
    assert early.longest_gap == 16
    store.upsert_posts(col, [ListItem("旧动态", "https://www.example.gov.cn/jyj/gzdt/old.html", datetime(2026, 9, 1, 10, tzinfo=TZ))],
                       seen_at=day(21), attempt_id=None)
    assert posting_calendar(store, jyj, date(2026, 11, 22), days=30).longest_gap == 16
    assert posting_calendar(store, jyj, date(2026, 11, 22), days=60).longest_gap == 39   # 09-24 … 11-01
    assert posting_calendar(store, jyj, date(2026, 8, 1), days=30).longest_gap is None      # nothing known yet


def test_ranking_bars_follow_the_ranking(store):
    store.sync_units(REG.units)
    month = Period.parse("2026-11")
    save(store, W46, [("jyj", "portal", "weekly", Status.MET), ("czj", "portal", "weekly", Status.MISSED)])
    bars = ranking_bars(store, REG, rules.load_policies(), month)
    dept = next(c for c in bars.categories if c["label"] == "县直部门")
    assert dept["names"] == ["县教育局", "县财政局"] and dept["scores"][0] > dept["scores"][1]
    assert bars.label == month.label
