"""The redesign (#18) changed no verdict: the 10,000-unit evaluation benchmark judged by the code of a
commit before the redesign and by the current code, compared row for row, with the times of both.

Usage:
  .venv/bin/python bench/bench_redesign_identical.py [--old 68436ff] [--units 10000]
                                                     [--periods 2026-W47,2026-11] [--reuse sqlite:///…]

The data is bench_evaluate.py's (N units x 2 channels, five years of posts and weekly crawl attempts;
that file is the same in both commits), seeded once into a temporary SQLite file by the current
code (the schema did not change: the migrations only moved into the store package). Each code
runs in its own process — the old one from a temporary `git worktree add --detach` of `--old`,
with PYTHONPATH pointed at its include/ — and, per period, reads the facts from the database
(store.rule_post_facts, store.attempt_facts) and judges every unit with rules.evaluate_unit, as
bench_evaluate's "rules (pure Python)" step does; nothing is written to the database. Each code
uses its own include/policies.yaml. Then every verdict is compared on (unit, channel, period,
rule, status, count, required, reason). Prints the rows compared, identical, the differences by
rule (the first few shown), and the seconds of each step for both codes (the best of --repeat runs,
old and new alternating). Asserts nothing.

Why 68436ff: it is the last commit before the rules/store redesign (c80fd07 "dedupe_posts moves to
a neutral module", fe3b087 "store: one package", 68373b9 "rules: a package", …) that already has
the verdict changes made on purpose in the same days (#21 rule readings, #15 coverage and proven
empties). Earlier #18 commits (c6be711 notice channels, 0c84ab8 connections) touch no verdict.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = ("unit", "channel", "period", "rule", "status", "count", "required", "reason")

CHILD = r'''
import importlib.util, json, sys, time
from datetime import timedelta
tree, url, n, periods, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","), sys.argv[5]
spec = importlib.util.spec_from_file_location("bench_evaluate", f"{tree}/bench/bench_evaluate.py")
be = importlib.util.module_from_spec(spec)
spec.loader.exec_module(be)                      # puts <tree>/include first on sys.path
import pubwatch
assert pubwatch.__file__.startswith(tree), pubwatch.__file__
from pubwatch import rules
from pubwatch.evaluate import recent_from
from pubwatch.periods import Period
from pubwatch.store import Store
from pubwatch.workdays import WorkCalendar
units = be.make_units(n)
ids = [u.id for u in units]
t0 = time.perf_counter()
policies, cal = rules.load_policies(), WorkCalendar()
store = Store(url)
times = {"load policies + open store": time.perf_counter() - t0}
rows = []
for key in periods:
    period = Period.parse(key)
    as_of = period.end_dt + (timedelta(days=4, hours=9) if period.kind == "week" else timedelta(days=3))
    cal.working_days(period.start, period.end)
    p_from, p_to = rules.post_window(period, policies)
    a_from, a_to = rules.attempt_window(period, as_of, policies)
    t0 = time.perf_counter()
    posts = store.rule_post_facts(ids, p_from, max(p_from, recent_from(period, policies)), p_to)
    t1 = time.perf_counter()
    attempts = store.attempt_facts(ids, a_from, a_to)
    t2 = time.perf_counter()
    verdicts = []
    for u in units:
        verdicts.extend(rules.evaluate_unit(u, period, posts.get(u.id, []), attempts.get(u.id, []), as_of=as_of,
                                            policies=policies, calendar=cal))
    t3 = time.perf_counter()
    times[f"{key}: posts"] = t1 - t0
    times[f"{key}: crawl attempts"] = t2 - t1
    times[f"{key}: rules (evaluate_unit x {n})"] = t3 - t2
    rows += [[v.unit_id, v.channel, v.period, v.rule, v.status.value, v.count, v.required, v.reason]
             for v in verdicts]
store.close()
json.dump({"rows": rows, "times": times, "pubwatch": pubwatch.__file__}, open(out, "w"), ensure_ascii=False)
'''


def run_tree(tree: Path, url: str, n: int, periods: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "include")}
    env.pop("PUBWATCH_POLICIES", None)                 # each code its own include/policies.yaml
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", CHILD, str(tree), url, str(n), periods, str(out)], env=env, check=True)
    result = json.loads(out.read_text(encoding="utf-8"))
    result["wall"] = time.perf_counter() - t0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", default="68436ff", help="the commit before the redesign (default 68436ff)")
    ap.add_argument("--units", type=int, default=10000)
    ap.add_argument("--periods", default="2026-W47,2026-11")
    ap.add_argument("--reuse", metavar="URL", default=None, help="a database seeded by an earlier run (--keep)")
    ap.add_argument("--keep", action="store_true", help="keep the seeded SQLite database (prints its URL)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each code, alternating (times: the best)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pubwatch_redesign_"))
    old_tree = tmp / "old"
    url = args.reuse
    try:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(old_tree), args.old],
                       check=True)
        old_head = subprocess.run(["git", "-C", str(old_tree), "log", "-1", "--format=%h %s"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        new_head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"], check=True,
                                  capture_output=True, text=True).stdout.strip()
        if url is None:
            url = f"sqlite:///{tmp}/bench.db"
            sys.path.insert(0, str(ROOT / "bench"))
            import bench_evaluate as be                # the current code seeds (same schema, same data)

            print(f"seeding {args.units} units (bench_evaluate's data) into {url}", flush=True)
            be.seed("sqlite", url, be.make_units(args.units))
        print(f"old: {old_head[:100]}\nnew: {new_head[:100]}", flush=True)
        runs: dict[str, list[dict]] = {"old": [], "new": []}
        for i in range(args.repeat):                  # alternating, so neither code has the warm cache
            for name, tree in (("old", old_tree), ("new", ROOT))[:: 1 if i % 2 == 0 else -1]:
                runs[name].append(run_tree(tree, url, args.units, args.periods, tmp / f"{name}.json"))
        for name in runs:
            if any(r["rows"] != runs[name][0]["rows"] for r in runs[name]):
                print(f"{name}: the runs disagree with each other")
        compare(*(best(runs[name]) for name in ("old", "new")))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)], check=False)
        if args.keep and not args.reuse:
            print(f"kept {url}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def best(results: list[dict]) -> dict:
    """The first run's rows, each step's best time over the runs."""
    out = dict(results[0])
    out["times"] = {k: min(r["times"][k] for r in results) for k in results[0]["times"]}
    out["wall"] = min(r["wall"] for r in results)
    return out


def compare(old: dict, new: dict) -> None:
    def index(rows):
        return {tuple(r[:4]): tuple(r) for r in rows}

    a, b = index(old["rows"]), index(new["rows"])
    both = a.keys() & b.keys()
    same = sum(1 for k in both if a[k] == b[k])
    differ = sorted(k for k in both if a[k] != b[k])
    only_old, only_new = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    print()
    print(f"rows: old {len(old['rows']):,}, new {len(new['rows']):,}; compared {len(both):,}, "
          f"identical {same:,}, different {len(differ):,}, only old {len(only_old):,}, only new {len(only_new):,}")
    print("statuses (new):", dict(sorted(Counter(r[4] for r in new["rows"]).items())))
    for title, keys in (("different", differ), ("only old", only_old), ("only new", only_new)):
        if keys:
            print(f"{title} by rule:", dict(Counter(k[3] for k in keys)))
            for k in keys[:5]:
                print("   old", dict(zip(KEY, a.get(k, ()))))
                print("   new", dict(zip(KEY, b.get(k, ()))))
    print()
    print(f"{'step':<44} {'old s':>9} {'new s':>9}")
    for step in old["times"]:
        print(f"{step:<44} {old['times'][step]:9.3f} {new['times'].get(step, float('nan')):9.3f}")
    print(f"{'whole process (import, read, judge)':<44} {old['wall']:9.3f} {new['wall']:9.3f}")


if __name__ == "__main__":
    main()
