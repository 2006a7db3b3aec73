"""Where things live: tracking DB URL, var/ folder, templates. Environment first, then defaults.

The DAG layer may resolve the Airflow connection `pubwatch_db` and pass its URI explicitly;
the library itself only reads the environment (it imports no Airflow).
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_DIR / "include"
TEMPLATES_DIR = INCLUDE_DIR / "templates"


def var_dir() -> Path:
    path = Path(os.environ.get("PUBWATCH_VAR_DIR") or PROJECT_DIR / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_url() -> str:
    """The tracking database URL: $PUBWATCH_DB_URL, else an SQLite file in var/."""
    url = os.environ.get("PUBWATCH_DB_URL")
    if url:
        return normalise_db_url(url)
    return f"sqlite:///{var_dir() / 'pubwatch.db'}"


def normalise_db_url(url: str) -> str:
    """Accept Airflow-connection style URIs (postgres://) as SQLAlchemy URLs."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg2://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def outbox_dir() -> Path:
    path = Path(os.environ.get("PUBWATCH_OUTBOX") or var_dir() / "outbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def reports_dir() -> Path:
    path = var_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path
