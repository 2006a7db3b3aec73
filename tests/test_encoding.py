"""decode_html on real GBK / UTF-8 bytes with right, wrong and missing declarations."""
from __future__ import annotations

import codecs

import pytest

from pubwatch.encoding import declared_charset, decode_html, normalize_charset

TITLE = "关于做好2026年冬季森林防火工作的通知"
# "镕" and "堃" are outside GB2312 but inside GBK/GB18030: decoding as gb2312 would fail
RARE = "朱镕基 王堃 𠮷"


def page(charset_decl: str, body_text: str = TITLE) -> str:
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset_decl}">'
            f"<title>{body_text}</title></head><body><ul><li><a href='/a.html'>{body_text}</a>"
            f"<span>2026-11-20</span></li></ul></body></html>")


def test_gbk_page_with_meta_and_no_header():
    raw = page("gb2312").encode("gbk")
    text, enc = decode_html(raw)
    assert enc == "gb18030"
    assert TITLE in text


def test_gbk_page_behind_a_wrong_utf8_header():
    raw = page("gbk").encode("gbk")
    text, enc = decode_html(raw, "utf-8")
    assert enc == "gb18030"
    assert TITLE in text


@pytest.mark.parametrize("header", ["ISO-8859-1", "iso-8859-1", "latin1", "windows-1252", "us-ascii"])
def test_latin1_header_never_produces_mojibake(header):
    raw = page("gb2312").encode("gbk")
    text, enc = decode_html(raw, header)
    assert enc == "gb18030"
    assert TITLE in text


def test_gbk_page_without_any_declaration():
    raw = f"<html><body><a href='/x'>{TITLE}</a>{TITLE * 3}</body></html>".encode("gbk")
    text, enc = decode_html(raw, "ISO-8859-1")
    assert enc == "gb18030"
    assert TITLE in text


def test_gbk_only_characters_decode_via_gb18030():
    raw = page("gb2312", RARE.replace(" 𠮷", "")).encode("gbk")
    text, _ = decode_html(raw)
    assert "朱镕基" in text and "王堃" in text


def test_gb18030_four_byte_characters():
    raw = page("gb18030", RARE).encode("gb18030")
    text, enc = decode_html(raw, "gbk")
    assert enc == "gb18030"
    assert "𠮷" in text


def test_utf8_page_behind_a_wrong_gbk_header_and_meta():
    raw = page("gb2312").encode("utf-8")
    text, enc = decode_html(raw, "gbk")
    assert enc == "utf-8"
    assert TITLE in text


def test_utf8_with_correct_header():
    raw = page("utf-8").encode("utf-8")
    assert decode_html(raw, "UTF-8") == (raw.decode("utf-8"), "utf-8")


def test_utf8_bom_wins_over_a_gbk_declaration():
    raw = codecs.BOM_UTF8 + page("gbk").encode("utf-8")
    text, enc = decode_html(raw, "gbk")
    assert enc == "utf-8"
    assert text.startswith("<html>") and TITLE in text


def test_utf16_bom():
    raw = codecs.BOM_UTF16_LE + page("utf-16").encode("utf-16-le")
    text, enc = decode_html(raw)
    assert enc == "utf-16-le" and TITLE in text


def test_html5_meta_charset_and_xml_declaration():
    html5 = f'<!doctype html><meta charset="GBK"><p>{TITLE}</p>'.encode("gbk")
    assert declared_charset(html5) == "gb18030"
    xml = f'<?xml version="1.0" encoding="GB2312"?><datastore><record>{TITLE}</record></datastore>'.encode("gbk")
    text, enc = decode_html(xml)
    assert enc == "gb18030" and TITLE in text


def test_gbk_body_truncated_mid_character_keeps_the_text():
    raw = page("gbk").encode("gbk") + "更多内容".encode("gbk")[:-1]   # cut in the last character
    text, enc = decode_html(raw, None)
    assert enc == "gb18030"
    assert TITLE in text and "更多内" in text


def test_one_stray_bad_byte_in_a_gbk_page_keeps_the_text():
    good = page("gbk", TITLE * 20).encode("gbk")
    raw = good[:300] + b"\xff" + good[300:]
    text, enc = decode_html(raw, "text/html")
    assert enc == "gb18030"
    assert TITLE in text


def test_pure_ascii_uses_the_declaration():
    raw = b"<html><head><meta charset='gbk'></head><body>ok</body></html>"
    assert decode_html(raw) == (raw.decode("ascii"), "gb18030")
    assert decode_html(b"<p>ok</p>") == ("<p>ok</p>", "utf-8")


def test_unknown_labels_are_ignored():
    raw = page("x-made-up").encode("gbk")
    text, enc = decode_html(raw, "bogus-charset")
    assert enc == "gb18030" and TITLE in text


@pytest.mark.parametrize("label,expected", [
    ("GB2312", "gb18030"), ("gbk", "gb18030"), ("cp936", "gb18030"), ("x-gbk", "gb18030"),
    ("UTF8", "utf-8"), ("utf-8", "utf-8"), ("big5", "big5"), ("nonsense", None), (None, None),
])
def test_normalize_charset(label, expected):
    assert normalize_charset(label) == expected
