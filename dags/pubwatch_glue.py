"""Glue between Airflow and the pubwatch library (not a DAG file; listed in .airflowignore).

Only this module and the DAG files import Airflow. It puts include/ on sys.path, resolves
connections (tracking DB, WeChat API credentials, SMTP / WeCom / DingTalk robots) and decides
whether a run may send notices.
"""
from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

INCLUDE = Path(__file__).resolve().parents[1] / "include"
if str(INCLUDE) not in sys.path and (INCLUDE / "pubwatch").is_dir():
    sys.path.insert(0, str(INCLUDE))
# The weekly timetable lives in the plugin module plugins/pubwatch_timetable.py (registered there).
# Airflow puts its plugins folder on sys.path; this covers a DagBag loaded without it (tests).
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
if str(PLUGINS) not in sys.path and (PLUGINS / "pubwatch_timetable.py").is_file():
    sys.path.append(str(PLUGINS))

log = logging.getLogger("pubwatch")

OWNER = "政务公开办"
TZ_NAME = "Asia/Shanghai"
DEFAULT_ARGS = {"owner": OWNER, "retries": 2,
                "retry_delay": timedelta(seconds=float(os.environ.get("PUBWATCH_RETRY_DELAY_SECONDS", "120")))}
# A scheduled run that starts this long after its slot (catch-up, unpause) sends nothing.
LATE_RUN_LIMIT = timedelta(hours=6)
# Crawl tasks run in this pool: set PUBWATCH_CRAWL_POOL to the portal host's pool (created by
# `python -m pubwatch pools`) so parallel workers never hammer one site. Default: Airflow's own.
CRAWL_POOL = os.environ.get("PUBWATCH_CRAWL_POOL", "default_pool")


def dag_args(dag_id: str, title: str, schedule: Any, doc: str, **extra: Any) -> dict[str, Any]:
    """What every pubwatch DAG shares: a schedule in Asia/Shanghai (a cron string, or a timetable such
    as `weekly_timetable()`), no catch-up, one run at a time, the office as owner, Chinese title and
    docs for the supervisors."""
    import pendulum
    from airflow.timetables.trigger import CronTriggerTimetable

    if isinstance(schedule, str):
        schedule = CronTriggerTimetable(schedule, timezone=TZ_NAME)
    return {"dag_id": dag_id, "dag_display_name": f"{title} ({dag_id})",
            "schedule": schedule,
            "start_date": pendulum.datetime(2026, 1, 1, tz=TZ_NAME), "catchup": False, "max_active_runs": 1,
            "default_args": DEFAULT_ARGS, "tags": ["pubwatch", "政务公开"], "doc_md": doc, **extra}


def weekly_timetable():
    """pubwatch_weekly's schedule: 09:00 Beijing time on each week's reminder day (Friday, or the last
    working day before a holiday Friday; none in a week without working days)."""
    from pubwatch_timetable import ReminderDayTimetable

    return ReminderDayTimetable()


def selected_units(params: Any) -> list[str] | None:
    """The `units` param: the names/ids given, or None (= all units) when blank — the trigger form
    sends null for an empty field, the REST API may send [] or blank lines."""
    raw = params.get("units")
    if isinstance(raw, str):
        raw = raw.splitlines()
    units = [str(u).strip() for u in (raw or []) if u is not None and str(u).strip()]
    return units or None


def selected_period(params: Any) -> str | None:
    """The `period` param (e.g. 2026-W47), or None (= the run's own weeks) when blank or null."""
    raw = params.get("period")
    return (str(raw).strip() or None) if raw is not None else None


def _airflow_connection(conn_id: str) -> dict[str, Any] | None:
    """An Airflow connection's settings (task SDK), or None when it is not defined."""
    from airflow.sdk import Connection

    from pubwatch import connections

    try:
        conn = Connection.get(conn_id)
    except Exception:  # not defined: pubwatch.connections falls back to the environment
        return None
    return connections.from_airflow(conn)


