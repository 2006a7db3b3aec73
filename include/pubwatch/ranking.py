"""Scores, rankings by category and post totals for a month, quarter or year (季度/年度排名, 发文X篇).

Scores add up the scoring table (policies.yaml `scoring:`) over every stored verdict inside the period:
each week's verdicts plus the period's own (e.g. monthly quotas). Units that could not be verified or
were exempt score 0 for that verdict — never a penalty.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from . import scoring
from .periods import Period
from .types import CHANNEL_LABELS, TZ


def periods_within(period: Period) -> list[Period]:
    """The period itself and the weeks/months/quarters that end inside it (their verdicts count)."""
    inner: list[Period] = [period]
    if period.kind in ("month", "quarter", "year"):
        inner += [w for w in period.weeks() if period.start <= w.end <= period.end]
    if period.kind in ("quarter", "year"):
        m = Period.month_of(period.start)
        while m.start <= period.end:
            inner.append(m)
            m = m.next()
    if period.kind == "year":
        q = Period.quarter_of(period.start)
        while q.start <= period.end:
            inner.append(q)
            q = q.next()
    return inner


def ranking(store, units: Sequence, policies, period: Period) -> dict[str, Any]:
    """Scores and ranks by category of `units` over `period` (its weeks, months, … included)."""
    verdicts = store.verdicts_in([p.key for p in periods_within(period)])
    scores = scoring.score_units(verdicts, policies)
    rows = scoring.rank(units, scores, by_category=True)
    posts = store.post_facts([u.id for u in units], period.start_dt, period.end_dt)
    totals = scoring.post_totals((p for ps in posts.values() for p in ps), units, period.start_dt, period.end_dt)
    for row in rows:
        row["posts"] = totals.get(row["unit_id"], {})
        row["posts_text"] = scoring.totals_text(row["posts"])
        row["verdicts"] = sum(1 for v in verdicts if v.unit_id == row["unit_id"])
    return {"period": period.key, "label": period.label, "rows": rows,
            "generated_at": datetime.now(TZ).isoformat(timespec="seconds")}


def write_ranking_xlsx(result: dict[str, Any], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "排名"
    ws.append([f"{result['label']} 政府网站和政务新媒体信息更新情况排名"])
    ws["A1"].font = Font(bold=True, size=14)
    header = ["类别", "类别内排名", "单位", "得分"] + [f"{CHANNEL_LABELS[c]}发文(篇)" for c in CHANNEL_LABELS] + ["合计(篇)"]
    ws.append(header)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in result["rows"]:
        posts = r["posts"]
        ws.append([r["category_label"], r["rank"], r["name"], r["score"]]
                  + [posts.get(c, 0) for c in CHANNEL_LABELS] + [posts.get("total", 0)])
    for col, width in zip("ABCDEFG", (12, 10, 22, 8, 16, 16, 10)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A3"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
