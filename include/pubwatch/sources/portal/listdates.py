"""An entry's date by meaning and plausibility, shared by every list profile.

Each profile collects an entry's candidate dates with a rank (R_*: what the date means: a column
headed 发布日期, a "发布时间：" label, a date box, a JSON publish-time field … down to 成文日期);
`_finish` then chooses by rank, drops implausible dates (before 2000, after the read), infers
missing years in page order, flags unsure choices (CHECK_*: ListItem.extra["date_check"]) and
builds the ListItems. `_header_meaning` tells what a table column's header means.

Names starting with "_" are private to the `sources.portal` package.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from ...dates import DISORDER_DAYS, DateMatch, infer_year, infer_years, normalize_text, plausible
from ...types import TZ, ListItem


# Where a list entry's date came from, by meaning. The highest rank wins; the caller is told when
# the choice is unsure (ListItem.extra["date_check"]) so it can confirm from the article page.
R_ADMIN = 90          # the registry's selectors / json_spec name the date
R_COLUMN_PUB = 80     # a table column headed 发布日期 / 公开日期 …; a JSON publish-time field
R_COLUMN_PLAIN = 75   # a column headed 日期 / 时间
R_COLUMN_UPDATE = 70  # a column headed 更新日期
R_LABEL_PUB = 60      # "发布时间：…" next to the entry
R_JSON_PLAIN = 60     # a JSON field named date / time
R_DATE_CLASS = 50     # a date-only element classed date/time (or <time>), incl. day and year-month split
R_DATE_ONLY = 40      # another element holding only a date
R_LABEL_PLAIN = 30    # "日期：…" in a short element
R_LOOSE = 20          # a date in the entry's own short text (<li><a>…</a> 2026-11-20</li>)
R_TITLE_TAIL = 10     # a date at the very end of the title link's text
R_WEAK = 5            # created / updated times (JSON createTime, created_at, updateTime …)
R_WRITTEN = 1         # a document's own date: 成文日期 / 印发日期 / 发文日期

# ListItem.extra["date_check"]: why the list's date is not certain (the portal source then reads the
# article page of a new item once and keeps both dates).
CHECK_SEVERAL = "several_dates"
CHECK_WRITTEN = "written_date"
CHECK_WEAK = "weak_field"
CHECK_ORDER = "out_of_order"
CHECK_IMPLAUSIBLE = "implausible"


@dataclass
class _Raw:
    """An entry before its date is chosen and its year inferred."""

    title: str
    url: str
    when: DateMatch | None
    pinned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    cands: list[tuple[int, DateMatch, str | None]] = field(default_factory=list)   # (rank, date, field)
    check: str | None = None
    date_field: str | None = None
    implausible: str | None = None

_H_WRITTEN = re.compile(r"成文|印发|发文|签发|制发|生成|形成|签署")
_H_NOT_PUB = re.compile(r"实施|生效|施行|废止|失效|有效|截止|到期|开始|结束|办结|受理|答复|回复|办理|申请|出生|举办|活动")
_H_PUB = re.compile(r"发布|公开|发表|上网|发稿|刊发|公布|上传")
_H_OTHER = re.compile(r"机构|单位|部门|来源|机关|作者|处室|科室|文号|索引|名称|标题|题目|主题|序号|编号|分类|类别|状态|"
                      r"浏览|点击|附件|下载|操作|大小|格式")
_H_UPDATE = re.compile(r"更新|修改|维护")
_H_DATE = re.compile(r"日期|时间|日$|time|date", re.I)


def _header_meaning(label: str) -> tuple[int, str] | None:
    """(rank, label) of a table header if its column holds dates, by meaning: 发布日期 / 公开时间
    (R_COLUMN_PUB) over 日期 (R_COLUMN_PLAIN) over 更新时间 (R_COLUMN_UPDATE) over 成文日期 / 印发日期
    (R_WRITTEN); (0, label) for a column that is not a date (发布机构, 来源, 实施日期 …); None if unknown."""
    lab = re.sub(r"[\s:：]", "", normalize_text(label))
    if not lab or len(lab) > 12:
        return None
    has_date = bool(_H_DATE.search(lab))
    if _H_WRITTEN.search(lab) and has_date:
        return R_WRITTEN, lab
    if _H_NOT_PUB.search(lab):
        return 0, lab
    if _H_PUB.search(lab) and (has_date or lab in ("发布", "公开", "发布于")):
        return R_COLUMN_PUB, lab
    if _H_OTHER.search(lab):
        return 0, lab
    if _H_UPDATE.search(lab) and has_date:
        return R_COLUMN_UPDATE, lab
    if has_date:
        return R_COLUMN_PLAIN, lab
    return None

def _day_key(m: DateMatch) -> tuple[int, int, int]:
    return (m.year or 0, m.month, m.day)


def _choose(r: _Raw, reference: date) -> None:
    """Pick the entry's date from its candidates: the highest rank wins; if what ranks highest is
    implausible (before 2000, after the read: a CMS placeholder such as 1900-01-01) the entry has no
    date (r.implausible says why). The choice is marked unsure (r.check) when several dates tie at
    that rank, when a weak source (below R_LABEL_PUB) is contradicted by another candidate, or when
    only a created/updated time or a document's own date (成文日期) is known."""
    good: list[tuple[int, DateMatch, str | None]] = []
    bad: list[tuple[int, DateMatch]] = []
    for rank, m, fld in r.cands:
        if m.year is not None:
            dt = m.on(m.year)
            if dt is None:
                continue
            if not plausible(dt, reference):
                bad.append((rank, m))
                continue
        good.append((rank, m, fld))
    top_bad = max(bad, key=lambda c: c[0]) if bad else None
    if not good or top_bad is not None and top_bad[0] >= max(c[0] for c in good):
        r.when = None
        if top_bad is not None:
            m = top_bad[1]
            r.implausible = f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
            r.check = CHECK_IMPLAUSIBLE
            if good:
                r.extra = {**r.extra, "list_dates": sorted({_iso_day(c[1], reference) for c in good} - {None},
                                                           reverse=True)}
        return
    best = max(c[0] for c in good)
    top = [c for c in good if c[0] == best]
    days = {_day_key(c[1]) for c in top}
    chosen = max(top, key=lambda c: _day_key(c[1])) if len(days) > 1 else top[0]
    r.when, r.date_field = chosen[1], chosen[2]
    if len(days) > 1:
        r.check = CHECK_SEVERAL
    elif best == R_WRITTEN:
        r.check = CHECK_WRITTEN
    elif best <= R_WEAK:
        r.check = CHECK_WEAK
    elif best < R_LABEL_PUB and any(c[0] > R_WRITTEN and _day_key(c[1]) != _day_key(chosen[1]) for c in good):
        r.check = CHECK_SEVERAL
    if r.check == CHECK_SEVERAL:
        r.extra = {**r.extra, "list_dates": sorted({_iso_day(c[1], reference) for c in good if c[0] > R_WRITTEN} - {None},
                                                   reverse=True)}


