"""The official 公众号 API (source type "wechat_api"): the list of published posts (发布).

- access token: ``POST /cgi-bin/stable_token`` {grant_type: client_credential, appid, secret}; if
  that endpoint is not there (HTTP 404/405 or an unknown errcode) fall back to
  ``GET /cgi-bin/token``. Tokens are cached in-process per (API base, appid) until ``expires_in``
  minus a margin.
- list: ``POST /cgi-bin/freepublish/batchget?access_token=…`` {offset, count 1–20, no_content 1},
  paged until a whole page is older than ``ctx.since`` (the API does not promise newest-first
  order) or ``total_count`` is reached. Every ``content.news_item[]`` entry (not deleted) is a
  post, published at the item's ``update_time``.

Blind spot (see DOMAIN.md): batchget lists only posts published *without* mass-send notification;
群发 posts need a bridge or an export next to it. The statistics API (``/datacube/getarticletotal``,
``getarticlesummary``) gives per-day msgid + title of 群发 articles but no URL (summary is even
keyed by *read* date), so it is not used as a post list here.

Credentials come from ``ctx.get_secret(conn_id)`` (login = AppID, password = AppSecret). The
secret and the access token never appear in a message, exception or state.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, time as dtime
from typing import Any

from pydantic import Field

from ...secrets import install_log_redaction, mask
from ...types import TZ, ListItem, Outcome, SourceResult
from ...wechaturl import make_item
from ..base import CrawlContext, settle_empty
from ..options import SourceOptions, WebUrl
from .common import WeChatSource

DEFAULT_BASE = "https://api.weixin.qq.com"
TOKEN_MARGIN_SECONDS = 300
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
CONFIG_ERRORS = frozenset({40013, 40125, 41002, 41004, 40002})
BUSY = -1


@dataclass
class _Token:
    value: str
    expires_at: float   # time.monotonic()


_TOKENS: dict[tuple[str, str], _Token] = {}
_TOKENS_LOCK = threading.Lock()


def clear_token_cache() -> None:
    """Forget every cached access token (tests; a rotated AppSecret)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


class ApiError(Exception):
    """An errcode answer, already turned into an honest outcome and a Chinese message."""

    def __init__(self, outcome: Outcome, message: str, errcode: int | None = None,
                 http_status: int | None = None):
        super().__init__(message)
        self.outcome, self.message, self.errcode, self.http_status = outcome, message, errcode, http_status


def _mask(text: str) -> str:
    return mask(str(text or ""))[:200]


def explain_errcode(errcode: int, errmsg: str) -> ApiError:
    """Map a WeChat errcode to an outcome + an admin-actionable Chinese message."""
    errmsg = _mask(errmsg)
    if errcode == 45009:
        return ApiError(Outcome.SOURCE_ERROR, "接口调用次数超限(45009), 明日自动重试", errcode)
    if errcode == 40164:
        ip = re.search(r"invalid ip ([0-9a-fA-F.:]+)", errmsg)
        who = ip.group(1) if ip else "本服务器出口IP"
        return ApiError(Outcome.SOURCE_ERROR,
                        f"服务器IP不在公众号白名单(40164), 请在公众号后台把 {who} 加入IP白名单", errcode)
    if errcode == 48001:
        return ApiError(Outcome.SOURCE_ERROR, "公众号未认证或无此接口权限(48001)", errcode)
    if errcode == BUSY:
        return ApiError(Outcome.SOURCE_ERROR, "微信系统繁忙(-1), 稍后自动重试", errcode)
    if errcode in CONFIG_ERRORS:
        return ApiError(Outcome.CONFIG_ERROR,
                        f"AppID 或 AppSecret 不正确({errcode}), 请检查 Airflow 连接中的 AppID/AppSecret: {errmsg}", errcode)
    if errcode in TOKEN_ERRORS:
        return ApiError(Outcome.SOURCE_ERROR, f"access_token 无效或已过期({errcode}), 重新获取后仍失败: {errmsg}", errcode)
    return ApiError(Outcome.SOURCE_ERROR, f"微信接口返回错误({errcode}): {errmsg}", errcode)


