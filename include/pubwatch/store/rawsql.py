"""Plain DBAPI access for the evaluation hot path (hundreds of thousands of rows a run).

SQLAlchemy's ORM and Core result processing cost ~2-4 µs a row and a TypeDecorator call per
timestamp; at 10,000 units that is seconds. The few hot queries in `Store` go through this thin
layer instead, inside the Session's own transaction, with the models' storage conventions:
timestamps are naive UTC (PostgreSQL `timestamp`, SQLite text 'YYYY-MM-DD HH:MM:SS.ffffff') and
are handed back as aware UTC datetimes. SQL is written with `?` placeholders.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy.orm import Session

from ..types import UTC


class Raw:
    """A DBAPI cursor on the Session's connection, with the dialect's placeholders and timestamps."""

    def __init__(self, session: Session):
        conn = session.connection()
        self.dialect = conn.dialect.name
        self.driver = conn.dialect.driver
        self.pg = self.dialect == "postgresql"
        self.cur = conn.connection.dbapi_connection.cursor()
        self.placeholder = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"

    def close(self) -> None:
        self.cur.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----- SQL ------------------------------------------------------------------------------
    def sql(self, text: str) -> str:
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    def marks(self, n: int) -> str:
        """"?, ?, ?" for an IN list of n values."""
        return ", ".join("?" * n)

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.cur.execute(self.sql(text), tuple(params))
        return self.cur.fetchall()

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self.cur.execute(self.sql(text), tuple(params))

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        self.cur.executemany(self.sql(text), rows)

    def day_before(self, expr: str) -> str:
        """SQL for the timestamp `expr` minus one day (as the column's own storage type)."""
        return f"({expr} - interval '1 day')" if self.pg else f"datetime({expr}, '-1 day')"

    # ----- timestamps -------------------------------------------------------------------------
    def ts_param(self, value: datetime | None) -> Any:
        """An aware datetime as the column stores it (naive UTC; text on SQLite)."""
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive if self.pg else naive.strftime("%Y-%m-%d %H:%M:%S.%f")

    def ts_reader(self):
        """A function turning a stored timestamp into an aware UTC datetime (None stays None)."""
        if self.pg:
            return lambda v: v.replace(tzinfo=UTC) if v is not None else None
        parse = datetime.fromisoformat
        return lambda v: parse(v).replace(tzinfo=UTC) if v is not None else None
