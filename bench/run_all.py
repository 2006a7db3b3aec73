"""`make bench`: run every benchmark in bench/ side by side and print a summary table.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--timeout SECONDS]

Each bench_*.py runs in its own interpreter (so one's imports and memory do not colour another's);
its full output is shown, then one table: for scripts that print "RESULT name value" lines, those
figures; for the others, their last output line. No assertions: numbers to read and compare
(docs/RELIABILITY.md keeps the reference figures).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
GOALS = {"recrawl_requests_per_column": "≤ 1.2", "dag_parse_max_s": "< 0.5",
         "crawl_wall_ratio_pubwatch_over_scrapy": "≤ 1 is better",
         "article_requests_per_new_post": "≤ 1", "new_posts_dated_right_pct": "100",
         "recrawl_no_new_posts_requests_per_column_304": "≤ 1.2",
         "recrawl_no_new_posts_requests_per_column_200": "≤ 1.2"}


def run(script: Path, timeout: float) -> tuple[float, int, str]:
    start = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                             env=None)
        out, rc = res.stdout + (res.stderr[-2000:] if res.returncode else ""), res.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = (exc.stdout or b"").decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""), -1
        out += f"\n(timed out after {timeout:.0f} s)"
    return time.perf_counter() - start, rc, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="bench names, e.g. bench_parse bench_vs_scrapy")
    ap.add_argument("--timeout", type=float, default=1800, help="per script")
    args = ap.parse_args(argv)
    scripts = sorted(p for p in BENCH.glob("bench_*.py") if not args.only or p.stem in args.only)
    rows: list[tuple[str, str, str, str]] = []
    failed = 0
    for script in scripts:
        print(f"\n===== {script.stem} " + "=" * max(0, 60 - len(script.stem)), flush=True)
        took, rc, out = run(script, args.timeout)
        print(out.rstrip())
        if rc != 0:
            failed += 1
            rows.append((script.stem, "FAILED", f"exit {rc}", f"{took:.0f} s"))
            continue
        results = [ln.split(None, 2)[1:] for ln in out.splitlines() if ln.startswith("RESULT ")]
        if results:
            rows.extend((script.stem, name, value, GOALS.get(name, "")) for name, value in results)
        else:
            last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "")
            rows.append((script.stem, "(last line)", last[:90], ""))
    print("\n===== summary " + "=" * 50)
    w = [max(len(r[i]) for r in rows + [("bench", "figure", "value", "goal")]) for i in range(4)]
    for r in [("bench", "figure", "value", "goal")] + rows:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
