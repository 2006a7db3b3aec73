"""Deterministic demo content: every unit's posts, relative to the demo week.

The demo week is the Monday–Sunday week containing `as_of` (a Friday 09:00 Asia/Shanghai by
default). Week 0 is that week (posts only up to `as_of`), week -1 the week before (the closed
week the Friday circular is about), and so on back to week -HISTORY_WEEKS.
Each unit/channel follows a scenario so the demo shows every status.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..types import TZ

HISTORY_WEEKS = 10

TOPICS = ["安全生产", "乡村振兴", "优化营商环境", "政务公开", "疫情防控", "防汛抗旱", "民生实事", "作风建设",
          "秸秆禁烧", "消防安全", "扫黑除恶", "冬季供暖", "就业帮扶", "食品安全", "城乡环境整治", "法治宣传"]
ACTIONS = ["召开{t}工作推进会", "开展{t}专项检查", "部署{t}重点工作", "举办{t}业务培训", "督导{t}落实情况",
           "召开{t}专题会议", "深入基层调研{t}工作", "扎实推进{t}工作"]

# (scenario per channel) — see SCENARIOS below for what each one produces
UNIT_SCENARIOS: dict[str, dict[str, str]] = {
    "jyj": {"portal": "regular", "wechat": "regular"},
    "wjw": {"portal": "missed_last", "wechat": "regular"},
    "mzj": {"portal": "regular", "wechat": "missed_last"},
    "czj": {"portal": "missed_3", "wechat": "missed_3"},
    "gaj": {"portal": "down", "wechat": "regular"},
    "sjj": {"portal": "waf", "wechat": "regular"},
    "nyncj": {"portal": "at_risk", "wechat": "at_risk"},
    "zjj": {"portal": "regular", "wechat": "regular"},
    "hbj": {"portal": "busy", "wechat": "regular"},
    "tjj": {"portal": "regular"},
    "tyjrj": {"portal": "regular", "wechat": "stale"},
    "wlj": {"portal": "nodate", "wechat": "regular"},
    "cgz": {"portal": "regular", "wechat": "regular"},
    "smx": {"portal": "missed_last", "wechat": "regular"},
    "lqz": {"portal": "new", "wechat": "new"},
}

UNIT_SHORT = {"jyj": "县教育局", "wjw": "县卫健委", "mzj": "县民政局", "czj": "县财政局", "gaj": "县公安局",
              "sjj": "县审计局", "nyncj": "县农业农村局", "zjj": "县住建局", "hbj": "县生态环境局",
              "tjj": "县统计局", "tyjrj": "县退役军人事务局", "wlj": "县文旅局", "cgz": "城关镇",
              "smx": "石门乡", "lqz": "龙泉镇"}


@dataclass(frozen=True)
class DemoPost:
    unit_id: str
    channel: str
    seq: int                 # stable id within unit+channel
    title: str
    published: datetime      # aware, Asia/Shanghai

    @property
    def slug(self) -> str:
        return f"{self.published:%Y%m%d}{self.seq:04d}"


def week_monday(as_of: datetime) -> date:
    d = as_of.astimezone(TZ).date()
    return d - timedelta(days=d.weekday())


def _days_for(scenario: str, week: int) -> list[int]:
    """Weekday offsets (0=Mon) of posts in week `week` (0 = demo week, negative = earlier)."""
    regular = [1, 3]                     # Tuesday, Thursday
    if scenario in ("regular", "nodate"):
        return regular
    if scenario == "missed_last":
        return [] if week == -1 else regular
    if scenario == "missed_3":
        return [] if week >= -3 else regular
    if scenario == "at_risk":
        return [] if week == 0 else regular
    if scenario == "busy":
        return [0, 1, 1, 2, 3, 4]
    if scenario == "new":
        return [2] if week == 0 else []
    if scenario == "stale":
        return regular if week <= -2 else []
    return []                            # down / waf: the page never shows anything


def _title(unit_id: str, channel: str, seq: int) -> str:
    h = int(hashlib.md5(f"{unit_id}/{channel}/{seq}".encode()).hexdigest(), 16)
    action = ACTIONS[h % len(ACTIONS)].format(t=TOPICS[(h // 7) % len(TOPICS)])
    return f"{UNIT_SHORT.get(unit_id, unit_id)}{action}"


def posts_for(unit_id: str, channel: str, as_of: datetime) -> list[DemoPost]:
    """The unit's posts on a channel, newest first, none after `as_of`."""
    scenario = UNIT_SCENARIOS.get(unit_id, {}).get(channel)
    if scenario is None:
        return []
    monday0 = week_monday(as_of)
    out: list[DemoPost] = []
    for week in range(-HISTORY_WEEKS, 1):
        monday = monday0 + timedelta(weeks=week)
        for i, wd in enumerate(_days_for(scenario, week)):
            hour = 9 + (i * 3) % 8 + (1 if channel == "wechat" else 0)
            published = datetime.combine(monday + timedelta(days=wd), time(hour, 30), TZ)
            if published > as_of:
                continue
            seq = (week + HISTORY_WEEKS) * 10 + i
            out.append(DemoPost(unit_id, channel, seq, _title(unit_id, channel, seq), published))
    out.sort(key=lambda p: (p.published, p.seq), reverse=True)
    return out


def scenario_of(unit_id: str, channel: str) -> str | None:
    return UNIT_SCENARIOS.get(unit_id, {}).get(channel)


def default_as_of(now: datetime | None = None) -> datetime:
    """The most recent Friday 09:00 Asia/Shanghai at or before `now` (the weekly DAG's slot).

    $PUBWATCH_DEMO_AS_OF (ISO time) pins it, e.g. for tests."""
    import os

    pinned = os.environ.get("PUBWATCH_DEMO_AS_OF")
    if pinned and now is None:
        value = datetime.fromisoformat(pinned)
        return (value if value.tzinfo else value.replace(tzinfo=TZ)).astimezone(TZ)
    now = (now or datetime.now(TZ)).astimezone(TZ)
    d = now.date()
    back = (d.weekday() - 4) % 7
    friday = datetime.combine(d - timedelta(days=back), time(9, 0), TZ)
    if friday > now:
        friday -= timedelta(days=7)
    return friday
