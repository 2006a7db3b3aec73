"""The unit registry: units.yaml -> validated Unit / SourceConfig objects.

One broken entry never stops the others: `load_registry` returns the good units plus a list
of `RegistryError`s, each naming the unit and the field.

A source entry's own fields (a column's profile, selectors, max_pages …; a WeChat source's url,
conn_id, path …) belong to its source kind: the registry asks the kind's class
(`pubwatch.sources.Source.check_entry`) and knows no kind or profile by name.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


from . import yamlfile
from .types import PORTAL, WECHAT

CATEGORIES = {
    "department": "县直部门",
    "town": "乡镇",
    "institution": "事业单位",
    "party": "党群部门",
}
COLUMN_TYPES = {
    "news": "动态要闻",
    "notice": "通知公告",
    "policy": "政策文件",
    "personnel": "人事信息",
    "planning": "规划计划",
    "other": "其他",
}
UNIT_FIELDS = {"id", "name", "category", "start_date", "contacts", "portal", "wechat",
               "suspended", "policy", "owned_site", "note"}
ENTRY_FIELDS = {"id", "name", "type"}     # what the registry reads of a source entry; the rest is the kind's
PORTAL_KIND = "portal"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENV_RE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class RegistryError(ValueError):
    def __init__(self, unit: str, field_name: str, message: str, unit_name: str = ""):
        self.unit, self.field, self.message, self.unit_name = unit, field_name, message, unit_name
        super().__init__(f"单位 {unit}: 字段 {field_name}: {message}")

    @property
    def skipped_line(self) -> str:
        """For supervisors: "登记表错误, 本周未监测: 县XX局 — portl: 未知字段 …"."""
        who = f"{self.unit_name} (单位 {self.unit})" if self.unit_name and self.unit_name != self.unit \
            else f"单位 {self.unit}"
        return f"登记表错误, 本周未监测: {who} — 字段 {self.field}: {self.message}"


@dataclass(frozen=True)
class Contact:
    role: str                  # "leader" (分管领导) | "staff" (信息员)
    name: str
    title: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class SourceConfig:
    """Something pubwatch fetches: a portal column or one WeChat source of an account."""

    id: str                    # unique over the registry, e.g. "jyj.portal.gzdt"
    unit_id: str
    channel: str               # PORTAL | WECHAT
    type: str                  # its source kind: "portal" or a WeChat kind ("rss", …): pubwatch.sources
    name: str                  # column name (工作动态) or account name
    url: str = ""
    column_type: str = "news"
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass(frozen=True)
class Exemption:
    """A dated excuse: periods overlapping [start, end] are 免检 for `channel` (None: every channel)."""

    start: date
    end: date
    reason: str                                 # 机构改革, 账号迁移 … shown wherever the verdict is
    channel: str | None = None

    def covers(self, channel: str, first: date, last: date) -> bool:
        """Whether this exemption excuses `channel` in the period [first, last]: any overlap counts
        (a unit is never held to a period it was excused for in part)."""
        if self.start > last or self.end < first:
            return False
        return self.channel is None or self.channel == channel


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    category: str
    contacts: tuple[Contact, ...]
    sources: tuple[SourceConfig, ...]
    start_date: date | None = None
    suspended: frozenset[str] = frozenset()        # channels not supervised right now
    policy: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # channel -> the day its suspension began (None: undated, every period — the old form)
    suspended_since: dict[str, date | None] = field(default_factory=dict, hash=False, compare=False)
    exemptions: tuple[Exemption, ...] = ()

    def suspended_in(self, channel: str, last_day: date) -> bool:
        """Whether `channel` is suspended for a period ending on `last_day` (periods wholly
        before the suspension began are judged as they were)."""
        if channel not in self.suspended:
            return False
        since = self.suspended_since.get(channel)
        return since is None or last_day >= since

    def exemption_for(self, channel: str, first: date, last: date) -> Exemption | None:
        return next((e for e in self.exemptions if e.covers(channel, first, last)), None)

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.category, self.category)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c in (PORTAL, WECHAT) if any(s.channel == c for s in self.sources))

    def sources_of(self, channel: str) -> tuple[SourceConfig, ...]:
        return tuple(s for s in self.sources if s.channel == channel)

    def contact(self, role: str) -> Contact | None:
        return next((c for c in self.contacts if c.role == role), None)


@dataclass
class Registry:
    units: list[Unit]
    errors: list[RegistryError]
    settings: dict[str, Any]
    path: Path | None = None

    def unit(self, unit_id: str) -> Unit:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def source(self, source_id: str) -> SourceConfig:
        for u in self.units:
            for s in u.sources:
                if s.id == source_id:
                    return s
        raise KeyError(source_id)

    def select(self, ids_or_names: list[str] | None) -> list[Unit]:
        if not ids_or_names:
            return list(self.units)
        wanted = set(ids_or_names)
        return [u for u in self.units if u.id in wanted or u.name in wanted]


def default_registry_path() -> Path:
    env = os.environ.get("PUBWATCH_REGISTRY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "units.yaml"


def _expand(value: Any) -> Any:
    """Expand ${VAR} / ${VAR:-default} in strings (used for the demo portal's port)."""
    if isinstance(value, str):
        return _ENV_RE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _contact(unit: str, role: str, raw: Any) -> Contact:
    fld = f"contacts.{role}"
    if not isinstance(raw, dict):
        raise RegistryError(unit, fld, "缺少联系人 (需要 name 以及 email 或 mobile)")
    name = str(raw.get("name") or "").strip()
    email = str(raw.get("email") or "").strip()
    mobile = str(raw.get("mobile") or "").strip()
    if not name:
        raise RegistryError(unit, f"{fld}.name", "缺少姓名")
    if not email and not mobile:
        raise RegistryError(unit, fld, "至少需要 email 或 mobile 之一")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise RegistryError(unit, f"{fld}.email", f"邮箱格式不正确: {email}")
    if mobile and not re.fullmatch(r"1\d{10}", mobile):
        raise RegistryError(unit, f"{fld}.mobile", f"手机号应为11位数字: {mobile}")
    return Contact(role=role, name=name, title=str(raw.get("title") or ""), email=email, mobile=mobile)


def _unknown(unit: str, where: str, raw: dict, allowed: set[str]) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise RegistryError(unit, f"{where}{extra[0]}", f"未知字段 (可用: {', '.join(sorted(allowed))})")


def _kinds(channel: str) -> dict[str, Any]:
    """The source kinds of a channel (imported here, not at the top: the registry is also read
    where no source is ever fetched, e.g. the board)."""
    from .sources import source_kinds

    return source_kinds(channel)


def _kind_options(uid: str, where: str, kind: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The kind's own fields of an entry, checked by the kind; a RegistryError names the field."""
    from .sources import OptionError

    try:
        return kind.check_entry(fields)
    except OptionError as exc:
        raise RegistryError(uid, f"{where}.{exc.field}", exc.message) from None


def _portal_sources(uid: str, raw: Any, owned: bool) -> list[SourceConfig]:
    if raw is None:
        return []
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list) or not raw["columns"]:
        raise RegistryError(uid, "portal.columns", "应为栏目列表")
    kind = _kinds(PORTAL)[PORTAL_KIND]
    out = []
    for i, col in enumerate(raw["columns"]):
        where = f"portal.columns[{i}]"
        if not isinstance(col, dict):
            raise RegistryError(uid, where, "应为映射 (id/name/url/type)")
        _unknown(uid, where + ".", col, ENTRY_FIELDS | kind.field_names())
        cid = str(col.get("id") or f"c{i + 1}")
        if not _ID_RE.match(cid):
            raise RegistryError(uid, where + ".id", f"栏目 id 只能用小写字母、数字、-、_: {cid!r}")
        ctype = col.get("type", "news")
        if ctype not in COLUMN_TYPES:
            raise RegistryError(uid, where + ".type", f"栏目类型应为 {', '.join(COLUMN_TYPES)} 之一: {ctype!r}")
        opts = _kind_options(uid, where, kind, {k: v for k, v in col.items() if k not in ENTRY_FIELDS})
        url = opts.pop("url")
        opts.setdefault("owned_site", owned)
        out.append(SourceConfig(id=f"{uid}.portal.{cid}", unit_id=uid, channel=PORTAL, type=kind.type_name,
                                name=str(col.get("name") or cid), url=url, column_type=ctype, options=opts))
    return out


def _wechat_sources(uid: str, raw: Any) -> list[SourceConfig]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise RegistryError(uid, "wechat", "应为映射 (account/sources)")
    _unknown(uid, "wechat.", raw, {"account", "sources", "note"})
    account = str(raw.get("account") or "").strip()
    if not account:
        raise RegistryError(uid, "wechat.account", "缺少公众号名称")
    kinds = _kinds(WECHAT)
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise RegistryError(uid, "wechat.sources", f"至少需要一个数据源 ({' / '.join(kinds)})")
    out = []
    for i, src in enumerate(sources):
        where = f"wechat.sources[{i}]"
        if not isinstance(src, dict):
            raise RegistryError(uid, where, "应为映射")
        stype = src.get("type")
        kind = kinds.get(stype) if isinstance(stype, str) else None
        if kind is None:
            raise RegistryError(uid, where + ".type", f"应为 {', '.join(sorted(kinds))} 之一: {stype!r}")
        _unknown(uid, where + ".", src, ENTRY_FIELDS | kind.field_names())
        opts = _kind_options(uid, where, kind, {k: v for k, v in src.items() if k not in ENTRY_FIELDS})
        url = opts.pop("url", None) or ""
        sid = str(src.get("id") or stype)
        if not _ID_RE.match(sid):
            raise RegistryError(uid, where + ".id", f"数据源 id 只能用小写字母、数字、-、_: {sid!r}")
        out.append(SourceConfig(id=f"{uid}.wechat.{sid}", unit_id=uid, channel=WECHAT, type=stype,
                                name=account, url=url, column_type="news", options=opts))
    return out


def parse_unit(raw: Any, index: int) -> Unit:
    if not isinstance(raw, dict):
        raise RegistryError(f"#{index + 1}", "-", "单位条目应为映射")
    uid = raw.get("id")
    label = str(raw.get("name") or uid or f"#{index + 1}")
    if not isinstance(uid, str) or not _ID_RE.match(uid):
        raise RegistryError(label, "id", f"单位 id 只能用小写字母、数字、-、_ (1-40 位): {uid!r}")
    _unknown(uid, "", raw, UNIT_FIELDS)
    name = str(raw.get("name") or "").strip()
    if not name:
        raise RegistryError(uid, "name", "缺少单位名称")
    category = raw.get("category")
    if category not in CATEGORIES:
        raise RegistryError(uid, "category", f"应为 {', '.join(CATEGORIES)} 之一: {category!r}")
    start = raw.get("start_date")
    if start is not None:
        start = _day(uid, "start_date", start)
    contacts_raw = raw.get("contacts")
    if not isinstance(contacts_raw, dict):
        raise RegistryError(uid, "contacts", "缺少联系人 (leader 分管领导, staff 信息员)")
    contacts = (_contact(uid, "leader", contacts_raw.get("leader")),
                _contact(uid, "staff", contacts_raw.get("staff")))
    owned = bool(raw.get("owned_site", False))
    sources = _portal_sources(uid, raw.get("portal"), owned) + _wechat_sources(uid, raw.get("wechat"))
    if not sources:
        raise RegistryError(uid, "portal/wechat", "至少需要一个门户栏目或公众号")
    suspended = _suspended(uid, raw.get("suspended"))
    policy = raw.get("policy") or {}
    if not isinstance(policy, dict):
        raise RegistryError(uid, "policy", "应为映射")
    return Unit(id=uid, name=name, category=category, contacts=contacts, sources=tuple(sources),
                start_date=start, suspended=frozenset(suspended), policy=policy, suspended_since=suspended)


def _day(uid: str, field_name: str, raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        raise RegistryError(uid, field_name, f"日期格式应为 YYYY-MM-DD: {raw!r}") from None


def _suspended(uid: str, raw: Any) -> dict[str, date | None]:
    """`suspended: {wechat: 2026-11-01}` (since that day; earlier periods unchanged), or the old
    undated list `suspended: [wechat]` (every period)."""
    if raw is None:
        return {}
    if isinstance(raw, list) and all(s in (PORTAL, WECHAT) for s in raw):
        return {s: None for s in raw}
    if isinstance(raw, dict) and all(k in (PORTAL, WECHAT) for k in raw):
        return {ch: (None if since is None else _day(uid, f"suspended.{ch}", since)) for ch, since in raw.items()}
    raise RegistryError(uid, "suspended", "应为 {渠道: 起始日期} (如 {wechat: 2026-11-01}) 或渠道列表: portal / wechat")


EXEMPTION_FIELDS = {"unit", "channel", "from", "to", "reason"}


def _exemptions(raw: Any, known: set[str]) -> tuple[dict[str, list[Exemption]], list[RegistryError]]:
    """Top-level `exemptions:` entries by unit id, and one error per bad entry (the rest apply)."""
    out: dict[str, list[Exemption]] = {}
    errors: list[RegistryError] = []
    if raw is None:
        return out, errors
    if not isinstance(raw, list):
        return out, [RegistryError("-", "exemptions", "应为列表 (unit, channel, from, to, reason)")]
    for i, entry in enumerate(raw):
        where = f"exemptions[{i}]"
        try:
            if not isinstance(entry, dict):
                raise RegistryError("-", where, "应为映射 (unit, channel, from, to, reason)")
            uid = str(entry.get("unit") or "")
            _unknown(uid or "-", f"{where}.", entry, EXEMPTION_FIELDS)
            if uid not in known:
                raise RegistryError(uid or "-", f"{where}.unit", "登记表中没有该单位")
            channel = entry.get("channel")
            if channel not in (None, PORTAL, WECHAT):
                raise RegistryError(uid, f"{where}.channel", "应为 portal / wechat (不填: 全部渠道)")
            start = _day(uid, f"{where}.from", entry.get("from"))
            end = _day(uid, f"{where}.to", entry.get("to"))
            if end < start:
                raise RegistryError(uid, f"{where}.to", f"结束日期早于开始日期: {start} .. {end}")
            reason = str(entry.get("reason") or "").strip()
            if not reason:
                raise RegistryError(uid, f"{where}.reason", "请写明免检原因 (如 机构改革, 账号迁移)")
            out.setdefault(uid, []).append(Exemption(start, end, reason, channel))
        except RegistryError as exc:
            errors.append(exc)
    return out, errors


def parse_registry(data: Any, path: Path | None = None) -> Registry:
    if not isinstance(data, dict) or not isinstance(data.get("units"), list):
        raise ValueError(f"{path or 'registry'}: 顶层应为映射且包含 units 列表")
    data = _expand(data)
    units: list[Unit] = []
    errors: list[RegistryError] = []
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for i, raw in enumerate(data["units"]):
        try:
            unit = parse_unit(raw, i)
            if unit.id in seen_ids:
                raise RegistryError(unit.id, "id", "单位 id 重复; 第二个条目被跳过")
            if unit.name in seen_names:
                raise RegistryError(unit.id, "name", f"单位名称重复: {unit.name}")
        except RegistryError as exc:
            if not exc.unit_name and isinstance(raw, dict) and raw.get("name"):
                exc.unit_name = str(raw["name"]).strip()
            errors.append(exc)
            continue
        seen_ids.add(unit.id)
        seen_names.add(unit.name)
        units.append(unit)
    exemptions, bad = _exemptions(data.get("exemptions"), seen_ids)
    errors.extend(bad)
    units = [dataclasses.replace(u, exemptions=tuple(exemptions[u.id])) if u.id in exemptions else u
             for u in units]
    settings = {k: v for k, v in data.items() if k not in ("units", "exemptions")}
    return Registry(units=units, errors=errors, settings=settings, path=path)


def load_registry(path: str | Path | None = None) -> Registry:
    p = Path(path) if path else default_registry_path()
    return parse_registry(yamlfile.load(p), p)
