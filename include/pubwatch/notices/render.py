"""Render a notice (reminder, overdue circular, escalation, weekly summary) from Jinja2 templates.

Templates live in include/templates/notices/<kind>.{subject,txt,html,md}.j2 and are meant to be
edited by the office. Each kind is rendered four ways: a one-line subject, plain text (email
body / outbox), HTML (email, autoescaped) and markdown (WeCom / DingTalk group robots).

Crawled text (post titles, URLs, reasons quoting titles) comes from the internet. HTML output is
autoescaped; markdown output must pass crawled text through `md_escape` (and links through
`md_link`), which turn markdown / HTML / @mention syntax into harmless full-width look-alikes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote

import jinja2

from .. import rules
from ..urls import http_url

from ..types import CHANNEL_LABELS, STATUS_LABELS, TZ, Status, Verdict

KINDS = ("reminder", "overdue", "escalation", "summary")
PARTS = ("subject", "txt", "html", "md")
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "notices"
UNIT_SCOPE_LABEL = "门户网站和微信公众号合计"
WEEKDAYS_CN = "一二三四五六日"
MD_LIST_LIMIT = 5       # unverified items a robot's summary lists before "…共N项, 详见邮件或监测看板"

# Characters that mean something in markdown / the robots' HTML-ish markup, and the full-width
# characters that read the same to a person but mean nothing to a renderer.
_MD_MAP = str.maketrans({
    "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "{": "｛", "}": "｝", "[": "［", "]": "］",
    "(": "（", ")": "）", "#": "＃", "+": "＋", "!": "！", "|": "｜", "<": "＜", ">": "＞",
    "~": "～", "@": "＠", "&": "＆", "$": "＄", "=": "＝",
})
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE_RE = re.compile(r"\s+")
_LIST_START_RE = re.compile(r"^(\s*)([-:])")
_NUMBERED_RE = re.compile(r"^(\d+)\.")


@dataclass
class RenderedNotice:
    subject: str
    text: str
    html: str
    markdown: str


# ----- filters ----------------------------------------------------------------------------------
def oneline(value: Any) -> str:
    """Crawled text on one line: control / bidi characters removed, whitespace collapsed."""
    if value is None:
        return ""
    return _SPACE_RE.sub(" ", _CONTROL_RE.sub("", str(value))).strip()


def md_escape(value: Any) -> str:
    """Neutralise markdown, HTML and @mentions in crawled text for WeCom / DingTalk markdown.

    Line breaks are removed (no injected headings or quotes), syntax characters become full-width
    look-alikes, "://" is broken so no bare URL is auto-linked, and a leading "-" / "1." cannot
    start a list.
    """
    text = oneline(value).translate(_MD_MAP).replace("://", "：//")
    text = _LIST_START_RE.sub(lambda m: m.group(1) + ("－" if m.group(2) == "-" else "："), text)
    return _NUMBERED_RE.sub(r"\1．", text)


_URL_RE = re.compile(r"https?://[^\s<>\"'()（）\[\]，,；;、]+", re.IGNORECASE)


def md_text(value: Any) -> str:
    """Crawled or diagnostic text for a robot's markdown: escaped like `md_escape`, but each http(s)
    URL in it becomes a clickable markdown link (`[host/path](url)`) — never a dead "http：//"."""
    text = oneline(value)
    out, pos = [], 0
    for m in _URL_RE.finditer(text):
        url = m.group(0).rstrip(".。:：")
        before = text[pos:m.start()]
        out.append(md_escape(before) + (" " if before.endswith(" ") else "") if pos == 0 else _md_inline(before))
        label = _md_inline(url.split("://", 1)[1])
        href = safe_url(url)
        out.append(f"[{label}]({href})" if href else label)
        pos = m.start() + len(url)
    rest = text[pos:]
    out.append(md_escape(rest) if pos == 0 else _md_inline(rest))
    return "".join(out)


def _md_inline(text: str) -> str:
    """md_escape for a piece inside a line (no line start to guard, spaces kept)."""
    return text.translate(_MD_MAP).replace("://", "：//")


def safe_url(value: Any) -> str:
    """An http(s) URL with characters that could break out of markup percent-encoded, else ""."""
    url = http_url(value)
    if not url:
        return ""
    # parentheses, brackets, quotes, <>, *, backticks and spaces are encoded: none can end a link
    return quote(url, safe="/:?#&=%+,;~!$@.-_")


def md_link(title: Any, url: Any) -> str:
    """A markdown link with an escaped title; just the escaped title if the URL is not http(s)."""
    label = md_escape(title) or "（无标题）"
    href = safe_url(url)
    return f"[{label}]({href})" if href else label


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value.astimezone(TZ) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None
    return (parsed.astimezone(TZ) if parsed.tzinfo else parsed).date()


def cn_date(value: Any, default: str = "") -> str:
    """2026年11月20日."""
    d = _as_date(value)
    return f"{d.year}年{d.month}月{d.day}日" if d else default


def short_date(value: Any, default: str = "") -> str:
    """11月20日."""
    d = _as_date(value)
    return f"{d.month}月{d.day}日" if d else default


def iso_date(value: Any, default: str = "") -> str:
    d = _as_date(value)
    return d.isoformat() if d else default


def weekday_cn(value: Any) -> str:
    d = _as_date(value)
    return f"星期{WEEKDAYS_CN[d.weekday()]}" if d else ""


def channel_label(channel: Any) -> str:
    if channel == "unit":
        return UNIT_SCOPE_LABEL
    return CHANNEL_LABELS.get(str(channel), str(channel))


def status_label(status: Any) -> str:
    try:
        st = Status(status)
    except ValueError:
        return str(status)
    return STATUS_LABELS.get(st, st.value)


def rule_label(rule: Any) -> str:
    from ..report_data import rule_label as _rule_label

    return _rule_label(str(rule))


def deadline_text(deadline: Any, now: Any) -> str:
    """"今天（11月20日，星期五）下班前" when the deadline is the sending day, else "2026年11月22日（星期日）前"."""
    d = _as_date(deadline)
    if d is None:
        return "本周内"
    if d == _as_date(now):
        return f"今天（{short_date(d)}，{weekday_cn(d)}）下班前"
    return f"{cn_date(d)}（{weekday_cn(d)}）前"


# ----- view models ------------------------------------------------------------------------------
def _post(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    when = raw.get("published") or raw.get("date")
    return {"title": oneline(raw.get("title")) or "（无标题）", "url": str(raw.get("url") or ""),
            "date": iso_date(when), "date_cn": cn_date(when), "suspicious": bool(raw.get("date_suspicious"))}


def verdict_item(v: Verdict) -> dict[str, Any]:
    """What the templates show for one verdict: labels, numbers, evidence posts, last post."""
    ev = v.evidence or {}
    posts = [p for p in (_post(x) for x in ev.get("posts") or []) if p]
    return {"channel": v.channel, "channel_label": channel_label(v.channel), "rule": v.rule,
            "rule_label": rule_label(v.rule), "status": v.status, "status_label": status_label(v.status),
            "count": v.count, "required": v.required, "reason": oneline(v.reason),
            "shortfall": max(v.required - v.count, 0), "posts": posts,
            "last_post": _post(ev.get("last_post")), "deadline": v.deadline,
            "ask": _ask(v, "实际"), "ask_now": _ask(v, "目前")}


def merge_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per channel: overlapping rules for the same unit and channel (weekly and staleness
    both late) are one finding, its rules listed ("每周更新、栏目更新时效") and their asks joined."""
    from ..counts import merged_rule_label

    groups: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        groups.setdefault(str(it["channel"]), []).append(it)
    out = []
    for group in groups.values():
        item = dict(group[0])
        item["rules"] = [it["rule"] for it in group]
        if len(group) > 1:
            join = lambda key: "；".join(dict.fromkeys(str(it[key]) for it in group if it[key]))  # noqa: E731
            item.update(rule_label=merged_rule_label([it["rule_label"] for it in group]), ask=join("ask"),
                        ask_now=join("ask_now"), reason=join("reason"),
                        shortfall=max(it["shortfall"] for it in group),
                        last_post=next((it["last_post"] for it in group if it["last_post"]), None),
                        deadline=min((it["deadline"] for it in group if it["deadline"]), default=None),
                        posts=list({p["url"] or p["title"]: p for it in group for p in it["posts"]}.values()))
        out.append(item)
    return out