def _iso_day(m: DateMatch, reference: date) -> str | None:
    if m.year is not None:
        return f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
    d = infer_year(m.month, m.day, reference)
    return d.isoformat() if d else None


def _out_of_order(raws: list[_Raw], published: dict[int, datetime]) -> None:
    """Mark entries whose date breaks the newest-first order of the page: newer than every entry
    above it, or older than every entry below it, by more than DISORDER_DAYS. Pinned entries are
    exempt; a page where many entries break the order is not newest-first and is left alone."""
    seq = [(r, published[id(r)].date()) for r in raws if not r.pinned and id(r) in published]
    n = len(seq)
    if n < 3:
        return
    slack = timedelta(days=DISORDER_DAYS)
    prefix_max, suffix_min = [seq[0][1]] * n, [seq[-1][1]] * n
    for i in range(1, n):
        prefix_max[i] = max(prefix_max[i - 1], seq[i][1])
    for i in range(n - 2, -1, -1):
        suffix_min[i] = min(suffix_min[i + 1], seq[i][1])
    flagged = [r for i, (r, d) in enumerate(seq)
               if i > 0 and d > prefix_max[i - 1] + slack or i < n - 1 and d < suffix_min[i + 1] - slack]
    if len(flagged) > max(2, n // 4):
        return
    for r in flagged:
        if r.check is None:
            r.check = CHECK_ORDER


def _finish(raws: list[_Raw], reference: date | None, base: str | None = None) -> list[ListItem]:
    """Resolve hrefs against `base`, dedupe URLs, choose each entry's date by meaning and
    plausibility, infer missing years in page order, flag unsure dates, build ListItems."""
    reference = reference or datetime.now(TZ).date()
    if base is not None:
        for r in raws:
            r.url = urljoin(base, r.url)
    seen: set[str] = set()
    raws = [r for r in raws if not (r.url in seen or seen.add(r.url))]
    for r in raws:
        _choose(r, reference)
    normal = [r for r in raws if not r.pinned and r.when is not None]
    seq = [date(r.when.year, r.when.month, r.when.day) if r.when.year else (r.when.month, r.when.day)
           for r in normal]
    years = {id(r): d for r, d in zip(normal, infer_years(seq, reference))}
    published: dict[int, datetime] = {}
    for r in raws:
        if r.when is None:
            continue
        if r.when.year is not None:
            when = r.when.on(r.when.year)
        else:
            d = years.get(id(r)) or infer_year(r.when.month, r.when.day, reference)
            when = r.when.on(d.year) if d else None
        if when is not None:
            published[id(r)] = when
    _out_of_order(raws, published)
    items = []
    for r in raws:
        extra = dict(r.extra)
        if r.date_field:
            extra["date_field"] = r.date_field
        if r.check:
            extra["date_check"] = r.check
        if r.implausible:
            extra["date_implausible"] = r.implausible
        items.append(ListItem(title=r.title, url=r.url, published=published.get(id(r)), pinned=r.pinned,
                              extra=extra))
    return items


def _date_notes(items: list[ListItem]) -> tuple[list[str], bool]:
    """Notes for the admin about the list's dates, and whether every stated date is implausible
    (a CMS printing placeholders such as 1900-01-01: the page cannot date anything)."""
    bad = [it.extra["date_implausible"] for it in items if "date_implausible" in it.extra]
    if not bad:
        return [], False
    examples = "、".join(sorted(set(bad))[:3])
    note = f"{len(bad)}条列表日期不可信(早于2000年或晚于读取时间: {examples}), 按无日期处理"
    return [note], not any(it.published is not None for it in items)
