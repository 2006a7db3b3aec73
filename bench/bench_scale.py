"""Crawl scale: N bulk columns on H loopback hosts, crawled by 1 and 2 worker processes at production
politeness (1 request/s per host, 4 in flight), through the real library (pubwatch.jobs.crawl).

    .venv/bin/python bench/bench_scale.py                      # 1,000 columns, 50 hosts, 1 column/unit
    .venv/bin/python bench/bench_scale.py --columns 120 --per-unit 3 --workers 1
    .venv/bin/python bench/bench_scale.py --fetcher per-unit   # a fresh Fetcher per unit, as an Airflow task has

Set-up: H DemoPortal instances in bulk mode, one per loopback address 127.0.0.2 … (each address is
its own host for per-host pacing, robots.txt and pools); a registry from `write_bulk_registry` (unit u
on host u % H, all its columns on that host); a fresh tracking DB per worker count (PostgreSQL at
127.0.0.1:5432 if it answers, else SQLite). Each worker process gets the units of its hosts (like one
Airflow pool slot per host: two workers never share a host) and crawls them one after the other with
ONE Fetcher (or a fresh one per unit with --fetcher per-unit).

Crawl 1 is the first crawl of an empty DB as of Thursday 09:00; crawl 2 the steady state as of Friday
09:00 (the portals move on a day: some columns have new posts, most answer 304 Not Modified).
Prints a table: wall time, requests (counted by the servers, robots.txt included), requests/s,
requests per column, outcomes, peak RSS per worker. Numbers only, no assertions.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "tests")]

from pubwatch.demo.server import DemoPortal, write_bulk_registry  # noqa: E402
from pubwatch.types import TZ  # noqa: E402

FIRST = datetime(2026, 11, 19, 9, 0, tzinfo=TZ)     # Thursday of 2026-W47
SECOND = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)    # Friday: one day later


def crawl_slice(db_url: str, registry: str, unit_ids: list[str], now_iso: str, per_unit_fetcher: bool) -> dict:
    """One worker process: crawl `unit_ids` in order; returns counts, wall time and peak RSS."""
    import logging

    from pubwatch import jobs

    logging.disable(logging.INFO)
    now = datetime.fromisoformat(now_iso)
    rt = jobs.Runtime(db_url=db_url, registry_path=registry)
    fetcher = None if per_unit_fetcher else rt.fetcher()
    outcomes: Counter = Counter()
    requests = new = 0
    t = time.perf_counter()
    try:
        for uid in unit_ids:
            result = jobs.crawl(rt, uid, now=now, run_id="bench", fetcher=fetcher)
            for s in result["sources"]:
                outcomes[s["outcome"]] += 1
                requests += s["requests"]
                new += s["items_new"]
    finally:
        if fetcher is not None:
            fetcher.close()
        rt.close()
    return {"seconds": time.perf_counter() - t, "outcomes": dict(outcomes), "requests": requests, "new": new,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def tracking_db(tmp: Path, label: str):
    """A fresh tracking DB: PostgreSQL if 127.0.0.1:5432 answers, else an SQLite file."""
    import contextlib

    from conftest import _pg_available
    from nativestack import fresh_pg_database

    if _pg_available():
        return fresh_pg_database(f"pubwatch_bench_{label}")
    return contextlib.nullcontext(f"sqlite:///{tmp / f'bench-{label}.db'}")


def run(portals: list[DemoPortal], registry: Path, db_url: str, workers: int, per_unit_fetcher: bool) -> list[dict]:
    from pubwatch import jobs
    from pubwatch.registry import load_registry

    rt = jobs.Runtime(db_url=db_url, registry_path=str(registry))
    jobs.prepare(rt)                                   # migrate + sync units
    rt.close()
    reg = load_registry(registry)
    host_of = {p.base_url: i for i, p in enumerate(portals)}
    slices: list[list[str]] = [[] for _ in range(workers)]
    for u in reg.units:
        base = u.sources[0].url.split("/bulk/")[0]
        slices[host_of[base] % workers].append(u.id)
    columns = sum(len(u.sources) for u in reg.units)
    rows = []
    for label, as_of in (("first", FIRST), ("steady", SECOND)):
        for p in portals:
            p.as_of = as_of
            p.request_log.clear()
        t = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(crawl_slice, db_url, str(registry), s, as_of.isoformat(), per_unit_fetcher)
                       for s in slices]
            results = [f.result() for f in futures]
        wall = time.perf_counter() - t
        log = [entry for p in portals for entry in p.request_log]
        robots = sum(1 for _m, path, _s in log if path == "/robots.txt")
        statuses = Counter(s for _m, _p, s in log)
        outcomes: Counter = Counter()
        for r in results:
            outcomes.update(r["outcomes"])
        rows.append({"workers": workers, "crawl": label, "columns": columns, "wall": wall, "requests": len(log),
                     "robots": robots, "per_col": len(log) / columns, "req_s": len(log) / wall,
                     "cols_h": columns / wall * 3600, "units_h": len(reg.units) / wall * 3600,
                     "statuses": dict(sorted(statuses.items())), "outcomes": dict(outcomes),
                     "new": sum(r["new"] for r in results),
                     "worker_s": [round(r["seconds"], 1) for r in results],
                     "rss": [round(r["rss_mb"]) for r in results]})
        print_row(rows[-1])
    return rows


HEADER = (f"{'workers':>7} {'crawl':>6} {'columns':>7} {'wall s':>7} {'requests':>8} {'robots':>6} "
          f"{'req/col':>7} {'req/s':>6} {'cols/h':>7} {'units/h':>7} {'peak RSS MB':>12}  statuses / outcomes")


def print_row(r: dict) -> None:
    print(f"{r['workers']:>7} {r['crawl']:>6} {r['columns']:>7} {r['wall']:>7.1f} {r['requests']:>8} {r['robots']:>6} "
          f"{r['per_col']:>7.2f} {r['req_s']:>6.1f} {r['cols_h']:>7.0f} {r['units_h']:>7.0f} "
          f"{'/'.join(map(str, r['rss'])):>12}  {r['statuses']} {r['outcomes']} new={r['new']} "
          f"worker_s={r['worker_s']}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--columns", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--per-unit", type=int, default=1, help="columns per unit (all on the unit's host)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--fetcher", choices=("per-worker", "per-unit"), default="per-worker")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # still stop portals and drop the bench DB
    portals = [DemoPortal(as_of=FIRST, host=f"127.0.0.{2 + i}").serve_bulk().start() for i in range(args.hosts)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            registry = write_bulk_registry(Path(tmp) / "bulk.yaml", [p.base_url for p in portals], args.columns,
                                           per_unit=args.per_unit)
            print(f"{args.columns} columns, {args.per_unit}/unit, {args.hosts} hosts, fetcher {args.fetcher}, "
                  f"politeness 1 request/s per host, max_concurrency 4")
            print(HEADER)
            for workers in [int(w) for w in args.workers.split(",")]:
                with tracking_db(Path(tmp), f"w{workers}") as db_url:
                    run(portals, registry, db_url, workers, args.fetcher == "per-unit")
    finally:
        for p in portals:
            p.stop()


if __name__ == "__main__":
    main()