def db_url() -> str:
    """Tracking DB: $PUBWATCH_DB_URL, else the `pubwatch_db` connection, else var/pubwatch.db."""
    from pubwatch import connections

    return connections.tracking_db_url(_airflow_connection)


def runtime():
    from pubwatch.jobs import Runtime

    return Runtime(db_url=db_url())


def get_secret(conn_id: str) -> dict[str, Any]:
    """A connection's settings (WeChat AppID/AppSecret, SMTP, robots); KeyError when undefined."""
    from pubwatch import connections

    return connections.settings(conn_id, _airflow_connection)


def channel_configs(names: list[str]) -> dict[str, dict[str, Any]]:
    """Delivery channel settings from each channel kind's Airflow connection; a channel without
    one is skipped, an unknown channel name is logged and skipped."""
    from pubwatch.notices.channels import channel_kinds

    kinds = channel_kinds()
    out = {}
    for name in names:
        kind = kinds.get(name)
        if kind is None:
            log.error("未知的通知渠道 %s (可用: %s), 本次跳过", name, ", ".join(sorted(kinds)))
            continue
        if kind.default_conn_id is None:
            continue
        try:
            out[name] = get_secret(kind.default_conn_id)
        except KeyError:
            log.warning("通知渠道 %s 未配置 (缺少 Airflow 连接 %s), 本次跳过", name, kind.default_conn_id)
    return out


def run_mode(context: dict) -> dict[str, Any]:
    """May this run send? Scheduled runs send (unless late); manual/backfill only if params.send."""
    params = context["params"]
    run = context["dag_run"]
    run_type = str(getattr(run.run_type, "value", run.run_type))
    logical = logical_time(context)
    if params.get("dry_run"):
        return {"send": False, "why": "dry_run=true: 只写入发件箱(outbox), 不发送"}
    if run_type == "scheduled":
        started = datetime.now(timezone.utc)
        if logical and started - logical > LATE_RUN_LIMIT:
            return {"send": False, "why": f"补跑的计划任务(晚于计划时间 {LATE_RUN_LIMIT} 以上), 不发送过期提醒"}
        return {"send": True, "why": "计划任务: 发送"}
    if params.get("send"):
        return {"send": True, "why": f"{run_type} 运行且参数 send=true: 发送"}
    return {"send": False, "why": f"{run_type} 运行: 只写入发件箱(outbox), 不发送 (需要时设 send=true)"}


def simulated_clock() -> bool:
    """Demo/tests only: stamp crawls with the run's logical time (make run simulates a Friday 09:00)."""
    return os.environ.get("PUBWATCH_SIMULATED_CLOCK") == "1"


def as_of(context: dict) -> datetime:
    """The time a run evaluates at: now for a live run (after its crawl), the logical time for a
    backfill / past period / simulated run — so history is recomputed deterministically."""
    from pubwatch.jobs import run_time_for

    period = selected_period(context["params"])
    if _historic(context) or simulated_clock() or not context["params"].get("crawl", True):
        return run_time_for(logical_time(context), period)
    return datetime.now(timezone.utc)


def logical_time(context: dict) -> datetime:
    run = context["dag_run"]
    from pubwatch.jobs import plain_datetime

    return plain_datetime(context.get("logical_date") or run.logical_date or run.run_after)


# ----------------------------------------------------------------------------- task bodies
def prepare(rt, only: list[str] | None) -> list[dict]:
    from pubwatch import jobs

    out = jobs.prepare(rt, only)
    if out["unknown_selection"]:
        log.warning("参数中的单位不存在: %s", ", ".join(out["unknown_selection"]))
    log.info("本次检查 %d 个单位; 登记表错误 %d 条", len(out["units"]), len(out["registry_errors"]))
    return out["units"]


def prepare_for_run(context: dict) -> list[dict]:
    """Load and validate the registry, sync it to the tracking DB; the units this run works on."""
    rt = runtime()
    try:
        return prepare(rt, selected_units(context["params"]))
    finally:
        rt.close()


