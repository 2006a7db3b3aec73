"""Crawled text as it may be stored and shown: one place for the characters that must go.

- bidi overrides (U+202A–202E, U+2066–2069, LRM/RLM): a crawled title must not visually reorder a
  page or a notice;
- NUL and the other C0/C1 controls (PostgreSQL refuses U+0000 in text; the rest are invisible noise).
"""
from __future__ import annotations

import re

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def strip_bidi(value: str) -> str:
    return BIDI_CONTROLS.sub("", value)


def clean_text(value: str | None) -> str:
    """No NUL or other control characters, no bidi overrides, line breaks and tabs folded into spaces."""
    if not value:
        return ""
    return " ".join(strip_bidi(_CONTROL.sub("", str(value))).split())


__all__ = ["BIDI_CONTROLS", "strip_bidi", "clean_text"]
