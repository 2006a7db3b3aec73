"""`make run`'s job end to end: demo portal → real Airflow (`airflow dags test`) → summary; twice."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def run_demo(var: Path) -> str:
    env = {**os.environ, "PUBWATCH_VAR_DIR": str(var), "PYTHONPATH": str(ROOT / "include"),
           "PUBWATCH_DEMO_AS_OF": "2026-11-20T09:00:00+08:00"}
    env.pop("PUBWATCH_DB_URL", None)
    env.pop("AIRFLOW_HOME", None)
    out = subprocess.run([sys.executable, "-m", "pubwatch.demo.run"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-3000:]
    return out.stdout


def totals(text: str) -> tuple[int, int]:
    m = re.search(r"文章 (\d+) 条.*通知 (\d+) 条", text)
    assert m, text
    return int(m.group(1)), int(m.group(2))


def test_make_run_twice(tmp_path):
    first = run_demo(tmp_path / "var")
    for name in ("县教育局", "县卫生健康委员会", "县公安局", "县审计局", "城关镇", "石门乡", "龙泉镇"):
        assert name in first
    week = first.split("上周(已结束")[1].split("== ")[0]
    assert "达标" in week and "未达标" in week and "无法核实" in week
    # the 503 unit and the WAF unit are never "missed" on the portal
    for line in week.splitlines():
        if "县公安局" in line or "县审计局" in line:
            assert "门户网站: 0篇 无法核实" in line, line
    assert "未达标通报" in first and "周五提醒" in first and "报分管领导" in first
    # units first, then unit·channel items: the circular's and the board's numbers (#16.3)
    assert "未达标单位 4 个, 涉及 5 项(单位·渠道)" in week and "无法核实单位 3 个" in week
    assert "仅预览(未发送)" in first and "已发送" not in first          # nothing left the machine (#16.5)
    posts, notices = totals(first)
    assert posts > 100 and notices > 5
    assert (tmp_path / "var" / "reports" / "pubwatch-2026-W46.docx").exists()
    assert any((tmp_path / "var" / "outbox").rglob("*"))
    second = run_demo(tmp_path / "var")
    assert totals(second) == (posts, notices)
    assert (tmp_path / "var" / "airflow" / "airflow.db").exists()
