"""View-models of the supervisors' compliance board (政务公开监测看板), and their HTML rendering.

Pure reads over the tracking store plus the registry — no Airflow import. The Airflow plugin
(plugins/pubwatch_board.py) only resolves the store, checks the user and calls these functions.

Three pages:
- `matrix`: units × recent weeks per channel (rule "weekly"), streak of consecutive misses and
  since when, score over the weeks shown, last post date;
- `unit_page`: one unit's evidence — posts, crawl attempts, notices, evaluations;
- `period_summary`: one period's counts, late units by category, units that could not be
  verified (and why — never counted as late), downloads of the circular.

Each view costs a handful of queries (never one per cell): 60 units × 26 weeks render in a few
tens of milliseconds on SQLite (bench/bench_board.py).
"""
from __future__ import annotations


from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from markupsafe import Markup

from . import config
from .counts import PeriodCounts, findings, merged_rule_label
from .report_data import rule_label
from .notices.ledger import STATUS_LABELS as NOTICE_STATUS_LABELS
from .notices.channels import channel_label
from .notices.ledger import kind_label
from .periods import Period
from .registry import CATEGORIES, COLUMN_TYPES, Registry, Unit
from .rules import streak as streak_of
from .store import Store
from .types import CHANNEL_LABELS, CHANNELS, OUTCOME_LABELS, STATUS_LABELS, TZ, Outcome, Status
from .text import strip_bidi
from .urls import http_url

WEEKLY = "weekly"
SORTS = {"streak": "按连续未达标", "score": "按得分(低→高)", "name": "按单位(登记顺序)"}
STREAK_LOOKBACK = 26          # weeks looked back to count a streak, whatever the page shows
MAX_WEEKS = 52
LIST_LIMIT = 200              # posts / attempts shown per unit page
_CSS = {"met": "met", "at_risk": "risk", "missed": "missed", "unknown": "unknown", "exempt": "exempt",
        "pending": "pending"}
STATUS_CSS = {s: _CSS.get(s.value, s.value) for s in Status}
STATUS_ORDER = tuple(sorted(Status, key=lambda s: (["missed", "at_risk", "unknown", "met", "exempt"] + [s.value])
                            .index(s.value)))


# ------------------------------------------------------------------------------------ helpers
def recent_weeks(count: int = 8, until: date | datetime | None = None) -> list[Period]:
    """`count` ISO weeks ending with the week of `until` (default: today in Asia/Shanghai), oldest first."""
    count = max(1, min(int(count), MAX_WEEKS))
    last = Period.week_of(until if until is not None else datetime.now(TZ))
    weeks = [last]
    while len(weeks) < count:
        weeks.append(weeks[-1].previous())
    return weeks[::-1]


def local(dt: datetime | None) -> datetime | None:
    return dt.astimezone(TZ) if dt is not None else None


def status_label(status: Status | str) -> str:
    return STATUS_LABELS[Status(status)]


def _outcome_label(outcome: str) -> str:
    try:
        return OUTCOME_LABELS[Outcome(outcome)]
    except ValueError:
        return "进行中" if outcome == "running" else outcome


def _notice_status_label(status: str) -> str:
    return NOTICE_STATUS_LABELS.get(status, status)


def _score_table():
    """The policies' scoring table, or None when policies.yaml cannot be read (scores then blank).

    Cached per policies file and modification time, so an edited file is picked up."""
    import os

    from .rules import DEFAULT_POLICIES_PATH

    path = Path(os.environ.get("PUBWATCH_POLICIES") or DEFAULT_POLICIES_PATH)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _score_table_for(str(path), mtime)


@lru_cache(maxsize=4)
def _score_table_for(path: str, mtime: float):
    from .rules import PolicyError, load_policies
    from .scoring import ScoreTable

    try:
        return ScoreTable.from_policies(load_policies(path))
    except (PolicyError, ValueError):
        return None


