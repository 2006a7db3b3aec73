"""JSON (or JSONP) list APIs, mapped by the registry's ``json:`` spec or found by common key names;
time fields ranked by meaning (`_json_key_rank`: gkmlpt first_publish_time over publish_time over
date over created/updated; epochs in seconds or milliseconds read in Asia/Shanghai). An envelope
that says the API failed ({"code":500,"msg":"系统繁忙"}) is an error, never an empty list."""
from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import Field

from ....dates import DateMatch, scan_date
from ....types import TZ
from ...options import SourceOptions
from ..entries import _SKIP_HREF
from ..html import _clean
from ..listdates import R_ADMIN, R_COLUMN_PUB, R_JSON_PLAIN, R_WEAK, R_WRITTEN, _finish, _Raw
from ..listing import ListProfile, Page, ParsedList, _result
from ..pages import _MAX_PAGES

DEFAULT_PAGE_PARAM = "page"
DEFAULT_FIRST_PAGE = 1


class JsonSpec(SourceOptions):
    """units.yaml ``json:``: where the list and its fields are (dotted paths) and how it pages."""

    list: str | None = None           # the list of entries, e.g. "data.list" (default: the largest fitting list)
    title: str | None = None          # default: title / docTitle / name …
    url: str | None = None            # default: url / link / docUrl …
    url_template: str | None = None   # e.g. "/art/{id}.html", fields of the entry by name
    base_url: str | None = None       # relative links resolve against it (default: the API's URL)
    date: str | None = None           # fixes the date field (default: every time field, ranked by meaning)
    pinned: str | None = None         # a truthy field marks a pinned entry
    total_pages: str | None = None    # path of the page count …
    total: str | None = None          # … or of the entry count (pages = total / page_size)
    page_size: int | None = Field(default=None, ge=1)
    page_param: str = DEFAULT_PAGE_PARAM
    first_page: int = DEFAULT_FIRST_PAGE


class JsonOptions(SourceOptions):
    json_spec: JsonSpec | None = Field(default=None, alias="json")


class JsonProfile(ListProfile, kind="json"):
    """Auto-detected when the column gives a json spec or the answer looks like JSON / JSONP; an
    answer that does not parse as JSON then goes on to the HTML profiles."""

    label = "JSON 列表接口"
    priority = 10
    needs_tree = False
    Options = JsonOptions

    def detect(self, page: Page) -> bool:
        return bool(page.options.get("json")) or page.text.lstrip()[:1] in ("{", "[") or \
            _JSONP.match(page.text) is not None

    def read(self, page: Page, explicit: bool) -> ParsedList | None:
        spec = page.options.get("json")
        got = _json(page.text, page.url, spec)
        error = _json_error(page.text)
        if error:                             # {"code":500,"msg":"系统繁忙","data":{"list":[]}}
            items = _finish(got[0], page.reference) if got is not None else []
            return ParsedList(items, [], bool(items), self.kind, error=error)
        if got is not None:
            raws, next_urls, pages = got
            where = f"json:{(spec or {}).get('list') or 'auto'}"
            return _result(_finish(raws, page.reference), next_urls, self.kind, pages, empty=not raws, container=where)
        return ParsedList([], [], False, self.kind) if explicit else None


_JSON_TITLE = ("title", "docTitle", "articleTitle", "name", "biaoti", "showTitle", "mainTitle", "subject")
_JSON_URL = ("url", "link", "href", "docUrl", "articleUrl", "pageUrl", "docPubUrl", "detailUrl", "linkUrl", "pcUrl")
# JSON time fields by meaning (keys compared lower-case without "_" / "-"): the first publication
# (gkmlpt first_publish_time) over the displayed and the latest publish time over generic names;
# created / updated times are weak (the article is read to confirm), a document's own date (成文)
# weaker still; validity, deadlines and event times are never a publication date.
_JSON_DATE_RANK = {
    "firstpublishtime": 88, "firstpubtime": 88, "firstpublishdate": 88, "firstpublishedtime": 88,
    "displaypublishtime": 86, "visiblepublishtime": 86,
    "publishtime": 84, "publishdate": 84, "publishedtime": 84, "publisheddate": 84, "publishedat": 84,
    "publishat": 84, "pubdate": 84, "pubtime": 84, "pubdatetime": 84, "published": 84, "publish": 84,
    "releasetime": 83, "releasedate": 83, "releaseat": 83, "docreltime": 83, "docpubtime": 83,
    "fbsj": 83, "fbrq": 83, "fabushijian": 83, "faburiqi": 83, "gksj": 82, "gkrq": 82, "showtime": 81,
    "displaytime": 81, "displaydate": 81,
    "date": R_JSON_PLAIN, "time": R_JSON_PLAIN, "datetime": R_JSON_PLAIN, "rq": R_JSON_PLAIN,
    "sj": R_JSON_PLAIN, "riqi": R_JSON_PLAIN, "shijian": R_JSON_PLAIN, "day": R_JSON_PLAIN,
    "createtime": R_WEAK, "createdat": R_WEAK, "createdate": R_WEAK, "created": R_WEAK, "ctime": R_WEAK,
    "crtime": R_WEAK, "addtime": R_WEAK, "adddate": R_WEAK, "inputtime": R_WEAK, "inputdate": R_WEAK,
    "updatetime": R_WEAK - 1, "updatedat": R_WEAK - 1, "updatedate": R_WEAK - 1, "modifytime": R_WEAK - 1,
    "modifiedtime": R_WEAK - 1, "modified": R_WEAK - 1, "lastmodified": R_WEAK - 1, "mtime": R_WEAK - 1,
    "edittime": R_WEAK - 1, "writetime": R_WEAK - 2,
    "cwrq": R_WRITTEN, "cwsj": R_WRITTEN, "chengwenriqi": R_WRITTEN, "writtendate": R_WRITTEN,
    "documentdate": R_WRITTEN, "docdate": R_WRITTEN, "signdate": R_WRITTEN, "fwrq": R_WRITTEN, "yfrq": R_WRITTEN,
}
_JSON_TIME_WORDS = {"time", "date", "at", "dt", "day", "datetime", "timestamp", "ts", "sj", "rq"}
_JSON_NOT_PUB = {"expire", "expired", "expires", "expiry", "deadline", "end", "start", "begin", "effective",
                 "valid", "birth", "birthday", "abolish", "abolished", "due", "event", "activity", "server",
                 "now", "current", "login", "last", "next", "sort", "order"}
