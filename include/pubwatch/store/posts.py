"""Posts: upserts after a crawl, and the post facts the rules read (the evaluation's hot path, raw SQL)."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, time
from operator import attrgetter
from typing import Any, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select

from ..posts import dedupe_posts
from ..types import TZ, WECHAT, ListItem, PostFact
from .base import SourceLike, chunks, insert_ignore
from .models import Post
from .rawsql import Raw

DATE_EVIDENCE_KEYS = ("list_date", "article_date", "article_date_from", "date_from", "date_field", "date_check",
                      "list_dates", "date_implausible")


MANUAL_DATE = "manual"    # evidence dates.date_from of a post a supervisor's review stored (pubwatch/reviews.py)


def date_evidence(item: ListItem) -> dict[str, Any]:
    """What the source said about a new post's date (list date, article date, which was used and
    why it was checked), kept on the post as evidence for the supervisors."""
    dates = {k: item.extra[k] for k in DATE_EVIDENCE_KEYS if item.extra.get(k) not in (None, "", [])}
    return {"dates": dates} if dates else {}


def url_key(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


class PostQueries:
    """Mixin of `Store`: posts."""

    # ----------------------------------------------------------------- crawl
    def upsert_posts(self, source: SourceLike, items: Sequence[ListItem], *, seen_at: datetime,
                     attempt_id: int | None, keep_known: bool = False) -> int:
        """Insert new posts, refresh known ones (`keep_known`: leave them as stored — a post a
        supervisor's review adds never rewrites a crawled one). Returns how many were new. Never deletes."""
        by_key: dict[str, ListItem] = {}
        for it in items:
            if it.url:
                by_key.setdefault(url_key(it.url), it)
        if not by_key:
            return 0
        keys = list(by_key)
        with self.Session.begin() as s:
            existing = {}
            for chunk in chunks(keys, 500):
                for row in s.scalars(select(Post).where(Post.unit_id == source.unit_id,
                                                        Post.channel == source.channel,
                                                        Post.url_key.in_(chunk))):
                    existing[row.url_key] = row
            if not keep_known:
                existing.update(self._moved_posts(s, source, by_key, existing))
            new_rows = []
            for key, it in by_key.items():
                row = existing.get(key)
                if row is None:
                    new_rows.append(dict(unit_id=source.unit_id, channel=source.channel, url_key=key,
                                         url=it.url, source_id=source.id, column_type=source.column_type,
                                         title=it.title[:2000], published_at=it.published,
                                         first_seen_at=seen_at, first_seen_attempt_id=attempt_id,
                                         last_seen_at=seen_at, pinned=it.pinned, date_suspicious=False,
                                         evidence=date_evidence(it)))
                    continue
                if keep_known:
                    continue
                if ((row.evidence or {}).get("dates") or {}).get("date_from") == MANUAL_DATE:
                    # a review's proof the crawl now lists: from here on a crawled post, as crawled
                    # (so revoking the review no longer withdraws it, see remove_post_dated_by)
                    row.evidence = date_evidence(it)
                    row.published_at = it.published or row.published_at
                row.last_seen_at = seen_at
                if it.title and it.title != row.title:
                    row.title = it.title[:2000]               # an edited post stays one post
                if row.published_at is None and it.published is not None:
                    row.published_at = it.published
                row.pinned = it.pinned
            inserted = 0
            if new_rows:
                # ON CONFLICT DO NOTHING: a parallel crawl of the same unit cannot duplicate posts.
                res = s.execute(insert_ignore(self.dialect, Post.__table__), new_rows)
                inserted = res.rowcount if res.rowcount is not None and res.rowcount >= 0 else len(new_rows)
            return inserted

    def remove_post_dated_by(self, unit_id: str, channel: str, url: str, date_from: str) -> bool:
        """Delete the unit's stored post at `url` if its date came from `date_from` (evidence
        dates.date_from) — a post a supervisor's review added, when the review is revoked. A crawled
        post is never deleted. Whether one was deleted."""
        with self.Session.begin() as s:
            row = s.scalars(select(Post).where(Post.unit_id == unit_id, Post.channel == channel,
                                               Post.url_key == url_key(url))).first()
            if row is None or ((row.evidence or {}).get("dates") or {}).get("date_from") != date_from:
                return False
            s.delete(row)
            return True

    @staticmethod
    def _moved_posts(s: Any, source: SourceLike, by_key: dict[str, ListItem],
                     existing: dict[str, Post]) -> dict[str, Post]:
        """{new url_key: stored post} for listed items that are stored posts under a new address: a
        portal moved to another domain (or http to https) lists its old posts again under new URLs.
        The same post: same source, same title, same stated publication day (the new site may show
        the time or not), the stored URL on another origin (scheme/host/port) and not itself listed
        any more. The stored row takes the new URL (the old one kept in its evidence), so it is
        neither stored twice nor counted twice. A column the registry declares moved (`moved_to`) may
        also have moved within its site (another path, same origin): then the origin may be the same.
        Undated items and same-origin look-alikes (two notices of one title on one day) stay apart."""
        fresh = {k: it for k, it in by_key.items() if k not in existing and it.published is not None and it.title}
        if not fresh:
            return {}
        listed = {it.url for it in by_key.values()}
        titles = sorted({it.title[:2000] for it in fresh.values()})
        candidates: dict[tuple[str, Any], list[Post]] = defaultdict(list)
        for chunk in chunks(titles, 500):
            for row in s.scalars(select(Post).where(Post.unit_id == source.unit_id, Post.channel == source.channel,
                                                    Post.source_id == source.id, Post.title.in_(chunk))
                                 .order_by(Post.id)):
                if row.published_at is not None and row.url not in listed:
                    candidates[(row.title, row.published_at.astimezone(TZ).date())].append(row)
        moved: dict[str, Post] = {}
        relocated = bool(source.options.get("moved_to"))
        for key, it in fresh.items():
            origin = _origin(it.url)
            for row in candidates.get((it.title[:2000], it.published.astimezone(TZ).date()), ()):
                if (relocated or _origin(row.url) != origin) and row not in moved.values():
                    previous = list((row.evidence or {}).get("previous_urls", []))
                    row.evidence = {**(row.evidence or {}), "previous_urls": previous + [row.url]}
                    row.url, row.url_key = it.url, key
                    moved[key] = row
                    break
        return moved

    # ----------------------------------------------------------------- evaluate
    _POST_COLS = ("p.unit_id, p.source_id, p.channel, p.url, p.title, p.published_at, p.first_seen_at, "
                  "p.column_type, p.date_suspicious")

    @staticmethod
    def _post_fact_rows(raw: Raw, rows: list[tuple], out: dict[str, list[PostFact]]) -> None:
        ts = raw.ts_reader()
        for uid, sid, channel, url, title, published, seen, ctype, susp in rows:
            out[uid].append(PostFact(sid, channel, url, title, ts(published), ts(seen), ctype, bool(susp)))

    def post_facts(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[PostFact]]:
        """Posts with a stated date in [start, end), grouped by unit, oldest first."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        with self.Session() as s, Raw(s) as raw:
            for chunk in chunks(list(unit_ids), 900):
                rows = raw.rows(f"SELECT {self._POST_COLS} FROM posts p WHERE p.unit_id IN ({raw.marks(len(chunk))}) "
                                "AND p.published_at >= ? AND p.published_at < ? AND NOT p.pinned "
                                "ORDER BY p.unit_id, p.published_at, p.id",
                                [*chunk, raw.ts_param(start), raw.ts_param(end)])
                self._post_fact_rows(raw, rows, out)
        return out

    def rule_post_facts(self, unit_ids: Sequence[str], history_from: datetime, recent_from: datetime,
                        end: datetime) -> dict[str, list[PostFact]]:
        """What the rules need of the posts in [history_from, end), without shipping all of them.

        Posts in [recent_from, end) come in full. Of the older history only the tail the rules can
        look at comes back: for each portal column, its posts from local midnight of the day of its
        latest post (its latest non-suspicious one, if it has one); for a WeChat account, whose
        sources (two bridges) may carry one article twice, the same per account from the oldest of
        its sources' latest posts. That holds each source's latest post and latest non-suspicious
        post (staleness, the last post before a period) and whole days, so WeChat's same-title-
        same-day dedupe gives the same answers as over the full history (portal posts are unique
        per URL already). See `_history_tail_is_complete` for the one case that needs the full
        history instead (then it is fetched)."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        if recent_from <= history_from:
            return self.post_facts(unit_ids, history_from, end)
        recent = self.post_facts(unit_ids, recent_from, end)
        tail = self._history_tail(unit_ids, history_from, recent_from)
        incomplete = [uid for uid, posts in tail.items() if not _history_tail_is_complete(posts)]
        if incomplete:
            full = self.post_facts(incomplete, history_from, recent_from)
            for uid in incomplete:
                tail[uid] = full.get(uid, [])
        for uid in unit_ids:
            posts = tail.get(uid, []) + recent.get(uid, [])
            if posts:
                out[uid] = posts
        return out

    def _history_tail(self, unit_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[PostFact]]:
        """See `rule_post_facts`: the tail of the posts in [start, end). Each source's latest posts are
        two index probes (ix_posts_source_published), not an aggregate over years of posts."""
        out: dict[str, list[PostFact]] = defaultdict(list)
        with self.Session() as s, Raw(s) as raw:
            lo, hi = raw.ts_param(start), raw.ts_param(end)
            latest = ("(SELECT p.published_at FROM posts p WHERE p.source_id = s.id AND p.published_at >= ? "
                      "AND p.published_at < ? AND NOT p.pinned {extra} ORDER BY p.published_at DESC LIMIT 1)")
            for chunk in chunks(list(unit_ids), 900):
                sql = (
                    "WITH src AS (SELECT s.id, s.unit_id, s.channel, "
                    f"CASE WHEN s.channel = '{WECHAT}' THEN '' ELSE s.id END AS part, "
                    f"{latest.format(extra='')} AS last_any, "
                    f"{latest.format(extra='AND NOT p.date_suspicious')} AS last_ok "
                    f"FROM sources s WHERE s.unit_id IN ({raw.marks(len(chunk))})), "
                    "cut AS (SELECT id, MIN(COALESCE(last_ok, last_any)) "
                    "OVER (PARTITION BY unit_id, channel, part) AS c FROM src) "
                    f"SELECT {self._POST_COLS} FROM cut JOIN posts p ON p.source_id = cut.id "
                    f"WHERE cut.c IS NOT NULL AND p.published_at >= {raw.day_before('cut.c')} "
                    "AND p.published_at >= ? AND p.published_at < ? AND NOT p.pinned")
                by_unit: dict[str, list[PostFact]] = defaultdict(list)
                self._post_fact_rows(raw, raw.rows(sql, [lo, hi, lo, hi, *chunk, lo, hi]), by_unit)
                for uid, posts in by_unit.items():
                    parts: dict[str, list[PostFact]] = defaultdict(list)
                    for p in posts:                 # the SQL's partitions: a portal column, a WeChat account
                        parts[p.channel if p.channel == WECHAT else p.source_id].append(p)
                    for part in parts.values():
                        out[uid].extend(_whole_days_from_cut(part))
        for posts in out.values():
            posts.sort(key=attrgetter("published", "url"))
        return out


def _whole_days_from_cut(posts: list[PostFact]) -> list[PostFact]:
    """One tail partition's history posts (a portal column's, a WeChat account's) from local midnight
    of the cut day on (the cut: the oldest of its sources' latest post, the latest non-suspicious one
    where a source has one). The SQL sent them from a day before the cut."""
    latest: dict[str, list[datetime | None]] = {}
    for p in posts:
        last_any, last_ok = latest.setdefault(p.source_id, [None, None])
        if last_any is None or p.published > last_any:
            latest[p.source_id][0] = p.published
        if not p.date_suspicious and (last_ok is None or p.published > last_ok):
            latest[p.source_id][1] = p.published
    cut = min(ok or any_ for any_, ok in latest.values())
    midnight = datetime.combine(cut.astimezone(TZ).date(), time.min, tzinfo=TZ)
    return [p for p in posts if p.published >= midnight]


def _history_tail_is_complete(posts: list[PostFact]) -> bool:
    """False when one unit's WeChat history tail cannot stand in for the full history: it has
    non-suspicious posts but same-title dedupe drops every one of them (two bridges, the earlier copy
    flagged suspicious), so the latest kept non-suspicious post may lie further back."""
    wechat = [p for p in posts if p.channel == WECHAT]
    if not any(not p.date_suspicious for p in wechat):
        return True
    return any(not p.date_suspicious for p in dedupe_posts(wechat))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
