"""Delivery channels: e-mail (SMTP), WeCom group robot, DingTalk group robot, and a file outbox.

Every channel is a small class with `send(message) -> receipt`. A failure raises DeliveryError
with `retryable` telling the ledger whether a later run may try again:
- network errors, timeouts, HTTP 5xx/429, SMTP 4xx, robot rate limits  -> retryable;
- HTTP 4xx, SMTP 5xx, bad credentials / signature / webhook key       -> not retryable.

Secrets (SMTP password, webhook key, DingTalk access token and signing secret) never appear in a
receipt, an exception text, a repr or a log line: URLs are masked (key=***) and any text that
leaves a channel is scrubbed of the configured secrets. urllib3's debug log of request URLs is
masked too (see _RedactUrlSecrets).

Robot limits (WeCom and DingTalk documentation): 20 messages per minute per robot; WeCom
markdown content at most 4096 bytes (UTF-8), text content at most 2048 bytes. WeCom markdown cannot
@mention by mobile number, so mentions go in a follow-up "text" message with
mentioned_mobile_list. DingTalk does not document a markdown length limit; we split at 5000
characters (configurable). A notice longer than a limit is split at line boundaries.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests

from ..types import TZ

log = logging.getLogger(__name__)

SENSITIVE_PARAMS = ("key", "access_token", "sign", "secret", "token", "password")
_MOBILE_RE = re.compile(r"^1\d{10}$")
_URL_SECRET_RE = re.compile(r"(?i)\b(" + "|".join(SENSITIVE_PARAMS) + r")=([^&\s\"'#]+)")


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
    """A notice could not be delivered. `message` is safe to log: it never holds a secret."""

    def __init__(self, message: str, *, retryable: bool, code: int | str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, retryable={self.retryable}, code={self.code!r})"


def mask_url(url: str) -> str:
    """The URL with secret query values replaced by ***: .../send?key=*** ."""
    return _URL_SECRET_RE.sub(lambda m: f"{m.group(1)}=***", url)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Text with every secret (raw and URL-encoded) and secret query values masked."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            for form in {secret, quote_plus(secret), quote_plus(secret, safe="")}:
                out = out.replace(form, "***")
    return mask_url(out)


class _RedactUrlSecrets(logging.Filter):
    """urllib3 logs each request line at DEBUG, webhook key included; mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(mask_url(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = mask_url(record.msg)
        return True


def _install_log_redaction() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactUrlSecrets) for f in logger.filters):
        logger.addFilter(_RedactUrlSecrets())


_install_log_redaction()


class Channel:
    """One way of delivering a notice. Subclasses set `name` and implement send()."""

    name = "channel"

    def send(self, message: Message) -> str:
        raise NotImplementedError

    def _secrets(self) -> list[str]:
        return []

    def _error(self, text: str, *, retryable: bool, code: int | str | None = None) -> DeliveryError:
        return DeliveryError(f"{self.name}: {scrub(text, self._secrets())}", retryable=retryable, code=code)


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


# ----- webhook robots ---------------------------------------------------------------------------
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


class _WebhookChannel(Channel):
    """Shared HTTP handling for the group robots: JSON POST, timeouts, errcode mapping."""

    retryable_codes: frozenset[int] = frozenset()
    rate_limit_codes: frozenset[int] = frozenset()

    def __init__(self, url: str, *, timeout: float = 10.0, min_interval: float = 3.1, rate_wait: float = 61.0,
                 session: requests.Session | None = None):
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"{self.name}: webhook 地址应以 http(s):// 开头: {mask_url(url)}")
        self._url = url
        self.timeout = timeout
        self.min_interval = min_interval
        self.rate_wait = rate_wait
        self._session = session or requests.Session()
        self._robot = hashlib.sha256(url.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={mask_url(self._url)!r})"

    def _secrets(self) -> list[str]:
        return [v for k, v in parse_qsl(urlsplit(self._url).query) if k.lower() in SENSITIVE_PARAMS]

    def _target(self) -> str:
        return self._url

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        _Pacer.wait(self._robot, self.min_interval)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            resp = self._session.post(self._target(), data=body, timeout=self.timeout,
                                      headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.Timeout:
            raise self._error(f"请求超时 ({self.timeout}s) timeout posting to {mask_url(self._url)}",
                              retryable=True) from None
        except requests.RequestException as exc:
            raise self._error(f"网络错误 network error: {type(exc).__name__}: {exc}", retryable=True) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise self._error(f"服务端错误 HTTP {resp.status_code}", retryable=True, code=resp.status_code)
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
                                    f"请管理员核对后处理)", retryable=False, code=exc.code) from None
        return len(payloads)


