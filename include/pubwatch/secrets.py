"""Secrets never leave pubwatch in a message, an exception text or a log line.

One place for it: `mask` (the values of secret-looking query parameters: webhook keys, access
tokens, signatures, AppSecrets, passwords), `scrub` (that, plus every configured secret in any
spelling) and one log filter for urllib3, which logs each request line — query string included —
at DEBUG. The filter is installed explicitly (`install_log_redaction`) by whatever is about to send
secrets over HTTP: the notice channels and the WeChat API client.
"""
from __future__ import annotations

import logging
import re
from typing import Iterable
from urllib.parse import quote_plus

SENSITIVE_PARAMS = ("key", "secret", "token", "access_token", "appsecret", "app_secret", "sign", "password",
                    "passwd")
_PARAM_RE = re.compile(r"(?i)((?:^|[?&;\s\"'(,])(?:" + "|".join(SENSITIVE_PARAMS) + r")=)[^&#\s\"'),]*")
REDACTED_LOGGERS = ("urllib3.connectionpool",)


def mask(text: str) -> str:
    """`text` with the values of secret query parameters replaced by ***: .../send?key=*** ."""
    return _PARAM_RE.sub(r"\1***", str(text or ""))


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (raw and URL-encoded) and every secret query value masked."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            for form in {secret, quote_plus(secret), quote_plus(secret, safe="")}:
                out = out.replace(form, "***")
    return mask(out)


def is_sensitive(name: str) -> bool:
    """Whether a query parameter or setting of this name holds a secret."""
    return name.lower() in SENSITIVE_PARAMS


class RedactSecrets(logging.Filter):
    """Masks secret query values in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(mask(a) if isinstance(a, str) and "=" in a else a for a in record.args)
        return True


def install_log_redaction(loggers: Iterable[str] = REDACTED_LOGGERS) -> None:
    """Attach one RedactSecrets filter to each logger (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


__all__ = ["SENSITIVE_PARAMS", "mask", "scrub", "is_sensitive", "RedactSecrets", "install_log_redaction"]
