"""DAG file parse time, each file in a fresh interpreter, the way the dag-processor pays it.

    .venv/bin/python bench/bench_dag_parse.py [--rounds 3]

For every dags/*.py: start a new Python, import airflow.sdk first (the dag-processor has it loaded
already; that import is reported separately), then time executing the DAG file. Goal: < 0.5 s per
file. Also the peak memory (max RSS) of a crawl task: one demo unit through jobs.crawl in a
subprocess. Prints numbers only; "RESULT" lines are collected by bench/run_all.py.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PARSE = r'''
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk  # noqa: F401  (already loaded in the dag-processor)
t1 = time.perf_counter()
import runpy
runpy.run_path(sys.argv[1], run_name="dag_file")
t2 = time.perf_counter()
print(json.dumps({"airflow_import": t1 - t0, "parse": t2 - t1}))
'''

CRAWL = r'''
import json, resource, sys
from pubwatch import jobs
from pubwatch.demo import DemoPortal
import os
with DemoPortal() as portal:
    os.environ.update(portal.env())
    rt = jobs.Runtime(db_url="sqlite:///" + sys.argv[1])
    jobs.prepare(rt)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = jobs.crawl(rt, sys.argv[2], now=portal.as_of, run_id="bench")
    rt.close()
print(json.dumps({"before_kb": before, "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "sources": [s["outcome"] for s in out["sources"]]}))
'''


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "dags")]),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PUBWATCH_VAR_DIR": str(ROOT / "var" / "bench")}


def parse_times(rounds: int) -> list[tuple[str, float, float]]:
    out = []
    for path in sorted((ROOT / "dags").glob("*.py")):
        best, imp = float("inf"), 0.0
        for _ in range(rounds):
            res = subprocess.run([sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, env=env(),
                                 cwd=ROOT)
            if res.returncode != 0:
                print(f"{path.name}: failed\n{res.stderr[-800:]}")
                break
            data = json.loads(res.stdout.strip().splitlines()[-1])
            best, imp = min(best, data["parse"]), data["airflow_import"]
        out.append((path.name, best, imp))
    return out


def crawl_rss(unit: str) -> dict:
    db = ROOT / "var" / "bench" / "crawl-rss.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    res = subprocess.run([sys.executable, "-c", CRAWL, str(db), unit], capture_output=True, text=True, env=env(),
                         cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-1500:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--unit", default="hbj", help="demo unit for the crawl-task memory figure")
    args = ap.parse_args(argv)
    times = parse_times(args.rounds)
    for name, parse, imp in times:
        flag = "ok" if parse < 0.5 else "OVER GOAL"
        print(f"{name:28s} parse {parse:6.3f} s  ({flag}; airflow.sdk import before it {imp:.2f} s)")
    if times:
        print(f"RESULT dag_parse_max_s {max(t for _, t, _ in times):.3f}")
    mem = crawl_rss(args.unit)
    print(f"crawl task ({args.unit}, {len(mem['sources'])} sources {mem['sources']}): "
          f"max RSS {mem['max_rss_kb'] / 1024:.0f} MB (after imports and setup {mem['before_kb'] / 1024:.0f} MB)")
    print(f"RESULT crawl_task_max_rss_mb {mem['max_rss_kb'] / 1024:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
