"""What the group robots (WeCom, DingTalk) share: the webhook URL from a connection, pacing, the
JSON POST with its timeouts and errcode mapping, and multi-part sending.

Robot limits (WeCom and DingTalk documentation): 20 messages per minute per robot. A notice longer
than a robot's message limit is split at line boundaries and sent as numbered parts.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from pydantic import Field

from ...secrets import install_log_redaction, is_sensitive, mask
from .base import Channel, ChannelOptions, DeliveryError, Message


class WebhookOptions(ChannelOptions):
    """A robot's connection: extra.webhook_url, or host (a full URL or a host name; schema and port
    apply to a host name) plus the key/token in password (or in the extra under its own name)."""

    webhook_url: str | None = None
    host: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    port: int | None = None
    password: str | None = None
    timeout: float = Field(default=10.0, gt=0)
    min_interval: float = Field(default=3.1, ge=0)     # seconds between two messages to one robot
    rate_wait: float = Field(default=61.0, ge=0)       # wait once when a later part hits the limit


class _Pacer:
    """At most one message per `interval` seconds per robot (both robots allow 20 per minute)."""

    _lock = threading.Lock()
    _last: dict[str, float] = {}

    @classmethod
    def wait(cls, robot: str, interval: float) -> None:
        if interval <= 0:
            return
        with cls._lock:
            now = time.monotonic()
            due = cls._last.get(robot, 0.0) + interval
            delay = max(0.0, due - now)
            cls._last[robot] = now + delay
        if delay:
            time.sleep(delay)


def webhook_url(options: WebhookOptions, default_base: str, token_param: str, token: str | None) -> str:
    """The robot URL: options.webhook_url, or host (a full URL or a host name) plus `token` (from
    the password or the extra) when the URL does not carry one."""
    url = options.webhook_url or ""
    host = options.host or ""
    if not url and host.lower().startswith(("http://", "https://")):
        url = host
    elif not url and host:
        scheme = options.schema_ if options.schema_ in ("http", "https") else "https"
        port = f":{options.port}" if options.port else ""
        url = f"{scheme}://{host}{port}{urlsplit(default_base).path}"
    elif not url:
        url = default_base
    token = options.password or token
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if token and token_param not in query:
        query[token_param] = str(token)
    if token_param not in query:
        raise ValueError(f"webhook 缺少 {token_param} (在连接的 password 或 extra.{token_param} 中配置)")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _before_sending(exc: requests.RequestException) -> bool:
    """Whether the request surely never reached the robot: no connection was made (DNS, refused,
    connect timeout, TLS handshake), or the request could not be prepared."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.InvalidURL,
                        requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)):
        return True
    if isinstance(exc, requests.ConnectionError):
        seen: set[int] = set()
        todo: list[BaseException | None] = [exc]
        while todo:                               # urllib3's reason may sit a few causes deep
            cur = todo.pop()
            if cur is None or id(cur) in seen:
                continue
            seen.add(id(cur))
            if isinstance(cur, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError,
                                urllib3.exceptions.ConnectTimeoutError)):
                return True
            todo.extend([cur.__cause__, cur.__context__, getattr(cur, "reason", None)])
            todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
    return False


class WebhookChannel(Channel):
    """Shared HTTP handling for the group robots: JSON POST, timeouts, errcode mapping."""

    retryable_codes: ClassVar[frozenset[int]] = frozenset()
    rate_limit_codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, url: str, *, timeout: float = 10.0, min_interval: float = 3.1, rate_wait: float = 61.0,
                 session: requests.Session | None = None):
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{self.name}: webhook 地址应以 http(s):// 开头: {mask(url)}")
        install_log_redaction()
        self._url = url
        self.timeout = timeout
        self.min_interval = min_interval
        self.rate_wait = rate_wait
        self._session = session or requests.Session()
        self._robot = hashlib.sha256(url.encode()).hexdigest()[:16]

    @staticmethod
    def pacing(options: WebhookOptions) -> dict[str, float]:
        return {"timeout": options.timeout, "min_interval": options.min_interval, "rate_wait": options.rate_wait}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={mask(self._url)!r})"

    def _secrets(self) -> list[str]:
        return [v for k, v in parse_qsl(urlsplit(self._url).query) if is_sensitive(k)]

    def _target(self) -> str:
        return self._url

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        _Pacer.wait(self._robot, self.min_interval)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            resp = self._session.post(self._target(), data=body, timeout=self.timeout,
                                      headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.RequestException as exc:
            if _before_sending(exc):
                raise self._error(f"无法连接 (not sent): {type(exc).__name__}: {exc}", retryable=True) from None
            # The request was written; the robot may have posted it before the answer was lost.
            raise self._error(f"消息已发出但未收到应答 (no answer after the request was sent, "
                              f"timeout {self.timeout}s): {type(exc).__name__}: {exc}",
                              retryable=False, ambiguous=True) from None
        if resp.status_code == 429:
            raise self._error("发送过于频繁 HTTP 429", retryable=True, code=429)
        if resp.status_code >= 500:
            raise self._error(f"服务端错误 HTTP {resp.status_code} (消息可能已发出)", retryable=False,
                              code=resp.status_code, ambiguous=True)
        if resp.status_code >= 400:
            raise self._error(f"请求被拒绝 HTTP {resp.status_code} (检查 webhook 地址)", retryable=False,
                              code=resp.status_code)
        try:
            data = resp.json()
        except ValueError:
            raise self._error(f"响应不是 JSON (HTTP {resp.status_code}): {resp.text[:120]!r}", retryable=True) from None
        if not isinstance(data, dict):
            raise self._error(f"响应格式异常 unexpected response: {str(data)[:120]!r}", retryable=True)
        try:
            code = int(data.get("errcode", 0))
        except (TypeError, ValueError):
            code = -1
        if code != 0:
            msg = str(data.get("errmsg", ""))[:200]
            raise self._error(f"errcode={code} errmsg={msg}", retryable=code in self.retryable_codes, code=code)
        return data

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        raise NotImplementedError

    def receipt(self, payloads: list[dict[str, Any]]) -> str:
        raise NotImplementedError

    def send(self, message: Message) -> str:
        payloads = self.payloads(message)
        if not payloads:
            raise self._error("消息内容为空 (empty message)", retryable=False)
        self._post_parts(payloads)
        return self.receipt(payloads)

    def _post_parts(self, payloads: list[dict[str, Any]]) -> int:
        """Post each part in order. If a later part hits the rate limit, wait once and retry it;
        if it still fails, report the notice as not retryable: resending would repeat the parts
        already delivered, so an admin decides (the ledger surfaces it)."""
        for i, payload in enumerate(payloads):
            try:
                self._post(payload)
            except DeliveryError as exc:
                if i == 0:
                    raise
                if exc.code in self.rate_limit_codes:
                    time.sleep(self.rate_wait)
                    try:
                        self._post(payload)
                        continue
                    except DeliveryError as again:
                        exc = again
                raise DeliveryError(f"{exc.message} (已发送 {i}/{len(payloads)} 段; 为避免重复, 不自动重发, "
                                    f"请管理员核对后处理)", retryable=False, code=exc.code, ambiguous=True) from None
        return len(payloads)