class WeComRobotChannel(_WebhookChannel):
    """企业微信群机器人: markdown parts (≤4096 bytes each), then a text message that @mentions by mobile."""

    name = "wecom"
    MARKDOWN_LIMIT = 4096        # bytes, UTF-8
    TEXT_LIMIT = 2048            # bytes, UTF-8
    retryable_codes = frozenset({-1, 45009, 45033})     # system busy, frequency limit, concurrency
    rate_limit_codes = frozenset({45009})

    def __init__(self, url: str, *, markdown_limit: int = MARKDOWN_LIMIT, **kwargs: Any):
        super().__init__(url, **kwargs)
        self.markdown_limit = markdown_limit

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        content = message.markdown or f"**{message.subject}**\n{message.text}"
        parts = numbered_parts(content, self.markdown_limit, utf8_len)
        out: list[dict[str, Any]] = [{"msgtype": "markdown", "markdown": {"content": p}} for p in parts]
        mobiles = valid_mobiles(message.mention_mobiles)
        if mobiles:
            note = split_lines(f"请查收：{message.subject}", self.TEXT_LIMIT - 64, utf8_len)[0]
            out.append({"msgtype": "text", "text": {"content": note, "mentioned_mobile_list": mobiles}})
        return out

    def receipt(self, payloads: list[dict[str, Any]]) -> str:
        mentions = sum(1 for p in payloads if p["msgtype"] == "text")
        return f"wecom: 已发送 {len(payloads) - mentions} 段 markdown" + (" + 1 条@提醒" if mentions else "")


class DingTalkRobotChannel(_WebhookChannel):
    """钉钉群机器人 with 加签: markdown parts with at.atMobiles and the @mobiles in the first part."""

    name = "dingtalk"
    TEXT_LIMIT = 5000            # characters; DingTalk documents none for markdown, stay conservative
    retryable_codes = frozenset({-1, 130101, 130102})   # system busy, sending too fast
    rate_limit_codes = frozenset({130101, 130102})

    def __init__(self, url: str, secret: str | None = None, *, text_limit: int = TEXT_LIMIT,
                 keyword: str | None = None, clock: Callable[[], float] = time.time, **kwargs: Any):
        super().__init__(url, **kwargs)
        self._secret = secret or None
        self.text_limit = text_limit
        self.keyword = keyword or None
        self._clock = clock

    def __repr__(self) -> str:
        return f"DingTalkRobotChannel(url={mask_url(self._url)!r}, signed={bool(self._secret)})"

    def _secrets(self) -> list[str]:
        return super()._secrets() + ([self._secret] if self._secret else [])

    @staticmethod
    def signature(timestamp_ms: int | str, secret: str) -> str:
        """timestamp + "\\n" + secret, HMAC-SHA256 keyed by secret, base64, then URL-encoded."""
        digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                          hashlib.sha256).digest()
        return quote_plus(base64.b64encode(digest))

    def _target(self) -> str:
        if not self._secret:
            return self._url
        ts = int(round(self._clock() * 1000))
        sep = "&" if urlsplit(self._url).query else "?"
        return f"{self._url}{sep}timestamp={ts}&sign={self.signature(ts, self._secret)}"

    def payloads(self, message: Message) -> list[dict[str, Any]]:
        content = message.markdown or message.text
        mobiles = valid_mobiles(message.mention_mobiles)
        if self.keyword and self.keyword not in content and self.keyword not in message.subject:
            content = f"{content}\n\n【{self.keyword}】"
        parts = numbered_parts(content, self.text_limit - 16 * len(mobiles))
        out = []
        for i, part in enumerate(parts):
            at = {"atMobiles": mobiles if i == 0 else [], "isAtAll": False}
            if i == 0 and mobiles:
                part = part + "\n\n" + " ".join(f"@{m}" for m in mobiles)
            title = message.subject if i == 0 else f"{message.subject}（续{i + 1}/{len(parts)}）"
            out.append({"msgtype": "markdown", "markdown": {"title": title[:100], "text": part}, "at": at})
        return out

    def receipt(self, payloads: list[dict[str, Any]]) -> str:
        return f"dingtalk: 已发送 {len(payloads)} 段 markdown" + (" (含@提醒)" if payloads[0]["at"]["atMobiles"] else "")


