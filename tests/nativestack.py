"""A real Airflow 3 production stack on this machine, as separate processes (for tests and benches).

    with fresh_pg_database("airflow_native") as meta_url:
        with NativeStack(tmp_path / "airflow", meta_url, env={...}) as af:
            af.api("PATCH", "/api/v2/dags/pubwatch_weekly", json={"is_paused": False})
            run = af.api("POST", "/api/v2/dags/pubwatch_weekly/dagRuns", json={...}).json()
            af.wait_for_runs("pubwatch_weekly", [run["dag_run_id"]], timeout=120)

What runs, like the compose stack but natively and without Celery:
- PostgreSQL metadata DB (the URL you pass), migrated with `airflow db migrate`;
- LocalExecutor; SimpleAuthManager (user `admin`, role admin; password read from the file Airflow
  generates) — apache-airflow-providers-fab is not installed;
- `airflow dag-processor`, `airflow scheduler`, `airflow api-server` as three processes, each in
  its own process group (stopped with SIGTERM, then SIGKILL, group by group — nothing else);
- AIRFLOW_HOME in the folder you pass (never ~/airflow), DAGs = the repo's dags/, plugins = the
  repo's plugins/, include/ on PYTHONPATH, the venv's bin/ on PATH, a random JWT secret / API
  secret / Fernet key, the api-server on an ephemeral 127.0.0.1 port (also the Execution API the
  task processes talk to).
- `[scheduler] use_job_schedule = False` unless overridden: the scheduler creates no *scheduled*
  runs, so unpausing a DAG does not start its latest past slot (which would depend on today's
  date). Manual and backfill runs run normally.
Each process logs to `<home>/<name>.log`; `log_tail()` shows them when something fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator, Mapping

import requests

from airflow_server import BIN, ROOT, airflow_env, free_port
from conftest import PG_ADMIN_URL

FINISHED = {"success", "failed"}
PROCESSES = ("dag-processor", "scheduler", "api-server")


class NativeStackError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------ databases
@contextlib.contextmanager
def fresh_pg_database(prefix: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>; yield its SQLAlchemy URL; terminate sessions and DROP it."""
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


