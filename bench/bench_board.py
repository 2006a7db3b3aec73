"""Board render times on a realistic county: 60 units × 26 weeks × 2 channels in SQLite.

    .venv/bin/python bench/bench_board.py [--units 60] [--weeks 26] [--repeat 5] [--reviews 0]

Seeds a temporary tracking DB (weekly + staleness verdicts, ~2 posts a week per channel, one crawl
attempt a day per source, a few notices), then prints the median time to build each view-model
and render its HTML. The goal: the 60 × 26 matrix page in < 300 ms. Not a test: numbers only.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from sqlalchemy import event, insert  # noqa: E402

from pubwatch import board  # noqa: E402
from pubwatch.store.models import CrawlAttempt  # noqa: E402
from pubwatch.notices.ledger import Ledger, NoticeKey  # noqa: E402
from pubwatch.registry import parse_registry  # noqa: E402
from pubwatch.store import Store, upgrade  # noqa: E402
from pubwatch.types import TZ, WECHAT, ListItem, Status, Verdict  # noqa: E402

TODAY = date(2026, 11, 20)
STATUS_MIX = [Status.MET] * 14 + [Status.MISSED] * 3 + [Status.UNKNOWN]


def make_registry(n_units: int):
    units = []
    for i in range(n_units):
        uid = f"u{i:03d}"
        units.append({
            "id": uid, "name": f"{'乡镇' if i % 4 == 3 else '部门'}{i:03d}",
            "category": "town" if i % 4 == 3 else "department",
            "contacts": {"leader": {"name": "领导", "email": f"l{i}@example.gov.cn"},
                         "staff": {"name": "信息员", "email": f"s{i}@example.gov.cn"}},
            "portal": {"columns": [{"id": "gzdt", "name": "工作动态", "url": f"http://127.0.0.1:9/{uid}/"}]},
            "wechat": {"account": f"公众号{i}", "sources": [{"type": "rss", "url": f"http://127.0.0.1:9/{uid}.xml"}]},
        })
    return parse_registry({"units": units})


def seed(store: Store, registry, weeks) -> dict[str, int]:
    rng = random.Random(7)
    store.sync_units(registry.units)
    verdicts, attempts, posts = [], [], 0
    now = datetime.now(timezone.utc)
    for unit in registry.units:
        for src in unit.sources:
            items = []
            for w in weeks:
                status = rng.choice(STATUS_MIX) if w != weeks[-1] else Status.AT_RISK
                count = 2 if status is Status.MET else 0
                for n in range(count):
                    when = datetime.combine(w.start + timedelta(days=n * 2), datetime.min.time(), TZ).replace(hour=9)
                    items.append(ListItem(f"{unit.name}召开第{w.key}周工作会议({n})", f"{src.url}{w.key}-{n}.html", when))
                verdicts.append(Verdict(unit.id, src.channel, w.key, "weekly", status, count=count, required=1,
                                        reason="本周发文0篇, 未达标" if status is Status.MISSED else "已达标",
                                        evidence={"posts": [], "longest_gap_days": 3}))
                verdicts.append(Verdict(unit.id, src.channel, w.key, f"staleness:{'wechat' if src.channel == WECHAT else 'news'}",
                                        Status.MET, count=count))
                for d in range(7):
                    started = datetime.combine(w.start + timedelta(days=d), datetime.min.time(), TZ).replace(hour=6)
                    bad = status is Status.UNKNOWN
                    attempts.append(dict(source_id=src.id, unit_id=unit.id, channel=src.channel, run_id="bench",
                                         kind="crawl", started_at=started, finished_at=started + timedelta(seconds=3),
                                         outcome="unreachable" if bad else "ok", http_status=None if bad else 200,
                                         message="连接超时" if bad else "", items_found=20, items_new=0, requests=1,
                                         pages=1, elapsed_ms=3000))
            posts += store.upsert_posts(src, items, seen_at=now, attempt_id=None)
    store.save_verdicts(verdicts, as_of=now)
    with store.Session.begin() as s:
        for i in range(0, len(attempts), 2000):
            s.execute(insert(CrawlAttempt), attempts[i:i + 2000])
    ledger = Ledger(store)
    for unit in registry.units[:20]:
        ledger.ensure(NoticeKey(unit.id, weeks[-2].key, "overdue", "email"), recipients="x@example.gov.cn",
                      subject="未达标通报", run_id="bench")
    return {"verdicts": len(verdicts), "posts": posts, "attempts": len(attempts)}


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--weeks", type=int, default=26)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reviews", type=int, default=0, help="人工复核 rows laid over the weekly verdicts (#20)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        store = Store(url)
        registry = make_registry(args.units)
        weeks = board.recent_weeks(args.weeks, TODAY)
        t = time.perf_counter()
        sizes = seed(store, registry, board.recent_weeks(max(args.weeks, board.STREAK_LOOKBACK), TODAY))
        print(f"seeded {args.units} units × {args.weeks} weeks: {sizes} in {time.perf_counter() - t:.1f} s")
        rng = random.Random(20)
        for i in range(args.reviews):                 # reviews of random weekly verdicts, a few superseded
            unit, week = rng.choice(registry.units), rng.choice(weeks[:-1])
            store.reviews.add(unit_id=unit.id, channel="portal", period=week.key, rule="weekly",
                              status=rng.choice(["met", "missed", "exempt"]), reason=f"复核{i}", evidence_url=None,
                              reviewer="bench", created_at=datetime.now(timezone.utc), previous_status="missed")
        board.render("matrix.j2", view=board.matrix(store, registry, weeks, today=TODAY))   # warm templates
        closed = weeks[-2]
        from pubwatch import rules
        from pubwatch.board_charts import category_trend, ranking_bars
        from pubwatch.periods import Period

        policies = rules.load_policies()

        def charts():            # what the plugin's matrix page adds (plugins/pubwatch_board.py _matrix_charts)
            category_trend(store, registry, board.recent_weeks(26, weeks[-1].end))
            for p in (Period.month_of(weeks[-1].start), Period.quarter_of(weeks[-1].start)):
                ranking_bars(store, registry, policies, p)

        queries = [0]
        event.listen(store.engine, "before_cursor_execute", lambda *a, **k: queries.__setitem__(0, queries[0] + 1))
        cases = {
            "matrix view-model": lambda: board.matrix(store, registry, weeks, today=TODAY),
            "matrix page (view-model + HTML)": lambda: board.render(
                "matrix.j2", root="/pubwatch", view=board.matrix(store, registry, weeks, today=TODAY)),
            "matrix page, sort=score, wechat only": lambda: board.render(
                "matrix.j2", root="/pubwatch", view=board.matrix(store, registry, weeks, channel="wechat",
                                                                  sort="score", today=TODAY)),
            "unit page (view-model + HTML)": lambda: board.render(
                "unit.j2", root="/pubwatch", u=board.unit_page(store, registry, "u007", weeks, today=TODAY)),
            "period summary (view-model + HTML)": lambda: board.render(
                "period.j2", root="/pubwatch", p=board.period_summary(store, registry, closed, today=TODAY)),
            "matrix charts (26-week trend, 2 rankings)": charts,
        }
        for name, fn in cases.items():
            queries[0] = 0
            fn()
            n = queries[0]
            print(f"{name:40s} median {timed(fn, args.repeat):7.1f} ms  (of {args.repeat}), {n} queries")
        html = board.render("matrix.j2", root="/pubwatch", view=board.matrix(store, registry, weeks, today=TODAY))
        print(f"matrix HTML size: {len(html.encode()) / 1024:.0f} KiB")
        store.close()


if __name__ == "__main__":
    main()
