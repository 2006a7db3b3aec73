"""pubwatch.wechaturl: canonical URLs, titles, times, post keys and dedupe of WeChat items."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubwatch.sources.wechat import merge_items
from pubwatch.types import TZ, ListItem
from pubwatch.wechaturl import canonical_url, clean_title, dedupe_items, parse_time, post_key

BIZ = "https://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=2&sn=0f1e2d3c4b5a"


@pytest.mark.parametrize("raw", [
    "http://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=2&sn=0f1e2d3c4b5a&chksm=8b9c&scene=21#wechat_redirect",
    "https://mp.weixin.qq.com/s?sn=0f1e2d3c4b5a&idx=2&mid=2651234567&__biz=MzA5NDY3ODkyMA%3D%3D#rd",
    "https://MP.WEIXIN.QQ.COM/s?__biz=MzA5NDY3ODkyMA==&amp;mid=2651234567&amp;idx=2&amp;sn=0f1e2d3c4b5a&amp;utm_source=x",
    "  //mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=2&sn=0f1e2d3c4b5a&sharer_shareid=1&key=abc  ",
    "http://mp.weixin.qq.com/mp/appmsg/show?__biz=MzA5NDY3ODkyMA==&appmsgid=2651234567&itemidx=2&sign=0f1e2d3c4b5a#wechat_redirect",
])
def test_biz_form_is_canonicalised(raw):
    assert canonical_url(raw) == BIZ


def test_short_form_and_other_urls():
    assert canonical_url("http://mp.weixin.qq.com/s/3Yk2aQx9_b7LmNoPqRsTuv?scene=1#rd") == \
        "https://mp.weixin.qq.com/s/3Yk2aQx9_b7LmNoPqRsTuv"
    assert canonical_url("https://mp.weixin.qq.com/s/abc/") == "https://mp.weixin.qq.com/s/abc"
    assert canonical_url("https://www.example.gov.cn/a?b=1#c") == "https://www.example.gov.cn/a?b=1#c"
    # a biz link without idx gets idx=1 (a single-article send)
    assert canonical_url("https://mp.weixin.qq.com/s?__biz=X==&mid=1&sn=s") == \
        "https://mp.weixin.qq.com/s?__biz=X==&mid=1&idx=1&sn=s"


@given(st.sampled_from(["", "&chksm=1", "&scene=27", "&utm_medium=a&utm_source=b"]),
       st.sampled_from(["", "#rd", "#wechat_redirect"]), st.sampled_from(["http", "https"]))
def test_canonical_url_is_idempotent_and_ignores_noise(noise, frag, scheme):
    url = f"{scheme}://mp.weixin.qq.com/s?__biz=MzA5NDY3ODkyMA==&mid=2651234567&idx=2&sn=0f1e2d3c4b5a{noise}{frag}"
    assert canonical_url(url) == BIZ
    assert canonical_url(canonical_url(url)) == BIZ


def test_clean_title():
    assert clean_title("<em>民生</em>&nbsp;&nbsp;走访 &amp;amp; 慰问\n\t困难群众　") == "民生 走访 & 慰问 困难群众"
    assert clean_title("县卫健局开展&#34;世界防治结核病日&#34;") == '县卫健局开展"世界防治结核病日"'
    assert clean_title(None) == ""


@pytest.mark.parametrize("raw,expected,date_only", [
    ("Mon, 02 Mar 2026 18:30:00 +0800", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("Mon, 02 Mar 2026 10:30:00 GMT", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("Mon, 02 Mar 2026 18:30:00 ", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),        # we-mp-rss naive
    ("2026-03-02T10:30:00.000Z", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("2026-03-02 18:30", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("2026年3月2日 18:30", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("2026/3/2", datetime(2026, 3, 2, tzinfo=TZ), True),
    (1772447400, datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("1772447400000", datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    (date(2026, 3, 2), datetime(2026, 3, 2, tzinfo=TZ), True),
    (datetime(2026, 3, 2, 10, 30, tzinfo=timezone.utc), datetime(2026, 3, 2, 18, 30, tzinfo=TZ), False),
    ("", None, False), ("昨天", None, False), ("2026-13-40", None, False),
])
def test_parse_time(raw, expected, date_only):
    when, only = parse_time(raw)
    assert when == expected and only is date_only
    if when is not None:
        assert when.utcoffset().total_seconds() == 8 * 3600


def item(title, url, when, **extra):
    return ListItem(title=title, url=url, published=when, extra=extra)


T = datetime(2026, 3, 2, 18, 30, 12, tzinfo=TZ)


def test_post_key_needs_a_real_time():
    assert post_key(item("县局 开会", BIZ, T)) == post_key(item("县局  开会", "x", T.replace(second=55)))
    assert post_key(item("a", BIZ, None)) is None
    assert post_key(item("a", BIZ, T, date_only=True)) is None


def test_edited_post_keeps_earliest_time_and_latest_title():
    first = item("原标题", BIZ + "&chksm=1#rd", T)
    edited = item("修改后标题", BIZ, T.replace(hour=20))
    [merged] = dedupe_items([edited, first])
    assert merged.url == BIZ and merged.title == "修改后标题" and merged.published == T


def test_same_article_in_biz_and_short_form_is_one_post():
    short = item("县民政局走访慰问", "https://mp.weixin.qq.com/s/Mz9mZmKt0r4Xy", T.replace(second=0))
    biz = item("县民政局走访慰问", BIZ, T)
    [merged] = merge_items([[short], [biz]])
    assert merged.url == BIZ                                       # the stable form wins
    assert set(merged.extra["urls"]) == {BIZ, "https://mp.weixin.qq.com/s/Mz9mZmKt0r4Xy"}


def test_different_posts_stay_apart():
    a = item("同一标题", "https://mp.weixin.qq.com/s/a", T)
    b = item("同一标题", "https://mp.weixin.qq.com/s/b", T.replace(day=3))      # same title, another day
    c = item("另一篇", "https://mp.weixin.qq.com/s/c", T)                         # same minute, another title
    undated = item("同一标题", "https://mp.weixin.qq.com/s/d", None)              # cannot tell: kept apart
    assert len(dedupe_items([a, b, c, undated])) == 4


def test_an_item_bridging_two_groups_folds_them():
    by_url = item("旧标题", "https://mp.weixin.qq.com/s/short1", T)
    by_key = item("新标题", BIZ, T.replace(hour=21))
    bridge = item("新标题", "https://mp.weixin.qq.com/s/short1", T.replace(hour=21))   # same URL as 1st, key as 2nd
    merged = dedupe_items([by_url, by_key, bridge])
    assert len(merged) == 1 and merged[0].published == T and merged[0].title == "新标题"


def test_date_only_item_merges_by_url_and_exact_time_wins():
    day = item("标题", BIZ, datetime(2026, 3, 2, tzinfo=TZ), date_only=True)
    exact = item("标题", BIZ, T)
    [merged] = dedupe_items([day, exact])
    assert merged.published == T and "date_only" not in merged.extra
