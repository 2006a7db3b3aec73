"""The outbox: every notice written to files — dry runs, the demo, previews, an audit copy.

Writes <root>/<period>/<unit>-<kind>.{txt,html,md,json}. Nothing leaves the machine, so a notice
that only reached the outbox is never reported as sent to anybody.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path

from pydantic import Field

from ...types import TZ
from .base import Channel, ChannelOptions, Message

_NAME_RE = re.compile(r"[^\w.-]+")


class OutboxOptions(ChannelOptions):
    path: str = Field(min_length=1)


def _safe_name(value: str, default: str) -> str:
    name = _NAME_RE.sub("_", str(value or "")).strip("._")
    return name[:80] or default


class OutboxChannel(Channel, kind="outbox"):
    label = "发件箱(未发送)"
    sends = False
    Options = OutboxOptions

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @classmethod
    def from_config(cls, conf) -> "OutboxChannel":
        conf = dict(conf or {})
        if conf.get("host") and not (conf.get("extra") or {}).get("path"):
            conf["extra"] = {**(conf.get("extra") or {}), "path": conf["host"]}
        return super().from_config(conf)

    @classmethod
    def from_options(cls, options: OutboxOptions) -> "OutboxChannel":
        return cls(Path(options.path))

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
