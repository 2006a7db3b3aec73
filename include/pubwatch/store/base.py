"""What every part of the store shares: the clock, chunking, INSERT … ON CONFLICT DO NOTHING, JSON
defaults, and the shapes of the registry objects the store reads (protocols: the store never imports
the registry, it reads these attributes)."""
from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, Protocol


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def chunks(seq: Sequence, n: int) -> Iterator[Sequence]:
    """`seq` in slices of at most `n` (IN lists stay under the databases' parameter limits)."""
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def insert_ignore(dialect: str, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the two dialects we support."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {dialect}")


def json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return str(value)


class SourceLike(Protocol):
    """What the store reads of a source (registry.SourceConfig has these)."""

    @property
    def id(self) -> str: ...
    @property
    def unit_id(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def column_type(self) -> str: ...
    @property
    def options(self) -> Mapping[str, Any]: ...


class UnitLike(Protocol):
    """What the store reads of a unit (registry.Unit has these)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def start_date(self) -> date | None: ...
    @property
    def suspended(self) -> Collection[str]: ...
    @property
    def sources(self) -> Sequence[SourceLike]: ...
