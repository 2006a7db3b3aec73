"""bench/chaos_run.py keeps working: two faulty runs of the weekly job on SQLite, then the person's
step and a clean run; the summary line says nothing was duplicated, lost or falsely accused.

Not the chaos run itself (that is `bench/chaos_run.py -n 50` on PostgreSQL, figures in
docs/RELIABILITY.md): only a guard against the script rotting. Nothing here is timed.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_chaos_run_two_runs_on_sqlite(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "chaos_run.py"), "-n", "2", "--db", "sqlite",
                          "--seed", "1", "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    summary = [line for line in res.stdout.splitlines() if line.startswith("chaos: ")]
    assert summary, out[-4000:]
    m = re.match(r"chaos: N=2 expected=(\d+) delivered=(\d+) duplicated=0 lost=0 false_missed=0 posts_lost=0 ",
                 summary[-1])
    assert m, summary[-1]
    assert int(m.group(1)) > 0 and m.group(1) == m.group(2)
    assert "faults injected" in res.stdout and "notices expected" in res.stdout
