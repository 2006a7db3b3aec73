"""Only http(s) URLs exist: crawled hrefs are normalised, and anything else is no link at all."""
import pytest

from pubwatch.notices.render import md_link, safe_url
from pubwatch.urls import http_url


@pytest.mark.parametrize("raw", [
    "javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)", "java&#9;script:alert(1)",
    "java&amp;#9;script:alert(1)", "\x00javascript:alert(1)", " javascript:alert(1)", "jav&#x0A;ascript:x",
    "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox", "file:///etc/passwd", "mailto:a@b.cn",
    "//evil.example/x", "/relative/path.html", "http://", "https:///nohost", "", None,
])
def test_anything_but_http_is_no_link(raw):
    assert http_url(raw) == "" and safe_url(raw) == ""
    assert md_link("标题", raw) == "标题"


@pytest.mark.parametrize("raw, clean", [
    ("http://www.example.gov.cn/a.html", "http://www.example.gov.cn/a.html"),
    ("  https://mp.weixin.qq.com/s/abc \n", "https://mp.weixin.qq.com/s/abc"),
    ("https://x.gov.cn/a?b=1&amp;c=2", "https://x.gov.cn/a?b=1&c=2"),
    ("ht\ttp://x.gov.cn/\u200ba", "http://x.gov.cn/a"),
    ("http://x.gov.cn/a b.html", "http://x.gov.cn/a%20b.html"),
])
def test_http_links_are_normalised(raw, clean):
    assert http_url(raw) == clean
