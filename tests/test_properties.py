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
