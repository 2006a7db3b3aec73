"""The one polite fetcher: every HTTP request pubwatch makes goes through `Fetcher`.

What it guarantees, per request:
- only http/https, and never a private / loopback / link-local / multicast address unless the
  host or network is listed in `allow_private` (checked for every address the name resolves to,
  and again after every redirect — redirects are followed by hand);
- a byte cap enforced while streaming, also on the *decompressed* size (gzip bombs);
- a total deadline per request (a server that drips one byte a second cannot hold us);
- retries with jittered exponential backoff on transient statuses and connection errors,
  honouring Retry-After (capped);
- per-host pacing (default 1 request/s) and a global cap of requests in flight, thread-safe;
- robots.txt read once per host (skipped for sites the office owns);
- anti-bot / WAF challenge pages recognised and reported as BLOCKED, never as content.

Failures raise `FetchError` whose `outcome` is the honest `Outcome` (UNREACHABLE, HTTP_ERROR,
BLOCKED, CONFIG_ERROR) and whose message is Chinese for the admin plus technical detail, with
secrets in URLs masked. No Airflow here.
"""
from __future__ import annotations

import email.utils
import hashlib
import errno
import ipaddress
import json as jsonlib
import logging
import os
import random
import re
import socket
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timezone
from typing import Annotated, Any, Iterable, Mapping
from urllib.parse import quote, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
import urllib3
from pydantic import BeforeValidator, ConfigDict, Field

from .options import OptionError, Options, check_options
from .secrets import mask as mask_secrets  # noqa: F401 - the fetcher masks its messages; kept importable
from .types import Outcome

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 522, 524})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
ROBOTS_MAX_BYTES = 500_000
_READ_CHUNK = 65_536

