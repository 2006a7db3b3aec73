"""Property-based tests (hypothesis) for what test_dates / test_periods / test_wechaturl do not
already cover: arbitrary text into find_date, period keys round-tripping and tiling, and the notice
ledger under any interleaving of concurrent senders."""
from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from pubwatch.dates import find_date, scan_date
from pubwatch.periods import KINDS, Period
from pubwatch.types import TZ
from pubwatch.wechaturl import canonical_url

days = st.dates(min_value=date(2004, 1, 1), max_value=date(2035, 12, 31))


# ---------------------------------------------------------------------------------------- dates
DATE_ALPHABET = "0123456789-/.年月日 []()（）：:发布时间T+"


@given(text=st.text(alphabet=DATE_ALPHABET, max_size=40), ref=days)
@settings(max_examples=500, deadline=None)
def test_find_date_on_any_text_never_invents_a_future_yearless_date(text, ref):
    """Whatever the text, a date without a stated year is never placed after reference + 1 day,
    and a date with a stated year is exactly what the text says (never shifted)."""
    found = find_date(text, ref)
    if found is None:
        return
    assert found.tzinfo is not None and found.utcoffset() == TZ.utcoffset(found.replace(tzinfo=None))
    match = scan_date(text)
    assert match is not None
    if match.year is None:
        assert found.date() <= ref + timedelta(days=1)
    else:
        assert found.year == match.year and (found.month, found.day) == (match.month, match.day)


@given(d=days, ref=days, noise=st.text(alphabet="关于开展通知公告 ", max_size=12))
@settings(max_examples=200, deadline=None)
def test_iso_date_with_surrounding_title_round_trips(d, ref, noise):
    assert find_date(f"{noise}{d.isoformat()}{noise}", ref).date() == d


# ---------------------------------------------------------------------------------------- periods
@given(d=days, kind=st.sampled_from(KINDS))
def test_parse_of_key_round_trips(d, kind):
    p = Period.of(kind, d)
    assert Period.parse(p.key) == p
    assert Period.parse(str(p)) == p
    assert p.next().previous() == p and p.previous().next() == p


@given(year=st.integers(2004, 2035))
def test_weeks_tile_the_iso_year_and_months_tile_the_calendar_year(year):
    weeks = []
    w = Period.parse(f"{year}-W01")
    while w.key.startswith(f"{year}-W"):
        weeks.append(w)
        w = w.next()
    assert len(weeks) == date(year, 12, 28).isocalendar()[1]          # 52 or 53
    for a, b in zip(weeks, weeks[1:]):
        assert b.start == a.end + timedelta(days=1)                   # no gap, no overlap
    assert all(x.days == 7 and x.start.weekday() == 0 for x in weeks)
    y = Period.parse(str(year))
    months = [Period.parse(f"{year}-{m:02d}") for m in range(1, 13)]
    quarters = [Period.parse(f"{year}-Q{q}") for q in range(1, 5)]
    for parts in (months, quarters):
        assert parts[0].start == y.start and parts[-1].end == y.end
        assert sum(p.days for p in parts) == y.days
        assert all(b.start == a.end + timedelta(days=1) for a, b in zip(parts, parts[1:]))


@given(d=days)
def test_period_boundaries_are_shanghai_midnights(d):
    for kind in KINDS:
        p = Period.of(kind, d)
        assert p.start_dt.tzinfo is not None and p.start_dt.astimezone(TZ).hour == 0
        assert p.contains(p.start_dt) and not p.contains(p.end_dt)
        assert p.contains(p.end_dt - timedelta(microseconds=1))


# ---------------------------------------------------------------------------------------- wechat URLs
@given(sn=st.text(alphabet="0123456789abcdef", min_size=8, max_size=32),
       mid=st.integers(1, 2**31), idx=st.integers(1, 8),
       biz=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=", min_size=8, max_size=16),
       order=st.permutations(["__biz", "mid", "idx", "sn"]))
def test_canonical_url_ignores_parameter_order(sn, mid, idx, biz, order):
    values = {"__biz": biz, "mid": str(mid), "idx": str(idx), "sn": sn}
    a = "https://mp.weixin.qq.com/s?" + "&".join(f"{k}={values[k]}" for k in ["__biz", "mid", "idx", "sn"])
    b = "http://mp.weixin.qq.com/s?" + "&".join(f"{k}={values[k]}" for k in order) + "&chksm=ab&scene=27#rd"
    assert canonical_url(a) == canonical_url(b) == canonical_url(canonical_url(b))


# ---------------------------------------------------------------------------------------- ledger
_STORE = {}


def _ledger():
    """One migrated SQLite store for all examples (hypothesis cannot use function fixtures);
    each example uses its own period key, so examples never see each other's rows."""
    from pubwatch.notices.ledger import Ledger
    from pubwatch.store import Store, upgrade

    if "ledger" not in _STORE:
        path = Path(tempfile.mkdtemp(prefix="pubwatch-prop-")) / "ledger.db"
        upgrade(f"sqlite:///{path}")
        _STORE["store"] = Store(f"sqlite:///{path}")
        _STORE["ledger"] = Ledger(_STORE["store"])
    return _STORE["ledger"]


# A worker's life: ensure the row, try to claim it, then the send either works or fails.
schedules = st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), min_size=1, max_size=40)
_counter = iter(range(10**9))


