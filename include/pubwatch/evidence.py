"""Evidence the office can defend: back-dated posts, bursts (突击更新) and site availability.

Three findings, none of which ever turns a verdict into "missed" (they are shown beside it):

1. **Back-dated posts** (伪造发稿日期 is a national veto item). After an OK crawl of a source, each
   post first seen by that crawl is compared with the newest earlier OK crawl of the same source
   that *would have listed it*. A crawl "would have listed" a post when it returned items and the
   post's stated date is not older than the oldest post that crawl saw (the posts first seen at or
   before the crawl and still seen at or after it). If the stated time is earlier than that crawl's
   start minus `backdate_grace_hours` (CMS publishing delays), the post is flagged
   `date_suspicious` with evidence {"kind": "backdated", "stated", "first_seen",
   "previous_ok_crawl", "hours_early", ...}. A date without a time (00:00) is read as the end of
   that day — the benefit of the doubt goes to the unit. The post is never dropped; whether it
   counts is the policy's `count_suspicious` (default: it counts, with the flag shown).
   Not flagged, to avoid false accusations: pinned posts; posts whose title and date match an
   already-known post (the site changed its URLs); every post of an attempt that re-lists most
   of the column under new URLs (a site migration, logged for the admin).
2. **Bursts**: at least `burst_min_posts` new posts first seen in one crawl of a source that had no
   new post for at least `burst_quiet_days` → a finding stored on each post's evidence under
   "burst", with "after_notice" naming the overdue notice (通报) sent to the unit shortly before.
   Only when the previous OK crawl is at most `burst_window_hours` old: after our own outage,
   honest posts pile up and would look like a burst.
   Both checks apply to portal columns only: WeChat publish times are set by WeChat's servers (they
   cannot be back-dated), and a feed bridge catching up after an outage lists days of posts at once.
3. **Availability** the way inspectors measure it (站点无法访问: 每天20次以上, ≥15秒打不开的占比≥5%):
   `probe_unit` records one kind="probe" attempt per portal column; `availability` counts probes
   and crawl attempts of portal columns over a period. WAF blocks are reported separately and are
   not failures. The cadence rules read kind="crawl" attempts only, so probes never verify a
   week and never make one missed.

Pure library: no Airflow. Times in the database are UTC; sentences are written in Asia/Shanghai.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta, timezone
from typing import Any, Mapping, Sequence

from pydantic import ConfigDict, Field

from .options import OptionError, Options, check_options
from .periods import Period
from .registry import Registry, SourceConfig, Unit
from .store import PostRecord, Store
from .types import PORTAL, TZ, Outcome

log = logging.getLogger(__name__)

BACKDATED = "backdated"
KIND_DATE = "date_suspicious"
KIND_BURST = "burst"
KIND_AVAILABILITY = "availability"


# ============================================================================ settings
class EvidenceSettings(Options):
    """Thresholds; units.yaml may override them under a top-level `evidence:` mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backdate_grace_hours: float = Field(24.0, ge=0)    # CMS publishing delay allowed before a date is suspicious
    backdate_lookback_days: int = Field(60, ge=0)      # earlier OK crawls considered as "would have listed it"
    burst_min_posts: int = Field(3, ge=0)              # new posts in one crawl ...
    burst_quiet_days: float = Field(14.0, ge=0)        # ... after this long without a new post
    burst_window_hours: float = Field(72.0, ge=0)      # ... and only if the previous OK crawl was this recent
    notice_lookback_days: float = Field(14.0, ge=0)    # an overdue notice sent this long before a burst is named
    relist_min_posts: int = Field(10, ge=0)            # an attempt with this many new posts ...
    relist_share: float = Field(0.8, ge=0)             # ... making up this share of the list is a re-listing
    probe_timeout: float = Field(15.0, ge=0)           # 超过(含)15秒打不开 = failure
    availability_threshold: float = Field(0.05, ge=0)  # 占比超过(含)5% = problem
    availability_min_samples: int = Field(20, ge=0)    # fewer samples than this in the period: no problem claimed

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "EvidenceSettings":
        """Build from units.yaml `evidence:`; OptionError (a ValueError) names the field: "evidence.probe_timeout: …"."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise OptionError("evidence", f"应为映射: {data!r}")
        try:
            return check_options(cls, data)
        except OptionError as exc:
            raise OptionError(f"evidence.{exc.field}", exc.message) from None

    @classmethod
    def from_registry(cls, registry: Registry | None) -> "EvidenceSettings":
        return cls.from_mapping((registry.settings if registry else {}).get("evidence"))


# ============================================================================ small helpers
def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _effective_stated(stated: datetime) -> datetime:
    """A date shown without a time (00:00 local) is taken as the end of that day."""
    local = stated.astimezone(TZ)
    if local.time() == dtime(0, 0):
        return local + timedelta(days=1)
    return local


def _fmt_day(value: datetime) -> str:
    local = value.astimezone(TZ)
    return f"{local.month}月{local.day}日"


def _fmt_stated(value: datetime) -> str:
    local = value.astimezone(TZ)
    return _fmt_day(local) if local.time() == dtime(0, 0) else f"{_fmt_day(local)}{local:%H:%M}"


def _fmt_time(value: datetime) -> str:
    local = value.astimezone(TZ)
    return f"{_fmt_day(local)}{local:%H:%M}"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat() if value else None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ============================================================================ after a crawl
def after_crawl(store: Store, source_cfg: SourceConfig, attempt_id: int, seen_at: datetime,
                settings: EvidenceSettings | None = None) -> dict[str, Any]:
    """Flag back-dated posts and record a burst for the posts first seen by `attempt_id`.

    Call after `upsert_posts` of an OK attempt. Idempotent. Returns {"new", "backdated", "burst"}."""
    settings = settings or EvidenceSettings()
    seen_at = _aware(seen_at)
    if source_cfg.channel != PORTAL:
        # WeChat publish times are set by WeChat's servers (a unit cannot back-date them), and a
        # bridge catching up after an outage lists days of posts at once: neither check applies.
        return {"new": 0, "backdated": 0, "burst": False}
    q = store.evidence
    if _latest_ok_before(store, source_cfg, attempt_id, seen_at, verified_only=False) is None:
        return {"new": 0, "backdated": 0, "burst": False, "first_crawl": True}
    new_posts = q.posts_first_seen_by(source_cfg.unit_id, source_cfg.id, attempt_id)
    if not new_posts:
        return {"new": 0, "backdated": 0, "burst": False}
    genuine = [p for p in new_posts if not _known_under_other_url(store, p)]
    if _is_relisting(store, source_cfg, seen_at, len(genuine), settings):
        log.warning("%s: %d 篇新文章占本次列表的大部分, 疑似网站改版/网址变更, 不做日期和突击更新判断",
                    source_cfg.id, len(genuine))
        return {"new": len(new_posts), "backdated": 0, "burst": False, "relisted": True}
    before = {p.id: (p.date_suspicious, p.evidence) for p in genuine}
    flagged = _flag_backdated(store, source_cfg, attempt_id, seen_at, genuine, settings)
    burst = _record_burst(store, source_cfg, attempt_id, seen_at, genuine, settings)
    changed = [p for p in genuine if (p.date_suspicious, p.evidence) != before[p.id]]
    if changed:
        q.save_findings(changed)
    return {"new": len(new_posts), "backdated": flagged, "burst": burst is not None}


def _known_under_other_url(store: Store, post: PostRecord) -> bool:
    """The same title and stated day already stored for the unit: the site changed its URLs."""
    if post.published_at is None:
        return False
    day = post.published_at.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return store.evidence.seen_before_under_other_url(post, day_start=day, day_end=day + timedelta(days=1))


def _is_relisting(store: Store, cfg: SourceConfig, seen_at: datetime, n_new: int, settings: EvidenceSettings) -> bool:
    if n_new < max(settings.relist_min_posts, 1):
        return False
    listed_now = store.evidence.listed_at(cfg.unit_id, cfg.id, seen_at)
    return n_new >= settings.relist_share * max(listed_now, 1)


def _previous_ok_attempts(store: Store, cfg: SourceConfig, attempt_id: int, seen_at: datetime,
                          settings: EvidenceSettings) -> list[tuple[int, datetime]]:
    """(id, started_at) of the OK crawl attempts of the source before this one that returned items,
    newest first."""
    return store.evidence.crawls_with_items(
        cfg.id, outcome=Outcome.OK.value, since=seen_at - timedelta(days=settings.backdate_lookback_days),
        before=seen_at, excluding=attempt_id)


def _flag_backdated(store: Store, cfg: SourceConfig, attempt_id: int, seen_at: datetime, posts: list[PostRecord],
                    settings: EvidenceSettings) -> int:
    """Flag (on the records; the caller saves them) the posts stated before a previous OK crawl that
    would have listed them. Returns how many."""
    dated = [p for p in posts if p.published_at is not None]
    if not dated:
        return 0
    previous = _previous_ok_attempts(store, cfg, attempt_id, seen_at, settings)
    coverage: dict[int, datetime | None] = {}
    grace = timedelta(hours=settings.backdate_grace_hours)
    flagged = 0
    for post in dated:
        stated = post.published_at
        for att_id, att_started in previous:       # newest first: the strongest comparison
            if att_id not in coverage:
                coverage[att_id] = store.evidence.oldest_listed(cfg.unit_id, cfg.id, att_started)
            oldest = coverage[att_id]
            if oldest is None or stated < oldest:
                continue                           # that crawl's list did not reach back this far
            effective = _effective_stated(stated)
            if effective < att_started - grace:
                hours = (att_started - effective).total_seconds() / 3600
                post.date_suspicious = True
                post.evidence = {**(post.evidence or {}), "kind": BACKDATED, "stated": _iso(stated),
                                 "first_seen": _iso(post.first_seen_at), "previous_ok_crawl": _iso(att_started),
                                 "previous_ok_attempt_id": att_id, "first_seen_attempt_id": attempt_id,
                                 "hours_early": round(hours, 1), "grace_hours": settings.backdate_grace_hours}
                flagged += 1
            break
    return flagged


def _record_burst(store: Store, cfg: SourceConfig, attempt_id: int, seen_at: datetime, posts: list[PostRecord],
                  settings: EvidenceSettings) -> dict[str, Any] | None:
    """A burst, recorded on the posts' evidence (the caller saves them), or None."""
    if len(posts) < max(settings.burst_min_posts, 1):
        return None
    previous_ok = _latest_ok_before(store, cfg, attempt_id, seen_at, verified_only=True)
    if previous_ok is None or seen_at - previous_ok > timedelta(hours=settings.burst_window_hours):
        return None    # our own outage may have let honest posts pile up: not the unit's burst
    last_new = _last_new_post_before(store, cfg, attempt_id, seen_at)
    if last_new is None:
        return None                                # never crawled before: nothing to compare with
    quiet_days = (seen_at - last_new).total_seconds() / 86400
    if quiet_days < settings.burst_quiet_days:
        return None
    notice = store.evidence.latest_notice_sent(cfg.unit_id, "overdue", status="sent",
                                               since=seen_at - timedelta(days=settings.notice_lookback_days),
                                               until=seen_at)
    burst = {"attempt_id": attempt_id, "source_id": cfg.id, "first_seen": _iso(seen_at), "posts": len(posts),
             "quiet_days": round(quiet_days, 1), "last_new_before": _iso(last_new),
             "after_notice": ({"period": notice.period, "sent_at": _iso(notice.sent_at), "notice_id": notice.id}
                              if notice else None)}
    for post in posts:
        post.evidence = {**(post.evidence or {}), "burst": burst}
    return burst