def _historic(context: dict) -> bool:
    run_type = str(getattr(context["dag_run"].run_type, "value", context["dag_run"].run_type))
    return run_type == "backfill" or bool(selected_period(context["params"]))


def crawl_for_run(context: dict, unit: dict) -> dict:
    """Crawl one unit, unless this run re-evaluates history (backfill / a past period)."""
    from pubwatch import jobs

    if _historic(context) or not context["params"].get("crawl", True):
        line = f"{unit['unit_name']}: 补跑/历史周, 不抓取, 只用已保存的数据"
        log.info(line)
        return {**unit, "skipped": True, "summary": line, "sources": []}
    rt = runtime()
    try:
        now = logical_time(context) if simulated_clock() else None
        result = jobs.crawl(rt, unit["unit_id"], run_id=context["dag_run"].run_id, get_secret=get_secret, now=now)
    finally:
        rt.close()
    log.info("结果: %s", result["summary"])
    return result


def evaluate_for_run(context: dict, as_of: datetime) -> dict:
    from pubwatch import jobs

    rt = runtime()
    try:
        result = jobs.evaluate_week(rt, as_of, selected_units(context["params"]))
        for line in result["lines"]:
            log.info(line)
        for name in ("closed", "current"):
            log.info("%s: %s", result[name]["label"], result[name]["summary"])
    finally:
        rt.close()
    return result


def notify_for_run(context: dict, as_of: datetime, files: list[str] | None = None) -> dict:
    from pubwatch import jobs

    mode = run_mode(context)
    log.info("发送模式: %s", mode["why"])
    rt = runtime()
    try:
        names = list((rt.registry.settings.get("notify") or {}).get("channels") or [])
        configs = channel_configs(names) if mode["send"] else {}
        result = jobs.notify_week(rt, as_of, send=mode["send"], channel_configs=configs,
                                  run_id=context["dag_run"].run_id,
                                  unit_ids=selected_units(context["params"]), attachments=files)
    finally:
        rt.close()
    log_delivery(result, "通知")
    return {k: len(v) if isinstance(v, list) else v for k, v in result.items()}


def log_delivery(result: dict[str, list[str]], title: str) -> None:
    """Every delivery line of a notify step, the outbox previews' text, and one count line."""
    for kind in ("sent", "previewed", "already", "failed", "skipped", "unconfirmed"):
        for line in result.get(kind, []):
            log.info("%s: %s", kind, line)
    _log_previews(result.get("previewed", []))
    log.info("%s: 新发送 %d, 仅预览(写入发件箱, 未发送) %d, 已处理过 %d, 失败 %d (下次运行重试), "
             "结果不明 %d (待人工确认, 不自动重发)", title, len(result.get("sent", [])),
             len(result.get("previewed", [])), len(result.get("already", [])), len(result.get("failed", [])),
             len(result.get("unconfirmed", [])))


def early_warnings_for_run(context: dict) -> dict:
    """After the daily crawl: evaluate the open week and month, then send the early warnings due
    (monthly quota etc.) — on working days, with the weekly DAG's run-mode rules (scheduled runs
    send unless late, manual/backfill runs only write the outbox unless params.send, dry_run never)."""
    from pubwatch import jobs

    mode = run_mode(context)
    when = as_of(context)
    log.info("发送模式: %s; 评估时间: %s", mode["why"], when.isoformat())
    rt = runtime()
    try:
        evaluated = jobs.evaluate_open(rt, when)
        for name in ("current", "month"):
            log.info("%s: %s", evaluated[name]["label"], evaluated[name]["summary"])
        names = list((rt.registry.settings.get("notify") or {}).get("channels") or [])
        configs = channel_configs(names) if mode["send"] else {}
        result = jobs.notify_early_warnings(rt, when, send=mode["send"], channel_configs=configs,
                                            run_id=context["dag_run"].run_id)
    finally:
        rt.close()
    log_delivery(result, "预警")
    return {"evaluated": {k: evaluated[k] for k in ("current", "month")},
            **{k: len(v) for k, v in result.items()}}