_PERIOD_WORDS = {"week": "本周", "month": "本月", "quarter": "本季度", "year": "本年度"}


def _period_word(period_key: Any) -> str:
    """本周 / 本月 / 本季度 / 本年度 for a period key (本期 when it is not one)."""
    from ..periods import Period

    try:
        return _PERIOD_WORDS.get(Period.parse(str(period_key)).kind, "本期")
    except (ValueError, TypeError):
        return "本期"


def _ask(v: Verdict, word: str) -> str:
    """What the rule asks, in the words of its circular and the reading pubwatch applies
    (README "Rules and how each text is read"), as its kind says it (`Policy.ask`).
    `word` is "实际" (a closed finding) or "目前" (a reminder)."""
    kind = rules.kind_of(v.rule)
    return (kind or rules.Policy).ask(v, word)


def _defaults(kind: str, ctx: Mapping[str, Any]) -> dict[str, Any]:
    office = dict(ctx.get("office") or {})
    office.setdefault("name", "县人民政府办公室")
    office.setdefault("short", "县政务公开办")
    office.setdefault("phone", "")
    out = dict(ctx)
    out["office"] = office
    out["kind"] = kind
    out["generated_at"] = ctx.get("generated_at") or datetime.now(TZ)
    out["period_label"] = ctx.get("period_label") or ctx.get("period_key") or ""
    out["streak"] = int(ctx.get("streak") or 0)
    from ..counts import rule_rank
    from ..report_data import rule_sentences

    verdicts = sorted(ctx.get("verdicts") or [], key=lambda v: rule_rank(v.rule))
    out["items"] = merge_items([verdict_item(v) for v in verdicts])
    out["rule_sentences"] = rule_sentences(verdicts) or [rules.kind_of("weekly").sentence]
    at_end = not verdicts or all(getattr(rules.kind_of(v.rule), "judged_at_period_end", False) for v in verdicts)
    out["late_words"] = f"{_period_word(ctx.get('period_key'))}结束后仍未达到要求的" if at_end else "逾期仍未更新的"
    # "截至" is the time the results are as of (the run's, not the clock's: a backfill renders an old
    # week today) — never later than the deadline the notice names
    as_of = ctx.get("as_of") or out["generated_at"]
    deadline = _as_date(ctx.get("deadline"))
    out["as_of"] = as_of if deadline is None or _as_date(as_of) <= deadline else deadline
    out["deadline_text"] = deadline_text(ctx.get("deadline"), as_of)
    if kind == "summary":
        counts = {Status(k): int(n) for k, n in (ctx.get("counts") or {}).items()}
        out["count_items"] = [(status_label(s), counts.get(s, 0)) for s in Status if counts.get(s)]
        out["late_by_category"] = dict(ctx.get("late_by_category") or {})
        out["unknown_rows"] = list(ctx.get("unknown_rows") or [])
        out["findings"] = list(ctx.get("findings") or [])
        out["rows"] = list(ctx.get("rows") or [])
        from ..counts import PeriodCounts

        out["tally"] = ctx.get("tally") or PeriodCounts.of(out["rows"])
        out["tally_text"] = out["tally"].headline(formal=True)
        out["notice_states"] = list(ctx.get("notice_states") or [])
        out["md_list_limit"] = int(ctx.get("md_list_limit") or MD_LIST_LIMIT)
    return out


