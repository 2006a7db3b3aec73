"""钉钉群机器人 (DingTalk group robot) with 加签: markdown parts, @mobiles in the first part.

DingTalk documents no markdown length limit; we split at 5000 characters (text_limit). The
signature is HMAC-SHA256 of "timestamp\\nsecret", base64, URL-encoded, sent with the timestamp.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, Callable
from urllib.parse import quote_plus, urlsplit

from pydantic import Field

from ...secrets import mask
from .base import Message, numbered_parts, valid_mobiles
from .webhook import WebhookChannel, WebhookOptions, webhook_url


class DingTalkOptions(WebhookOptions):
    access_token: str | None = None           # when not in password or the URL
    secret: str | None = None                 # 加签 secret (SEC…)
    keyword: str | None = None                # custom-keyword security: appended when missing
    text_limit: int = Field(default=5000, ge=200)


class DingTalkRobotChannel(WebhookChannel, kind="dingtalk"):
    label = "钉钉"
    default_conn_id = "pubwatch_dingtalk"
    Options = DingTalkOptions
    DEFAULT_URL = "https://oapi.dingtalk.com/robot/send"
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

    @classmethod
    def from_options(cls, options: DingTalkOptions) -> "DingTalkRobotChannel":
        url = webhook_url(options, cls.DEFAULT_URL, "access_token", options.access_token)
        return cls(url, options.secret, keyword=options.keyword, text_limit=options.text_limit,
                   **cls.pacing(options))

    def __repr__(self) -> str:
        return f"DingTalkRobotChannel(url={mask(self._url)!r}, signed={bool(self._secret)})"

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