class WeChatClient:
    """A thin client over `ctx.fetcher` for one AppID: token handling, errcode checks, -1 retries."""

    def __init__(self, fetcher: Any, base: str, appid: str, secret: str, *,
                 busy_retries: int = 2, busy_backoff: float = 1.0):
        self.fetcher, self.base, self.appid, self._secret = fetcher, base.rstrip("/"), appid, secret
        self.busy_retries, self.busy_backoff = busy_retries, busy_backoff
        self.requests = 0
        install_log_redaction()

    # -- token ------------------------------------------------------------------------------
    def token(self, *, refresh: bool = False) -> str:
        key = (self.base, self.appid)
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached and not refresh and cached.expires_at > time.monotonic():
                return cached.value
        data = self._new_token()
        value = str(data.get("access_token") or "")
        if not value:
            raise ApiError(Outcome.SOURCE_ERROR, "获取 access_token 失败: 返回中没有 access_token")
        try:
            lifetime = float(data.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        with _TOKENS_LOCK:
            _TOKENS[key] = _Token(value, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS))
        return value

    def _new_token(self) -> dict[str, Any]:
        body = {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}
        try:
            return self._call("POST", "/cgi-bin/stable_token", json=body)
        except ApiError as exc:
            fall_back = (exc.errcode is None and exc.http_status in (404, 405, 501)) or (
                exc.errcode is not None and exc.errcode not in CONFIG_ERRORS | {40164, 45009, BUSY, 48001})
            if not fall_back:
                raise
        return self._call("GET", "/cgi-bin/token", params={"grant_type": "client_credential",
                                                           "appid": self.appid, "secret": self._secret})

    # -- calls --------------------------------------------------------------------------------
    def call_with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the access token; on 40001/40014/42001 refresh the token once and retry."""
        try:
            return self._call("POST", path, params={"access_token": self.token()}, json=body)
        except ApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        return self._call("POST", path, params={"access_token": self.token(refresh=True)}, json=body)

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              json: Any = None) -> dict[str, Any]:
        from ...http import FetchError

        attempt = 0
        while True:
            try:
                res = self.fetcher.request(method, self.base + path, params=params, json=json, retry=True)
            except FetchError as exc:
                self.requests += exc.requests
                raise ApiError(exc.outcome, f"微信接口无法访问({path}): {_mask(exc.message)}",
                               http_status=exc.http_status) from None
            self.requests += res.requests
            try:
                data = res.json()
            except ValueError:
                raise ApiError(Outcome.PARSE_FAILED, f"微信接口返回的不是 JSON({path}, HTTP {res.status})",
                               http_status=res.status) from None
            if not isinstance(data, dict):
                raise ApiError(Outcome.PARSE_FAILED, f"微信接口返回格式异常({path})", http_status=res.status)
            errcode = data.get("errcode") or 0
            try:
                errcode = int(errcode)
            except (TypeError, ValueError):
                errcode = -2
            if errcode == 0:
                return data
            if errcode == BUSY and attempt < self.busy_retries:
                time.sleep(self.busy_backoff * (2 ** attempt))
                attempt += 1
                continue
            raise explain_errcode(errcode, str(data.get("errmsg") or ""))


def _news_items(article: dict[str, Any]) -> list[ListItem]:
    content = article.get("content") or {}
    when = article.get("update_time") or content.get("update_time") or content.get("create_time")
    out = []
    for pos, news in enumerate(content.get("news_item") or [], start=1):
        if not isinstance(news, dict) or news.get("is_deleted") or not news.get("url"):
            continue
        item = make_item(news.get("title"), str(news["url"]), when,
                         article_id=str(article.get("article_id") or ""), position=pos, via="freepublish")
        if item is not None:
            out.append(item)
    return out


class WeChatApiOptions(SourceOptions):
    conn_id: str = Field(..., min_length=1, json_schema_extra={
        "missing": "官方接口需要 Airflow 连接 id (保存 AppID/AppSecret)"})
    url: WebUrl | None = None                 # the API base (default: DEFAULT_BASE; the demo's fake API)
    page_size: int = Field(default=20, ge=1, le=20)        # batchget count
    max_pages: int = Field(default=10, ge=1)
    busy_retries: int = Field(default=2, ge=0)             # errcode -1 (系统繁忙): tries again
    busy_backoff: float = Field(default=1.0, ge=0)         # seconds, doubled each retry
    note: Any = None


class WeChatApiSource(WeChatSource, kind="wechat_api"):
    """The official API's list of published posts of one 公众号."""

    label = "公众号官方接口 (已发布列表)"
    Options = WeChatApiOptions

    def fetch(self, ctx: CrawlContext) -> SourceResult:
        opts = self.config.options
        conn_id = str(opts.get("conn_id") or "")
        if not conn_id or ctx.get_secret is None:
            return SourceResult(Outcome.CONFIG_ERROR, message="官方接口需要 conn_id (Airflow 连接: login=AppID, password=AppSecret)")
        try:
            secret = ctx.get_secret(conn_id) or {}
        except Exception as exc:  # the DAG layer's lookup failed: a config problem, never a crash
            # The exception text is not shown: a lookup error might echo what it found.
            if isinstance(exc, LookupError) or "NotFound" in type(exc).__name__:
                return SourceResult(Outcome.CONFIG_ERROR, message=(
                    f"找不到连接 {conn_id}: 请在 Airflow 的 Admin → Connections 中新建 (login=AppID, password=AppSecret)"))
            return SourceResult(Outcome.CONFIG_ERROR, message=f"读取连接 {conn_id} 失败: {type(exc).__name__}")
        appid, appsecret = str(secret.get("login") or ""), str(secret.get("password") or "")
        if not appid or not appsecret:
            return SourceResult(Outcome.CONFIG_ERROR, message=f"连接 {conn_id} 缺少 AppID(login) 或 AppSecret(password)")
        try:
            page_size = min(20, max(1, int(self.option("page_size"))))
            max_pages = max(1, int(self.option("max_pages")))
            busy_retries = max(0, int(self.option("busy_retries")))
            busy_backoff = max(0.0, float(self.option("busy_backoff")))
        except (TypeError, ValueError) as exc:
            return SourceResult(Outcome.CONFIG_ERROR, message=f"官方接口选项格式错误: {exc}")
        client = WeChatClient(ctx.fetcher, self.config.url or DEFAULT_BASE, appid, appsecret,
                              busy_retries=busy_retries, busy_backoff=busy_backoff)
        since = datetime.combine(ctx.since, dtime.min, tzinfo=TZ) if ctx.since else None
        items: list[ListItem] = []
        pages, offset, total = 0, 0, None
        try:
            while pages < max_pages and (total is None or offset < total):
                data = client.call_with_token("/cgi-bin/freepublish/batchget",
                                              {"offset": offset, "count": page_size, "no_content": 1})
                pages += 1
                articles = [a for a in data.get("item") or [] if isinstance(a, dict)]
                total = int(data.get("total_count") or 0)
                page_items = [i for a in articles for i in _news_items(a)]
                items.extend(page_items)
                offset += len(articles)
                if not articles:
                    break
                if since and page_items and all(i.published and i.published < since for i in page_items):
                    break
        except ApiError as exc:
            msg = exc.message + (f" (已读取{pages}页, {len(items)}条已保留)" if items else "")
            return SourceResult(exc.outcome, items=items, message=msg, http_status=exc.http_status,
                                requests=client.requests, pages=pages)
        if not items:
            # total_count 0 (or no news items): the same two-reads-a-day-apart rule as any empty list.
            return settle_empty(ctx, "freepublish", what="官方接口的发布列表", previous_items=ctx.previous_items,
                                requests=client.requests, pages=pages, state={"total_count": total})
        note = ""
        if pages >= max_pages and total is not None and offset < total:
            note = f"已达页数上限 max_pages={max_pages}, 更早的发布未读取"
        return SourceResult(Outcome.OK, items=items, message=note, requests=client.requests, pages=pages,
                            state={"total_count": total})
