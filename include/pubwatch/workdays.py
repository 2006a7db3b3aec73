"""China's working-day calendar: statutory holidays and make-up workdays (调休).

Data comes from two places, per year:
1. a data file `<year>.yaml` in the holidays directory (include/pubwatch/data/holidays/, or
   $PUBWATCH_HOLIDAYS_DIR) — the office adds next year's schedule there each November, when the
   State Council publishes it; a file wins over the library for its year;
2. the `chinesecalendar` package (1.11.0 covers 2004–2026);
3. for a year neither carries, a **provisional** calendar (暂定): weekends plus the statutory
   holidays of the national 《全国年节及纪念日放假办法》 (2024 revision: 元旦 1 day, 春节 4 days from
   除夕, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3; a statutory day on a weekend is made up on the
   next working day), lunar dates from `lunardate`, 清明 from chinesecalendar's solar terms. It
   knows no 调休 make-up workdays, so every verdict that depends on it is marked 暂定, and from
   1 November of the year before `coverage_warnings` asks the office for the data file — which
   replaces the provisional year as soon as it is there. `WorkCalendar(provisional=False)` turns
   it off (then a year without data raises `CalendarDataMissing`).

Data file format (see data/holidays/README.md and example-year.yaml.sample):

    year: 2027
    source: 国务院办公厅关于2027年部分节假日安排的通知
    holidays:                # days off (放假), each a single date or a from/to range
      - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
    workdays:                # make-up workdays (调休上班) falling on a weekend
      - {name: 春节, date: 2027-02-06}
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from .periods import Period

DEFAULT_HOLIDAYS_DIR = Path(__file__).resolve().parent / "data" / "holidays"

# chinesecalendar's English holiday names -> the names used in State Council notices.
_CN_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


class CalendarDataMissing(LookupError):
    """No holiday data for a year: add the year's data file, never guess."""

    def __init__(self, year: int, directory: Path):
        self.year = year
        self.directory = directory
        path = directory / f"{year}.yaml"
        super().__init__(
            f"缺少 {year} 年节假日安排数据, 无法判断工作日。请按国务院办公厅关于{year}年部分节假日安排的通知"
            f"添加数据文件 {path} (格式见同目录 README.md)。"
            f" (No holiday data for {year}: add {path}; see README.md in that directory.)")


class CalendarDataError(ValueError):
    """A holiday data file exists but cannot be used."""


@dataclass(frozen=True)
class _Year:
    """One year's resolved calendar: day -> (is_workday, holiday name or None)."""

    year: int
    workdays: frozenset[date]
    holidays: dict[date, str]
    makeup: dict[date, str]
    source: str
    provisional: bool = False


def _parse_day(raw: Any, where: str) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise CalendarDataError(f"{where}: 日期格式应为 YYYY-MM-DD: {raw!r} (bad date)") from None


def _entry_days(entry: Any, where: str) -> tuple[str, list[date]]:
    if not isinstance(entry, dict):
        raise CalendarDataError(f"{where}: 应为映射 (name + date 或 from/to) (expected a mapping)")
    name = str(entry.get("name") or "").strip()
    if not name:
        raise CalendarDataError(f"{where}.name: 缺少节日名称 (missing name)")
    if "date" in entry:
        return name, [_parse_day(entry["date"], f"{where}.date")]
    if "from" in entry and "to" in entry:
        first = _parse_day(entry["from"], f"{where}.from")
        last = _parse_day(entry["to"], f"{where}.to")
        if last < first or (last - first).days > 31:
            raise CalendarDataError(f"{where}: from/to 区间无效 {first}..{last} (bad range)")
        return name, [first + timedelta(days=i) for i in range((last - first).days + 1)]
    raise CalendarDataError(f"{where}: 需要 date 或 from/to (need date or from/to)")


