"""Fetcher numbers on loopback: overhead per request, concurrency, steady-state cost, bomb memory.

    .venv/bin/python bench/bench_fetch.py

Prints numbers only (no assertions): requests/s with pacing off, the effect of the global cap
with a slow server, requests spent by a 304 re-crawl, and peak Python memory while a 200 MB
gzip bomb is refused.
"""
from __future__ import annotations

import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT / "tests")]

from httpfaults import FaultServer  # noqa: E402
from pubwatch.http import FetchError, Fetcher, FetchSettings  # noqa: E402


def settings(**kw) -> FetchSettings:
    base = dict(allow_private=("127.0.0.1",), per_host_interval=0.0, respect_robots=False, retries=0)
    base.update(kw)
    return FetchSettings(**base)


def main() -> None:
    page = ("<ul>" + "".join(f"<li><a href='/t{i}.html'>县政府第{i}次常务会议</a><span>2026-11-19</span></li>"
                             for i in range(30)) + "</ul>")
    with FaultServer() as srv:
        srv.route("/list/", body=page, etag='"v1"')
        srv.route("/slow/", body="ok", delay=0.05)
        srv.route("/bomb", gzip_bomb=200_000_000)

        with Fetcher(settings()) as f:
            n = 300
            t = time.perf_counter()
            for _ in range(n):
                f.get(srv.url("/list/"))
            dt = time.perf_counter() - t
            print(f"sequential GET, pacing off: {n / dt:.0f} req/s ({dt / n * 1000:.2f} ms/request)")

        for cap in (1, 4, 8):
            with Fetcher(settings(max_concurrency=cap)) as f, ThreadPoolExecutor(16) as pool:
                t = time.perf_counter()
                list(pool.map(lambda _: f.get(srv.url("/slow/")), range(48)))
                dt = time.perf_counter() - t
                print(f"48 GETs to a 50 ms server, max_concurrency={cap}: {dt:.2f} s, server max in flight {srv.max_inflight}")
                srv.max_inflight = 0

        with Fetcher(settings(per_host_interval=1.0)) as f:
            t = time.perf_counter()
            for _ in range(3):
                f.get(srv.url("/list/"))
            print(f"3 GETs to one host at the default 1 req/s pacing: {time.perf_counter() - t:.2f} s")

        with Fetcher(settings()) as f:
            first = f.get(srv.url("/list/"))
            again = f.get(srv.url("/list/"), etag=first.etag)
            print(f"re-crawl of an unchanged column: not_modified={again.not_modified}, requests={again.requests}, "
                  f"bytes={len(again.body)} (first crawl {len(first.body)} bytes)")

        with Fetcher(settings(max_bytes=5_000_000)) as f:
            tracemalloc.start()
            t = time.perf_counter()
            try:
                f.get(srv.url("/bomb"))
            except FetchError as exc:
                outcome = exc.outcome.value
            dt = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"200 MB gzip bomb with a 5 MB cap: {outcome} in {dt:.2f} s, peak Python memory {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