# ---------------------------------------------------------------------------------------------
# Settings and results
# ---------------------------------------------------------------------------------------------
def _hosts(value: Any) -> tuple[str, ...]:
    """"127.0.0.1" | [..] -> a tuple of the non-blank entries, stripped."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"应为主机/IP/网段的列表: {value!r}")
    return tuple(str(x).strip() for x in items if str(x).strip())


class FetchSettings(Options):
    """How pubwatch fetches; units.yaml `fetch:` overrides any of these (an unknown key is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(15.0, gt=0)          # connect+read; the national rule counts >15 s as "cannot open"
    retries: int = Field(2, ge=0)               # on RETRY_STATUSES and connect/read errors
    backoff: float = Field(1.0, ge=0)           # exponential, jittered; Retry-After honoured (capped)
    per_host_interval: float = Field(1.0, ge=0)  # min seconds between requests to one host
    max_concurrency: int = Field(4, ge=1)       # global cap of requests in flight
    max_bytes: int = Field(5_000_000, ge=1)     # response cap (also on the decompressed size)
    user_agent: str = "pubwatch/0.1 (+政务公开监测; contact: admin)"
    # hosts / IPs / CIDRs allowed although private (demo: 127.0.0.1)
    allow_private: Annotated[tuple[str, ...], BeforeValidator(_hosts)] = ()
    respect_robots: bool = True
    max_redirects: int = Field(5, ge=0)
    max_retry_after: float = Field(60.0, ge=0)  # never wait longer than this for one Retry-After

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> "FetchSettings":
        """Build from units.yaml `fetch:`; OptionError (a ValueError) names the field: "fetch.timeout: …"."""
        if not d:
            return cls()
        if not isinstance(d, Mapping):
            raise OptionError("fetch", f"应为映射: {d!r}")
        try:
            return check_options(cls, d)
        except OptionError as exc:
            raise OptionError(f"fetch.{exc.field}", exc.message) from None


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    encoding: str | None                  # charset from the Content-Type header, if any
    not_modified: bool
    elapsed: float
    requests: int
    etag: str | None
    last_modified: str | None
    notes: tuple[str, ...] = ()           # e.g. "robots.txt 无法读取, 按允许处理"
    _text: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The body decoded with pubwatch.encoding.decode_html (header charset, meta, BOM, sniffing)."""
        if self._text is None:
            self._text = _decode_html(self.body, self.encoding)
        return self._text[0]

    def json(self) -> Any:
        return jsonlib.loads(self.body)


@dataclass
class ProbeResult:
    ok: bool                 # the server answered (any status < 500, WAF challenges included) in time
    elapsed: float
    status: int | None
    error: str = ""
    outcome: Outcome | None = None


class FetchError(Exception):
    """A fetch that did not produce content. `outcome` is what the crawl records."""

    def __init__(self, outcome: Outcome, message: str, *, http_status: int | None = None,
                 requests: int = 0, elapsed: float = 0.0, retryable: bool = False):
        self.outcome = outcome
        self.message = mask_secrets(message)
        self.http_status = http_status
        self.requests = requests
        self.elapsed = elapsed
        self.retryable = retryable
        super().__init__(self.message)


def _decode_html(body: bytes, header_charset: str | None) -> tuple[str, str]:
    try:
        from .encoding import decode_html
    except ImportError:  # pragma: no cover - until pubwatch.encoding lands
        for enc in filter(None, (header_charset, "utf-8", "gb18030")):
            try:
                return body.decode(enc), enc
            except (LookupError, UnicodeDecodeError):
                continue
        return body.decode("utf-8", "replace"), "utf-8"
    return decode_html(body, header_charset)


def _ascii_header(value: str) -> str:
    """HTTP header values are latin-1 on the wire; percent-encode anything else (e.g. 政务公开监测 in the UA)."""
    return "".join(ch if 32 <= ord(ch) < 127 else quote(ch) for ch in value)


def _header_charset(content_type: str | None) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.I)
    return m.group(1).lower() if m else None


# ---------------------------------------------------------------------------------------------
# Anti-bot / WAF challenge recognition
# ---------------------------------------------------------------------------------------------
# (vendor label, pattern on the first 32 KB of the body, read as latin-1 so bytes match any charset)
_WAF_BODY_SIGNATURES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("瑞数(Rivers Security)", re.compile(rb"\$_ts\s*=\s*window\[|\$_ts\.(?:nsd|cd)\s*=|<(?:meta|script)\b[^>]*\br=['\"]m['\"]", re.I)),
    ("知道创宇加速乐", re.compile(rb"__jsl_clearance|__jsluid|jsl_tracking|static\.jiasule\.com|notice-jiasule", re.I)),
    ("知道创宇创宇盾", re.compile(rb"365cyd\.com", re.I)),
    ("Cloudflare", re.compile(rb"<title>\s*Just a moment\.\.\.|cf-browser-verification|_cf_chl_opt|cf_chl_|"
                              rb"Attention Required! \| Cloudflare|cdn-cgi/challenge-platform", re.I)),
    ("安全狗(SafeDog)", re.compile(rb"safedog\.cn|safedogsite|safedog-flow-item", re.I)),
    ("云锁(Yunsuo)", re.compile(rb"yunsuo_session|yunsuologo|YunSuoAutoJump|security_session_verify", re.I)),
    ("宝塔网站防火墙(BTWAF)", re.compile("宝塔网站防火墙".encode() + rb"|btwaf|" + "宝塔网站防火墙".encode("gbk"), re.I)),
    ("360网站卫士", re.compile(rb"wzws-waf-cgi|wzws_cid|360wzws|wangzhan\.360\.cn|qianxin-waf", re.I)),
    ("阿里云盾", re.compile(rb"acw_sc__v2|errors?\.aliyun(?:dun)?\.(?:com|net)|aliyun_waf", re.I)),
    ("长亭雷池(SafeLine)", re.compile(rb"/\.safeline/|safeline|challenge\.rivers\.chaitin\.cn", re.I)),
)
_WAF_HEADER_SIGNATURES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("Cloudflare", "cf-mitigated", re.compile(r"challenge", re.I)),
    ("知道创宇加速乐", "server", re.compile(r"jiasule", re.I)),
    ("安全狗(SafeDog)", "server", re.compile(r"safedog", re.I)),
    ("360网站卫士", "x-powered-by-360wzb", re.compile(r".")),
    ("360网站卫士", "server", re.compile(r"qianxin-waf|wzws", re.I)),
    ("云锁(Yunsuo)", "set-cookie", re.compile(r"yunsuo_session|security_session_verify", re.I)),
    ("知道创宇加速乐", "set-cookie", re.compile(r"__jsluid|__jsl_clearance", re.I)),
    ("安全狗(SafeDog)", "set-cookie", re.compile(r"safedog-flow-item", re.I)),
)
# Statuses that WAFs answer challenges with; a plain 403 needs a signature, 412/521/493 rarely mean anything else.
_CHALLENGE_STATUSES = frozenset({202, 403, 405, 412, 418, 429, 493, 503, 521})
_WAF_ONLY_STATUSES = frozenset({412, 493, 521})
_SCRIPT_RE = re.compile(rb"<script\b[^>]*>.*?</script\s*>", re.I | re.S)
_STYLE_RE = re.compile(rb"<style\b[^>]*>.*?</style\s*>", re.I | re.S)
_TAG_RE = re.compile(rb"<[^>]+>")
_ENTITY_RE = re.compile(rb"&#?\w+;")
_JS_COOKIE_RELOAD_RE = re.compile(rb"document\.cookie\s*=.*?(?:location\.reload\s*\(|location(?:\.href)?\s*=|location\.replace\s*\()", re.I | re.S)
_JS_REDIRECT_RE = re.compile(rb"(?:window\.|document\.)?location(?:\.href)?\s*=|location\.(?:replace|assign)\s*\(", re.I)
_JS_REQUIRED_RE = re.compile(rb"enable\s+javascript|javascript\s+(?:is\s+)?(?:required|disabled)|"
                             + "请(?:开启|启用|打开)\\s*(?:JavaScript|javascript|JS|js|浏览器脚本)".encode()
                             + rb"|" + "请(?:开启|启用|打开)\\s*(?:JavaScript|javascript|JS|js)".encode("gbk"), re.I)
_META_REFRESH_RE = re.compile(rb"<meta[^>]+http-equiv=[\"']?refresh[^>]*content=[\"']?\s*0\s*;", re.I)


def _visible_chars(head: bytes) -> int:
    s = _SCRIPT_RE.sub(b" ", head)
    s = _STYLE_RE.sub(b" ", s)
    s = _TAG_RE.sub(b" ", s)
    s = _ENTITY_RE.sub(b" ", s)
    return len(re.sub(rb"\s+", b"", s))


def detect_challenge(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """Name the anti-bot / WAF product whose challenge or block page this is, or None.

    A 200 page counts only when it is (almost) nothing but the challenge: a real list page that
    happens to carry a vendor's script is content, not a block."""
    head = body[:32_768]
    visible = _visible_chars(head)
    near_empty = visible < 200
    vendor = None
    for name, pattern in _WAF_BODY_SIGNATURES:
        if pattern.search(head):
            vendor = name
            break
    if vendor is None:
        lower = {k.lower(): v for k, v in headers.items()}
        for name, header, pattern in _WAF_HEADER_SIGNATURES:
            if header in lower and pattern.search(lower[header]):
                vendor = name
                break
    if status in _CHALLENGE_STATUSES or status in _WAF_ONLY_STATUSES:
        if vendor:
            return vendor
        has_script = b"<script" in head.lower()
        if status == 521 and b"document.cookie" in head:
            return "知道创宇加速乐"
        if status in _WAF_ONLY_STATUSES and (has_script or near_empty):
            return "未知防护(WAF)"
        if status in (202, 403, 503) and near_empty and has_script and _looks_like_js_shell(head):
            return "未知防护(JavaScript 挑战)"
        return None
    if 200 <= status < 300 and near_empty:
        if vendor:
            return vendor
        if _looks_like_js_shell(head) and b"<script" in head.lower():
            return "未知防护(JavaScript 挑战)"
    return None


def _looks_like_js_shell(head: bytes) -> bool:
    return bool(_JS_COOKIE_RELOAD_RE.search(head) or _JS_REQUIRED_RE.search(head)
                or (_JS_REDIRECT_RE.search(head) and _visible_chars(head) < 40))


# ---------------------------------------------------------------------------------------------
# Pacing, targets, decompression
# ---------------------------------------------------------------------------------------------
class _HostPacer:
    """Per-host minimum spacing between request starts, plus the global in-flight cap.

    A host's lock is held while waiting for its turn *and* for a global slot, and the send time
    is recorded only once both are had: so spacing holds even when the global cap delays a
    request, and no global slot is wasted sleeping."""

    def __init__(self, interval: float, max_concurrency: int):
        self.interval = interval
        self.slots = threading.BoundedSemaphore(max_concurrency)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()

    def acquire(self, host: str) -> None:
        with self._guard:
            lock = self._locks[host]
        with lock:
            last = self._last.get(host)
            if last is not None:
                wait = last + self.interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            self.slots.acquire()
            self._last[host] = time.monotonic()

    def release(self) -> None:
        self.slots.release()


class _Inflater:
    """Streaming Content-Encoding decoder whose output never exceeds the byte cap (+1)."""

    def __init__(self, content_encoding: str | None, max_bytes: int):
        enc = (content_encoding or "identity").strip().lower()
        self.max_bytes = max_bytes
        self.total = 0
        self._parts: list[bytes] = []
        self._raw_deflate_tried = False
        if enc in ("identity", "", "none"):
            self._d = None
        elif enc in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._d = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FetchError(Outcome.HTTP_ERROR, f"服务器使用了不支持的压缩格式 (unsupported Content-Encoding: {enc})")

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.max_bytes:
            raise _TooLarge()
        if data:
            self._parts.append(data)

    def feed(self, data: bytes) -> None:
        if self._d is None:
            self._add(data)
            return
        try:
            out = self._d.decompress(data, self.max_bytes - self.total + 1)
            self._add(out)
            while self._d.unconsumed_tail:
                out = self._d.decompress(self._d.unconsumed_tail, self.max_bytes - self.total + 1)
                self._add(out)
        except zlib.error as exc:
            if not self._raw_deflate_tried and self.total == 0 and self._d is not None and not self._parts:
                # "deflate" is sometimes raw deflate without the zlib header.
                self._raw_deflate_tried = True
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                self.feed(data)
                return
            raise FetchError(Outcome.HTTP_ERROR, f"响应压缩数据损坏 (corrupt compressed body: {exc})") from None

    def body(self) -> bytes:
        if self._d is not None:
            self._add(self._d.flush())
        return b"".join(self._parts)


class _TooLarge(Exception):
    pass


class _Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.notes: list[str] = []


@dataclass
class _Hop:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def _is_forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (not ip.is_global) or ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_private


def _retry_after(headers: Mapping[str, str], cap: float) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    seconds: float | None = None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = (when - datetime.now(timezone.utc)).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(seconds, cap))