_JSON_PUB_WORDS = {"publish", "published", "pub", "release", "released", "fb", "fabu", "online", "issue", "issued"}
_JSON_WEAK_WORDS = {"create", "created", "add", "added", "input", "update", "updated", "modify", "modified",
                    "edit", "edited", "crt", "upd", "write"}
_JSON_WRITTEN_WORDS = {"cw", "chengwen", "written", "sign", "signed", "fw", "yf"}


def _json_key_rank(key: str) -> int | None:
    """How much a JSON key means "publication time" (R_* scale), or None if it is not a time."""
    norm = re.sub(r"[_\-\s.]", "", key).lower()
    if norm in _JSON_DATE_RANK:
        return _JSON_DATE_RANK[norm]
    words = set(re.findall(r"[a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", "_", key).lower()))
    if not words & _JSON_TIME_WORDS or words & _JSON_NOT_PUB:
        return None
    if words & _JSON_WRITTEN_WORDS:
        return R_WRITTEN
    if words & _JSON_WEAK_WORDS:
        return R_WEAK - 1
    if words & _JSON_PUB_WORDS:
        return R_COLUMN_PUB
    return None


_JSONP = re.compile(r"^\s*[\w$.]+\s*\(\s*([\[{].*)\)\s*;?\s*$", re.S)


def _json_load(text: str) -> Any:
    m = _JSONP.match(text)
    return json.loads(m.group(1) if m else text.strip())


def _path(data: Any, path: str | None) -> Any:
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit():
            data = data[int(part)] if int(part) < len(data) else None
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _key(d: dict, names: Iterable[str]) -> str | None:
    lower = {k.lower(): k for k in d}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _find_json_list(data: Any) -> list | None:
    """The largest list of objects that have a title-like and a URL-like key."""
    best: list | None = None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            objs = [x for x in node if isinstance(x, dict)]
            if objs and _key(objs[0], _JSON_TITLE) and _key(objs[0], _JSON_URL):
                if best is None or len(objs) > len(best):
                    best = objs
            stack.extend(objs)
    return best


