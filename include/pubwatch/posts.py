"""Pure functions over stored posts that both the rules and the store need (neither imports the other)."""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable

from .types import WECHAT, PostFact

_POST_AND_SOURCE_ORDER = attrgetter("published", "url", "source_id")


def dedupe_posts(posts: Iterable[PostFact]) -> list[PostFact]:
    """One post per URL; for WeChat also one per (title, day) across *different* sources (two
    bridges may give one article different URLs). Two same-titled posts of one source both stay."""
    seen_urls: set[str] = set()
    seen_titles: dict[Any, str] = {}
    out = []
    for p in sorted(posts, key=_POST_AND_SOURCE_ORDER):
        if p.url in seen_urls:
            continue
        if p.channel == WECHAT:
            key = (p.title.strip(), p.local_day)
            first_source = seen_titles.setdefault(key, p.source_id)
            if first_source != p.source_id:
                continue
        seen_urls.add(p.url)
        out.append(p)
    return out
