"""Connections: the one resolver for the tracking DB and every credential (WeChat AppSecrets, SMTP,
robot webhooks), used by the DAG glue, the board plugin and the CLI.

The library imports no Airflow: a caller inside Airflow passes `lookup`, its way of reading an
Airflow connection (the task SDK's `Connection.get` in tasks, the secrets backend in the API
server), as a function conn_id -> settings dict or None. Outside Airflow (CLI, tests) the same
`AIRFLOW_CONN_<ID>` environment variables Airflow reads are used (JSON or URI form).

A settings dict is {conn_type, login, password, host, port, schema, extra, uri}.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from . import config

Lookup = Callable[[str], "dict[str, Any] | None"]
TRACKING_DB = "pubwatch_db"


def env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def from_env(conn_id: str) -> dict[str, Any] | None:
    """The connection from AIRFLOW_CONN_<ID> (JSON or URI), or None when the variable is unset."""
    raw = os.environ.get(env_name(conn_id))
    if not raw or not raw.strip():
        return None
    if raw.lstrip().startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            raise ValueError(f"{env_name(conn_id)} 不是合法的 JSON") from None
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        out = {"conn_type": data.get("conn_type"), "login": data.get("login"), "password": data.get("password"),
               "host": data.get("host"), "port": data.get("port"), "schema": data.get("schema"), "extra": extra}
        out["uri"] = _uri(out)
        return out
    parts = urlsplit(raw)
    return {"conn_type": parts.scheme, "login": unquote(parts.username or ""),
            "password": unquote(parts.password or ""), "host": parts.hostname, "port": parts.port,
            "schema": unquote(parts.path.lstrip("/")), "extra": dict(parse_qsl(parts.query)), "uri": raw}


def from_airflow(conn: Any) -> dict[str, Any]:
    """The settings dict of an Airflow connection object (the task SDK's or the API server's: both
    have these attributes), so the glue's and the plugin's lookups differ only in how they get it."""
    return {"conn_type": conn.conn_type, "login": conn.login, "password": conn.password, "host": conn.host,
            "port": conn.port, "schema": conn.schema, "extra": conn.extra_dejson, "uri": conn.get_uri()}


def _uri(conn: dict[str, Any]) -> str:
    auth = ""
    if conn.get("login") or conn.get("password"):
        auth = quote(str(conn.get("login") or ""), safe="")
        if conn.get("password"):
            auth += ":" + quote(str(conn["password"]), safe="")
        auth += "@"
    port = f":{conn['port']}" if conn.get("port") else ""
    schema = f"/{conn['schema']}" if conn.get("schema") else ""
    return f"{conn.get('conn_type') or 'generic'}://{auth}{conn.get('host') or ''}{port}{schema}"


def settings(conn_id: str, lookup: Lookup | None = None) -> dict[str, Any]:
    """The connection's settings: `lookup` first (Airflow), then the environment. KeyError (with
    what to set, never a value) when neither has it."""
    found = None
    if lookup is not None:
        try:
            found = lookup(conn_id)
        except Exception:  # noqa: BLE001 - an undefined Airflow connection raises its own error type
            found = None
    if found is None:
        found = from_env(conn_id)
    if found is None:
        raise KeyError(f"缺少连接 {conn_id} (在 Airflow 中添加该连接, 或设置环境变量 {env_name(conn_id)})")
    return found


def secret_getter(lookup: Lookup | None = None) -> Callable[[str], dict[str, Any]]:
    """A conn_id -> settings function for the sources (WeChat API credentials)."""
    return lambda conn_id: settings(conn_id, lookup)


def tracking_db_url(lookup: Lookup | None = None) -> str:
    """The tracking DB: $PUBWATCH_DB_URL, else the `pubwatch_db` connection, else var/pubwatch.db."""
    if os.environ.get("PUBWATCH_DB_URL"):
        return config.db_url()
    try:
        conn = settings(TRACKING_DB, lookup)
    except (KeyError, ValueError):
        return config.db_url()
    return config.normalise_db_url(conn["uri"])


__all__ = ["Lookup", "from_env", "settings", "secret_getter", "tracking_db_url", "TRACKING_DB"]