def load_year_file(path: Path) -> _Year:
    """Parse and validate one `<year>.yaml`; CalendarDataError names the file and entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:   # PyYAML raises ValueError on 2027-13-01
        raise CalendarDataError(f"{path}: 无法读取, 日期格式应为 YYYY-MM-DD (cannot read): {exc}") from None
    if not isinstance(data, dict):
        raise CalendarDataError(f"{path}: 顶层应为映射 (top level must be a mapping)")
    year = data.get("year")
    if not isinstance(year, int) or str(year) != path.stem:
        raise CalendarDataError(f"{path}: year 应为 {path.stem} (year must match the file name)")
    holidays: dict[date, str] = {}
    makeup: dict[date, str] = {}
    for key, target in (("holidays", holidays), ("workdays", makeup)):
        entries = data.get(key) or []
        if not isinstance(entries, list):
            raise CalendarDataError(f"{path}: {key} 应为列表 (must be a list)")
        for i, entry in enumerate(entries):
            name, days = _entry_days(entry, f"{path}: {key}[{i}]")
            for d in days:
                if abs(d.year - year) > 1:
                    raise CalendarDataError(f"{path}: {key}[{i}]: 日期 {d} 不属于 {year} 年前后 (date out of year)")
                target[d] = name
    both = sorted(set(holidays) & set(makeup))
    if both:
        raise CalendarDataError(f"{path}: {both[0]} 同时是假日和调休上班日 (both holiday and workday)")
    return _build_year(year, holidays, makeup, str(data.get("source") or path.name))


def _build_year(year: int, holidays: dict[date, str], makeup: dict[date, str], source: str) -> _Year:
    days = Period.year_of(date(year, 1, 1)).dates()
    work = frozenset(d for d in days if d in makeup or (d.weekday() < 5 and d not in holidays))
    return _Year(year, work, {d: n for d, n in holidays.items() if d.year == year},
                 {d: n for d, n in makeup.items() if d.year == year}, source)


def _library_year(year: int) -> _Year | None:
    """The year as chinesecalendar knows it, or None if the library has no data."""
    import chinese_calendar as cc

    try:
        cc.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    holidays: dict[date, str] = {}
    makeup: dict[date, str] = {}
    for d in Period.year_of(date(year, 1, 1)).dates():
        is_holiday, name = cc.get_holiday_detail(d)
        if name is None:
            continue
        cn = _CN_NAMES.get(name, name)
        if is_holiday:
            holidays[d] = cn
        else:
            makeup[d] = cn
    return _build_year(year, holidays, makeup, f"chinesecalendar {getattr(cc, '__version__', '')}".strip())


# 《全国年节及纪念日放假办法》(2024 revision, in force from 2025): the statutory days off.
STATUTORY_RULE = "全国年节及纪念日放假办法"
PROVISIONAL_NOTE = "暂定"


def _provisional_year(year: int) -> _Year:
    """Weekends plus the statutory holidays of the national regulation, for a year without data."""
    import chinese_calendar as cc
    from lunardate import LunarDate

    statutory: list[tuple[date, str]] = [(date(year, 1, 1), "元旦")]
    spring = LunarDate(year, 1, 1).to_solar_date()
    statutory += [(spring + timedelta(days=i), "春节") for i in range(-1, 3)]        # 除夕 to 初三
    terms = cc.get_solar_terms(date(year, 4, 3), date(year, 4, 6))
    qingming = next((d for d, name in terms if name == "清明"), date(year, 4, 5))
    statutory += [(qingming, "清明节"), (date(year, 5, 1), "劳动节"), (date(year, 5, 2), "劳动节"),
                  (LunarDate(year, 5, 5).to_solar_date(), "端午节"),
                  (LunarDate(year, 8, 15).to_solar_date(), "中秋节")]
    statutory += [(date(year, 10, i), "国庆节") for i in (1, 2, 3)]
    holidays = {d: name for d, name in statutory}
    for d, name in sorted(statutory):           # 适逢周六、周日, 应当在工作日补假
        if d.weekday() >= 5:
            make_up = d + timedelta(days=1)
            while make_up.weekday() >= 5 or make_up in holidays:
                make_up += timedelta(days=1)
            holidays[make_up] = name
    built = _build_year(year, holidays, {}, f"{PROVISIONAL_NOTE}: 按《{STATUTORY_RULE}》推算, 未含调休")
    return _Year(built.year, built.workdays, built.holidays, built.makeup, built.source, provisional=True)


class WorkCalendar:
    """Working days in mainland China. Years load lazily and are cached."""

    def __init__(self, holidays_dir: str | Path | None = None, *, use_library: bool = True,
                 provisional: bool = True):
        env = os.environ.get("PUBWATCH_HOLIDAYS_DIR")
        self.holidays_dir = Path(holidays_dir or env or DEFAULT_HOLIDAYS_DIR)
        self.use_library = use_library
        self.provisional = provisional
        self._years: dict[int, _Year] = {}
        self._ranges: dict[tuple[date, date], tuple[date, ...]] = {}

    # ----- data -------------------------------------------------------------------------
    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        path = self.holidays_dir / f"{year}.yaml"
        loaded = load_year_file(path) if path.is_file() else None
        if loaded is None and self.use_library:
            loaded = _library_year(year)
        if loaded is None and self.provisional and 2000 <= year <= 2099:
            loaded = _provisional_year(year)
        if loaded is None:
            raise CalendarDataMissing(year, self.holidays_dir)
        self._years[year] = loaded
        return loaded

    def has_year(self, year: int) -> bool:
        """Whether real data (a data file or the library) carries `year` — not a provisional guess."""
        try:
            return not self._year(year).provisional
        except CalendarDataMissing:
            return False

    def is_provisional(self, year: int) -> bool:
        """Whether `year` is the provisional calendar (no data file, not in the library)."""
        try:
            return self._year(year).provisional
        except CalendarDataMissing:
            return False

    def provisional_years(self, start: date, end: date) -> list[int]:
        """The years of [start, end] that only the provisional calendar covers."""
        return [y for y in range(start.year, end.year + 1) if self.is_provisional(y)]

    def coverage_warnings(self, today: date) -> list[str]:
        """What the office should do about the calendar: this year without data, or — from
        1 November on — next year's schedule not yet entered (Chinese, one line each)."""
        years = [today.year] + ([today.year + 1] if today.month >= 11 else [])
        out = []
        for year in years:
            if not self.has_year(year):
                out.append(f"{year}年节假日安排尚未录入: 暂按《{STATUTORY_RULE}》推算(不含调休), 相关结果标注"
                           f"「{PROVISIONAL_NOTE}」; 国务院办公厅发布{year}年放假安排后, 请添加数据文件 "
                           f"{self.holidays_dir / f'{year}.yaml'}")
        return out

    def source_of(self, year: int) -> str:
        return self._year(year).source

    # ----- single days ------------------------------------------------------------------
    def is_workday(self, d: date) -> bool:
        return d in self._year(d.year).workdays

    def holiday_name(self, d: date) -> str | None:
        """The statutory holiday's Chinese name (春节, 国庆节 ...) or None (incl. plain weekends)."""
        return self._year(d.year).holidays.get(d)

    def makeup_workday_name(self, d: date) -> str | None:
        """For a make-up workday (调休上班), the holiday it belongs to; else None."""
        return self._year(d.year).makeup.get(d)

    # ----- ranges -----------------------------------------------------------------------
    def working_days(self, start: date, end: date) -> list[date]:
        """Working days in [start, end], oldest first (short ranges are cached)."""
        cached = self._ranges.get((start, end))
        if cached is not None:
            return list(cached)
        out = []
        d = start
        while d <= end:
            if self.is_workday(d):
                out.append(d)
            d += timedelta(days=1)
        if (end - start).days <= 31:
            self._ranges[(start, end)] = tuple(out)
        return out

    def count_working_days(self, start: date, end: date) -> int:
        return len(self.working_days(start, end))

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after d (before d for negative n); d itself for n == 0.

        "自形成之日起20个工作日内" = add_working_days(formed, 20): the day of forming is not
        counted, the 20th working day after it is the last allowed day.
        """
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            d += timedelta(days=step)
            if self.is_workday(d):
                remaining -= 1
        return d

    def reminder_day(self, week: Period) -> date | None:
        """Friday if it is a working day, else the last working day before it (Mon–Thu) of
        that week, else None (no working day before Friday, e.g. the Spring Festival week)."""
        monday = week.start if week.kind == "week" else Period.week_of(week.start).start
        for offset in (4, 3, 2, 1, 0):
            d = monday + timedelta(days=offset)
            if self.is_workday(d):
                return d
        return None

    def week_summary(self, d: date) -> dict[str, Any]:
        week = Period.week_of(d)
        reminder = self.reminder_day(week)
        return {
            "week": week.key,
            "start": week.start.isoformat(),
            "end": week.end.isoformat(),
            "working_days": [x.isoformat() for x in self.working_days(week.start, week.end)],
            "reminder_day": reminder.isoformat() if reminder else None,
            "provisional": bool(self.provisional_years(week.start, week.end)),
            "sources": sorted({self.source_of(y) for y in range(week.start.year, week.end.year + 1)}),
        }


def cli_calendar(argv: list[str]) -> int:
    """`python -m pubwatch calendar DATE`: the week containing DATE as JSON on stdout.

    Exit 0 on success; 2 (message on stderr) for a bad date or a year without data.
    """
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("用法 (usage): python -m pubwatch calendar YYYY-MM-DD", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        day = date.fromisoformat(argv[0].strip())
    except ValueError:
        print(f"日期格式应为 YYYY-MM-DD: {argv[0]!r} (bad date)", file=sys.stderr)
        return 2
    try:
        summary = WorkCalendar().week_summary(day)
    except (CalendarDataMissing, CalendarDataError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False))
    return 0
