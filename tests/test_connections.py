"""pubwatch.connections: the one resolver of the tracking DB and credentials (glue, plugin, CLI)."""
import json

import pytest

from pubwatch import config, connections


def test_env_connection_in_uri_and_json_form(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WECHAT_JYJ", "generic://wx123:s%2Fecret@api.weixin.qq.com:443/x?timeout=5")
    got = connections.settings("wechat_jyj")
    assert (got["login"], got["password"], got["host"], got["port"], got["extra"]) == \
        ("wx123", "s/ecret", "api.weixin.qq.com", 443, {"timeout": "5"})
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_WECOM", json.dumps(
        {"conn_type": "http", "host": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "password": "k",
         "extra": {"min_interval": 0}}))
    got = connections.settings("pubwatch_wecom")
    assert got["password"] == "k" and got["extra"] == {"min_interval": 0}


def test_airflow_lookup_wins_then_environment_then_a_clear_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_X", "generic://env@h")
    assert connections.settings("x", lambda cid: {"login": "airflow"})["login"] == "airflow"
    assert connections.settings("x", lambda cid: None)["login"] == "env"
    assert connections.settings("x", lambda cid: 1 / 0)["login"] == "env"     # lookup failing = undefined
    monkeypatch.delenv("AIRFLOW_CONN_X")
    with pytest.raises(KeyError) as info:
        connections.settings("x")
    assert "AIRFLOW_CONN_X" in str(info.value)


def test_tracking_db_url_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PUBWATCH_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("PUBWATCH_DB_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_PUBWATCH_DB", raising=False)
    assert connections.tracking_db_url() == f"sqlite:///{tmp_path / 'pubwatch.db'}"
    pg = {"uri": "postgres://pw:pw@db:5432/pubwatch"}
    assert connections.tracking_db_url(lambda cid: pg if cid == "pubwatch_db" else None) == \
        "postgresql+psycopg2://pw:pw@db:5432/pubwatch"
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_DB", json.dumps(
        {"conn_type": "postgres", "login": "u", "password": "p@ss", "host": "db", "port": 5432, "schema": "pw"}))
    assert connections.tracking_db_url() == "postgresql+psycopg2://u:p%40ss@db:5432/pw"
    monkeypatch.setenv("PUBWATCH_DB_URL", "sqlite:////tmp/explicit.db")
    assert connections.tracking_db_url(lambda cid: pg) == config.db_url() == "sqlite:////tmp/explicit.db"


def test_an_airflow_connection_object_gives_the_same_settings_as_its_environment_form(monkeypatch):
    """The glue (task SDK) and the board plugin (API server) read a connection object through one
    connections.from_airflow; its settings are those the CLI reads from AIRFLOW_CONN_<ID>."""
    from airflow.models.connection import Connection

    conn = Connection(conn_id="pubwatch_smtp", conn_type="smtp", host="mail.example.org", port=465,
                      login="notice", password="s/ecret", extra=json.dumps({"ssl": True}))
    got = connections.from_airflow(conn)
    assert (got["conn_type"], got["host"], got["port"], got["login"], got["password"], got["extra"]) == \
        ("smtp", "mail.example.org", 465, "notice", "s/ecret", {"ssl": True})
    monkeypatch.setenv("AIRFLOW_CONN_PUBWATCH_SMTP", got["uri"])
    env = connections.settings("pubwatch_smtp")
    assert {k: env[k] for k in ("host", "port", "login", "password")} == \
        {k: got[k] for k in ("host", "port", "login", "password")}