_STATUS_TEXT = {
    400: "请求无效", 401: "需要登录", 403: "禁止访问", 404: "页面不存在(栏目地址可能已变更)",
    410: "页面已删除", 429: "请求过于频繁", 500: "服务器内部错误", 502: "网关错误",
    503: "服务暂不可用", 504: "网关超时", 521: "源站无法连接", 522: "源站连接超时", 524: "源站响应超时",
}


def _explain_exception(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """(Chinese explanation + detail, retryable) for a transport error."""
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if isinstance(exc, requests.exceptions.SSLError) or "SSLError" in text or "certificate verify" in low:
        return f"HTTPS 证书或加密连接错误 (TLS error) [{text}]", False
    if isinstance(exc, (requests.exceptions.Timeout, socket.timeout, TimeoutError, urllib3.exceptions.TimeoutError)):
        return f"超过{timeout:g}秒无响应 (timeout) [{text}]", True
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo failed" in low \
            or "failed to resolve" in low or "name resolution" in low:
        return f"域名解析失败, 请核对网址 (DNS lookup failed) [{text}]", False
    if "refused" in low:
        return f"连接被拒绝, 网站服务可能未运行 (connection refused) [{text}]", True
    if "reset" in low or "aborted" in low or "remotedisconnected" in low or "incompleteread" in low \
            or "connection broken" in low or "protocolerror" in low:
        return f"连接被中断 (connection reset/closed early) [{text}]", True
    return f"无法连接网站 (connection error) [{text}]", True


# ---------------------------------------------------------------------------------------------
# The fetcher
# ---------------------------------------------------------------------------------------------
class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to the addresses the SSRF check approved for a host (`pins`), not to whatever the
    name resolves to a moment later (DNS rebinding). TLS still verifies the certificate against
    the host name: only the socket's destination is pinned."""

    def __init__(self, pins: dict[str, tuple[str, ...]], **kwargs: Any):
        self._pins = pins
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pins = self._pins

        def pinned(base: type) -> type:
            class Pinned(base):  # type: ignore[misc, valid-type]
                def _new_conn(self):
                    addrs = pins.get((self.host or "").lower().rstrip("."))
                    if not addrs:
                        return super()._new_conn()
                    original, last_error = self._dns_host, None
                    try:
                        for addr in addrs:          # the approved addresses only, in resolver order
                            self._dns_host = addr
                            try:
                                return super()._new_conn()
                            except urllib3.exceptions.NewConnectionError as exc:
                                last_error = exc
                        raise last_error  # type: ignore[misc]
                    finally:
                        self._dns_host = original
            Pinned.__name__ = f"Pinned{base.__name__}"
            return Pinned

        http_pool = type("PinnedHTTPConnectionPool", (urllib3.HTTPConnectionPool,),
                         {"ConnectionCls": pinned(urllib3.connection.HTTPConnection)})
        https_pool = type("PinnedHTTPSConnectionPool", (urllib3.HTTPSConnectionPool,),
                          {"ConnectionCls": pinned(urllib3.connection.HTTPSConnection)})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}