def _latest_ok_before(store: Store, cfg: SourceConfig, attempt_id: int, seen_at: datetime, *,
                      verified_only: bool) -> datetime | None:
    """Start of the newest earlier crawl of the source that was OK (or, with verified_only, OK or
    not-modified: both prove nothing new was listed then)."""
    outcomes = [Outcome.OK.value] + ([Outcome.NOT_MODIFIED.value] if verified_only else [])
    return store.evidence.latest_crawl_before(cfg.id, outcomes=outcomes, before=seen_at, excluding=attempt_id)


def _last_new_post_before(store: Store, cfg: SourceConfig, attempt_id: int, seen_at: datetime) -> datetime | None:
    """When the source last showed a new post before this attempt.

    Posts found by the source's first crawl say nothing about when they appeared, so for them the
    stated date is used; a source that had no posts at all counts as quiet since its first OK crawl."""
    q = store.evidence
    first_ok = q.first_crawl_before(cfg.id, outcome=Outcome.OK.value, before=seen_at, excluding=attempt_id)
    if first_ok is None:
        return None
    later = q.newest_first_seen(cfg.unit_id, cfg.id, after=first_ok, excluding_attempt=attempt_id)
    if later is not None:
        return later
    stated = q.newest_stated(cfg.unit_id, cfg.id, seen_until=first_ok, excluding_attempt=attempt_id)
    return min(stated, first_ok) if stated is not None else first_ok


