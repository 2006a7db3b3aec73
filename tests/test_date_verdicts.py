"""Issue #15, end to end: what a wrong list date does to the weekly verdict and to the back-dating
flag — the real PortalColumn against a local 信息公开目录 page, the real store, crawls day by day,
the real rules.

The page is a 信息公开 table headed 序号 / 信息名称 / 发布机构 / 成文日期 / 发布日期. Read by position
(the first header matching 发布 was 发布机构, then the first date of the row: 成文日期), each post
moves into the previous week: W46, which had no post, was 达标 (false), W47, which had two, was
未达标 (false), and the post published on Friday was flagged as back-dated.
"""
from __future__ import annotations

import html
from datetime import datetime

from sqlalchemy import select

from httpfaults import FaultServer
from pubwatch import crawl as crawl_mod
from pubwatch.evaluate import evaluate_period
from pubwatch.http import Fetcher, FetchSettings
from pubwatch.store.models import Post
from pubwatch.periods import Period
from pubwatch.registry import SourceConfig, Unit
from pubwatch.types import PORTAL, TZ, Status

W46, W47 = Period.parse("2026-W46"), Period.parse("2026-W47")      # 9–15 Nov, 16–22 Nov 2026

# (slug, title, 成文日期, 发布日期, the crawl day from which the row is listed)
ROWS = [
    ("t20261120_2286954", "县教育局2026年学生资助政策宣传月活动实施方案", "2026-11-13", "2026-11-20", 20),
    ("t20261116_2286501", "县教育局关于公布秋季学期学校作息时间的通知", "2026-11-12", "2026-11-16", 16),
    ("t20261106_2285377", "县2026年农村义务教育学生营养改善计划实施情况公示", "2026-11-04", "2026-11-06", 0),
    ("t20261030_2284410", "县教育局2026年第三季度重点工作完成情况", "2026-10-27", "2026-10-30", 0),
]
CRAWL_DAYS = (9, 12, 16, 19, 20, 23)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=TZ)


def page(day: int) -> str:
    rows = [r for r in ROWS if r[4] <= day]
    body = "\n".join(
        f"<tr>\n<td>{i + 1}</td>\n<td class='mc'><a href='./{slug}.html' target='_blank' title='{html.escape(t)}'>"
        f"{html.escape(t)}</a></td>\n<td>县教育局</td>\n<td>{cw}</td>\n<td>{fb}</td>\n</tr>"
        for i, (slug, t, cw, fb, _) in enumerate(rows))
    return f"""<html><head><meta charset="utf-8"><title>法定主动公开内容_县教育局_某某县人民政府</title></head>
<body><div class="nav"><a href="/">首页</a> <a href="/xxgk/">政府信息公开</a></div>
<div class="dqwz">当前位置：<a href="/">首页</a> &gt; 县教育局 &gt; 法定主动公开内容</div>
<table class="xxgk-list" width="100%">
<tr class="head"><td>序号</td><td>信息名称</td><td>发布机构</td><td>成文日期</td><td>发布日期</td></tr>
{body}
</table><div class="footer">主办：某某县人民政府办公室</div></body></html>"""


def test_issuing_body_column_no_longer_moves_posts_into_the_previous_week(store):
    with FaultServer() as srv, Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0,
                                                     retries=0, respect_robots=False, timeout=5)) as fetcher:
        src = SourceConfig(id="jyj.portal.fdzdgknr", unit_id="jyj", channel=PORTAL, type="portal",
                           name="法定主动公开内容", url=srv.url("/xxgk/jyj/fdzdgknr/"), column_type="news")
        unit = Unit(id="jyj", name="县教育局", category="department", contacts=(), sources=(src,))
        store.sync_units([unit])
        for day in CRAWL_DAYS:
            srv.route("/xxgk/jyj/fdzdgknr/", body=page(day))
            report = crawl_mod.crawl_unit(store, unit, fetcher=fetcher, now=at(day))
            assert report.sources[0].outcome == "ok", report.sources[0]

    with store.Session() as s:
        rows = {p.title: p for p in s.scalars(select(Post))}
    for slug, title, _, published, _ in ROWS:
        assert rows[title].published_at.astimezone(TZ).date().isoformat() == published
        assert rows[title].date_suspicious is False, rows[title].evidence        # honest posts are not flagged

    verdicts = evaluate_period(store, [unit], W46, as_of=at(23, 12))
    w46 = next(v for v in verdicts if v.rule == "weekly" and v.channel == PORTAL)
    verdicts = evaluate_period(store, [unit], W47, as_of=at(23, 12))
    w47 = next(v for v in verdicts if v.rule == "weekly" and v.channel == PORTAL)
    assert w46.status is Status.MISSED and w46.count == 0                         # was 达标 (成文日期 11-12, 11-13)
    assert w47.status is Status.MET and w47.count == 2                            # was 未达标
