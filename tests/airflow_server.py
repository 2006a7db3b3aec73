"""A real Airflow 3 api-server on 127.0.0.1 for tests (reusable by any test module).

    with AirflowServer(tmp_path / "airflow", env={"PUBWATCH_DB_URL": url}) as af:
        token = af.token("supervisor")                    # POST /auth/token
        requests.get(af.url("/pubwatch/"), cookies={"_token": token})

What it sets up, in a private temporary AIRFLOW_HOME (never ~/airflow):
- SQLite metadata DB migrated with `airflow db migrate`;
- SimpleAuthManager with users from `[core] simple_auth_manager_users` (default
  "supervisor:viewer,admin:admin"); passwords are read from the JSON file Airflow generates;
- plugins folder = the repo's plugins/, DAGs folder = an empty folder unless given, no examples;
- include/ on PYTHONPATH and the venv's bin/ on PATH;
- a random JWT secret and API secret key; an ephemeral port.
`stop()` ends only the process group this helper started. The server's output goes to
`<home>/api-server.log` (shown in the error when it does not come up).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path, port: int, *, users: str, dags: Path, plugins: Path | None, metadata_url: str,
                log_level: str) -> dict[str, str]:
    """The environment of Airflow processes started by a test: this checkout's DAGs, plugins and
    library, SimpleAuthManager users, an API server on 127.0.0.1:`port`, fresh secrets, and none of
    the caller's own AIRFLOW__ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins or ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(24),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "include"), os.environ.get("PYTHONPATH")) if p),
        "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


class AirflowServerError(RuntimeError):
    pass


class AirflowServer:
    def __init__(self, home: Path, *, users: str = "supervisor:viewer,admin:admin",
                 env: Mapping[str, str] | None = None, dags_folder: Path | None = None,
                 plugins_folder: Path | None = None, start_timeout: float = 120.0):
        self.home = Path(home)
        self.users = users
        self.port = free_port()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "api-server.log"
        dags = dags_folder or self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        self.env = airflow_env(self.home, self.port, users=users, dags=dags, plugins=plugins_folder,
                               metadata_url=f"sqlite:///{self.home / 'airflow.db'}", log_level="WARNING")
        self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
        self.env.update(env or {})

    # ------------------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "airflow"), *args], env=self.env, text=True, capture_output=True,
                              timeout=timeout)

    def start(self) -> AirflowServer:
        self.home.mkdir(parents=True, exist_ok=True)
        if not (self.home / "airflow.db").exists():
            res = self.airflow("db", "migrate")
            if res.returncode:
                raise AirflowServerError(f"airflow db migrate failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port",
                                      str(self.port), "--workers", "1"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AirflowServerError(f"api-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url("/api/v2/monitor/health"), timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise AirflowServerError(f"api-server did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)    # the group this helper started (uvicorn workers)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> AirflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------------------ users
    def password(self, username: str) -> str:
        """The password Airflow generated for `username` (it writes them on first start)."""
        path = Path(self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                    or self.home / "simple_auth_manager_passwords.json.generated")
        return json.loads(path.read_text())[username]

    def token(self, username: str) -> str:
        """A JWT for `username`, as the UI's login gets it (POST /auth/token)."""
        resp = requests.post(self.url("/auth/token"), json={"username": username, "password": self.password(username)},
                             timeout=30)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def session(self, username: str) -> requests.Session:
        """A requests session carrying the `_token` cookie, like a logged-in browser."""
        s = requests.Session()
        s.cookies.set("_token", self.token(username), domain="127.0.0.1")
        return s