# ============================================================================ stored findings
def findings(store: Store, unit_ids: Sequence[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Back-dated posts and bursts first seen — or, for back-dated posts, dated — in [start, end).

    Returns raw findings (no unit names): {"unit_id", "kind", "source_id", "evidence", ...}, oldest first."""
    if not unit_ids:
        return []
    rows = store.evidence.posts_for_findings(unit_ids, start, end)
    out: list[dict[str, Any]] = []
    bursts: dict[tuple[str, int], dict[str, Any]] = {}
    for p in rows:
        ev = p.evidence
        if p.date_suspicious:
            out.append({"unit_id": p.unit_id, "kind": KIND_DATE, "source_id": p.source_id,
                        "title": p.title, "url": p.url, "stated": _iso(p.published_at),
                        "first_seen": _iso(p.first_seen_at),
                        "evidence": {k: v for k, v in ev.items() if k != "burst"}})
        burst = ev.get("burst")
        if burst and start <= _from_iso(burst["first_seen"]) < end:
            key = (burst["source_id"], burst["attempt_id"])
            if key not in bursts:
                bursts[key] = {"unit_id": p.unit_id, "kind": KIND_BURST, "source_id": burst["source_id"],
                               "first_seen": burst["first_seen"], "evidence": {**burst, "items": []}}
                out.append(bursts[key])
            bursts[key]["evidence"]["items"].append(
                {"title": p.title, "url": p.url, "stated": _iso(p.published_at),
                 "date_suspicious": bool(p.date_suspicious)})
    return out


# ============================================================================ availability
def probe_unit(store: Store, unit: Unit, fetcher: Any, now: datetime | None = None,
               settings: EvidenceSettings | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
    """Probe every portal column of `unit` once; record one kind="probe" attempt each.

    A probe fails when the site did not answer (timeout, connection error, 5xx) or answered only
    after `probe_timeout` seconds. A WAF challenge is "blocked": recorded, not a failure. One
    column's trouble never stops the others."""
    settings = settings or EvidenceSettings()
    out = []
    for cfg in unit.sources:
        if cfg.channel != PORTAL or not cfg.url or PORTAL in unit.suspended:
            continue
        started = _aware(now) if now is not None else datetime.now(timezone.utc)
        try:
            result = fetcher.probe(cfg.url)
            outcome, message = _probe_outcome(result, settings)
            status, elapsed = result.status, float(result.elapsed)
        except Exception as exc:  # our bug, not the site's: recorded, never counted
            log.exception("probe of %s crashed", cfg.id)
            outcome, message = Outcome.SOURCE_ERROR, f"探测程序内部错误(请联系管理员): {type(exc).__name__}: {exc}"
            status, elapsed = None, 0.0
        store.record_probe(cfg, started_at=started, finished_at=started + timedelta(seconds=elapsed),
                           outcome=outcome.value, http_status=status, message=message,
                           elapsed_ms=int(elapsed * 1000), run_id=run_id)
        out.append({"source_id": cfg.id, "outcome": outcome.value, "http_status": status,
                    "elapsed_ms": int(elapsed * 1000), "message": message})
    return out


def _probe_outcome(result: Any, settings: EvidenceSettings) -> tuple[Outcome, str]:
    slow = float(result.elapsed) >= settings.probe_timeout
    if result.ok and not slow:
        if result.outcome is Outcome.BLOCKED:
            return Outcome.BLOCKED, result.error or "被防护拦截 (网站可访问)"
        return Outcome.OK, ""
    if result.ok:   # answered, but too late for an inspector
        return Outcome.UNREACHABLE, f"超过{settings.probe_timeout:g}秒才打开 ({result.elapsed:.1f}秒)"
    outcome = result.outcome if isinstance(result.outcome, Outcome) else Outcome.UNREACHABLE
    return outcome, result.error or "无法访问"


def classify_attempt(outcome: str, http_status: int | None) -> str | None:
    """How an attempt counts for availability: "ok", "failure", "blocked", or None (not about the site)."""
    if outcome in (Outcome.OK.value, Outcome.NOT_MODIFIED.value, Outcome.PARSE_FAILED.value,
                   Outcome.SUSPECT_EMPTY.value, Outcome.REDIRECTED.value):
        return "ok"                               # the site answered (what it said is another matter)
    if outcome == Outcome.UNREACHABLE.value:
        return "failure"
    if outcome == Outcome.HTTP_ERROR.value:
        if http_status is None:
            return None
        return "failure" if http_status >= 500 else "ok"
    if outcome == Outcome.BLOCKED.value:
        return "blocked"
    return None                                   # stale, source/config errors, still running


def availability(store: Store, unit_ids: Sequence[str], period: Period,
                 settings: EvidenceSettings | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """{unit_id: {source_id: {"probes", "failures", "share", "problem", "blocked", ...}}} over the period.

    Counts probes and crawl attempts of portal columns. "probes" is every attempt in which the site
    answered or failed to; blocked attempts are answered (the site is up) and also counted apart."""
    settings = settings or EvidenceSettings()
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    if not unit_ids:
        return {}
    for uid, sid, kind, outcome, http_status, started_at in store.evidence.attempts_of_channel(
            unit_ids, PORTAL, period.start_dt, period.end_dt):
        cls = classify_attempt(outcome, http_status)
        if cls is None:
            continue
        st = out[uid].setdefault(sid, {"probes": 0, "failures": 0, "blocked": 0,
                                       "probe_attempts": 0, "crawl_attempts": 0, "_days": set()})
        st["probes"] += 1
        st["failures"] += cls == "failure"
        st["blocked"] += cls == "blocked"
        st["probe_attempts" if kind == "probe" else "crawl_attempts"] += 1
        st["_days"].add(started_at.astimezone(TZ).date())
    for by_source in out.values():
        for st in by_source.values():
            st["days"] = len(st.pop("_days"))
            st["share"] = st["failures"] / st["probes"] if st["probes"] else 0.0
            st["problem"] = (st["probes"] >= settings.availability_min_samples
                             and st["share"] >= settings.availability_threshold)
    return dict(out)


# ============================================================================ the period's findings
def findings_for_period(store: Store, registry: Registry, period: Period,
                        settings: EvidenceSettings | None = None) -> list[dict[str, Any]]:
    """Every finding of the period, for the weekly summary, the board and the circular:
    [{"unit_id", "unit_name", "kind", "detail" (Chinese), "evidence"}], by unit then kind."""
    settings = settings or EvidenceSettings.from_registry(registry)
    units = {u.id: u for u in registry.units}
    ids = list(units)
    out = []
    for f in findings(store, ids, period.start_dt, period.end_dt):
        unit = units[f["unit_id"]]
        column = _column_label(registry, f["source_id"])
        if f["kind"] == KIND_DATE:
            detail = _date_detail(unit.name, column, f)
            evidence = {**f["evidence"], "title": f["title"], "url": f["url"], "source_id": f["source_id"]}
        else:
            detail = _burst_detail(unit.name, column, f["evidence"])
            evidence = f["evidence"]
        out.append({"unit_id": unit.id, "unit_name": unit.name, "kind": f["kind"], "detail": detail,
                    "evidence": evidence})
    for uid, by_source in availability(store, ids, period, settings).items():
        for sid, st in sorted(by_source.items()):
            if not st["problem"]:
                continue
            unit = units[uid]
            out.append({"unit_id": uid, "unit_name": unit.name, "kind": KIND_AVAILABILITY,
                        "detail": _availability_detail(unit.name, _column_label(registry, sid), st, settings),
                        "evidence": {"source_id": sid, **st}})
    order = {KIND_AVAILABILITY: 0, KIND_BURST: 1, KIND_DATE: 2}
    index = {uid: i for i, uid in enumerate(ids)}
    out.sort(key=lambda f: (index.get(f["unit_id"], 0), order[f["kind"]]))
    return out


def _column_label(registry: Registry, source_id: str) -> str:
    try:
        cfg = registry.source(source_id)
    except KeyError:
        return source_id
    return f"门户网站「{cfg.name}」" if cfg.channel == PORTAL else f"微信公众号「{cfg.name}」"


def _date_detail(unit_name: str, column: str, f: dict[str, Any]) -> str:
    ev = f["evidence"]
    stated = _from_iso(f["stated"])
    previous = _from_iso(ev.get("previous_ok_crawl"))
    first_seen = _from_iso(f["first_seen"])
    head = f"{unit_name}{column}: 文章《{f['title']}》标注日期{_fmt_stated(stated) if stated else '(无)'}"
    if previous:
        return (f"{head}, 但{_fmt_time(previous)}抓取时尚未出现, 首次发现于{_fmt_time(first_seen)}"
                f" (早于上次抓取约{ev.get('hours_early')}小时)")
    return f"{head}, 首次发现于{_fmt_time(first_seen)}, 发布日期存疑"


def _burst_detail(unit_name: str, column: str, ev: dict[str, Any]) -> str:
    items = ev.get("items") or []
    first_seen = _from_iso(ev["first_seen"])
    stated = sorted(filter(None, (_from_iso(i.get("stated")) for i in items)))
    dates = f", 标注日期{_fmt_day(stated[0])}至{_fmt_day(stated[-1])}" if stated else ""
    back = sum(1 for i in items if i.get("date_suspicious"))
    text = (f"{unit_name}{column}: 此前约{int(ev['quiet_days'])}天无新文章, {_fmt_time(first_seen)}一次新出现"
            f"{ev['posts']}篇{dates}")
    if back:
        text += f", 其中{back}篇日期早于此前抓取(疑似补发倒填日期)"
    notice = ev.get("after_notice")
    if notice:
        text += f"; 发生在{_fmt_time(_from_iso(notice['sent_at']))}发出{notice['period']}未达标通报之后 (突击更新)"
    return text


def _availability_detail(unit_name: str, column: str, st: dict[str, Any], settings: EvidenceSettings) -> str:
    text = (f"{unit_name}{column}: 本期监测访问{st['probes']}次, 打不开或超过{settings.probe_timeout:g}秒"
            f"{st['failures']}次, 占{st['share'] * 100:.1f}%, 达到站点无法访问标准"
            f"(≥{settings.availability_threshold * 100:g}%)")
    if st.get("blocked"):
        text += f"; 另有{st['blocked']}次被防护拦截(不计为无法访问)"
    return text


# ============================================================================ job step
def probe(store: Store, registry: Any, fetcher: Any, unit_id: str, now: datetime | None = None,
          run_id: str | None = None) -> dict[str, Any]:
    """The DAG/CLI step: probe one unit's portal columns with `fetcher` (the caller owns it)."""
    unit = registry.unit(unit_id)
    settings = EvidenceSettings.from_registry(registry)
    results = probe_unit(store, unit, fetcher, now=now, settings=settings, run_id=run_id)
    failed = [r for r in results if classify_attempt(r["outcome"], r["http_status"]) == "failure"]
    return {"unit_id": unit.id, "unit_name": unit.name, "probes": len(results), "failures": len(failed),
            "results": results}