# ------------------------------------------------------------------------------------ the stack
class NativeStack:
    def __init__(self, home: Path, metadata_url: str, *, env: Mapping[str, str] | None = None,
                 users: str = "admin:admin", dags_folder: Path | None = None,
                 plugins_folder: Path | None = None, parallelism: int = 16):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.timings: dict[str, float] = {}
        self._token: str | None = None
        from cryptography.fernet import Fernet

        self.env = airflow_env(self.home, self.port, users=users, dags=dags_folder or ROOT / "dags",
                               plugins=plugins_folder, metadata_url=metadata_url, log_level="INFO")
        self.env.update({
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__EXPOSE_CONFIG": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        })
        self.env.update(env or {})

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def airflow(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """Run one `airflow …` CLI command against this stack; raise with its output if it fails."""
        res = subprocess.run([str(BIN / "airflow"), *args], env=self.env, text=True, capture_output=True,
                             timeout=timeout)
        if check and res.returncode:
            raise NativeStackError(f"airflow {' '.join(args)} → {res.returncode}:\n{res.stdout[-3000:]}\n"
                                   f"{res.stderr[-3000:]}")
        return res

    def start(self, timeout: float = 120.0) -> "NativeStack":
        t0 = time.monotonic()
        self.airflow("db", "migrate", timeout=300)
        self.timings["db migrate"] = time.monotonic() - t0
        t1 = time.monotonic()
        try:
            for name in PROCESSES:
                args = [name] if name != "api-server" else [name, "--host", "127.0.0.1", "--port",
                                                             str(self.port), "--workers", "1"]
                with open(self.home / f"{name}.log", "ab") as log:
                    self.procs[name] = subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log,
                                                        stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["processes up"] = time.monotonic() - t1
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = requests.get(self.url("/api/v2/monitor/health"), timeout=2)
                body = health.json() if health.status_code == 200 else {}
                if (body.get("scheduler", {}).get("status") == "healthy"
                        and body.get("dag_processor", {}).get("status") == "healthy"):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        raise NativeStackError(f"stack not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise NativeStackError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def stop(self) -> None:
        """SIGTERM each process group this helper started, then SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)   # task children left in the group too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def __enter__(self) -> "NativeStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, name: str | None = None, chars: int = 3000) -> str:
        out = []
        for n in ([name] if name else PROCESSES):
            try:
                out.append(f"--- {n}.log ---\n" + (self.home / f"{n}.log").read_text(errors="replace")[-chars:])
            except OSError:
                out.append(f"--- {n}.log --- (none)")
        return "\n".join(out)

    # ---------------------------------------------------------------- REST API
    def url(self, path: str) -> str:
        return self.base_url + path

    def password(self, username: str) -> str:
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())[username]

    def token(self, username: str = "admin") -> str:
        """A JWT from POST /auth/token (the REST API's login)."""
        resp = requests.post(self.url("/auth/token"), json={"username": username,
                                                            "password": self.password(username)}, timeout=30)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def api(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw) -> requests.Response:
        """Call the REST API as admin; raise with the body if the status is not in `ok`."""
        if self._token is None:
            self._token = self.token()
        resp = requests.request(method, self.url(path), headers={"Authorization": f"Bearer {self._token}"},
                                timeout=30, **kw)
        if resp.status_code not in ok:
            raise NativeStackError(f"{method} {path} → {resp.status_code}: {resp.text[:2000]}")
        return resp

    def wait_for_dag(self, dag_id: str, timeout: float = 90.0) -> dict:
        """Until the dag-processor has parsed `dag_id` (GET /api/v2/dags/<id> answers 200)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            resp = self.api("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404))
            if resp.status_code == 200:
                return resp.json()
            time.sleep(0.5)
        errors = self.api("GET", "/api/v2/importErrors").json()
        raise NativeStackError(f"DAG {dag_id} not parsed within {timeout:.0f} s; import errors: {errors}\n"
                               f"{self.log_tail('dag-processor')}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]

    def wait_for_runs(self, dag_id: str, run_ids: list[str] | None = None, *, run_type: str | None = None,
                      count: int | None = None, timeout: float = 180.0) -> list[dict]:
        """Until the given runs (or `count` runs of `run_type`) are finished; returns them."""
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        while time.monotonic() < deadline:
            self.check_alive()
            runs = [r for r in self.dag_runs(dag_id)
                    if (run_ids is None or r["dag_run_id"] in run_ids)
                    and (run_type is None or r["run_type"] == run_type)]
            expected = len(run_ids) if run_ids is not None else count
            if (expected is None or len(runs) >= expected) and runs and all(r["state"] in FINISHED for r in runs):
                return runs
            time.sleep(1.0)
        raise NativeStackError(f"runs of {dag_id} not finished within {timeout:.0f} s: "
                               f"{[(r['dag_run_id'], r['state']) for r in runs]}\n{self.log_tail('scheduler')}")

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        tis = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                       params={"limit": 100}).json()["task_instances"]
        return [f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in tis
                if t["state"] not in ("success", "skipped")]

    def wait_for_backfill(self, dag_id: str, timeout: float = 180.0) -> dict:
        """Until the DAG's newest backfill is marked completed by the scheduler (its runs finished)."""
        deadline = time.monotonic() + timeout
        latest: dict = {}
        while time.monotonic() < deadline:
            self.check_alive()
            backfills = list(self.api("GET", "/api/v2/backfills", params={"dag_id": dag_id}).json()["backfills"])
            latest = max(backfills, key=lambda b: b["id"], default={})
            if latest.get("completed_at"):
                return latest
            time.sleep(1.0)
        raise NativeStackError(f"backfill of {dag_id} not completed within {timeout:.0f} s: {latest}\n"
                               f"{self.log_tail('scheduler')}")
