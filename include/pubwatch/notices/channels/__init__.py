"""Delivery channels: one kind a module (email, wecom, dingtalk, outbox), registered by its class.

A new channel kind = one new module with a `Channel` subclass (`kind=`, label, default connection,
Options) + one import line below. Everything else — units.yaml validation, the DAG glue's
connections, the board's labels, who a notice can reach — asks `Channel.kinds()`.

Secrets (SMTP password, webhook key, DingTalk access token and signing secret) never appear in a
receipt, an exception text, a repr or a log line (`pubwatch.secrets`).
"""
from __future__ import annotations

from typing import Any, Mapping

from ...secrets import mask as mask_url
from ...secrets import scrub
from .base import (Channel, ChannelOptions, DeliveryError, Message, numbered_parts, split_lines, utf8_len,
                   valid_mobiles)
from .dingtalk import DingTalkRobotChannel
from .email import EmailChannel
from .outbox import OutboxChannel
from .wecom import WeComRobotChannel


def channel_kinds() -> dict[str, type[Channel]]:
    """Every channel kind by name (email, wecom, dingtalk, outbox, …)."""
    return Channel.kinds()


def channel_label(kind: str) -> str:
    """A channel's Chinese label as its class declares it (the kind itself when unknown)."""
    cls = Channel.kinds().get(kind)
    return cls.label if cls is not None else kind


def channel_from_config(kind: str, conf: Mapping[str, Any] | None) -> Channel:
    """Build a channel of `kind` from connection-like settings {host, port, login, password, schema,
    extra}; ValueError names the bad field (never its value)."""
    return Channel.of_kind("email" if kind == "smtp" else kind).from_config(conf)


__all__ = ["Message", "DeliveryError", "Channel", "ChannelOptions", "EmailChannel", "WeComRobotChannel",
           "DingTalkRobotChannel", "OutboxChannel", "channel_kinds", "channel_label", "channel_from_config", "mask_url", "scrub",
           "split_lines", "numbered_parts", "valid_mobiles", "utf8_len"]