def _history(weeks: Sequence[Period]) -> list[Period]:
    """The weeks shown plus enough earlier weeks to count a streak, oldest first."""
    out = list(weeks)
    while len(out) < STREAK_LOOKBACK:
        out.insert(0, out[0].previous())
    return out


def _units(registry: Registry, category: str | None = None) -> list[Unit]:
    return [u for u in registry.units if category is None or u.category == category]


# ------------------------------------------------------------------------------------ matrix
@dataclass
class WeekColumn:
    key: str
    label: str            # 2026年第47周(11月16日-11月22日)
    short: str            # 第47周
    dates: str            # 11/16-11/22
    is_current: bool


@dataclass
class Cell:
    period: str
    status: str | None          # Status value; None = not evaluated
    label: str
    css: str
    count: int = 0
    required: int = 0
    reason: str = ""
    pending: bool = False       # an open week not decided yet (shown as 进行中)
    computed: str = ""          # 人工复核: the computed status's label when a review set this one

    @property
    def text(self) -> str:
        if self.status is None:
            return ""
        if self.pending:
            return "…"
        if self.status == Status.UNKNOWN.value:
            return "?"
        if self.status == Status.EXEMPT.value:
            return "免"
        return f"{self.count}"

    @property
    def title(self) -> str:
        head = f"{self.period} {self.label}" + (f" (原判{self.computed})" if self.computed else "")
        return f"{head}: {self.reason}" if self.reason else head


@dataclass
class ChannelLine:
    channel: str
    label: str
    cells: list[Cell]
    streak: int = 0
    since: date | None = None          # first day of the oldest week in the current streak
    last_post: datetime | None = None  # newest stated publication time (Asia/Shanghai)


@dataclass
class MatrixRow:
    unit_id: str
    name: str
    category: str
    category_label: str
    lines: list[ChannelLine]
    score: float | None = None
    missed: int = 0                    # missed cells in the weeks shown

    @property
    def streak(self) -> int:
        return max((ln.streak for ln in self.lines), default=0)

    @property
    def since(self) -> date | None:
        dates = [ln.since for ln in self.lines if ln.since and ln.streak == self.streak]
        return min(dates) if dates else None


@dataclass
class MatrixView:
    weeks: list[WeekColumn]
    rows: list[MatrixRow]
    channel: str | None
    category: str | None
    sort: str
    counts: dict[str, int]              # statuses of the newest closed week's cells shown (weekly rule)
    counts_week: str | None
    # that week's numbers over every rule, as the circular counts them (units, then unit·channel items)
    tally: PeriodCounts | None = None
    categories: dict[str, str] = field(default_factory=lambda: dict(CATEGORIES))
    channels: dict[str, str] = field(default_factory=lambda: dict(CHANNEL_LABELS))
    sorts: dict[str, str] = field(default_factory=lambda: dict(SORTS))


def _cell(period: str, row: Any | None, marked_pending: bool = False) -> Cell:
    if row is None:
        return Cell(period, None, "未评估", "none", reason="该周尚未评估")
    status = Status(row.status)
    # an open week not decided yet: Status.PENDING, or (older rows) UNKNOWN marked pending
    pending = status.value == "pending" or (status is Status.UNKNOWN and marked_pending)
    return Cell(period, status.value, "进行中" if pending else STATUS_LABELS[status],
                "pending" if pending else STATUS_CSS[status], row.count, row.required, row.reason or "", pending,
                _computed_label(row))


def _computed_label(row: Any) -> str:
    """人工复核: the label of the status the rules computed, when a review replaced it (else "")."""
    computed = getattr(row, "computed_status", None)
    return status_label(computed) if getattr(row, "review", None) is not None and computed else ""


def _streak(cells_newest_first: list[Cell], weeks_newest_first: list[Period]) -> tuple[int, date | None]:
    statuses = [Status(c.status) if c.status else Status.EXEMPT for c in cells_newest_first]
    n = streak_of(statuses)
    if not n:
        return 0, None
    seen = 0
    for status, week in zip(statuses, weeks_newest_first):
        if status is Status.MISSED:
            seen += 1
            if seen == n:
                return n, week.start
    return n, None


