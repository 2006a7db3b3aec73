#!/usr/bin/env python
"""Chaos run (issue #19 item 5): the weekly job, N times, with faults at random points.

    .venv/bin/python bench/chaos_run.py -n 50 --seed 19            # PostgreSQL (default)
    .venv/bin/python bench/chaos_run.py -n 2 --db sqlite --seed 1  # quick (tests/test_chaos_smoke.py)

Real parts, all on 127.0.0.1: the bundled demo portal (`DemoPortal(as_of=<the demo Friday>)`), an
SMTP server (aiosmtpd), a WeCom and a DingTalk robot receiver (tests/webhookrecv.py), a PostgreSQL
database per run (or SQLite files), and the library's own job steps (`pubwatch.jobs.prepare`,
`crawl`, `evaluate_week`, `notify_week` with send=True), each step in its own subprocess — a worker
that can be SIGKILLed — retried up to twice like an Airflow task.

One *run* is the Friday routine of the demo week: crawl every unit → evaluate the closed and the
current week → notify (email, WeCom, DingTalk). Runs are grouped into *rounds* of `--runs-per-db`
runs on one fresh tracking database (default 5: every round exercises first sends under faults;
`--runs-per-db N` puts all N runs on one database). At the end of a round "a person" resolves every
unconfirmed notice (ambiguous, left `sending` by a crash, or dead) from the receivers' logs —
delivered → `Ledger.confirm`, not delivered → `Ledger.resend` — then one clean run is made, and the
round is compared with a clean reference run (its own database, the same demo Friday, the same
portal):

- expected: the reference ledger's sent notices on email/wecom/dingtalk (per unit, period, kind,
  channel), per round;
- delivered: distinct notices the SMTP server / robots actually took (ground truth: the receivers
  decide, per request, whether a faulty answer came before or after the message was accepted);
- duplicated: notices taken more than once; lost: expected but never taken; unexpected: taken
  but not expected (e.g. an accusation from a transient verdict);
- false 未达标: a final verdict (unit, channel, period, rule) missed where the reference's is not;
- posts lost: reference posts (unit, URL) missing from the round's database.

Faults, drawn per step attempt from a seeded RNG (`--seed`): SIGKILL of the step's worker (after
k portal requests, after k messages reached the receivers, or after a random delay once the worker
is ready); PostgreSQL "restart" — `pg_terminate_backend` of every connection of the database at a
random moment, sometimes with the database refusing new connections for 0.5–2 s (ALLOW_CONNECTIONS
false), and between steps; SMTP outage (421 after k messages) or refused connection, SMTP dropping
the connection after DATA (ambiguous), SMTP answering slowly (a kill then lands mid-send); robot
HTTP 502 before or after posting, answer after the client's timeout, connection closed after the
request (posted or not), errcode -1 (busy), refused connection; the demo portal down (listener
closed and 503 on open connections) for 0.5–2.5 s during a crawl. Timing makes runs with the same
seed similar, not identical.

Prints a fault table, a figures table and a last line
`chaos: N=… expected=… delivered=… duplicated=0 lost=0 false_missed=0 posts_lost=0`; exits 1 when
a must-be-zero figure (duplicated, lost, unexpected, false 未达标, posts lost) is not 0, 2 when the
harness itself is inconsistent. A script, not a test: `make test` runs only tests/test_chaos_smoke.py
(N=2 on SQLite).
"""
from __future__ import annotations

import argparse
import asyncio
import email
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "tests", ROOT / "include"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from pubwatch.types import TZ  # noqa: E402

