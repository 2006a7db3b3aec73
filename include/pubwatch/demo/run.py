"""`make run`: the weekly job for the demo week, through real Airflow, on the embedded default.

1. start the bundled demo portal on 127.0.0.1 (ephemeral port);
2. migrate Airflow's own SQLite metadata DB in var/airflow (never ~/airflow) and the tracking DB;
3. `airflow dags test pubwatch_weekly <the demo Friday 09:00>` — the real DAG, real tasks;
4. print a readable summary from the tracking DB, and where the files are.
Running it again adds no post and no notice (upserts + the notice ledger).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .. import config
from ..types import TZ
from .server import DemoPortal


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    project = config.PROJECT_DIR
    var = config.var_dir()
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(var / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(project / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(project / "include"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PATH": bindir + os.pathsep + env.get("PATH", ""),
        "PUBWATCH_VAR_DIR": str(var),
        "PUBWATCH_SIMULATED_CLOCK": "1",
        "PUBWATCH_RETRY_DELAY_SECONDS": "1",   # the demo simulates "Friday 09:00 of the demo week"
    })
    env.setdefault("PUBWATCH_DB_URL", f"sqlite:///{var / 'pubwatch.db'}")
    env.update(extra or {})
    return env


def _airflow(args: list[str], env: dict[str, str], quiet: bool = False) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).parent / "airflow")
    return subprocess.run([exe, *args], env=env, text=True,
                          stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None)


def _portal() -> DemoPortal:
    """The demo portal on an ephemeral port — the same one as last time when it is free, because the
    posts' URLs include it: a re-run then finds the very same posts (no duplicates)."""
    port_file = config.var_dir() / "demo-port"
    try:
        port = int(port_file.read_text())
        portal = DemoPortal(port=port).start()
    except (OSError, ValueError):
        portal = DemoPortal().start()
    port_file.write_text(portal.base_url.rsplit(":", 1)[1])
    return portal


def main() -> int:
    t0 = time.monotonic()
    with _portal() as portal:
        env = airflow_env(portal.env())
        os.environ.update({k: env[k] for k in ("PUBWATCH_DB_URL", "PUBWATCH_VAR_DIR", *portal.env())})
        print(f"演示门户: {portal.base_url}  演示周: {portal.as_of:%Y-%m-%d %H:%M} (北京时间)", flush=True)
        from ..store import upgrade

        upgrade(env["PUBWATCH_DB_URL"])
        home = Path(env["AIRFLOW_HOME"])
        if not (home / "airflow.db").exists():
            print("初始化 Airflow 元数据库 (首次运行, 约半分钟)…", flush=True)
            res = _airflow(["db", "migrate"], env, quiet=True)
            if res.returncode:
                print(res.stdout[-4000:])
                return res.returncode
        logical = portal.as_of.isoformat()
        print(f"运行 airflow dags test pubwatch_weekly {logical} …", flush=True)
        res = _airflow(["dags", "test", "pubwatch_weekly", logical], env, quiet=True)
        log_path = config.var_dir() / "last-run.log"
        log_path.write_text(res.stdout or "")
        if res.returncode != 0 or "new_state=failed" in (res.stdout or "") or "state=failed, run_type" in (res.stdout or ""):
            print((res.stdout or "")[-6000:])
            print(f"Airflow 运行失败, 完整日志: {log_path}")
            return res.returncode or 1
        from ..jobs import Runtime
        from ..summary import weekly_summary_text

        rt = Runtime(env["PUBWATCH_DB_URL"])
        try:
            print(weekly_summary_text(rt.store, rt.registry, rt.calendar, portal.as_of.astimezone(TZ)))
            counts = rt.store.counts()
        finally:
            rt.close()
    var = config.var_dir()
    print(f"\n数据库: {env['PUBWATCH_DB_URL']}  (文章 {counts['posts']} 条, 抓取记录 {counts['attempts']} 条, "
          f"评估 {counts['evaluations']} 条, 通知 {counts['notices']} 条)")
    print(f"发件箱 (通知预览): {var / 'outbox'}")
    print(f"通报文件 (.docx/.xlsx): {var / 'reports'}")
    print(f"Airflow 运行日志: {log_path}  ·  用时 {time.monotonic() - t0:.1f} 秒")
    return 0


if __name__ == "__main__":
    sys.exit(main())
