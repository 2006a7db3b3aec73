"""Options a source kind or a list profile declares, and how a registry entry is checked against them.

A kind declares its registry fields as a pydantic model (`SourceOptions`): names, types, defaults
and, for a required field, the Chinese sentence an admin reads when it is missing
(``Field(..., json_schema_extra={"missing": "…"})``). `check_options` (pubwatch/options.py, shared
with every other settings mapping) validates one entry and turns the first problem into an
`OptionError` naming the field, in Chinese, so the registry can say
"单位 jyj: 字段 wechat.sources[0].conn_id: …" without knowing any kind.
"""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from ..options import OptionError, Options, check_options

__all__ = ["OptionError", "SourceOptions", "WebUrl", "check_options", "check_url"]


class SourceOptions(Options):
    """Base of a kind's registry fields. Unknown fields are errors (a typo must not pass silently)."""


def check_url(value: Any) -> str:
    """An http(s) URL with a host name, stripped; ValueError (Chinese) otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("缺少网址 (missing URL)")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"只支持 http/https 网址, 不支持 {parts.scheme or '无协议'!r}: {value}")
    if not parts.hostname:
        raise ValueError(f"网址缺少主机名: {value}")
    return value.strip()


def _url(value: Any) -> str:
    return check_url(value)


# A URL field: `url: WebUrl` (required) or `url: WebUrl | None = None`.
WebUrl = Annotated[Any, AfterValidator(_url)]