FRIDAY = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)      # the demo Friday (tests' TEST_AS_OF), 2026-W47
CHANNELS = ("email", "wecom", "dingtalk")
PG_ADMIN = os.environ.get("PUBWATCH_CHAOS_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
STEP_TIMEOUT = 180.0          # a worker never runs longer (then it is killed and counted as failed)
RETRIES = 2                   # Airflow task retries
RETRY_DELAY = 0.3
ROBOT_TIMEOUT = 0.8           # the channels' client timeout; a late answer comes after LATE_ANSWER
LATE_ANSWER = 1.5
SMTP_TIMEOUT = 5.0


# =============================================================================== the worker side
def worker(step: str, spec: dict[str, Any]) -> int:
    """One step of the weekly routine in this (killable) process. Prints READY once imported, DONE
    <unit> per crawled unit, RESULT <json> at the end."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pubwatch import jobs

    rt = jobs.Runtime(spec["db"])
    as_of = datetime.fromisoformat(spec["as_of"])
    print("READY", flush=True)
    rc = 0
    try:
        if step == "crawl":
            jobs.prepare(rt)
            for uid in spec["units"]:
                try:
                    out = jobs.crawl(rt, uid, now=as_of, run_id=spec["run_id"])
                except Exception:  # this unit's task fails; the others go on (Airflow mapped tasks)
                    traceback.print_exc()
                    print(f"FAIL {uid}", flush=True)
                    rc = 1
                    continue
                bad = [s["outcome"] for s in out["sources"] if s["outcome"] not in ("ok", "not_modified")]
                print(f"DONE {uid} {','.join(bad)}", flush=True)
            print("RESULT {}", flush=True)
        elif step == "evaluate":
            out = jobs.evaluate_week(rt, as_of)
            print("RESULT " + json.dumps({k: out[k]["counts"] for k in ("closed", "current")}), flush=True)
        elif step == "notify":
            out = jobs.notify_week(rt, as_of, send=True, channel_configs=spec["channels"], run_id=spec["run_id"])
            print("RESULT " + json.dumps({k: len(v) for k, v in out.items()}), flush=True)
        else:
            raise SystemExit(f"unknown step {step}")
    finally:
        rt.close()
    return rc


# =============================================================================== notice identity
def _norm(text: str) -> str:
    return text.replace("（", "(").replace("）", ")").strip()


_SUBJECTS = [
    ("escalation", re.compile(r"^关于(?P<unit>.+?)连续\d+周未按要求更新")),
    ("overdue", re.compile(r"^关于(?P<unit>\D+?)(?P<period>\d{4}年.+?)政府网站和政务新媒体信息未按要求更新的通报$")),
    ("reminder", re.compile(r"^关于(?P<unit>\D+?)(?P<period>\d{4}年.+?)政府网站和政务新媒体信息更新的提醒$")),
    ("summary", re.compile(r"^(?P<period>\d{4}年.+?)政府网站和政务新媒体信息更新情况汇总$")),
]


def subject_key(subject: str) -> tuple[str, str, str] | None:
    """(kind, unit name, period label) of a notice from its subject. Escalations carry no period
    (and their streak number may differ between runs: it is not part of the identity)."""
    subject = _norm(subject)
    for kind, rx in _SUBJECTS:
        m = rx.match(subject)
        if m:
            d = m.groupdict()
            return kind, d.get("unit") or "_office", _norm(d.get("period") or "") if kind != "escalation" else ""
    return None


def markdown_key(md: str) -> tuple[str, str, str] | None:
    """The same identity from a robot's markdown (WeCom markdown carries no subject)."""
    lines = [line.strip() for line in md.strip().splitlines()]
    if not lines:
        return None
    head = lines[0]
    m = re.match(r"^### 督办提醒：(.+?)连续\d+周未达标", head)
    if m:
        return "escalation", _norm(m.group(1)), ""
    m = re.match(r"^### (.+)信息更新情况汇总$", head)
    if m:
        return "summary", "_office", _norm(m.group(1))
    if head in ("### 信息更新情况通报", "### 信息更新提醒") and len(lines) >= 3:
        unit = re.match(r"^\*\*(.+?)\*\*", lines[1])
        rx = r"经监测，(.+?)，贵单位" if head.endswith("通报") else r"贵单位(.+?)以下渠道"
        period = re.search(rx, lines[2])
        if unit and period:
            return ("overdue" if head.endswith("通报") else "reminder"), _norm(unit.group(1)), _norm(period.group(1))
    return None


def ledger_key(row: Any, unit_names: dict[str, str]) -> tuple[str, str, str]:
    """The identity of a ledger row (unit, period, kind, channel) — without its channel."""
    from pubwatch.periods import Period

    kind = "reminder" if row.kind.startswith("warn:") else row.kind
    unit = "_office" if row.unit_id.startswith("_") else unit_names.get(row.unit_id, row.unit_id)
    period = "" if kind == "escalation" else _norm(Period.parse(row.period).label)
    return kind, unit, period


# =============================================================================== receivers
@dataclass
class Taken:
    """One message that reached a receiver: whether the receiver kept it (`posted`) is the truth a
    person would find in the mail log or the group chat."""

    round: int
    channel: str
    key: tuple | None
    part: str               # first | more | mention
    posted: bool
    how: str                # ok | 502-after | late | close-after | drop-after-data | slow | …
    text: str = ""


class Receivers:
    """The SMTP server and the two robots, with switchable faults and one ground-truth log."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        from webhookrecv import WebhookReceiver

        self.lock = threading.Lock()
        self.log: list[Taken] = []
        self.round = 0
        self.smtp_mode: dict[str, Any] = {"mode": "ok"}
        self.robot_mode: dict[str, dict[str, Any]] = {c: {"mode": "ok"} for c in ("wecom", "dingtalk")}
        self.rng = random.Random(0)
        self.entered = 0                 # messages that reached any receiver (kill triggers)
        self.smtp = Controller(_SMTPHandler(self), hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        self.robots = {c: WebhookReceiver(default=self._robot_answer(c)).start() for c in ("wecom", "dingtalk")}
        for robot in self.robots.values():
            quiet(robot._server)

    def stop(self) -> None:
        self.smtp.stop()
        for r in self.robots.values():
            r.stop()

    def configure(self, smtp: str, robots: dict[str, str], rng: random.Random, smtp_accept: int = 0) -> None:
        with self.lock:
            self.smtp_mode = {"mode": smtp, "accept": smtp_accept}
            self.robot_mode = {c: {"mode": m} for c, m in robots.items()}
            self.rng = rng

    def healthy(self) -> None:
        self.configure("ok", {"wecom": "ok", "dingtalk": "ok"}, random.Random(0))

    def channel_configs(self, smtp: str, robots: dict[str, str]) -> dict[str, dict]:
        """Connection settings for the notify step; a 'refused' channel points at a closed port."""
        smtp_port = closed_port() if smtp == "refused" else self.smtp.port
        conf = {"email": {"host": "127.0.0.1", "port": smtp_port,
                          "extra": {"security": "none", "from_addr": "gongkai@county.example.gov.cn",
                                    "timeout": SMTP_TIMEOUT}}}
        for name, path, token in (("wecom", "/cgi-bin/webhook/send", {"key": "chaos-wecom-key"}),
                                  ("dingtalk", "/robot/send", {"access_token": "chaos-ding-token"})):
            url = self.robots[name].url_for(path, **token)
            if robots[name] == "refused":
                url = url.replace(f":{self.robots[name].port}/", f":{closed_port()}/")
            extra = {"webhook_url": url, "min_interval": 0, "rate_wait": 0, "timeout": ROBOT_TIMEOUT}
            if name == "dingtalk":
                extra["secret"] = "SECchaos-ding-secret"
            conf[name] = {"extra": extra}
        return conf

    def record(self, taken: Taken) -> None:
        with self.lock:
            taken.round = self.round
            self.log.append(taken)

    # ----- robots
    def _robot_answer(self, channel: str) -> Callable:
        ok = (200, {"errcode": 0, "errmsg": "ok"})

        def answer(rec):
            body = rec.json if isinstance(rec.json, dict) else {}
            key, part, text = robot_message(channel, body)
            with self.lock:
                self.entered += 1
                mode = self.robot_mode.get(channel, {"mode": "ok"})["mode"]
                fault = None
                if mode == "flaky" and self.rng.random() < 0.4:
                    fault = self.rng.choice(["502-before", "502-after", "late", "close-after", "close-before", "busy"])
            posted = fault in (None, "502-after", "late", "close-after")
            self.record(Taken(0, channel, key, part, posted, fault or "ok", text))
            if fault in ("502-before", "502-after"):
                return 502, "<html><body><h1>502 Bad Gateway</h1></body></html>"
            if fault == "late":
                return 200, {"errcode": 0, "errmsg": "ok"}, LATE_ANSWER
            if fault in ("close-after", "close-before"):
                return "close"
            if fault == "busy":
                return 200, {"errcode": -1, "errmsg": "system busy"}
            return ok

        return answer


def robot_message(channel: str, body: dict) -> tuple[tuple | None, str, str]:
    if body.get("msgtype") == "text":              # WeCom's follow-up @mention: "请查收：<subject>"
        text = str((body.get("text") or {}).get("content") or "")
        return subject_key(text.split("：", 1)[-1]), "mention", text[:80]
    md = body.get("markdown") or {}
    text = str(md.get("content") or md.get("text") or "")
    if text.startswith("（续"):
        return None, "more", text[:80]
    return markdown_key(text), "first", text[:80]


class _SMTPHandler:
    def __init__(self, recv: Receivers):
        self.recv = recv

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        subject = str(make_header(decode_header(msg["Subject"] or "")))
        recv = self.recv
        with recv.lock:
            recv.entered += 1
            mode = dict(recv.smtp_mode)
            drop = mode["mode"] == "drop" and recv.rng.random() < 0.4
            if mode["mode"] == "outage":
                refuse = recv.smtp_mode["accept"] <= 0
                recv.smtp_mode["accept"] -= 1
            else:
                refuse = False
        if refuse:
            recv.record(Taken(0, "email", subject_key(subject), "first", False, "421", subject))
            return "421 4.3.2 Service shutting down, try again later"
        how = "drop-after-data" if drop else "slow" if mode["mode"] == "slow" else "ok"
        recv.record(Taken(0, "email", subject_key(subject), "first", True, how, subject))
        if drop:
            server.transport.close()            # queued, but the client never hears "250"
        elif mode["mode"] == "slow":
            await asyncio.sleep(0.6)
        return "250 OK"


def quiet(server: Any) -> None:
    """No traceback on stderr when a killed client resets a connection (socketserver's default)."""
    if server is not None:
        server.handle_error = lambda request, client_address: None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


closed_port = free_port       # nothing listens there once the probe socket is closed


# =============================================================================== databases
class Databases:
    """PostgreSQL databases of this run (created and dropped here), or SQLite files."""

    def __init__(self, kind: str, workdir: Path, keep: bool):
        self.kind, self.workdir, self.keep = kind, workdir, keep
        self.created: list[str] = []
        self.admin = None
        if kind == "postgres":
            import sqlalchemy as sa

            self.sa = sa
            self.admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def new(self, label: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / f'{label}.db'}"
        name = f"pubwatch_chaos_{os.getpid()}_{label}"
        with self.admin.connect() as c:
            c.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(self.sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    @staticmethod
    def name_of(url: str) -> str:
        return url.rsplit("/", 1)[1]

    def terminate(self, url: str, refuse_for: float = 0.0) -> int:
        """A PostgreSQL "restart" of one database: every connection to it is terminated; with
        `refuse_for`, new connections are refused that long (the server is "still starting")."""
        if self.kind != "postgres":
            return 0
        name = self.name_of(url)
        with self.admin.connect() as c:
            if refuse_for:
                c.execute(self.sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            try:
                n = c.execute(self.sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                           "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name}).scalar()
                if refuse_for:
                    time.sleep(refuse_for)
            finally:
                if refuse_for:
                    c.execute(self.sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        return int(n or 0)

    def drop(self, url: str) -> None:
        if self.keep:
            return
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
            return
        name = self.name_of(url)
        with self.admin.connect() as c:
            c.execute(self.sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            c.execute(self.sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                      {"n": name})
            c.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        self.created.remove(name)

    def close(self) -> None:
        if self.admin is None:
            return
        if not self.keep:
            for name in list(self.created):
                try:
                    self.drop(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)
                except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                    print(f"could not drop {name}: {exc}", file=sys.stderr)
        self.admin.dispose()


# =============================================================================== the portal
class Portal:
    """The demo portal on a fixed port (post URLs contain it), which can go down for a while."""

    def __init__(self) -> None:
        from pubwatch.demo import DemoPortal

        self.portal = DemoPortal(as_of=FRIDAY, port=free_port()).start()
        quiet(self.portal._server)
        self.lock = threading.Lock()

    @property
    def requests(self) -> int:
        return len(self.portal.request_log)

    def down(self, seconds: float) -> None:
        """New connections refused, open (keep-alive) ones answered 503, for `seconds`."""
        with self.lock:
            routes = self.portal.extra_routes
            self.portal.extra_routes = {"/": lambda h, parts: (503, {"Content-Type": "text/html; charset=utf-8"},
                                                              b"<h1>503 Service Unavailable</h1>"), **routes}
            self.portal.stop()
            try:
                time.sleep(seconds)
            finally:
                self.portal.extra_routes = routes
                for attempt in range(50):
                    try:
                        quiet(self.portal.start()._server)
                        break
                    except OSError:
                        time.sleep(0.1)
                else:
                    raise RuntimeError("demo portal could not get its port back")

    def stop(self) -> None:
        self.portal.stop()


# =============================================================================== steps and faults
@dataclass
class StepFaults:
    kill: dict | None = None        # {"on": "time"|"requests"|"messages", "at": float|int}
    pg: dict | None = None          # {"at": fraction of the step, "refuse": seconds}
    pg_before: bool = False
    portal_down: dict | None = None  # {"at": fraction, "seconds": s}
    smtp: str = "ok"                # ok | outage | refused | drop | slow
    smtp_accept: int = 0
    robots: dict[str, str] = field(default_factory=lambda: {"wecom": "ok", "dingtalk": "ok"})

    def labels(self, step: str) -> list[str]:
        out = []
        if self.pg_before:
            out.append("pg-restart-before")
        if self.kill:
            out.append(f"kill@{self.kill['on']}:{self.kill['at']:.3g}" if isinstance(self.kill["at"], float)
                       else f"kill@{self.kill['on']}:{self.kill['at']}")
        if self.pg:
            out.append("pg-down" if self.pg["refuse"] else "pg-restart")
        if self.portal_down:
            out.append(f"portal-down {self.portal_down['seconds']:.1f}s")
        if step == "notify":
            if self.smtp != "ok":
                out.append(f"smtp={self.smtp}" + (f"({self.smtp_accept})" if self.smtp == "outage" else ""))
            out += [f"{c}={m}" for c, m in self.robots.items() if m != "ok"]
        return out


@dataclass
class StepOutcome:
    rc: int | None
    killed: bool
    lines: list[str]
    seconds: float
    ready_seconds: float | None

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def result(self) -> dict:
        for line in self.lines:
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        return {}


class Chaos:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(args.seed)
        self.workdir = Path(tempfile.mkdtemp(prefix="pubwatch-chaos-")) if not args.workdir else Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dbs = Databases(args.db, self.workdir, args.keep)
        self.portal = Portal()
        self.recv = Receivers()
        os.environ.update(self.portal.portal.env())
        os.environ["PUBWATCH_REGISTRY"] = str(demo_registry(self.workdir, args.pacing))
        from pubwatch.registry import load_registry

        self.registry = load_registry()
        self.units = [u.id for u in self.registry.units]
        self.unit_names = {u.id: u.name for u in self.registry.units}
        self.injected: Counter[str] = Counter()
        self.ref_seconds = {"crawl": 5.0, "evaluate": 1.0, "notify": 2.0}
        self.ref_requests = 60
        self.ref_messages = 24
        self.step_log = self.workdir / "workers.log"
        self.ref_bad: dict[str, str] = {}      # unit → failed reads of the clean reference crawl (the demo's own)

    # ----- running one step in a worker
    def env(self, var_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "include"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PUBWATCH_VAR_DIR"] = str(var_dir)
        env.update(self.portal.portal.env())
        return env

    def run_step(self, step: str, spec: dict, var_dir: Path, faults: StepFaults, db_url: str) -> StepOutcome:
        if faults.pg_before:
            self.dbs.terminate(db_url)
        t0 = time.monotonic()
        with open(self.step_log, "a", encoding="utf-8") as errlog:
            errlog.write(f"\n===== {step} {spec.get('run_id')} {faults.labels(step)}\n")
            errlog.flush()
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", step,
                                     "--spec", json.dumps(spec)], env=self.env(var_dir), stdout=subprocess.PIPE,
                                    stderr=errlog, text=True, encoding="utf-8")
            lines: list[str] = []
            ready = threading.Event()
            ready_at: list[float] = []
            done = threading.Event()

            def read() -> None:
                for line in proc.stdout:
                    line = line.rstrip("\n")
                    lines.append(line)
                    if line == "READY":
                        ready_at.append(time.monotonic())
                        ready.set()
                done.set()

            killed = threading.Event()
            base_requests, base_messages = self.portal.requests, self.recv.entered

            def after_ready(frac_or_seconds: float, is_fraction: bool = True) -> bool:
                """Wait until the worker is ready, then the delay; False if it ended first."""
                while not ready.wait(0.02):
                    if done.is_set():
                        return False
                delay = frac_or_seconds * self.ref_seconds[step] if is_fraction else frac_or_seconds
                return not done.wait(delay)

            def kill() -> None:
                k = faults.kill
                if k["on"] == "time":
                    if not after_ready(k["at"]):
                        return
                else:
                    def reached() -> bool:
                        if k["on"] == "requests":
                            return self.portal.requests - base_requests >= k["at"]
                        return self.recv.entered - base_messages >= k["at"]
                    while not reached():
                        if done.wait(0.005):
                            return
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.set()
                except ProcessLookupError:
                    pass

            def pg() -> None:
                if after_ready(faults.pg["at"]):
                    self.dbs.terminate(db_url, faults.pg["refuse"])

            def portal_down() -> None:
                if after_ready(faults.portal_down["at"]):
                    self.portal.down(faults.portal_down["seconds"])

            threads = [threading.Thread(target=read, daemon=True)]
            if faults.kill:
                threads.append(threading.Thread(target=kill, daemon=True))
            if faults.pg:
                threads.append(threading.Thread(target=pg, daemon=True))
            if faults.portal_down:
                threads.append(threading.Thread(target=portal_down, daemon=True))
            for t in threads:
                t.start()
            try:
                rc = proc.wait(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                rc = proc.wait()
                errlog.write(f"!!! {step} timed out after {STEP_TIMEOUT}s and was killed\n")
            except BaseException:          # the run itself is stopped: never leave a worker behind
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                raise
            done.wait(5)
            done.set()
            for t in threads[1:]:
                t.join()             # a portal or database outage ends before the next step
        ready_s = ready_at[0] - t0 if ready_at else None
        return StepOutcome(rc, killed.is_set(), lines, time.monotonic() - t0, ready_s)

    # ----- the fault plan
    def plan(self, step: str, attempt: int) -> StepFaults:
        rng, f = self.rng, StepFaults()
        scale = 1.0 if attempt == 0 else 0.5          # retries meet fewer faults (they usually heal)
        pg_ok = self.args.db == "postgres"
        if rng.random() < 0.35 * scale:
            on = rng.choice({"crawl": ["time", "requests"], "evaluate": ["time"],
                             "notify": ["time", "messages", "messages"]}[step])
            at: float | int = rng.uniform(0.0, 1.0)
            if on == "requests":
                at = rng.randint(1, max(2, self.ref_requests))
            elif on == "messages":
                at = rng.randint(1, max(2, self.ref_messages // 2))
            f.kill = {"on": on, "at": at}
        if pg_ok and rng.random() < 0.25 * scale:
            f.pg = {"at": rng.uniform(0.0, 1.0), "refuse": rng.uniform(0.5, 2.0) if rng.random() < 0.4 else 0.0}
        if pg_ok and rng.random() < 0.1:
            f.pg_before = True
        if step == "crawl" and rng.random() < 0.3 * scale:
            f.portal_down = {"at": rng.uniform(0.0, 0.8), "seconds": rng.uniform(0.5, 2.5)}
        if step == "notify":
            f.smtp = rng.choices(["ok", "outage", "refused", "drop", "slow"], [4, 2, 1, 2, 1])[0]
            f.smtp_accept = rng.randint(0, 4)
            f.robots = {c: rng.choices(["ok", "flaky", "refused"], [5, 4, 1])[0] for c in ("wecom", "dingtalk")}
            if f.kill and f.kill["on"] == "messages" and f.smtp == "ok" and rng.random() < 0.5:
                f.smtp = "slow"                        # the kill then lands while the server holds a message
        return f

    def count(self, step: str, f: StepFaults, outcome: StepOutcome) -> None:
        if f.kill:
            self.injected[f"SIGKILL during {step}" + ("" if outcome.killed else " (armed, step ended first)")] += 1
        if f.pg_before:
            self.injected["PostgreSQL restart between steps"] += 1
        if f.pg:
            self.injected[f"PostgreSQL {'down (refusing connections)' if f.pg['refuse'] else 'restart'} during {step}"] += 1
        if f.portal_down:
            self.injected["demo portal down during crawl"] += 1
        if step == "notify":
            if f.smtp != "ok":
                self.injected[{"outage": "SMTP outage (421 after k messages)", "refused": "SMTP connection refused",
                               "drop": "SMTP drop after DATA (armed)", "slow": "SMTP slow answer"}[f.smtp]] += 1
            for c, m in f.robots.items():
                if m != "ok":
                    self.injected[f"robot {m} ({c})"] += 1

    # ----- one run of the Friday routine
    def weekly(self, db_url: str, var_dir: Path, run_id: str, *, faults: bool) -> list[str]:
        notes = []
        spec = {"db": db_url, "as_of": FRIDAY.isoformat(), "run_id": run_id}
        # crawl: one task per unit; a retry re-runs the units that did not report back
        todo = list(self.units)
        if faults:
            self.rng.shuffle(todo)
        for attempt in range(RETRIES + 1):
            f = self.plan("crawl", attempt) if faults else StepFaults()
            out = self.run_step("crawl", {**spec, "units": todo}, var_dir, f, db_url)
            self.count("crawl", f, out)
            done = [line.split() for line in out.lines if line.startswith("DONE ")]
            failed_reads = sum(1 for d in done if (d[2] if len(d) > 2 else "") != self.ref_bad.get(d[1], ""))
            todo = [u for u in todo if u not in {d[1] for d in done}]
            notes.append(self._note("crawl", f, out) + (f" ({len(todo)} units left)" if todo else "")
                         + (f" ({failed_reads} units with a failed read)" if failed_reads else ""))
            if not todo:
                break
            time.sleep(RETRY_DELAY)
        # evaluate (trigger_rule all_done: runs whatever the crawl tasks did)
        evaluated = False
        for attempt in range(RETRIES + 1):
            f = self.plan("evaluate", attempt) if faults else StepFaults()
            out = self.run_step("evaluate", spec, var_dir, f, db_url)
            self.count("evaluate", f, out)
            notes.append(self._note("evaluate", f, out))
            if out.ok:
                evaluated = True
                break
            time.sleep(RETRY_DELAY)
        if not evaluated:
            notes.append("notify: upstream failed")
            return notes
        for attempt in range(RETRIES + 1):
            f = self.plan("notify", attempt) if faults else StepFaults()
            self.recv.configure(f.smtp, f.robots, random.Random(self.rng.random()), f.smtp_accept)
            out = self.run_step("notify", {**spec, "channels": self.recv.channel_configs(f.smtp, f.robots)},
                                var_dir, f, db_url)
            self.recv.healthy()
            self.count("notify", f, out)
            res = out.result()
            notes.append(self._note("notify", f, out) + (" → " + " ".join(f"{k} {v}" for k, v in res.items() if v)
                                                         if res else ""))
            if out.ok:
                break
            time.sleep(RETRY_DELAY)
        return notes

    @staticmethod
    def _note(step: str, f: StepFaults, out: StepOutcome) -> str:
        labels = [lb + ("" if out.killed else " (not reached)") if lb.startswith("kill@") else lb
                  for lb in f.labels(step)]
        state = "ok" if out.ok else "KILLED" if out.killed else f"failed rc={out.rc}"
        return f"{step}[{', '.join(labels)}] {state}" if labels else f"{step} {state}"

    # ----- the reference
    def reference(self) -> dict[str, Any]:
        from pubwatch.notices.ledger import SENT, Ledger
        from pubwatch.store import Store

        url = self.dbs.new("ref")
        var_dir = self.workdir / "var-ref"
        self.recv.round = -1
        before = len(self.recv.log)
        t_req = self.portal.requests
        timings = {}
        spec = {"db": url, "as_of": FRIDAY.isoformat(), "run_id": "reference"}
        for step, extra in (("crawl", {"units": self.units}), ("evaluate", {}),
                            ("notify", {"channels": self.recv.channel_configs("ok", {"wecom": "ok", "dingtalk": "ok"})})):
            out = self.run_step(step, {**spec, **extra}, var_dir, StepFaults(), url)
            if not out.ok:
                raise HarnessError(f"reference {step} failed (rc={out.rc}); see {self.step_log}")
            timings[step] = out.seconds - (out.ready_seconds or 0.0)
            if step == "crawl":
                self.ref_bad = {d[1]: (d[2] if len(d) > 2 else "") for d in (line.split() for line in out.lines
                                                                              if line.startswith("DONE "))}
        self.ref_requests = self.portal.requests - t_req
        taken = self.recv.log[before:]
        self.ref_messages = len(taken)
        self.ref_seconds = {k: max(v, 0.2) for k, v in timings.items()}
        store = Store(url)
        try:
            rows = [r for r in Ledger(store).rows() if r.channel in CHANNELS]
            if any(r.status != SENT for r in rows):
                raise HarnessError(f"reference run did not send everything: {[(r.unit_id, r.kind, r.channel, r.status) for r in rows]}")
            expected = Counter((r.channel, ledger_key(r, self.unit_names)) for r in rows)
            got = Counter((t.channel, t.key) for t in taken if t.posted and t.part == "first")
            if any(n > 1 for n in expected.values()) or expected != got:
                raise HarnessError("reference: ledger rows and received notices differ (notice identity "
                                   f"broken?)\nledger: {sorted(expected)}\nreceived: {sorted(got)}")
            verdicts = self.verdicts(store)
            posts = self.posts(store)
        finally:
            store.close()
        return {"url": url, "expected": set(expected), "verdicts": verdicts, "posts": posts,
                "timings": timings, "requests": self.ref_requests}

    def periods(self) -> list[str]:
        from pubwatch.periods import Period

        week = Period.week_of(FRIDAY)
        keys = []
        for _ in range(12):
            keys.append(week.key)
            week = week.previous()
        month = Period.month_of(FRIDAY)
        for _ in range(3):
            keys.append(month.key)
            month = month.previous()
        return keys

    def verdicts(self, store) -> dict[tuple, str]:
        return {(v.unit_id, v.channel, v.period, v.rule): v.status.value
                for p in self.periods() for v in store.verdicts(p)}

    @staticmethod
    def posts(store) -> set[tuple[str, str]]:
        import sqlalchemy as sa

        from pubwatch.store.models import Post

        with store.Session() as s:
            return {(u, url) for u, url in s.execute(sa.select(Post.unit_id, Post.url))}

    # ----- a round: runs on one database, the person, a clean run, the figures
    def round(self, number: int, runs: list[int], ref: dict[str, Any]) -> dict[str, Any]:
        from pubwatch.notices.ledger import AMBIGUOUS, DEAD, SENDING, Ledger
        from pubwatch.store import Store

        url = self.dbs.new(f"r{number}")
        var_dir = self.workdir / f"var-r{number}"
        self.recv.round = number
        for i in runs:
            t0 = time.monotonic()
            notes = self.weekly(url, var_dir, f"chaos-{number}-{i}", faults=True)
            print(f"  run {i + 1:>3}/{self.args.n} (round {number}): " + " | ".join(notes)
                  + f"  [{time.monotonic() - t0:.1f}s]", flush=True)
        taken = [t for t in self.recv.log if t.round == number]
        posted = Counter((t.channel, t.key) for t in taken if t.posted and t.part == "first")
        # the person: every unconfirmed (or dead) notice, decided from the receivers' logs
        person = Counter()
        store = Store(url)
        try:
            ledger = Ledger(store)
            todo = {r.id: r for r in ledger.unconfirmed(older_than=timedelta(0))}
            todo.update({r.id: r for r in ledger.rows() if r.status == DEAD})
            with person_clock(timedelta(minutes=31)):     # the person looks later: `sending` is then stuck
                for row in todo.values():
                    state = {AMBIGUOUS: "ambiguous", SENDING: "sending", DEAD: "dead"}[row.status]
                    if row.channel not in CHANNELS:
                        ledger.resend(row.id, "chaos: 发件箱副本重写")
                        person[f"{state} outbox → resend"] += 1
                        continue
                    arrived = posted[(row.channel, ledger_key(row, self.unit_names))] > 0
                    if arrived and row.status != DEAD:
                        ledger.confirm(row.id, "chaos: 接收端日志显示已送达")
                        person[f"{state} → confirm (arrived)"] += 1
                    elif arrived:
                        person[f"{state}, arrived → left as is"] += 1
                    else:
                        ledger.resend(row.id, "chaos: 接收端日志中没有")
                        person[f"{state} → resend (not arrived)"] += 1
        finally:
            store.close()
        t0 = time.monotonic()
        notes = self.weekly(url, var_dir, f"final-{number}", faults=False)
        print(f"  round {number}: person {dict(person) or '-'}; clean run: " + " | ".join(notes)
              + f"  [{time.monotonic() - t0:.1f}s]", flush=True)
        # the figures
        taken = [t for t in self.recv.log if t.round == number]
        firsts = [t for t in taken if t.posted and t.part == "first"]
        posted = Counter((t.channel, t.key) for t in firsts)
        unknown = [t for t in taken if t.part != "more" and t.key is None]
        store = Store(url)
        try:
            verdicts = self.verdicts(store)
            posts = self.posts(store)
            left = Counter(r.status for r in Ledger(store).rows() if r.channel in CHANNELS)
        finally:
            store.close()
        false_missed = sorted(k for k, st in verdicts.items() if st == "missed" and ref["verdicts"].get(k) != "missed")
        differ = sorted(k for k, st in ref["verdicts"].items() if verdicts.get(k) != st)
        fig = {
            "expected": len(ref["expected"]),
            "delivered": len(set(posted)),
            "duplicated": sum(1 for n in posted.values() if n > 1),
            "extra_copies": sum(n - 1 for n in posted.values() if n > 1),
            "lost": len(ref["expected"] - set(posted)),
            "unexpected": len(set(posted) - ref["expected"]),
            "unrecognised": len(unknown),
            "false_missed": len(false_missed),
            "posts_lost": len(ref["posts"] - posts),
            "verdicts_differ": len(differ),
            "mentions_twice": sum(1 for n in Counter((t.channel, t.key) for t in taken
                                                     if t.posted and t.part == "mention").values() if n > 1),
        }
        details = {
            "lost": sorted(ref["expected"] - set(posted)), "unexpected": sorted(set(posted) - ref["expected"]),
            "duplicated": sorted(k for k, n in posted.items() if n > 1), "false_missed": false_missed,
            "posts_lost": sorted(ref["posts"] - posts)[:20],
            "verdicts_differ": [f"{'/'.join(k)}: {ref['verdicts'][k]}→{verdicts.get(k)}" for k in differ[:20]],
            "unrecognised": [(t.channel, t.text) for t in unknown][:10],
            "ledger_not_sent": {k: v for k, v in left.items() if k != "sent"},
        }
        bad = {k: v for k, v in details.items() if v}
        if bad:
            print(f"  round {number} findings: {json.dumps(bad, ensure_ascii=False, default=str)}", flush=True)
        self.dbs.drop(url)
        shutil.rmtree(var_dir, ignore_errors=True)
        return {"figures": fig, "person": person, "details": details}

    def close(self) -> None:
        try:
            self.recv.stop()
        finally:
            try:
                self.portal.stop()
            finally:
                self.dbs.close()
        if not self.args.keep and not self.args.workdir and not getattr(self, "failed", False):
            shutil.rmtree(self.workdir, ignore_errors=True)


def demo_registry(workdir: Path, pacing: float) -> Path:
    """The bundled demo registry (include/units.yaml), with the per-host pacing set to `pacing`."""
    import yaml

    data = yaml.safe_load((ROOT / "include" / "units.yaml").read_text(encoding="utf-8"))
    data.setdefault("fetch", {})["per_host_interval"] = pacing
    path = workdir / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class HarnessError(RuntimeError):
    pass


@contextmanager
def person_clock(shift: timedelta):
    """The ledger's clock, `shift` later: a person deciding about a notice left `sending` by a crash
    does so once it is stuck (30 minutes), as `Ledger.confirm/resend` require."""
    from pubwatch.notices import ledger as ledger_mod

    real = ledger_mod.utcnow
    ledger_mod.utcnow = lambda: real() + shift
    try:
        yield
    finally:
        ledger_mod.utcnow = real


# =============================================================================== main
MUST_BE_ZERO = ("duplicated", "lost", "unexpected", "false_missed", "posts_lost", "unrecognised", "verdicts_differ")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=50, help="runs of the weekly job (default 50)")
    p.add_argument("--seed", type=int, default=19)
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--runs-per-db", type=int, default=5,
                   help="runs on one fresh database before the person's step and the clean run (default 5)")
    p.add_argument("--pacing", type=float, default=0.0,
                   help="per-host pacing of the demo crawl in seconds (the bundled registry says 0.05; default 0)")
    p.add_argument("--keep", action="store_true", help="keep databases and the work folder")
    p.add_argument("--workdir", help="work folder (default: a new temporary folder)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, json.loads(args.spec))
    if args.n < 1 or args.runs_per_db < 1:
        p.error("-n and --runs-per-db must be at least 1")

    def terminate(signum, frame):
        raise SystemExit(f"chaos: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # also when started in the background
    t0 = time.monotonic()
    chaos = Chaos(args)
    print(f"chaos run: N={args.n} seed={args.seed} db={args.db} runs per database={args.runs_per_db} "
          f"demo Friday {FRIDAY:%Y-%m-%d %H:%M} portal {chaos.portal.portal.base_url} work {chaos.workdir}", flush=True)
    try:
        ref = chaos.reference()
        print(f"reference: {len(ref['expected'])} notices on {'/'.join(CHANNELS)}, {len(ref['posts'])} posts, "
              f"{len(ref['verdicts'])} verdicts; steps " +
              ", ".join(f"{k} {v:.1f}s" for k, v in ref["timings"].items()) + f", {ref['requests']} portal requests",
              flush=True)
        rounds = []
        runs = list(range(args.n))
        for number, start in enumerate(range(0, args.n, args.runs_per_db), 1):
            rounds.append(chaos.round(number, runs[start:start + args.runs_per_db], ref))
        chaos.dbs.drop(ref["url"])
    except HarnessError as exc:
        chaos.failed = True
        print(f"chaos: harness error: {exc}", flush=True)
        chaos.close()
        return 2
    except BaseException:
        chaos.failed = True
        chaos.close()
        raise
    total = Counter()
    person = Counter()
    for r in rounds:
        total.update(r["figures"])
        person.update(r["person"])
    print()
    print(f"faults injected ({args.n} runs, {len(rounds)} databases)")
    print(f"  {'fault':<58} {'times':>6}")
    for name, n in sorted(chaos.injected.items()):
        print(f"  {name:<58} {n:>6}")
    ambiguous = Counter(t.how for t in chaos.recv.log if t.round > 0 and t.how != "ok")
    print(f"  {'messages answered with a fault (' + ', '.join(f'{k} {v}' for k, v in sorted(ambiguous.items())) + ')':<58}"
          f" {sum(ambiguous.values()):>6}")
    print()
    print("figures")
    rows = [("notices expected", total["expected"], ""), ("delivered (distinct)", total["delivered"], ""),
            ("duplicated", total["duplicated"], "must be 0"), ("lost", total["lost"], "must be 0"),
            ("unexpected (not in the reference)", total["unexpected"], "must be 0"),
            ("unrecognised messages", total["unrecognised"], "must be 0"),
            ("unconfirmed resolved by the person", sum(n for k, n in person.items() if "outbox" not in k), ""),
            ("false 未达标", total["false_missed"], "must be 0"), ("posts lost", total["posts_lost"], "must be 0"),
            ("final verdicts differing from the reference's", total["verdicts_differ"], "must be 0"),
            ("WeCom @mentions posted twice", total["mentions_twice"], "")]
    for name, value, note in rows:
        print(f"  {name:<52} {value:>6}  {note}")
    for k, n in sorted(person.items()):
        print(f"    person: {k:<42} {n:>6}")
    elapsed = time.monotonic() - t0
    failed = [k for k in MUST_BE_ZERO if total[k]]
    print(f"\nchaos: N={args.n} expected={total['expected']} delivered={total['delivered']} "
          f"duplicated={total['duplicated']} lost={total['lost']} false_missed={total['false_missed']} "
          f"posts_lost={total['posts_lost']}"
          + (f" unexpected={total['unexpected']}" if total["unexpected"] else "")
          + (f" unrecognised={total['unrecognised']}" if total["unrecognised"] else "")
          + (f" verdicts_differ={total['verdicts_differ']}" if total["verdicts_differ"] else "")
          + f" ({elapsed:.0f}s, seed {args.seed}, {args.db})", flush=True)
    if failed:
        chaos.failed = True
        print(f"worker logs: {chaos.step_log}")
    chaos.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
