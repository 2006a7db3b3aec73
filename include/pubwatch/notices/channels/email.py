"""E-mail over SMTP: plain text + HTML alternatives, a UTF-8 subject and attachments (RFC 2231 names).

security: "ssl" (implicit TLS, port 465), "starttls", "none", or "auto" (465 → ssl, otherwise
STARTTLS when the server offers it). Airflow SMTP-style extras (disable_ssl / disable_tls,
from_email) are understood too, so an existing smtp connection can be reused.
"""
from __future__ import annotations

import logging
import mimetypes
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field, model_validator

from .base import Channel, ChannelOptions, Message

log = logging.getLogger(__name__)


class EmailOptions(ChannelOptions):
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)
    login: str | None = None
    password: str | None = None
    from_addr: str | None = None
    from_email: str | None = None             # Airflow's SMTP connection spelling of from_addr
    from_name: str = ""
    security: Literal["auto", "ssl", "starttls", "none"] | None = None
    disable_ssl: bool | None = None           # Airflow SMTP-style: false → implicit TLS
    disable_tls: bool = False                 # Airflow SMTP-style: with disable_ssl, no STARTTLS either
    timeout: float = Field(default=30.0, gt=0)
    verify_tls: bool = True

    @model_validator(mode="after")
    def _airflow_style_security(self) -> "EmailOptions":
        if self.security is None:
            security = "auto"
            if self.disable_ssl is not None:
                security = "ssl" if not self.disable_ssl else "none" if self.disable_tls else "starttls"
            object.__setattr__(self, "security", security)
        return self


class EmailChannel(Channel, kind="email"):
    label = "邮件"
    default_conn_id = "pubwatch_smtp"
    Options = EmailOptions

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

    @classmethod
    def from_options(cls, options: EmailOptions) -> "EmailChannel":
        return cls(options.host, options.port, login=options.login, password=options.password,
                   from_addr=options.from_addr or options.from_email, from_name=options.from_name,
                   security=str(options.security), timeout=options.timeout, verify_tls=options.verify_tls)

    @classmethod
    def reaches(cls, emails: Iterable[str], mobiles: Iterable[str]) -> bool:
        return any(emails)

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
        transfer = _Transfer()
        try:
            smtp = self._connect()
            refused = self._transfer(smtp, msg, recipients, transfer)
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
            if transfer.payload_sent:
                # The message went out after DATA but the server's answer never came: it may well be
                # queued. Sending again could deliver it twice, so a person decides.
                raise self._error(f"邮件内容已发出但未收到服务器确认 (no reply after DATA) {self.host}:{self.port}: "
                                  f"{type(exc).__name__}: {exc}", retryable=False, ambiguous=True) from None
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

    def _transfer(self, smtp: smtplib.SMTP, msg: EmailMessage, recipients: list[str],
                  transfer: "_Transfer") -> dict[str, tuple[int, bytes]]:
        """MAIL, RCPT, DATA as smtplib.sendmail does, noting the moment the payload leaves: a failure
        before it is a clean failure, one after it is ambiguous (the server may have queued it)."""
        international = any(not addr.isascii() for addr in [self.from_addr, *recipients])
        if international and not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("服务器不支持 SMTPUTF8, 无法投递到非 ASCII 邮箱地址")
        policy = msg.policy.clone(linesep="\r\n", utf8=international)
        payload = msg.as_bytes(policy=policy)
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        code, resp = smtp.mail(self.from_addr, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, self.from_addr)
        refused: dict[str, tuple[int, bytes]] = {}
        for rcpt in recipients:
            code, resp = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, resp)
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        smtp.putcmd("data")
        code, resp = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, resp)
        data = re.sub(rb"(?m)^\.", b"..", payload)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        transfer.payload_sent = True          # from here on the server may have the whole message
        smtp.send(data + b".\r\n")
        code, resp = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)   # the server answered: a clear rejection
        return refused


class _Transfer:
    payload_sent = False


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error)[:200]