class Fetcher:
    """Thread-safe; share one per crawl run. Close it when done."""

    def __init__(self, settings: FetchSettings | None = None, session: requests.Session | None = None,
                 robots_cache: "str | os.PathLike[str] | None" = None, robots_cache_hours: float = 24.0):
        """`robots_cache`: a folder where robots.txt answers are kept for `robots_cache_hours`, so the
        many short crawl tasks of one run (one Airflow task per unit) fetch each site's robots.txt
        once a day, not once per task."""
        self.settings = settings or FetchSettings()
        self._robots_cache = Path(robots_cache) if robots_cache else None
        self._robots_cache_seconds = robots_cache_hours * 3600
        self.session = session or requests.Session()
        # host -> the addresses _check_target approved: connections go to those, never to a fresh
        # DNS answer (a name that resolved to a public address when checked cannot rebind to 127.0.0.1).
        self._pins: dict[str, tuple[str, ...]] = {}
        adapter = _PinnedAdapter(self._pins, pool_connections=16,
                                 pool_maxsize=max(4, self.settings.max_concurrency * 2), max_retries=0)
        if session is None:
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self._pacer = _HostPacer(self.settings.per_host_interval, self.settings.max_concurrency)
        self._allowed_hosts, self._allowed_nets = self._parse_allow(self.settings.allow_private)
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_notes: dict[str, str] = {}
        self._robots_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()
        self._stats: dict[str, dict[str, int]] = defaultdict(lambda: {"requests": 0, "errors": 0, "bytes": 0})
        self.agent_token = re.split(r"[/\s]", self.settings.user_agent.strip(), maxsplit=1)[0] or "*"

    # -- public API ---------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per-host counters: requests (HTTP requests sent), errors (failed requests), bytes (body bytes)."""
        with self._lock:
            return {host: dict(v) for host, v in self._stats.items()}

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            headers: Mapping[str, str] | None = None, owned_site: bool = False) -> FetchResult:
        """GET a page politely. `owned_site=True` skips robots.txt. Conditional GET: 304 → not_modified."""
        hdrs = dict(headers or {})
        if etag:
            hdrs["If-None-Match"] = etag
        if last_modified:
            hdrs["If-Modified-Since"] = last_modified
        return self._execute("GET", url, headers=hdrs, retry=True,
                             robots=self.settings.respect_robots and not owned_site)

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: Any = None, headers: Mapping[str, str] | None = None, retry: bool | None = None) -> FetchResult:
        """Call an API (e.g. WeChat's): same safety, pacing and caps; no robots.txt.
        Retries only idempotent methods unless `retry=True`."""
        method = method.upper()
        do_retry = (method in IDEMPOTENT_METHODS) if retry is None else retry
        return self._execute(method, url, headers=dict(headers or {}), params=params, json=json, data=data,
                             retry=do_retry, robots=False)

    def probe(self, url: str) -> ProbeResult:
        """One availability check the way inspectors do it: one try, the full timeout, the whole page.
        A WAF challenge counts as "answered" (the site is up for people); 5xx, timeouts and
        connection errors do not."""
        start = time.monotonic()
        try:
            res = self._execute("GET", url, headers={}, retry=False, robots=False, retries=0)
            return ProbeResult(ok=True, elapsed=time.monotonic() - start, status=res.status, outcome=Outcome.OK)
        except FetchError as exc:
            answered = exc.outcome is Outcome.BLOCKED or (
                exc.outcome is Outcome.HTTP_ERROR and exc.http_status is not None and exc.http_status < 500)
            return ProbeResult(ok=answered, elapsed=time.monotonic() - start, status=exc.http_status,
                               error=exc.message, outcome=exc.outcome)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the retry loop -----------------------------------------------------------------------
    def _execute(self, method: str, url: str, *, headers: dict[str, str], params: Any = None, json: Any = None,
                 data: Any = None, retry: bool, robots: bool, retries: int | None = None) -> FetchResult:
        s = self.settings
        start = time.monotonic()
        counter = _Counter()
        max_tries = 1 + (s.retries if retries is None else retries) if retry else 1
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        attempt = 0
        while True:
            attempt += 1
            try:
                hop = self._follow(method, url, headers=headers, params=params, json=json, data=data,
                                   robots=robots, counter=counter)
            except FetchError as exc:
                exc.requests, exc.elapsed = counter.requests, time.monotonic() - start
                if exc.retryable and attempt < max_tries:
                    self._sleep_backoff(attempt)
                    continue
                raise
            vendor = detect_challenge(hop.status, hop.headers, hop.body)
            if vendor:
                raise FetchError(Outcome.BLOCKED,
                                 f"被{vendor}防护拦截 (HTTP {hop.status}, 反爬虫/JavaScript 挑战页); "
                                 f"请网站运维将监测程序的出口IP加入白名单, 本次结果记为无法核实: {hop.url}",
                                 http_status=hop.status, requests=counter.requests, elapsed=time.monotonic() - start)
            if hop.status in RETRY_STATUSES and attempt < max_tries:
                wait = _retry_after(hop.headers, s.max_retry_after)
                if wait is not None:
                    time.sleep(wait)
                else:
                    self._sleep_backoff(attempt)
                continue
            elapsed = time.monotonic() - start
            if hop.status == 304 and conditional:
                return self._result(url, hop, elapsed, counter, not_modified=True)
            if hop.status >= 400 or hop.status in REDIRECT_STATUSES or hop.status == 304:
                label = _STATUS_TEXT.get(hop.status, "HTTP 错误")
                tries = f", 已尝试{attempt}次" if attempt > 1 else ""
                raise FetchError(Outcome.HTTP_ERROR, f"HTTP {hop.status} {label}{tries}: {hop.url}",
                                 http_status=hop.status, requests=counter.requests, elapsed=elapsed)
            return self._result(url, hop, elapsed, counter, not_modified=False)

    def _sleep_backoff(self, attempt: int) -> None:
        base = self.settings.backoff * (2 ** (attempt - 1))
        time.sleep(min(base * random.uniform(0.5, 1.0), self.settings.max_retry_after))

    @staticmethod
    def _result(url: str, hop: _Hop, elapsed: float, counter: _Counter, *, not_modified: bool) -> FetchResult:
        return FetchResult(url=url, final_url=hop.url, status=hop.status, headers=hop.headers,
                           body=b"" if not_modified else hop.body,
                           encoding=_header_charset(hop.headers.get("Content-Type")), not_modified=not_modified,
                           elapsed=elapsed, requests=counter.requests, etag=hop.headers.get("ETag"),
                           last_modified=hop.headers.get("Last-Modified"), notes=tuple(counter.notes))

    # -- redirects, by hand -------------------------------------------------------------------
    def _follow(self, method: str, url: str, *, headers: dict[str, str], params: Any, json: Any, data: Any,
                robots: bool, counter: _Counter, max_bytes: int | None = None) -> _Hop:
        seen: list[str] = []
        current = url
        while True:
            self._check_target(current)
            if robots and not self._robots_allow(current, counter):
                raise FetchError(Outcome.BLOCKED,
                                 f"robots.txt 禁止抓取; 如本站归本单位所有, 请在登记表中设置 owned_site: true ({current})")
            hop = self._send(method, current, headers=headers, params=params, json=json, data=data,
                             counter=counter, max_bytes=max_bytes)
            if hop.status not in REDIRECT_STATUSES or not hop.headers.get("Location"):
                return hop
            target = urljoin(hop.url, hop.headers["Location"].strip())
            seen.append(hop.url)
            if target in seen:
                chain = " -> ".join(seen + [target])
                raise FetchError(Outcome.HTTP_ERROR, f"重定向循环, 网站配置错误 (redirect loop): {chain}",
                                 http_status=hop.status)
            if len(seen) > self.settings.max_redirects:
                raise FetchError(Outcome.HTTP_ERROR,
                                 f"重定向次数超过{self.settings.max_redirects}次 (too many redirects): {url} -> {target}",
                                 http_status=hop.status)
            if urlsplit(target).hostname != urlsplit(hop.url).hostname:
                log.info("redirect to another host: %s -> %s", mask_secrets(hop.url), mask_secrets(target))
            if hop.status == 303 or (hop.status in (301, 302) and method not in ("GET", "HEAD")):
                method, json, data = "GET", None, None
            params = None  # the Location already carries its own query
            # conditional headers stay; they are harmless on another URL
            current = target

    # -- one HTTP request ---------------------------------------------------------------------
    def _send(self, method: str, url: str, *, headers: dict[str, str], params: Any, json: Any, data: Any,
              counter: _Counter, max_bytes: int | None = None) -> _Hop:
        s = self.settings
        cap = max_bytes or s.max_bytes
        host = (urlsplit(url).hostname or "").lower()
        hdrs = {"User-Agent": _ascii_header(s.user_agent), "Accept-Encoding": "gzip, deflate",
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.8,*/*;q=0.5",
                "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
        hdrs.update(headers)
        self._pacer.acquire(host)
        counter.requests += 1
        sent = time.monotonic()
        deadline = sent + s.timeout
        resp = None
        ok = False
        size = 0
        try:
            try:
                resp = self.session.request(method, url, params=params, json=json, data=data, headers=hdrs,
                                            allow_redirects=False, stream=True, timeout=(s.timeout, s.timeout))
                inflater = _Inflater(resp.headers.get("Content-Encoding"), cap)
                if method != "HEAD" and resp.status_code not in (204, 304):
                    while True:
                        if time.monotonic() > deadline:
                            raise requests.exceptions.ReadTimeout(f"total time exceeded {s.timeout:g}s")
                        chunk = resp.raw.read1(_READ_CHUNK, decode_content=False)
                        if not chunk:
                            break
                        size += len(chunk)
                        inflater.feed(chunk)
                body = inflater.body()
            except _TooLarge:
                raise FetchError(Outcome.HTTP_ERROR,
                                 f"响应超过{cap}字节上限, 已中止读取 (response too large, possibly a decompression bomb): {url}",
                                 http_status=resp.status_code if resp is not None else None) from None
            except FetchError:
                raise
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                msg, retryable = _explain_exception(exc, s.timeout)
                raise FetchError(Outcome.UNREACHABLE, f"{msg}: {url}", retryable=retryable) from None
            ok = resp.status_code < 400
            return _Hop(url=resp.url or url, status=resp.status_code, headers=resp.headers, body=body)
        finally:
            if resp is not None:
                resp.close()
            self._pacer.release()
            with self._lock:
                st = self._stats[host]
                st["requests"] += 1
                st["bytes"] += size
                if not ok:
                    st["errors"] += 1

    # -- target safety ------------------------------------------------------------------------
    @staticmethod
    def _parse_allow(entries: Iterable[str]) -> tuple[frozenset[str], tuple[Any, ...]]:
        hosts, nets = set(), []
        for entry in entries:
            try:
                nets.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return frozenset(hosts), tuple(nets)

    def _check_target(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise FetchError(Outcome.CONFIG_ERROR,
                             f"不支持的网址协议 {parts.scheme or '(无)'!r}, 只允许 http/https (refused scheme): {url}")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise FetchError(Outcome.CONFIG_ERROR, f"网址缺少主机名 (missing host): {url}")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise FetchError(Outcome.CONFIG_ERROR, f"网址端口无效 (bad port): {url}") from None
        if host in self._allowed_hosts:
            return
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            temporary = exc.errno in (socket.EAI_AGAIN, getattr(errno, "EAGAIN", -1))
            raise FetchError(Outcome.UNREACHABLE,
                             f"域名解析失败, 请核对网址或联系网站运维 (DNS lookup failed: {exc}): {url}",
                             retryable=temporary) from None
        except UnicodeError:
            raise FetchError(Outcome.CONFIG_ERROR, f"主机名无效 (invalid host name): {url}") from None
        approved: list[str] = []
        for info in infos:
            addr = str(info[4][0]).split("%", 1)[0]
            ip = ipaddress.ip_address(addr)
            if _is_forbidden_ip(ip) and not any(ip in net for net in self._allowed_nets if net.version == ip.version):
                raise FetchError(Outcome.CONFIG_ERROR,
                                 f"目标地址 {ip} 属于内网/本机/链路本地/组播地址, 已拒绝访问 (private target refused); "
                                 f"如确属本单位内网站点, 请在 fetch.allow_private 中登记: {url}")
            if addr not in approved:
                approved.append(addr)
        if approved:
            with self._lock:
                self._pins[host] = tuple(approved)

    # -- robots.txt ---------------------------------------------------------------------------
    def _robots_allow(self, url: str, counter: _Counter) -> bool:
        parts = urlsplit(url)
        key = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._lock:
            lock = self._robots_locks[key]
        with lock:
            if key not in self._robots:
                self._robots[key] = self._load_robots(key, counter)
            parser = self._robots[key]
            note = self._robots_notes.get(key)
        if note and note not in counter.notes:
            counter.notes.append(note)
        if parser is None:
            return True
        return parser.can_fetch(self.agent_token, url)

    def _load_robots(self, key: str, counter: _Counter) -> RobotFileParser | None:
        """None means "everything allowed" (404 / other 4xx per RFC 9309, or unreachable: allowed with a note)."""
        robots_url = key + "/robots.txt"
        cached = self._robots_cached(key)
        if cached is not None:
            return self._robots_parser(robots_url, cached) if cached else None
        parser = self._load_robots_live(key, robots_url, counter)
        return parser

    def _robots_file(self, key: str) -> Path | None:
        if self._robots_cache is None:
            return None
        return self._robots_cache / (hashlib.sha1(key.encode()).hexdigest() + ".robots.txt")

    def _robots_cached(self, key: str) -> str | None:
        """The cached robots.txt text ("" = no rules) if fresh, else None."""
        path = self._robots_file(key)
        try:
            if path is not None and time.time() - path.stat().st_mtime < self._robots_cache_seconds:
                return path.read_text(encoding="utf-8")
        except OSError:
            pass
        return None

    def _robots_store(self, key: str, text: str) -> None:
        path = self._robots_file(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:          # a cache only: never fails a crawl
            log.info("robots.txt cache not written: %s", exc)

    @staticmethod
    def _robots_parser(robots_url: str, text: str) -> RobotFileParser:
        parser = RobotFileParser(robots_url)
        parser.parse(text.splitlines())
        return parser

    def _load_robots_live(self, key: str, robots_url: str, counter: _Counter) -> RobotFileParser | None:
        try:
            hop = self._follow("GET", robots_url, headers={}, params=None, json=None, data=None, robots=False,
                               counter=counter, max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            self._robots_notes[key] = f"robots.txt 无法读取, 按允许抓取处理 ({exc.message})"
            log.info("robots.txt unreadable for %s: %s", key, exc.message)
            return None
        if hop.status >= 500:
            self._robots_notes[key] = f"robots.txt 返回 HTTP {hop.status}, 按允许抓取处理"
            return None
        if hop.status != 200 or detect_challenge(hop.status, hop.headers, hop.body):
            self._robots_store(key, "")
            return None
        text = hop.body.decode("utf-8", "replace")
        if "<html" in text[:500].lower():   # an HTML page served as robots.txt: no rules
            self._robots_store(key, "")
            return None
        self._robots_store(key, text)
        return self._robots_parser(robots_url, text)