# ----- e-mail -----------------------------------------------------------------------------------
class EmailChannel(Channel):
    """SMTP with plain-text + HTML alternatives, a UTF-8 subject and attachments (RFC 2231 names).

    security: "ssl" (implicit TLS, port 465), "starttls", "none", or "auto" (465 → ssl,
    otherwise STARTTLS when the server offers it).
    """

    name = "email"

    def __init__(self, host: str, port: int | None = None, *, login: str | None = None, password: str | None = None,
                 from_addr: str | None = None, from_name: str = "", security: str = "auto", timeout: float = 30.0,
                 verify_tls: bool = True):
        if security not in ("auto", "ssl", "starttls", "none"):
            raise ValueError(f"email: security 应为 auto/ssl/starttls/none: {security!r}")
        self.host = host
        self.port = int(port or (465 if security == "ssl" else 587 if security == "starttls" else 25))
        self.login = login or None
        self._password = password or None
        self.from_addr = from_addr or login or ""
        if "@" not in self.from_addr:
            raise ValueError("email: 需要发件人地址 (from_addr 或 login 为邮箱)")
        self.from_name = from_name
        self.security = ("ssl" if self.port == 465 else "auto") if security == "auto" else security
        self.timeout = timeout
        self.verify_tls = verify_tls

    def __repr__(self) -> str:
        return (f"EmailChannel(host={self.host!r}, port={self.port}, login={self.login!r}, "
                f"password={'***' if self._password else None}, security={self.security!r})")

    def _secrets(self) -> list[str]:
        return [self._password] if self._password else []

    def build(self, message: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = formataddr((self.from_name, self.from_addr)) if self.from_name else self.from_addr
        if message.to_emails:
            msg["To"] = ", ".join(message.to_emails)
        if message.cc_emails:
            msg["Cc"] = ", ".join(message.cc_emails)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=self.from_addr.rsplit("@", 1)[-1])
        msg.set_content(message.text, charset="utf-8")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8")
        for path in message.attachments:
            path = Path(path)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise self._error(f"附件无法读取 attachment unreadable: {path.name}: {exc.strerror}",
                                  retryable=False) from None
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            maintype, subtype = ctype.split("/", 1)
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
        return msg

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if self.security == "starttls" or (self.security == "auto" and smtp.has_extn("starttls")):
            smtp.starttls(context=self._context())
            smtp.ehlo()
        if self.login and self._password:
            smtp.login(self.login, self._password)
        return smtp

    def send(self, message: Message) -> str:
        recipients = list(dict.fromkeys(message.to_emails + message.cc_emails))
        if not recipients:
            raise self._error("没有收件人 (no recipients)", retryable=False)
        msg = self.build(message)
        smtp = None
        try:
            smtp = self._connect()
            refused = smtp.send_message(msg, from_addr=self.from_addr, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise self._error(f"SMTP 登录失败 authentication failed: {exc.smtp_code} {_smtp_text(exc)}",
                              retryable=False, code=exc.smtp_code) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{addr}: {code} {_decode(text)}" for addr, (code, text) in exc.recipients.items())
            raise self._error(f"收件人全部被拒 all recipients refused: {detail}",
                              retryable=all(400 <= c < 500 for c in codes), code=max(codes, default=None)) from None
        except smtplib.SMTPResponseException as exc:   # sender refused, data error, other replies
            raise self._error(f"SMTP 错误 {exc.smtp_code} {_smtp_text(exc)}", retryable=400 <= exc.smtp_code < 500,
                              code=exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise self._error(f"SMTP 服务器不支持所需功能 not supported: {exc}", retryable=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._error(f"TLS 证书校验失败 certificate verify failed: {exc.verify_message}",
                              retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, timeouts, TLS errors
            raise self._error(f"无法连接或连接中断 {self.host}:{self.port}: {type(exc).__name__}: {exc}",
                              retryable=True) from None
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()                  # the message was already accepted (or failed above)
        receipt = f"email: {msg['Message-ID']} → {len(recipients) - len(refused)} 位收件人"
        if refused:
            bad = ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
            receipt += f"; 部分收件人被拒: {bad}"
            log.warning("邮件部分收件人被拒 (some recipients refused): %s", bad)
        return receipt


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error)[:200]


# ----- outbox -----------------------------------------------------------------------------------
_NAME_RE = re.compile(r"[^\w.-]+")


def _safe_name(value: str, default: str) -> str:
    name = _NAME_RE.sub("_", str(value or "")).strip("._")
    return name[:80] or default


class OutboxChannel(Channel):
    """Writes <root>/<period>/<unit>-<kind>.{txt,html,md,json}: dry runs, the demo, an audit copy."""

    name = "outbox"

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"OutboxChannel(root={str(self.root)!r})"

    def paths(self, message: Message) -> Path:
        meta = message.meta or {}
        period = _safe_name(meta.get("period", ""), "misc")
        unit = _safe_name(meta.get("unit_id", ""), "")
        kind = _safe_name(meta.get("kind", ""), "notice")
        if not unit:
            unit = hashlib.sha256(message.subject.encode("utf-8")).hexdigest()[:12]
        return self.root / period / f"{unit}-{kind}"

    def send(self, message: Message) -> str:
        base = self.paths(message)
        record = {"subject": message.subject, "to": message.to_emails, "cc": message.cc_emails,
                  "mention_mobiles": message.mention_mobiles,
                  "attachments": [str(p) for p in message.attachments], "meta": message.meta,
                  "written_at": datetime.now(TZ).isoformat(timespec="seconds")}
        files = {".txt": f"{message.subject}\n\n{message.text}", ".json": json.dumps(record, ensure_ascii=False, indent=2)}
        if message.html:
            files[".html"] = message.html
        if message.markdown:
            files[".md"] = message.markdown
        try:
            base.parent.mkdir(parents=True, exist_ok=True)
            for suffix, content in files.items():
                _atomic_write(base.with_name(base.name + suffix), content)
        except OSError as exc:
            raise self._error(f"写入发件箱失败 cannot write outbox {base.parent}: {exc.strerror}", retryable=True) from None
        return f"outbox: {base}.*"


def _atomic_write(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


# ----- configuration ----------------------------------------------------------------------------
def _webhook_url(conf: dict[str, Any], default_base: str, token_param: str) -> str:
    """A robot URL from a connection: extra.webhook_url, or host (a full URL or a host name) plus
    the key/token from password (or extra[token_param]) when the URL does not carry one."""
    extra = conf.get("extra") or {}
    url = str(extra.get("webhook_url") or "")
    host = str(conf.get("host") or "")
    if not url and host.lower().startswith(("http://", "https://")):
        url = host
    elif not url and host:
        scheme = conf.get("schema") or "https"
        if scheme not in ("http", "https"):
            scheme = "https"
        port = f":{conf['port']}" if conf.get("port") else ""
        url = f"{scheme}://{host}{port}{urlsplit(default_base).path}"
    elif not url:
        url = default_base
    token = conf.get("password") or extra.get(token_param)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if token and token_param not in query:
        query[token_param] = str(token)
    if token_param not in query:
        raise ValueError(f"webhook 缺少 {token_param} (在连接的 password 或 extra.{token_param} 中配置)")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _float(value: Any, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _bool(value: Any, default: bool) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off")
    return bool(value)


def channel_from_config(kind: str, conf: dict) -> Channel:
    """Build a channel from connection-like settings {host, port, login, password, schema, extra}.

    email:    host/port/login/password; extra: from_addr (or from_email), from_name, security
              (auto|ssl|starttls|none; or Airflow SMTP-style disable_ssl/disable_tls), timeout, verify_tls.
    wecom:    extra.webhook_url, or host + password (the key); extra: timeout, min_interval, rate_wait.
    dingtalk: extra.webhook_url, or host + password (access_token); extra.secret (加签 SEC…),
              extra.keyword (custom keyword security), text_limit, timeout, min_interval, rate_wait.
    outbox:   extra.path (or host).
    """
    conf = dict(conf or {})
    extra = conf.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
        conf["extra"] = extra
    pacing = {"timeout": _float(extra.get("timeout"), 10.0), "min_interval": _float(extra.get("min_interval"), 3.1),
              "rate_wait": _float(extra.get("rate_wait"), 61.0)}
    if kind in ("email", "smtp"):
        security = extra.get("security")
        if not security and "disable_ssl" in extra:
            security = ("ssl" if not _bool(extra.get("disable_ssl"), False)
                        else "none" if _bool(extra.get("disable_tls"), False) else "starttls")
        if not conf.get("host"):
            raise ValueError("email: 缺少 SMTP 服务器 host")
        return EmailChannel(str(conf["host"]), conf.get("port"), login=conf.get("login"), password=conf.get("password"),
                            from_addr=extra.get("from_addr") or extra.get("from_email"),
                            from_name=str(extra.get("from_name") or ""), security=str(security or "auto"),
                            timeout=_float(extra.get("timeout"), 30.0), verify_tls=_bool(extra.get("verify_tls"), True))
    if kind == "wecom":
        url = _webhook_url(conf, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "key")
        return WeComRobotChannel(url, **pacing)
    if kind == "dingtalk":
        url = _webhook_url(conf, "https://oapi.dingtalk.com/robot/send", "access_token")
        return DingTalkRobotChannel(url, extra.get("secret"), keyword=extra.get("keyword"),
                                    text_limit=int(_float(extra.get("text_limit"), DingTalkRobotChannel.TEXT_LIMIT)),
                                    **pacing)
    if kind == "outbox":
        path = extra.get("path") or conf.get("host")
        if not path:
            raise ValueError("outbox: 缺少目录 (extra.path)")
        return OutboxChannel(Path(path))
    raise ValueError(f"未知的通知渠道 (unknown channel kind): {kind!r}; 可用: email, wecom, dingtalk, outbox")


__all__ = ["Message", "DeliveryError", "Channel", "EmailChannel", "WeComRobotChannel", "DingTalkRobotChannel",
           "OutboxChannel", "channel_from_config", "mask_url", "scrub", "split_lines", "numbered_parts",
           "valid_mobiles"]
