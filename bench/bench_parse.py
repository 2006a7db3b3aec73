"""Speed of parse_list over the fixture corpus vs a bare lxml.html.fromstring of the same bytes.

Goal (from the brief): parse_list ≤ 3× the raw lxml parse. JSON fixtures are compared with
json.loads instead. Prints pages/s for both and the ratio; no assertion (tests never time things).

    .venv/bin/python bench/bench_parse.py [--rounds N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "include"))

import lxml.html  # noqa: E402

from pubwatch.sources.listparse import parse_list  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "lists"


def corpus() -> list[tuple[str, bytes, dict]]:
    out = []
    for spec_path in sorted(FIXTURES.glob("*.expected.json")):
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        out.append((spec_path.name.removesuffix(".expected.json"), (FIXTURES / spec["file"]).read_bytes(), spec))
    return out


def raw(body: bytes, spec: dict) -> None:
    if spec["file"].endswith(".json"):
        text = body.decode("utf-8")
        json.loads(text[text.index("("):].strip("();") if not text.lstrip().startswith(("{", "[")) else text)
    else:
        lxml.html.fromstring(body)


def timed(fn, pages, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for _, body, spec in pages:
            fn(body, spec)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    pages = corpus()

    def ours(body: bytes, spec: dict) -> None:
        parse_list(body, spec["url"], reference=date.fromisoformat(spec["reference"]),
                   selectors=spec.get("selectors"), json_spec=spec.get("json_spec"))

    timed(ours, pages, 3)
    timed(raw, pages, 3)                                   # warm-up
    t_ours = timed(ours, pages, args.rounds)
    t_raw = timed(raw, pages, args.rounds)
    n = len(pages) * args.rounds
    print(f"corpus: {len(pages)} pages, {sum(len(b) for _, b, _ in pages) / 1024:.0f} KiB, {args.rounds} rounds")
    print(f"parse_list        : {n / t_ours:9.0f} pages/s")
    print(f"lxml.fromstring   : {n / t_raw:9.0f} pages/s")
    print(f"ratio (ours/raw)  : {t_ours / t_raw:9.2f}x  (goal ≤ 3x)")
    print("per page (ratio):")
    for name, body, spec in pages:
        a = timed(ours, [(name, body, spec)], 50)
        b = timed(raw, [(name, body, spec)], 50)
        print(f"  {name:32s} {a / b:6.2f}x  {50 / a:8.0f} pages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
