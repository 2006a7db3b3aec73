"""Units and sources: the registry's copy in the tracking DB, and what the crawler remembers of a source."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import select

from .base import SourceLike, UnitLike, utcnow
from .models import Post, SourceRow, UnitRow


@dataclass
class SourceMemory:
    """What the crawler needs to remember about a source between attempts."""

    state: dict[str, Any]
    known_urls: frozenset[str]
    previous_items: int | None
    last_ok_at: datetime | None = None


class SourceQueries:
    """Mixin of `Store`: units and sources."""

    def sync_units(self, units: Iterable[UnitLike]) -> None:
        now = utcnow()
        with self.Session.begin() as s:
            for u in units:
                s.merge(UnitRow(id=u.id, name=u.name, category=u.category, active=True,
                                data={"start_date": u.start_date.isoformat() if u.start_date else None,
                                      "suspended": sorted(u.suspended)},
                                updated_at=now))
                for src in u.sources:
                    row = s.get(SourceRow, src.id)
                    if row is None:
                        s.add(SourceRow(id=src.id, unit_id=u.id, channel=src.channel, type=src.type,
                                        name=src.name, url=src.url, column_type=src.column_type, state={}))
                    else:
                        row.channel, row.type, row.name = src.channel, src.type, src.name
                        row.url, row.column_type = src.url, src.column_type

    def source_memory(self, source: SourceLike) -> SourceMemory:
        with self.Session() as s:
            row = s.get(SourceRow, source.id)
            urls = s.scalars(select(Post.url).where(Post.unit_id == source.unit_id,
                                                    Post.channel == source.channel,
                                                    Post.source_id == source.id)).all()
        if row is None:
            return SourceMemory({}, frozenset(urls), None)
        return SourceMemory(dict(row.state or {}), frozenset(urls), row.last_ok_items, row.last_ok_at)

    def last_attempts(self, unit_ids: Sequence[str]) -> dict[str, SourceRow]:
        """{source id: its row (detached)}: what the last attempt of each source left behind."""
        with self.Session() as s:
            return {r.id: r for r in s.scalars(select(SourceRow).where(SourceRow.unit_id.in_(list(unit_ids))))}