def matrix(store: Store, registry: Registry, weeks: list[Period], channel: str | None = None,
           category: str | None = None, sort: str = "streak", today: date | None = None) -> MatrixView:
    """Units × weeks per channel for rule "weekly", with streaks, scores and last post dates.

    Four queries whatever the size: weekly evaluations (weeks shown + streak look-back), the
    evidence of their UNKNOWN rows (open weeks), all evaluations of the weeks shown for the score,
    and the newest post per unit and channel.
    """
    weeks = sorted(weeks, key=lambda p: p.start)
    if not weeks:
        raise ValueError("至少需要一周 (no weeks given)")
    channel = channel if channel in CHANNELS else None
    category = category if category in CATEGORIES else None
    sort = sort if sort in SORTS else "streak"
    today = today or datetime.now(TZ).date()
    units = _units(registry, category)
    ids = [u.id for u in units]
    history = _history(weeks)
    shown = {w.key for w in weeks}
    points: dict[str, float] = defaultdict(float)
    scored: set[str] = set()
    table = _score_table()
    facts = store.board.matrix_facts(ids, rule=WEEKLY, periods=[w.key for w in history],
                                     evidence_of=Status.UNKNOWN.value, score_periods=list(shown))
    weekly = {(r.unit_id, r.channel, r.period): r for r in facts.cells}
    # an UNKNOWN row may be an open week ("pending")
    pending = {key for key, evidence in facts.evidence.items() if evidence.get("pending")}
    for r in facts.scores:
        if r.score is not None:
            points[r.unit_id] += r.score
        elif table is not None:
            points[r.unit_id] += table.points(r.rule, Status(r.status))
        else:
            continue
        scored.add(r.unit_id)
    last_post = facts.newest_posts
    newest_first = history[::-1]
    rows = []
    for u in units:
        lines = []
        for ch in CHANNELS:
            if (channel and ch != channel) or (ch not in u.channels and ch not in u.suspended):
                continue
            hist_cells = [_cell(w.key, weekly.get((u.id, ch, w.key)), (u.id, ch, w.key) in pending)
                          for w in newest_first]
            n, since = _streak(hist_cells, newest_first)
            cells = [c for c in hist_cells if c.period in shown][::-1]
            lines.append(ChannelLine(ch, CHANNEL_LABELS[ch], cells, n, since, local(last_post.get((u.id, ch)))))
        if not lines:
            continue
        missed = sum(1 for ln in lines for c in ln.cells if c.status == Status.MISSED.value)
        rows.append(MatrixRow(u.id, u.name, u.category, u.category_label, lines,
                              round(points[u.id], 2) if u.id in scored else None, missed))
    order = {u.id: i for i, u in enumerate(registry.units)}
    cat_order = {c: i for i, c in enumerate(CATEGORIES)}
    if sort == "streak":
        rows.sort(key=lambda r: (-r.streak, -r.missed, order[r.unit_id]))
    elif sort == "score":
        rows.sort(key=lambda r: (r.score if r.score is not None else float("inf"), -r.streak, order[r.unit_id]))
    else:
        rows.sort(key=lambda r: (cat_order.get(r.category, 99), order[r.unit_id]))
    current = Period.week_of(today)
    closed = [w for w in weeks if w.end < today]
    counts_week = closed[-1].key if closed else None
    counts = {s.value: 0 for s in Status}
    for r in rows:
        for ln in r.lines:
            for c in ln.cells:
                if c.period == counts_week and c.status:
                    counts[c.status] += 1
    tally = None
    if counts_week:
        shown_units = {r.unit_id for r in rows}
        tally = PeriodCounts.of(v for v in store.verdicts(counts_week)
                                if v.unit_id in shown_units and (channel is None or v.channel == channel))
    columns = [WeekColumn(w.key, w.label, f"第{int(w.key.split('-W')[1])}周",
                          f"{w.start.month}/{w.start.day}-{w.end.month}/{w.end.day}", w.key == current.key)
               for w in weeks]
    return MatrixView(columns, rows, channel, category, sort, counts, counts_week, tally=tally)


