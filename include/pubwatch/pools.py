"""One Airflow pool per portal host, so parallel workers never hammer one site.

Crawl tasks are mapped per unit; a unit's crawl runs in the pool of its portal host
(`pubwatch_host_<host>`), with `slots` = how many units of that host may be crawled at once.
Inside one task the fetcher's per-host pacing keeps the request rate polite.
"""
from __future__ import annotations

import re

from .registry import Registry

DEFAULT_POOL_SLOTS = 1


def pool_name(host: str) -> str:
    return "pubwatch_host_" + re.sub(r"[^a-zA-Z0-9_]", "_", host.lower())[:200]


def pools_for(registry: Registry, slots: int | None = None) -> list[tuple[str, int, str]]:
    per_host = (registry.settings.get("pools") or {}).get("slots_per_host", DEFAULT_POOL_SLOTS)
    hosts = sorted({s.host for u in registry.units for s in u.sources if s.channel == "portal" and s.host})
    return [(pool_name(h), slots or int(per_host), f"pubwatch crawl of {h}") for h in hosts]
