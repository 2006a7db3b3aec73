"""The list parser's former home, kept so that `pubwatch.sources.listparse` imports keep working
(bench scripts, tests, `python -m pubwatch parse-list`). The parser lives in `sources/portal/`:
`listing.py` (parse_list, the profile framework), `profiles/` (one module per list profile) and
the shared modules next to them."""
from __future__ import annotations

from typing import Any

from .portal.article import article_date, article_date_found
from .portal.listdates import (CHECK_IMPLAUSIBLE, CHECK_ORDER, CHECK_SEVERAL, CHECK_WEAK, CHECK_WRITTEN,
                               R_ADMIN, R_COLUMN_PLAIN, R_COLUMN_PUB, R_COLUMN_UPDATE, R_DATE_CLASS, R_DATE_ONLY,
                               R_JSON_PLAIN, R_LABEL_PLAIN, R_LABEL_PUB, R_LOOSE, R_TITLE_TAIL, R_WEAK, R_WRITTEN,
                               _header_meaning)
from .portal.listing import AUTO, ParsedList, cli_parse_list, parse_list, profile_names
from .portal.recognise import container_state

__all__ = ["ParsedList", "parse_list", "article_date", "article_date_found", "cli_parse_list", "container_state",
           "CHECK_IMPLAUSIBLE", "CHECK_ORDER", "CHECK_SEVERAL", "CHECK_WEAK", "CHECK_WRITTEN", "R_ADMIN",
           "R_COLUMN_PLAIN", "R_COLUMN_PUB", "R_COLUMN_UPDATE", "R_DATE_CLASS", "R_DATE_ONLY", "R_JSON_PLAIN",
           "R_LABEL_PLAIN", "R_LABEL_PUB", "R_LOOSE", "R_TITLE_TAIL", "R_WEAK", "R_WRITTEN", "_header_meaning"]


def __getattr__(name: str) -> Any:
    if name == "PROFILES":                 # asked of the profile registry each time, never a stale copy
        return (AUTO, *profile_names())
    raise AttributeError(name)