@given(schedule=schedules)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_interleaving_of_senders_delivers_at_most_once(schedule):
    """Four workers (two runs racing, a retry, a rerun) step through ensure → claim → send →
    mark_sent / mark_failed in any order. Never two deliveries, never two holders of `sending`,
    and once delivered the row stays sent."""
    from pubwatch.notices.ledger import SENDING, SENT, NoticeKey

    ledger = _ledger()
    key = NoticeKey("u1", f"P{next(_counter)}", "overdue", "email")
    state = {w: "new" for w in range(4)}           # new → ensured → claimed → (back to ensured after a failure)
    row_id: dict[int, int] = {}
    delivered = 0
    for worker, succeed, retryable in schedule:
        phase = state[worker]
        if phase == "new":
            row_id[worker] = ledger.ensure(key, recipients="x@y.cn", subject="s", run_id=f"w{worker}").id
            state[worker] = "ensured"
        elif phase == "ensured":
            if ledger.claim(row_id[worker]):
                holders = [w for w, p in state.items() if p == "claimed"]
                assert holders == [], "two workers sending the same notice at once"
                state[worker] = "claimed"
        elif phase == "claimed":
            if succeed:
                delivered += 1
                ledger.mark_sent(row_id[worker], "250 OK")
                state[worker] = "done"
            else:
                ledger.mark_failed(row_id[worker], "421 try later", retryable=retryable)
                state[worker] = "ensured"
        rows = ledger.rows(period=key.period)
        assert len(rows) == 1                                  # one row per (unit, period, kind, channel)
        assert delivered <= 1
        if delivered:
            assert rows[0].status == SENT
        if any(p == "claimed" for p in state.values()):
            assert rows[0].status == SENDING
    assert delivered <= 1


# ---------------------------------------------------------------------------------------- list dates (#15)
from pubwatch.dates import plausible  # noqa: E402
from pubwatch.sources.listparse import parse_list  # noqa: E402

REF = date(2026, 11, 25)
recent = st.dates(min_value=date(2019, 1, 1), max_value=REF)


@given(order=st.permutations(["序号", "索引号", "信息名称", "发布机构", "成文日期", "发布日期"]),
       rows=st.lists(st.tuples(recent, st.integers(0, 40)), min_size=1, max_size=6),
       fmt=st.sampled_from(["{d:%Y-%m-%d}", "{d:%Y年%m月%d日}", "{d:%Y/%m/%d}"]), newline=st.booleans())
@settings(max_examples=150, deadline=None)
def test_table_columns_in_any_order_give_the_publication_date(order, rows, fmt, newline):
    """Whatever the column order, a 信息公开 row is dated by 发布日期 — never 成文日期 or 发布机构."""
    sep = "\n" if newline else ""
    body = []
    for i, (pub, lag) in enumerate(rows):
        cells = {"序号": str(i + 1), "索引号": f"11620523013857123X/{pub.year}-{i:05d}",
                 "信息名称": f"<a href='/a{i}.html'>县教育局关于做好第{i}项重点工作的通知</a>",
                 "发布机构": "县教育局", "成文日期": fmt.format(d=pub - timedelta(days=lag)), "发布日期": fmt.format(d=pub)}
        body.append("<tr>" + sep.join(f"<td>{cells[c]}</td>" for c in order) + "</tr>")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in order) + "</tr>"
    parsed = parse_list(f"<table class='xxgk'>{head}{''.join(body)}</table>", "http://x.gov.cn/xxgk/", reference=REF)
    assert [i.published.date() for i in parsed.items] == [pub for pub, _ in rows]


@given(day=recent, others=st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
                                    min_size=1, max_size=3),
       style=st.sampled_from(["{d.year}年{d.month}月{d.day}日", "{d:%Y-%m-%d}", "{d.month}月{d.day}日",
                              "报名时间：{d:%Y-%m-%d}", "截止日期：{d:%Y年%m月%d日}"]),
       box=st.sampled_from(['<div class="date"><span>{d:%d}</span><em>{d:%Y-%m}</em></div>',
                            '<span class="time">{d:%Y-%m-%d}</span>', '<span>{d:%Y-%m-%d}</span>']))
@settings(max_examples=150, deadline=None)
def test_summary_dates_never_date_a_news_card(day, others, style, box):
    summary = "，".join(f"{style.format(d=o)}开展第{k}阶段工作" for k, o in enumerate(others))
    cards = "".join(f"<li><h3><a href='/c{i}.html'>县农业农村局开展冬季动物防疫技术培训第{i}期</a></h3>"
                    f"<p>{summary}，要求各乡镇提高站位、压实责任、确保实效。</p>{box.format(d=day)}</li>" for i in range(3))
    parsed = parse_list(f"<ul class='news'>{cards}</ul>", "http://x.gov.cn/a/", reference=REF)
    assert [i.published.date() for i in parsed.items] == [day] * 3


@given(stamps=st.lists(st.dates(min_value=date(1900, 1, 1), max_value=date(2040, 12, 31)), min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_a_parsed_list_never_states_an_implausible_date(stamps):
    lis = "".join(f"<li><a href='/a{i}.html'>县政府召开常务会议研究部署第{i}项工作</a><span>{d:%Y-%m-%d}</span></li>"
                  for i, d in enumerate(stamps))
    parsed = parse_list(f"<ul class='list'>{lis}</ul>", "http://x.gov.cn/a/", reference=REF)
    if not parsed.is_list:                     # every date implausible: the page dates nothing
        assert not any(plausible(d, REF) for d in stamps) and parsed.notes
        return
    assert all(i.published is None or plausible(i.published, REF) for i in parsed.items)
    assert [i.published.date() if i.published else None for i in parsed.items] == [
        d if plausible(d, REF) else None for d in stamps]
