"""`make ui`: the Airflow UI with the compliance board on the demo state, locally, until Ctrl-C.

1. the demo state: the tracking DB var/pubwatch.db of `make run` (the demo is run first when it
   holds no evaluation yet; `--no-demo` skips that) and the bundled demo portal on its port, so runs
   triggered from the UI crawl the same demo county;
2. Airflow's SQLite metadata DB in var/airflow/ (never ~/airflow), the one `make run` uses;
3. `airflow dag-processor`, `airflow scheduler` and `airflow api-server` (LocalExecutor,
   SimpleAuthManager, user `admin`), each in its own process group, logging to var/airflow/*.log;
4. prints the address, the board's address and the login (the password Airflow generated), then
   waits; Ctrl-C (or SIGTERM) stops the three process groups — SIGTERM, then SIGKILL after 20 s.
DAGs start paused: nothing runs until you unpause or trigger one in the UI. Not a production setup
(see "Deploy" in the README); it listens on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping


PROCESSES = ("dag-processor", "scheduler", "api-server")
USER = "admin"
DEFAULT_PORT = 8080
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
BOARD_ROUTE = "/plugin/pubwatch"          # the board's nav entry inside the UI (plugins/pubwatch_board.py)


class UIError(RuntimeError):
    pass


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(wanted: int | None) -> int:
    """`wanted` (or $PUBWATCH_UI_PORT, else 8080) if free, else an ephemeral one."""
    port = wanted or int(os.environ.get("PUBWATCH_UI_PORT") or DEFAULT_PORT)
    return port if port_is_free(port) else free_port()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ui_env(base: Mapping[str, str], port: int) -> dict[str, str]:
    """`make run`'s Airflow environment plus what the three long-running processes share: the
    api-server address (also the Execution API the tasks talk to), the auth manager and its user,
    fresh secrets for this session, LocalExecutor, DAGs paused at creation."""
    env = dict(base)
    url = f"http://127.0.0.1:{port}"
    env.update({
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        # the scheduler's task-log server (default 8793): a free port, so a second Airflow on this
        # machine does not collide
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(24),
    })
    return env


def password_file(env: Mapping[str, str]) -> Path:
    return Path(env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                or Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated")


class LocalAirflow:
    """The three Airflow processes, started and stopped as process groups (nothing else is touched)."""

    def __init__(self, env: Mapping[str, str], port: int, bindir: Path | None = None):
        self.env = dict(env)
        self.port = port
        self.bindir = bindir or Path(sys.executable).parent
        self.home = Path(self.env["AIRFLOW_HOME"])
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        if (self.home / "airflow.db").exists() and not self.env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
            return
        res = subprocess.run([str(self.bindir / "airflow"), "db", "migrate"], env=self.env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode:
            raise UIError(f"airflow db migrate 失败:\n{res.stdout[-4000:]}")

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for name in PROCESSES:
            args = [name] if name != "api-server" else [name, "--host", "127.0.0.1", "--port", str(self.port),
                                                         "--workers", "1"]
            with open(self.log_path(name), "ab") as log:
                self.procs[name] = subprocess.Popen([str(self.bindir / "airflow"), *args], env=self.env,
                                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_path(self, name: str) -> Path:
        return self.home / f"{name}.log"

    def log_tail(self, name: str, chars: int = 3000) -> str:
        try:
            return self.log_path(name).read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def dead(self) -> str | None:
        """The first process that exited, with its exit code and log tail; None while all run."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{name} 已退出 (exit {proc.returncode}), 日志 {self.log_path(name)}:\n{self.log_tail(name)}"
        return None

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=3) as resp:
                return json.loads(resp.read().decode())
        except (OSError, ValueError, urllib.error.URLError):
            return {}

    def wait_healthy(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            problem = self.dead()
            if problem:
                raise UIError(problem)
            body = self.health()
            if (body.get("scheduler", {}).get("status") == "healthy"
                    and body.get("dag_processor", {}).get("status") == "healthy"
                    and password_file(self.env).exists()):
                return
            time.sleep(1.0)
        raise UIError(f"Airflow 在 {timeout:.0f} 秒内未就绪; 日志在 {self.home}/*.log\n"
                      + "\n".join(f"--- {n} ---\n{self.log_tail(n, 1500)}" for n in PROCESSES))

    def password(self) -> str:
        return json.loads(password_file(self.env).read_text())[USER]

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM each process group started here, then SIGKILL what is left of it."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)      # task processes left in the group too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def banner(af: LocalAirflow, password: str) -> str:
    pids = ", ".join(f"{n} {p.pid}" for n, p in af.procs.items())
    return "\n".join([
        "",
        "Airflow 已启动 (演示数据, 本机访问):",
        f"  地址 (address): {af.base_url}/",
        f"  看板 (board):   {af.base_url}{BOARD_ROUTE}   (登录后在导航中点「政务公开监测看板」)",
        f"  登录 (login):   用户名 {USER}  密码 {password}",
        f"  进程 (pids):    {pids}; 日志 {af.home}/*.log",
        "按 Ctrl-C 停止。DAG 默认暂停: 在界面中手动触发或取消暂停后才会运行。",
        "",
    ])


def has_demo_state(db_url: str) -> bool:
    """Whether the tracking DB already holds evaluations (i.e. `make run` has run)."""
    from ..store import Store, upgrade

    upgrade(db_url)
    store = Store(db_url)
    try:
        return store.counts().get("evaluations", 0) > 0
    finally:
        store.close()


def _stop_on_signals() -> Callable[[], None]:
    """Ctrl-C (SIGINT) and SIGTERM both stop: raise KeyboardInterrupt. SIGINT is set explicitly since
    a shell without job control starts background commands with SIGINT ignored."""
    def handler(signum, frame):   # noqa: ARG001
        raise KeyboardInterrupt
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return restore


def main(argv: list[str] | None = None) -> int:
    from .run import _portal, airflow_env
    from .run import main as run_demo

    parser = argparse.ArgumentParser(prog="make ui", description="Airflow 界面和看板 (演示数据), Ctrl-C 停止")
    parser.add_argument("--port", type=int, default=None, help="api-server 端口 (默认 $PUBWATCH_UI_PORT 或 8080)")
    parser.add_argument("--no-demo", action="store_true", help="不先运行演示 (即使追踪数据库为空)")
    args = parser.parse_args(argv)

    base = airflow_env()
    db_url = base["PUBWATCH_DB_URL"]
    if not args.no_demo and not has_demo_state(db_url):
        print("追踪数据库还没有演示结果: 先运行演示 (同 make run)…", flush=True)
        code = run_demo()
        if code:
            return code
    has_demo_state(db_url)            # migrated either way
    restore = _stop_on_signals()
    af: LocalAirflow | None = None
    try:
        with _portal() as portal:
            wanted = args.port or int(os.environ.get("PUBWATCH_UI_PORT") or DEFAULT_PORT)
            port = choose_port(wanted)
            if port != wanted:
                print(f"端口 {wanted} 已被占用, 改用 {port}", flush=True)
            env = ui_env(airflow_env(portal.env()), port)
            af = LocalAirflow(env, port)
            print(f"演示门户: {portal.base_url}  演示周: {portal.as_of:%Y-%m-%d %H:%M} (北京时间)", flush=True)
            if not (af.home / "airflow.db").exists():
                print("初始化 Airflow 元数据库 (首次运行, 约半分钟)…", flush=True)
            af.migrate()
            print("启动 Airflow (dag-processor, scheduler, api-server), 约半分钟…", flush=True)
            af.start()
            af.wait_healthy()
            print(banner(af, af.password()), flush=True)
            while True:
                problem = af.dead()
                if problem:
                    print(problem, file=sys.stderr, flush=True)
                    return 1
                time.sleep(1.0)
    except KeyboardInterrupt:
        print("\n正在停止 Airflow…", flush=True)
        return 0
    except UIError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1
    finally:
        if af is not None:
            af.stop()
            print("已停止。", flush=True)
        restore()


if __name__ == "__main__":
    sys.exit(main())