# ------------------------------------------------------------------------------------ unit page
@dataclass
class PostLine:
    channel: str
    title: str
    url: str
    published: datetime | None
    first_seen: datetime
    column: str
    date_suspicious: bool
    late_seen_days: int | None          # days between stated date and first seen (when > 1)


@dataclass
class AttemptLine:
    started_at: datetime
    channel: str
    source: str
    outcome: str
    outcome_label: str
    ok: bool
    http_status: int | None
    message: str
    items_found: int
    items_new: int


@dataclass
class NoticeLine:
    period: str
    kind: str
    channel: str
    status: str
    status_label: str
    subject: str
    sent_at: datetime | None
    updated_at: datetime
    last_error: str


@dataclass
class EvaluationLine:
    period: str
    channel: str
    rule: str
    status: str
    status_label: str
    css: str
    count: int
    required: int
    reason: str
    deadline: date | None
    computed_label: str = ""            # 人工复核: what the rules computed, when a review is in force
    reviewer: str = ""
    reviewed_at: datetime | None = None
    evidence_url: str = ""
    channel_key: str = ""          # the stored channel and rule names (the review form's values)
    rule_key: str = ""


@dataclass
class SourceLine:
    id: str
    channel: str
    name: str
    url: str
    column: str
    last_attempt_at: datetime | None
    last_outcome: str
    last_ok_at: datetime | None
    last_message: str


@dataclass
class UnitView:
    unit_id: str
    name: str
    category_label: str
    leader: str
    staff: str
    weeks: list[WeekColumn]
    row: MatrixRow | None
    sources: list[SourceLine]
    posts: dict[str, list[PostLine]]
    attempts: list[AttemptLine]
    notices: list[NoticeLine]
    evaluations: list[EvaluationLine]
    score: float | None
    range_label: str
    truncated_posts: bool = False
    truncated_attempts: bool = False


def _other_periods(weeks: Sequence[Period]) -> list[str]:
    """Month, quarter and year keys overlapping the weeks (for non-weekly rules)."""
    keys: list[str] = []
    for kind in ("month", "quarter", "year"):
        d = weeks[0].start
        while d <= weeks[-1].end:
            p = Period.of(kind, d)
            if p.key not in keys:
                keys.append(p.key)
            d = p.end + timedelta(days=1)
    return keys