# ----- environment ------------------------------------------------------------------------------
def make_environment(template_dir: Path | None = None, *, strict: bool = False) -> jinja2.Environment:
    """The Jinja2 environment: HTML templates autoescaped, the others not; our filters registered."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir or DEFAULT_TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update(oneline=oneline, md_escape=md_escape, md_text=md_text, md_link=md_link, safe_url=safe_url,
                       cn_date=cn_date, short_date=short_date, iso_date=iso_date, weekday_cn=weekday_cn,
                       channel_label=channel_label, status_label=status_label, rule_label=rule_label)
    return env


_ENV_CACHE: dict[tuple[str, bool], jinja2.Environment] = {}


def _env(template_dir: Path | None, strict: bool) -> jinja2.Environment:
    key = (str(template_dir or DEFAULT_TEMPLATE_DIR), strict)
    if key not in _ENV_CACHE:
        _ENV_CACHE[key] = make_environment(template_dir, strict=strict)
    return _ENV_CACHE[key]


def _tidy(text: str) -> str:
    """Drop trailing spaces and runs of more than one blank line left by template logic."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out) + "\n"


def render(kind: str, ctx: dict, template_dir: Path | None = None, *, strict: bool = False) -> RenderedNotice:
    """Render one notice of `kind` (reminder | overdue | escalation | summary) in all four forms."""
    if kind not in KINDS:
        raise ValueError(f"未知的通知类型 (unknown notice kind): {kind!r}; 可用: {', '.join(KINDS)}")
    env = _env(template_dir, strict)
    data = _defaults(kind, ctx)
    out = {part: env.get_template(f"{kind}.{part}.j2").render(data) for part in PARTS}
    return RenderedNotice(subject=oneline(out["subject"]), text=_tidy(out["txt"]),
                          html=out["html"].strip() + "\n", markdown=_tidy(out["md"]))


def kinds_and_parts() -> Iterable[tuple[str, str]]:
    """Every template file name render() needs, for checks of an office's edited template folder."""
    return [(k, f"{k}.{p}.j2") for k in KINDS for p in PARTS]
