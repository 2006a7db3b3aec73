"""Pure-Python rule time: N units x 2 channels for one week (and one month), shipped policies.

Usage: .venv/bin/python bench/bench_rules.py [units]   (default 10000). Prints units/s.
Each unit: 2 portal columns (news + notice) and one WeChat account with two sources; about
3 posts per channel in the week plus older history; one verified attempt per source after the
week; every 7th unit has a failing source (unknown), every 5th has no posts (missed).
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from pubwatch.periods import Period  # noqa: E402
from pubwatch.registry import Contact, SourceConfig, Unit  # noqa: E402
from pubwatch.rules import evaluate_unit, load_policies  # noqa: E402
from pubwatch.types import COVERS_ALL, PORTAL, WECHAT, AttemptFact, Outcome, PostFact  # noqa: E402
from pubwatch.workdays import WorkCalendar  # noqa: E402

CATS = ("department", "town", "institution", "party")


def build(n: int, period: Period):
    contacts = (Contact("leader", "甲", email="a@example.org"), Contact("staff", "乙", email="b@example.org"))
    data = []
    for i in range(n):
        uid = f"u{i}"
        sources = (SourceConfig(f"{uid}.portal.gzdt", uid, PORTAL, "portal", "工作动态", "http://127.0.0.1/a"),
                   SourceConfig(f"{uid}.portal.tzgg", uid, PORTAL, "portal", "通知公告", "http://127.0.0.1/b",
                                column_type="notice"),
                   SourceConfig(f"{uid}.wechat.rss", uid, WECHAT, "rss", "公众号", "http://127.0.0.1/r"),
                   SourceConfig(f"{uid}.wechat.wechat_api", uid, WECHAT, "wechat_api", "公众号"))
        unit = Unit(uid, f"单位{i}", CATS[i % 4], contacts, sources)
        posts = []
        if i % 5:
            for k in range(3):
                t = period.start_dt + timedelta(days=k * (period.days // 3), hours=9 + i % 7)
                posts.append(PostFact(sources[0].id, PORTAL, f"http://x/{uid}/p{k}", "动态", t, t))
                posts.append(PostFact(sources[2].id, WECHAT, f"http://mp/{uid}/w{k}", f"推文{k}", t, t))
            old = period.start_dt - timedelta(days=40)
            posts.append(PostFact(sources[1].id, PORTAL, f"http://x/{uid}/n", "通知", old, old))
        after = period.end_dt + timedelta(hours=2)
        attempts = [AttemptFact(s.id, s.channel, after, Outcome.OK, covered_from=COVERS_ALL) for s in sources]
        if i % 7 == 0:
            attempts[2] = AttemptFact(sources[2].id, WECHAT, after, Outcome.UNREACHABLE, "timeout")
        data.append((unit, posts, attempts))
    return data


def run(n: int, key: str) -> None:
    period = Period.parse(key)
    policies, calendar = load_policies(), WorkCalendar()
    data = build(n, period)
    as_of = period.end_dt + timedelta(hours=9)
    calendar.working_days(period.start, period.end)         # warm the year cache
    t0 = time.perf_counter()
    count = 0
    for unit, posts, attempts in data:
        count += len(evaluate_unit(unit, period, posts, attempts, as_of=as_of, policies=policies, calendar=calendar))
    dt = time.perf_counter() - t0
    print(f"{key}: {n} units x 2 channels -> {count} verdicts in {dt:.3f} s = {n / dt:,.0f} units/s")


if __name__ == "__main__":
    units = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    run(units, "2026-W47")
    run(units, "2026-11")
