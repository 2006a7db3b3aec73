"""企业微信群机器人 (WeCom group robot): markdown parts, then a text message that @mentions by mobile.

WeCom markdown content is at most 4096 bytes (UTF-8), text content at most 2048 bytes; markdown
cannot @mention by mobile number, so mentions go in a follow-up "text" message with
mentioned_mobile_list.
"""
from __future__ import annotations

from typing import Any

from .base import Message, numbered_parts, split_lines, utf8_len, valid_mobiles
from .webhook import WebhookChannel, WebhookOptions, webhook_url


class WeComOptions(WebhookOptions):
    key: str | None = None                    # the webhook key, when not in password or the URL


class WeComRobotChannel(WebhookChannel, kind="wecom"):
    label = "企业微信"
    default_conn_id = "pubwatch_wecom"
    Options = WeComOptions
    DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    MARKDOWN_LIMIT = 4096        # bytes, UTF-8
    TEXT_LIMIT = 2048            # bytes, UTF-8
    retryable_codes = frozenset({-1, 45009, 45033})     # system busy, frequency limit, concurrency
    rate_limit_codes = frozenset({45009})

    def __init__(self, url: str, *, markdown_limit: int = MARKDOWN_LIMIT, **kwargs: Any):
        super().__init__(url, **kwargs)
        self.markdown_limit = markdown_limit

    @classmethod
    def from_options(cls, options: WeComOptions) -> "WeComRobotChannel":
        return cls(webhook_url(options, cls.DEFAULT_URL, "key", options.key), **cls.pacing(options))

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
