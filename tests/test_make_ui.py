"""`make ui` (pubwatch.demo.ui): the Airflow api-server, scheduler and dag-processor on SQLite in
var/airflow; it prints an address and a login that work (the board answers the logged-in user, the
weekly DAG shows its reminder-day timetable), and Ctrl-C stops every process it started."""
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from airflow_server import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.airflow, pytest.mark.slow]
LOGIN = re.compile(r"登录 \(login\):\s+用户名 (\S+)\s+密码 (\S+)")
ADDRESS = re.compile(r"地址 \(address\):\s+(http://127\.0\.0\.1:\d+)/")
PIDS = re.compile(r"(dag-processor|scheduler|api-server) (\d+)")


def test_make_ui_prints_a_working_login_and_stops_its_processes_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"PUBWATCH_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT / "include"),
                "PUBWATCH_DEMO_AS_OF": "2026-11-20T09:00:00+08:00", "PYTHONUNBUFFERED": "1"})
    env.pop("PUBWATCH_DB_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "pubwatch.demo.ui", "--no-demo", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def read_until(pattern: re.Pattern, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=1))
                m = pattern.search(output[-1])
                if m:
                    return m
            assert proc.poll() is None or not lines.empty(), "".join(output)[-4000:]
        raise AssertionError(f"no {pattern.pattern!r} within {timeout:.0f} s:\n" + "".join(output)[-4000:])

    pids: dict[str, int] = {}
    try:
        address = read_until(ADDRESS, 170).group(1)
        assert address == f"http://127.0.0.1:{port}"
        user, password = read_until(LOGIN, 10).groups()
        pids = {n: int(p) for n, p in PIDS.findall(read_until(re.compile("pids"), 10).string)}
        assert set(pids) == {"dag-processor", "scheduler", "api-server"}
        health = requests.get(f"{address}/api/v2/monitor/health", timeout=10).json()
        assert health["scheduler"]["status"] == "healthy" and health["dag_processor"]["status"] == "healthy"
        token = requests.post(f"{address}/auth/token", json={"username": user, "password": password},
                              timeout=30)
        assert token.status_code in (200, 201), token.text
        jwt = token.json()["access_token"]
        assert requests.get(f"{address}/pubwatch/", timeout=30).status_code == 401      # not anonymous
        board = requests.get(f"{address}/pubwatch/", cookies={"_token": jwt}, timeout=30)
        assert board.status_code == 200 and "政务公开" in board.text
        deadline, dag = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            resp = requests.get(f"{address}/api/v2/dags/pubwatch_weekly", timeout=10,
                                headers={"Authorization": f"Bearer {jwt}"})
            if resp.status_code == 200:
                dag = resp.json()
                break
            time.sleep(1)
        assert dag and dag["timetable_summary"] == "每周提醒日 09:00 (北京时间)" and dag["is_paused"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)                  # what Ctrl-C does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            for pid in pids.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            raise
    time.sleep(0.5)
    text = "".join(output) + "".join(iter(lambda: lines.get() if not lines.empty() else "", ""))
    assert proc.returncode == 0, text[-4000:]
    assert "已停止" in text
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)                                # the whole group is gone
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{address}/api/v2/monitor/health", timeout=5)
    assert (tmp_path / "var" / "airflow" / "airflow.db").exists()
