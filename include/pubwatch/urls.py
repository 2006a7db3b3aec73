"""Only http(s) URLs exist in pubwatch: one normaliser for crawled links, used where posts are
stored and wherever a link is printed (board, notices, circular) — defence in depth.

A crawled href is decoded (HTML entities), loses control characters and surrounding whitespace
(browsers drop them too, which is how `java&#9;script:` sneaks past a naive prefix check; an inner
space becomes %20), and is kept only when
its scheme is http or https and it names a host. Anything else — javascript:, data:, vbscript:,
file:, mailto:, relative junk — becomes "" (no link).
"""
from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

# Removed anywhere (as browsers drop tab/CR/LF inside a URL): control and invisible characters.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")


def http_url(value: Any) -> str:
    """`value` as a clean absolute http(s) URL, or "" when it is not one."""
    if value is None:
        return ""
    text = str(value)
    for _ in range(2):                        # &amp;#9; decodes twice in some feeds
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    text = _INVISIBLE.sub("", text).strip(" \u3000").replace(" ", "%20")
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text


def is_http_url(value: Any) -> bool:
    return bool(http_url(value))


__all__ = ["http_url", "is_http_url"]