def unit_page(store: Store, registry: Registry, unit_id: str, weeks: list[Period],
              today: date | None = None) -> UnitView:
    """Everything the board knows about one unit over `weeks`. KeyError if the unit is unknown."""
    unit = registry.unit(unit_id)
    weeks = sorted(weeks, key=lambda p: p.start)
    mv = matrix(store, Registry([unit], [], registry.settings), weeks, today=today)
    start, end = weeks[0].start_dt, weeks[-1].end_dt
    source_names = {src.id: src.name for src in unit.sources}
    periods = [w.key for w in weeks] + _other_periods(weeks)
    facts = store.board.unit_facts(unit.id, start=start, end=end, periods=periods, post_limit=LIST_LIMIT * 2 + 1,
                                   attempt_limit=LIST_LIMIT + 1, notice_limit=LIST_LIMIT)
    src_rows, posts, attempts, notices, evals = (facts.sources, facts.posts, facts.attempts, facts.notices,
                                                 facts.evaluations)
    by_channel: dict[str, list[PostLine]] = {ch: [] for ch in unit.channels}
    for p in posts[:LIST_LIMIT * 2]:
        late = None
        if p.published_at is not None:
            gap = (local(p.first_seen_at).date() - local(p.published_at).date()).days
            late = gap if gap > 1 else None
        by_channel.setdefault(p.channel, []).append(PostLine(
            p.channel, p.title, p.url, local(p.published_at), local(p.first_seen_at),
            source_names.get(p.source_id, COLUMN_TYPES.get(p.column_type, p.column_type)),
            p.date_suspicious, late))
    period_rank = {k: i for i, k in enumerate(periods)}
    evaluations = [EvaluationLine(e.period, CHANNEL_LABELS.get(e.channel, "整体"), rule_label(e.rule), e.status,
                                  status_label(e.status), STATUS_CSS[Status(e.status)], e.count, e.required,
                                  e.reason or "", e.deadline, *_review_fields(e),
                                  channel_key=e.channel, rule_key=e.rule)
                   for e in sorted(evals, key=lambda e: (-period_rank.get(e.period, 0), e.channel, e.rule))]
    return UnitView(
        unit_id=unit.id, name=unit.name, category_label=unit.category_label,
        leader=_contact_text(unit, "leader"), staff=_contact_text(unit, "staff"),
        weeks=mv.weeks, row=mv.rows[0] if mv.rows else None,
        sources=[SourceLine(r.id, CHANNEL_LABELS.get(r.channel, r.channel), r.name, r.url or "",
                            COLUMN_TYPES.get(r.column_type, r.column_type), local(r.last_attempt_at),
                            _outcome_label(r.last_outcome) if r.last_outcome else "尚未抓取",
                            local(r.last_ok_at), r.last_message or "")
                 for r in sorted(src_rows, key=lambda r: (r.channel, r.id))],
        posts=by_channel,
        attempts=[AttemptLine(local(a.started_at), CHANNEL_LABELS.get(a.channel, a.channel),
                              source_names.get(a.source_id, a.source_id), a.outcome, _outcome_label(a.outcome),
                              a.outcome in (Outcome.OK.value, Outcome.NOT_MODIFIED.value), a.http_status,
                              a.message or "", a.items_found, a.items_new) for a in attempts[:LIST_LIMIT]],
        notices=[NoticeLine(n.period, kind_label(n.kind),
                            channel_label(n.channel), n.status, _notice_status_label(n.status),
                            n.subject, local(n.sent_at), local(n.updated_at), n.last_error) for n in notices],
        evaluations=evaluations, score=mv.rows[0].score if mv.rows else None,
        range_label=f"{weeks[0].start:%Y年%m月%d日} — {weeks[-1].end:%Y年%m月%d日}",
        truncated_posts=len(posts) > LIST_LIMIT * 2, truncated_attempts=len(attempts) > LIST_LIMIT)


def _review_fields(e: Any) -> tuple[str, str, datetime | None, str]:
    """(computed label, reviewer, when, evidence URL) of a reviewed evaluation row, else blanks."""
    r = e.review
    if r is None:
        return "", "", None, ""
    return _computed_label(e), r.reviewer, local(r.created_at), http_url(r.evidence_url or "")


def _contact_text(unit: Unit, role: str) -> str:
    c = unit.contact(role)
    return f"{c.name}({c.title})" if c and c.title else (c.name if c else "")


# ------------------------------------------------------------------------------------ period summary
@dataclass
class SummaryLine:
    unit_id: str
    unit_name: str
    category_label: str
    channel: str
    rule: str
    status: str
    status_label: str
    count: int
    required: int
    reason: str
    streak: int = 0
    last_post: str = ""


@dataclass
class PeriodView:
    key: str
    label: str
    kind: str
    previous: str
    next: str | None
    counts: dict[str, int]                       # status -> number of unit×channel×rule verdicts
    units_total: int                             # units in the registry
    tally: PeriodCounts                          # the period's numbers (units, then unit·channel items)
    late_by_category: dict[str, list[SummaryLine]]
    at_risk: list[SummaryLine]
    unverified: list[SummaryLine]
    downloads: dict[str, str]                    # format -> relative path under the board
    evaluated: bool
    as_of: datetime | None = None                # the latest evaluation's "as of" time (local)