def _json_date(value: Any) -> DateMatch | None:
    """A JSON time value: epoch seconds or milliseconds (numbers or digit strings, read in
    Asia/Shanghai), a YYYYMMDD number, or a date string. 0 / "" / null are no date."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        v = value.strip()
        if re.fullmatch(r"\d{10}|\d{13}|\d{8}", v):
            value = int(v)
        elif not v:
            return None
        else:
            return scan_date(v)
    if isinstance(value, (int, float)):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            v = int(value)
            try:
                date(v // 10000, v // 100 % 100, v % 100)
            except ValueError:
                return None
            return DateMatch(v // 10000, v // 100 % 100, v % 100)
        if value >= 10**8:
            secs = value / 1000 if value >= 10**11 else value
            try:
                dt = datetime.fromtimestamp(secs, tz=timezone.utc).astimezone(TZ)
            except (OverflowError, OSError, ValueError):
                return None
            return DateMatch(dt.year, dt.month, dt.day, dt.time().replace(microsecond=0))
    return None


def _json_cands(row: dict, spec_key: str | None) -> list[tuple[int, DateMatch, str | None]]:
    """The row's dates ranked by their keys' meaning (or only the registry's `json.date` key)."""
    if spec_key:
        found = _json_date(_path(row, spec_key))
        return [(R_ADMIN, found, spec_key)] if found else []
    out = []
    for key, value in row.items():
        if not isinstance(key, str) or isinstance(value, (dict, list)):
            continue
        rank = _json_key_rank(key)
        if rank is None:
            continue
        found = _json_date(value)
        if found:
            out.append((rank, found, key))
    return out


_JSON_ERRNO = ("errcode", "errno", "err_code", "errorCode", "error_code", "ret")
_JSON_CODE = ("code", "status", "statusCode", "status_code", "resultCode", "result_code", "rtnCode", "retCode")
_JSON_FLAG = ("success", "ok", "isSuccess", "succeed")
_JSON_MSG = ("msg", "message", "errmsg", "errMsg", "error", "errorMsg", "resultMsg", "retMsg", "desc")
_JSON_OK_CODES = {"0", "1", "200", "201", "204", "00", "000", "0000", "000000", "success", "ok", "true"}
_JSON_BAD_MSG = re.compile(r"繁忙|错误|失败|异常|维护|不可用|超时|无权|拒绝|error|fail|exception|busy|unavailable|"
                           r"timeout|denied|invalid", re.I)


def _json_error(text: str) -> str:
    """What a JSON list API's envelope says went wrong ("code=500 系统繁忙"), or "" (fine, or not JSON).
    Looks at the top level and a nested result/status/meta/header object."""
    try:
        data = _json_load(text)
    except ValueError:
        return ""
    envelopes = [data] if isinstance(data, dict) else []
    for d in list(envelopes):
        for k in ("result", "status", "meta", "header", "head"):
            sub = d.get(k)
            if isinstance(sub, dict):
                envelopes.append(sub)
    for env in envelopes:
        msg = next((str(env[k]) for k in (_key(env, [n]) for n in _JSON_MSG)
                    if k and isinstance(env.get(k), (str, int)) and str(env.get(k)).strip()), "")
        bad_msg = bool(_JSON_BAD_MSG.search(msg))
        problem = ""
        for name in _JSON_ERRNO:
            k = _key(env, [name])
            if k and not isinstance(env[k], bool) and str(env[k]).strip() not in ("", "0"):
                problem = f"{k}={env[k]}"
        for name in _JSON_CODE:
            k = _key(env, [name])
            v = env.get(k) if k else None
            if v is None or isinstance(v, (bool, dict, list)):
                continue
            value = str(v).strip().lower()
            if value in _JSON_OK_CODES and not bad_msg:
                continue
            numeric = value.lstrip("-").isdigit()
            if (numeric and (int(value) >= 400 or int(value) < 0)) or value in ("error", "fail", "failed", "failure",
                                                                               "exception") or bad_msg:
                problem = problem or f"{k}={v}"
        for name in _JSON_FLAG:
            k = _key(env, [name])
            if k and env[k] is False:
                problem = problem or f"{k}=false"
        if bad_msg and not problem and not any(_key(env, [n]) for n in _JSON_CODE + _JSON_ERRNO + _JSON_FLAG):
            problem = "msg"
        if problem:
            return f"{problem} {msg}".strip() if problem != "msg" else msg
    return ""


def _json(text: str, url: str, spec: dict | None) -> tuple[list[_Raw], list[str], int | None] | None:
    try:
        data = _json_load(text)
    except ValueError:
        return None
    spec = spec or {}
    rows = _path(data, spec["list"]) if spec.get("list") else _find_json_list(data)
    if not isinstance(rows, list):
        return None
    raws = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        tk = spec.get("title") or _key(row, _JSON_TITLE)
        uk = spec.get("url") or _key(row, _JSON_URL)
        title = _clean(re.sub(r"<[^>]+>", "", str(_path(row, tk) or ""))) if tk else ""
        link = str(_path(row, uk) or "").strip() if uk else ""
        if spec.get("url_template"):
            link = spec["url_template"].format(**{k: v for k, v in row.items() if isinstance(k, str)})
        if not title or not link or _SKIP_HREF.match(link):
            continue
        pinned = bool(spec.get("pinned") and _path(row, spec["pinned"]))
        cands = _json_cands(row, spec.get("date"))
        raws.append(_Raw(title, urljoin(spec.get("base_url") or url, link),
                         max(cands, key=lambda c: c[0])[1] if cands else None, pinned, cands=cands))
    next_urls, pages = [], None
    if spec.get("total_pages") or spec.get("total"):
        total = _path(data, spec.get("total_pages") or spec.get("total"))
        if isinstance(total, (int, str)) and str(total).isdigit():
            total = int(total)
            size = int(spec.get("page_size") or len(rows) or 1)
            pages = total if spec.get("total_pages") else math.ceil(total / size)
            next_urls = _param_pages(url, spec.get("page_param", DEFAULT_PAGE_PARAM), pages,
                                     int(spec.get("first_page", DEFAULT_FIRST_PAGE)))
    return raws, next_urls, pages


def _param_pages(url: str, param: str, pages: int, first: int) -> list[str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    current = int(query.get(param, first)) if str(query.get(param, first)).isdigit() else first
    out = []
    for n in range(current + 1, min(first + pages, current + 1 + _MAX_PAGES)):
        query[param] = str(n)
        out.append(urlunsplit(parts._replace(query=urlencode(query))))
    return out
