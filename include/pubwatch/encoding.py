"""Decode fetched HTML/XML bytes to text without mojibake.

Chinese government portals are often GBK/GB2312 and frequently send a wrong or missing charset
header (a server default of utf-8 or ISO-8859-1 in front of a GBK page). So declarations are
*checked*, never trusted blindly:

1. a byte-order mark wins;
2. a strict UTF-8 decode that succeeds on a body with non-ASCII bytes wins (random GBK text is
   practically never valid UTF-8, while UTF-8 text often "decodes" as GBK garbage);
3. the header charset, then the <meta charset>/<meta http-equiv>/<?xml encoding?> declaration of
   the first 4 KB, each accepted only if it decodes strictly;
4. gb18030;
5. the candidate with the fewest decoding errors, decoded with replacement characters, if the
   errors are rare (a stray bad byte, or a character cut off by the fetcher's size cap);
6. charset_normalizer's guess (never a Latin-1-family one), else the step-5 text anyway.

gb2312/gbk/cp936 always decode as gb18030 (a superset; w3lib's rule), and Latin-1-family labels
(ISO-8859-1, windows-1252, ASCII) are never used for a body with non-ASCII bytes: on these sites
they are server defaults, and decoding Chinese bytes as Latin-1 is urlwatch's mojibake.
"""
from __future__ import annotations

import codecs
import re

__all__ = ["decode_html", "normalize_charset", "declared_charset"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32-le"),   # before UTF-16 LE: it shares the prefix
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
)
_GB_ALIASES = {"gb2312", "gbk", "cp936", "x-gbk", "gb_2312-80", "euc-cn", "csgb2312", "ms936",
               "windows-936", "hz-gb-2312", "chinese", "gb18030"}
_WEAK = {"latin-1", "iso8859-1", "cp1252", "ascii", "iso-8859-1", "windows-1252", "us-ascii"}
_META_RE = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_MAX_ERROR_RATE = 0.01     # replacement fallback accepted below 1 % bad characters


def normalize_charset(label: str | None) -> str | None:
    """Python codec name for a charset label; gb2312/gbk → gb18030; None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _GB_ALIASES:
        return "gb18030"
    if label in ("utf8", "utf-8", "unicode-1-1-utf-8"):
        return "utf-8"
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name in ("gbk", "gb2312", "gb18030"):
        return "gb18030"
    return name


def declared_charset(body: bytes) -> str | None:
    """The charset a page declares about itself in its first 4 KB (meta or XML declaration)."""
    head = body[:4096]
    m = _XML_RE.match(head) or _META_RE.search(head)
    return normalize_charset(m.group(1).decode("ascii", "ignore")) if m else None


def _strict(body: bytes, enc: str) -> str | None:
    try:
        return body.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_weak(enc: str) -> bool:
    return enc in _WEAK or enc.replace("_", "-") in _WEAK


def decode_html(body: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Decode a fetched page. Returns (text, python codec name used)."""
    for bom, codec, name in _BOMS:
        if body.startswith(bom):
            text = body.decode(codec, "replace")
            return text, name
    header = normalize_charset(header_charset)
    meta = declared_charset(body)
    declared = [c for c in dict.fromkeys((header, meta)) if c]
    if not _NON_ASCII.search(body):
        enc = next((c for c in declared if _strict(body, c) is not None), "utf-8")
        return body.decode(enc, "replace"), enc
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    candidates = [c for c in declared if c != "utf-8" and not _is_weak(c)]
    for enc in (*candidates, "gb18030"):
        text = _strict(body, enc)
        if text is not None:
            return text, enc
    text, enc, bad = _least_damaged(body, (*candidates, "gb18030", "utf-8"))
    if bad <= max(1, len(text) * _MAX_ERROR_RATE):
        return text, enc          # a stray bad byte or a character cut off at the size cap
    return _charset_normalizer_guess(body) or (text, enc)


def _charset_normalizer_guess(body: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset_normalizer ships with requests
        return None
    best = from_bytes(body[:200_000]).best()
    if best is None:
        return None
    enc = normalize_charset(best.encoding)
    if not enc or _is_weak(enc):
        return None
    text = _strict(body, enc)
    return (text, enc) if text is not None else None


def _least_damaged(body: bytes, encodings: tuple[str, ...]) -> tuple[str, str, int]:
    """Decode with replacement using the encoding that gives the fewest bad characters."""
    best: tuple[int, str, str] | None = None
    for enc in dict.fromkeys(encodings):
        text = body.decode(enc, "replace")
        bad = text.count("\ufffd")
        if best is None or bad < best[0]:
            best = (bad, text, enc)
    assert best is not None
    bad, text, enc = best
    return text, enc, bad