def period_summary(store: Store, registry: Registry, period: Period, today: date | None = None) -> PeriodView:
    """One period at a glance: late units by category (MISSED only), warnings, and the verdicts that
    could not be verified with their reasons — an unverified verdict never makes a unit late."""
    from .evaluate import streaks

    today = today or datetime.now(TZ).date()
    units = {u.id: u for u in registry.units}
    verdicts = [v for v in store.verdicts(period.key) if v.unit_id in units]
    streak = streaks(store, list(units.values()), period) if period.kind == "week" and verdicts else {}
    counts = {s.value: 0 for s in Status}
    late: dict[str, list[SummaryLine]] = {label: [] for label in CATEGORIES.values()}
    at_risk, unverified = [], []
    order = {u: i for i, u in enumerate(units)}
    newest = _newest_posts(store, sorted({v.unit_id for v in verdicts if v.status is Status.MISSED}), period.end_dt)
    for v in verdicts:
        counts[v.status.value] += 1
    # one line per unit · channel: overlapping rules are one finding, its rules listed (counts.findings)
    for f in sorted(findings(verdicts), key=lambda f: (order[f.unit_id], f.channel)):
        v = f.primary
        unit = units[v.unit_id]
        last = ((v.evidence.get("last_post") or {}).get("date") or str(v.evidence.get("last_update") or "")[:10]
                or _fmt_date(newest.get((v.unit_id, v.channel))))
        line = SummaryLine(unit.id, unit.name, unit.category_label, CHANNEL_LABELS.get(v.channel, "整体"),
                           merged_rule_label([rule_label(r) for r in f.rules]), v.status.value,
                           STATUS_LABELS[v.status], v.count, v.required,
                           "；".join(dict.fromkeys(m.reason for m in f.members if m.reason)),
                           streak.get((v.unit_id, v.channel), 0) if v.status is Status.MISSED else 0, last)
        if v.status is Status.MISSED:
            late.setdefault(unit.category_label, []).append(line)
        elif v.status is Status.AT_RISK:
            at_risk.append(line)
        elif v.status is Status.UNKNOWN:
            unverified.append(line)
    nxt = period.next()
    return PeriodView(
        key=period.key, label=period.label, kind=period.kind, previous=period.previous().key,
        next=nxt.key if nxt.start <= today else None, counts=counts, units_total=len(units),
        tally=PeriodCounts.of(verdicts),
        late_by_category={k: v for k, v in late.items() if v}, at_risk=at_risk, unverified=unverified,
        downloads={fmt: f"period/{period.key}/download.{fmt}" for fmt in ("xlsx", "docx")},
        evaluated=bool(verdicts), as_of=local(store.latest_evaluation_as_of(period.key)) if verdicts else None)


def _newest_posts(store: Store, unit_ids: list[str], before: datetime) -> dict[tuple[str, str], datetime]:
    """Newest stated publication time per (unit, channel) before `before` — one grouped query."""
    return store.board.newest_posts(unit_ids, before)


# ------------------------------------------------------------------------------------ rendering
def _fmt_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(TZ).strftime(fmt)


def _fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _fmt_dt(value, "%Y-%m-%d")
    return value.isoformat()


def _fmt_score(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+g}" if value else "0"




def _finalize(value: Any) -> Any:
    """Every value printed on a board page: bidi override characters from crawled titles removed (a
    title must not visually reorder the page), before autoescaping."""
    if not isinstance(value, str):
        return value
    cleaned = strip_bidi(value)
    return Markup(cleaned) if isinstance(value, Markup) else cleaned     # a macro's markup stays markup


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(config.TEMPLATES_DIR / "board")), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_finalize)
    env.filters.update(dt=_fmt_dt, day=_fmt_date, score=_fmt_score, http_url=http_url)
    env.globals.update(STATUS_LABELS={s.value: label for s, label in STATUS_LABELS.items()},
                       STATUS_CSS={s.value: css for s, css in STATUS_CSS.items()},
                       STATUS_ORDER=[s.value for s in STATUS_ORDER])
    return env


def render(template: str, *, root: str = "", **context: Any) -> str:
    """Render a board page. `root` is the URL prefix the board is mounted at (e.g. "/pubwatch")."""
    return _env().get_template(template).render(root=root.rstrip("/"),
                                                 generated_at=datetime.now(TZ), **context)