def _log_previews(sent: list[str]) -> None:
    """Show each notice written to the outbox in this task's log, so supervisors can read them in the
    Airflow UI before sending is switched on."""
    from pubwatch import config
    from pubwatch.notices.channels import Message, OutboxChannel

    outbox = OutboxChannel(config.outbox_dir())
    for label in sent:
        unit_id, period, kind, channel = label.split("/", 3)
        if channel != "outbox":
            continue
        path = outbox.paths(Message(subject="", text="", meta={"unit_id": unit_id, "period": period, "kind": kind}))
        txt = path.with_name(path.name + ".txt")
        if txt.exists():
            log.info("---- 通知预览 %s ----\n%s", label, txt.read_text(encoding="utf-8"))


def periodic_for_run(context: dict) -> dict:
    from pubwatch import jobs

    rt = runtime()
    try:
        result = jobs.periodic_reports(rt, logical_time(context))
    finally:
        rt.close()
    for p in result["periods"]:
        log.info("%s: %s", p["label"], p["summary"])
    for f in result["files"]:
        log.info("文件: %s", f)
    return result


def circular_for_run(context: dict, evaluation: dict) -> list[str]:
    from pubwatch.periods import Period
    from pubwatch.report_data import write_period_files

    rt = runtime()
    try:
        paths = write_period_files(rt.store, rt.registry, rt.policies, Period.parse(evaluation["closed"]["period"]))
    finally:
        rt.close()
    for p in paths:
        log.info("通报文件: %s", p)
    return [str(p) for p in paths]


def summarize_run(context: dict, crawled, evaluation, notices, files) -> dict:
    crawled = [c for c in (crawled or []) if c]
    problems = [f"{c['unit_name']}: {s['name']} {s['outcome']} {s['message']}"
                for c in crawled for s in c.get("sources", []) if s["outcome"] not in ("ok", "not_modified")]
    ti_failed = []
    dag_run = context["dag_run"]
    try:
        for ti in dag_run.get_task_instances(state=["failed", "upstream_failed"]):
            ti_failed.append(f"{ti.task_id}[{ti.map_index}]")
    except Exception:  # the task SDK may not expose this; the list of crawl problems still shows
        pass
    log.info("==== 本次运行总结 ====")
    for c in crawled:
        log.info(c["summary"])
    if evaluation:
        for line in evaluation.get("lines", []):
            log.info(line)
    if problems:
        log.warning("无法抓取的数据源 (%d) — 这些单位记为 '无法核实', 不记为未达标:", len(problems))
        for p in problems:
            log.warning("  %s", p)
    if ti_failed:
        log.error("失败的任务: %s", ", ".join(ti_failed))
    log.info("通知: %s; 文件: %s", notices, files)
    return {"units": len(crawled), "source_problems": problems, "failed_tasks": ti_failed,
            "notices": notices, "files": files}


# ----------------------------------------------------------------------------- availability (evidence.py)
def probe_for_run(context: dict, unit: dict) -> dict:
    """Probe one unit's portal columns once (站点无法访问 monitoring: ≥20 visits a day, so schedule
    this about hourly). Historic runs probe nothing: availability cannot be measured after the fact."""
    from pubwatch import evidence

    if _historic(context):
        return {**unit, "skipped": True, "probes": 0, "failures": 0}
    rt = runtime()
    try:
        now = logical_time(context) if simulated_clock() else None
        with rt.fetcher() as fetcher:
            result = evidence.probe(rt.store, rt.registry, fetcher, unit["unit_id"], now=now,
                                    run_id=context["dag_run"].run_id)
    finally:
        rt.close()
    for r in result["results"]:
        if r["outcome"] != "ok":
            log.info("%s %s: %s %s", unit["unit_name"], r["source_id"], r["outcome"], r["message"])
    log.info("%s: 探测 %d 个栏目, 打不开 %d 个", unit["unit_name"], result["probes"], result["failures"])
    return {"unit_id": result["unit_id"], "unit_name": result["unit_name"], "probes": result["probes"],
            "failures": result["failures"]}
