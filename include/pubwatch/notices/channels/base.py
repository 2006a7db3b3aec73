"""What every delivery channel shares: the message, the error, the kind registry, options, splitting.

A channel kind is one class in its own module, registered by subclassing with a kind name:

    class FaxChannel(Channel, kind="fax"):
        label = "传真"
        default_conn_id = "pubwatch_fax"
        Options = FaxOptions              # a pydantic model of its connection settings
        def send(self, message): ...

plus one import line in `channels/__init__.py`. The registry (units.yaml `notify.channels`), the DAG
glue (which Airflow connection), the board (its label) and the dispatcher (whom it can reach) ask
the class; no list of channel names exists anywhere else.

A failure raises DeliveryError with `retryable` telling the ledger whether a later run may try again.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from ...secrets import scrub

log = logging.getLogger(__name__)

_MOBILE_RE = re.compile(r"^1\d{10}$")


@dataclass
class Message:
    subject: str
    text: str
    html: str | None = None
    markdown: str | None = None
    to_emails: list[str] = field(default_factory=list)
    cc_emails: list[str] = field(default_factory=list)
    mention_mobiles: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)   # unit_id, period, kind (outbox file names)


class DeliveryError(Exception):
    """A notice could not be delivered — or may have been. `message` is safe to log: it never holds
    a secret.

    `ambiguous`: the failure came after the payload may have reached the server (the connection
    dropped after the SMTP DATA, a robot answered after the client's timeout or with a 5xx, a later
    part of a multi-part notice failed). Such a notice is *unconfirmed*: never resent by itself,
    a person confirms or resends it. Otherwise `retryable` tells whether a later run may try again
    (failures before sending: refused, DNS, TLS, rate limits) or not (rejections: bad key, 4xx)."""

    def __init__(self, message: str, *, retryable: bool, code: int | str | None = None, ambiguous: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable and not ambiguous
        self.code = code
        self.ambiguous = ambiguous

    def __repr__(self) -> str:
        return (f"DeliveryError({self.message!r}, retryable={self.retryable}, code={self.code!r}, "
                f"ambiguous={self.ambiguous})")


class ChannelOptions(BaseModel):
    """Base of a channel's settings, read from an Airflow connection: host, port, login, password,
    schema and the extra JSON's keys, flattened. Unknown extra keys are ignored (a connection may be
    shared with Airflow's own hooks), with a log line naming them."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def connection_settings(conf: Mapping[str, Any] | None) -> dict[str, Any]:
    """Connection-like settings {host, port, login, password, schema, extra} as one flat mapping:
    the extra's keys (a dict or JSON text), then the connection fields that are set."""
    import json

    conf = dict(conf or {})
    extra = conf.pop("extra", None) or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise ValueError("连接的 extra 不是合法的 JSON (extra is not valid JSON)") from None
    if not isinstance(extra, dict):
        raise ValueError("连接的 extra 应为 JSON 对象 (extra must be a JSON object)")
    flat = dict(extra)
    for key, value in conf.items():
        if value not in (None, ""):
            flat[key] = value
    return flat


def parse_options(model: type[ChannelOptions], kind: str, settings: Mapping[str, Any]) -> ChannelOptions:
    """Validate `settings` against `model`. A ValueError names the channel and each bad field —
    never the value, which may be a secret."""
    accepted = {f.alias or name for name, f in model.model_fields.items()}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        log.info("通知渠道 %s: 忽略未使用的连接设置 %s", kind, ", ".join(unknown))
    try:
        return model.model_validate({k: v for k, v in settings.items() if k in accepted})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '-'}: {err['msg']}" for err in exc.errors())
        raise ValueError(f"{kind}: 连接设置有误 (bad settings): {problems}") from None


class Channel:
    """One way of delivering a notice. A subclass names its kind (`class X(Channel, kind="x")`),
    sets `label`, `default_conn_id` and `Options`, and implements `from_options` and `send`."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = "channel"              # = kind; used in error texts
    label: ClassVar[str] = ""                    # Chinese, for the board and summaries
    default_conn_id: ClassVar[str | None] = None  # the Airflow connection holding its settings
    sends: ClassVar[bool] = True                 # False for the outbox: nothing leaves the machine
    Options: ClassVar[type[ChannelOptions]] = ChannelOptions
    _kinds: ClassVar[dict[str, type["Channel"]]] = {}

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if kind:
            if kind in Channel._kinds and Channel._kinds[kind] is not cls:
                raise TypeError(f"channel kind {kind!r} registered twice")
            cls.kind = cls.name = kind
            Channel._kinds[kind] = cls

    # ----- the kind registry ------------------------------------------------------------------
    @staticmethod
    def kinds() -> dict[str, type["Channel"]]:
        """Every registered channel kind by name."""
        return dict(Channel._kinds)

    @staticmethod
    def of_kind(kind: str) -> type["Channel"]:
        try:
            return Channel._kinds[kind]
        except KeyError:
            raise ValueError(f"未知的通知渠道 (unknown channel kind): {kind!r}; "
                             f"可用: {', '.join(sorted(Channel._kinds))}") from None

    @classmethod
    def from_config(cls, conf: Mapping[str, Any] | None) -> "Channel":
        """Build the channel from connection-like settings; ValueError names the bad field."""
        return cls.from_options(parse_options(cls.Options, cls.kind, connection_settings(conf)))

    @classmethod
    def from_options(cls, options: Any) -> "Channel":
        raise NotImplementedError

    # ----- whom it reaches --------------------------------------------------------------------
    @classmethod
    def reaches(cls, emails: Iterable[str], mobiles: Iterable[str]) -> bool:
        """Whether a notice with these recipients can go through this channel (a group robot
        posts to its group whoever the recipients are)."""
        return True

    # ----- sending ----------------------------------------------------------------------------
    def send(self, message: Message) -> str:
        raise NotImplementedError

    def _secrets(self) -> list[str]:
        return []

    def _error(self, text: str, *, retryable: bool, code: int | str | None = None,
               ambiguous: bool = False) -> DeliveryError:
        return DeliveryError(f"{self.name}: {scrub(text, self._secrets())}", retryable=retryable, code=code,
                             ambiguous=ambiguous)


# ----- splitting --------------------------------------------------------------------------------
def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_lines(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split `text` into parts of at most `limit` (by `measure`) at line boundaries.

    A single line longer than the limit is cut between characters. Empty input gives no parts.
    """
    parts: list[str] = []
    current = ""
    for line in text.splitlines():
        while measure(line) > limit:                  # an over-long line: cut it
            cut = _fit(line, limit, measure)
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = line
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()]


def _fit(line: str, limit: int, measure: Callable[[str], int]) -> int:
    lo, hi = 1, len(line)
    while lo < hi:                                    # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if measure(line[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def numbered_parts(text: str, limit: int, measure: Callable[[str], int] = len, reserve: int = 48) -> list[str]:
    """split_lines, then a "（续2/3）" line on every part after the first (within the limit)."""
    parts = split_lines(text, limit - reserve, measure)
    n = len(parts)
    return [p if i == 0 else f"（续{i + 1}/{n}）\n{p}" for i, p in enumerate(parts)]


def valid_mobiles(mobiles: Iterable[str]) -> list[str]:
    """Mainland mobile numbers only: anything else (e.g. "@all") is dropped, never mentioned."""
    out: list[str] = []
    for m in mobiles:
        m = str(m).strip()
        if _MOBILE_RE.match(m) and m not in out:
            out.append(m)
        elif m:
            log.warning("忽略无效的手机号 (not a mobile number, not mentioned): %r", m[:20])
    return out
