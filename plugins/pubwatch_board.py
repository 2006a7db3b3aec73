"""Airflow plugin: the supervisors' compliance board (政务公开监测看板) inside the Airflow 3 UI.

A FastAPI app mounted at /pubwatch on the api-server, plus an `external_views` nav entry whose
`url_route` renders it in an iframe inside the UI. Airflow does not authenticate plugin apps:
every route depends on `requires_access_view(AccessView.PLUGINS)` (checked against
apache-airflow 3.3.2), so the `_token` JWT cookie set at login (or a Bearer token) is required
and anonymous requests get 401.

人工复核 (#20): the unit page carries a review form for users allowed to *edit* the board — the auth
manager's `is_authorized_custom_view(method="PUT", resource_name="pubwatch_board")`, except under
SimpleAuthManager, whose custom-view check ignores the method (3.3.2 answers every method as GET
for viewers), so there the role must be op or admin. Viewers see the board read-only, and get 403
on the form page and its POST. The POST is protected against CSRF by a signed double-submit token
(see `CsrfGuard`).

Importing this module is cheap: no database work, no registry read. The tracking DB URL is
resolved on first use like dags/pubwatch_glue.py does ($PUBWATCH_DB_URL, else the Airflow
connection `pubwatch_db`, else var/pubwatch.db).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

INCLUDE = Path(__file__).resolve().parents[1] / "include"
if str(INCLUDE) not in sys.path and (INCLUDE / "pubwatch").is_dir():
    sys.path.insert(0, str(INCLUDE))

from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request  # noqa: E402
from fastapi.responses import HTMLResponse, RedirectResponse, Response  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView  # noqa: E402
from airflow.api_fastapi.app import get_auth_manager  # noqa: E402
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser  # noqa: E402
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import (  # noqa: E402
    SimpleAuthManager, SimpleAuthManagerRole)
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_view  # noqa: E402
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer  # noqa: E402
from airflow.plugins_manager import AirflowPlugin  # noqa: E402

log = logging.getLogger("pubwatch.board")

URL_PREFIX = "/pubwatch"
DEFAULT_WEEKS = 8
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
URL_TTL_SECONDS = 300
STATIC_DIR = Path(__file__).resolve().parent / "pubwatch_static"

# Kept as a module attribute so tests can override exactly this dependency.
require_user = requires_access_view(AccessView.PLUGINS)

# ------------------------------------------------------------------------------ 人工复核: who may edit
REVIEW_RESOURCE = "pubwatch_board"      # the custom view an auth manager grants "PUT" (FAB: can_edit) on
REVIEW_METHOD = "PUT"
SIMPLE_REVIEW_ROLE = SimpleAuthManagerRole.OP   # SimpleAuthManager: op and admin may review


def can_review(user: BaseUser) -> bool:
    """Whether `user` may record a review: the auth manager's edit permission on the board's view."""
    manager = get_auth_manager()
    if isinstance(manager, SimpleAuthManager):
        # SimpleAuthManager.is_authorized_custom_view ignores `method` (apache-airflow 3.3.2: any
        # viewer passes for any method), so its role ladder decides: op or admin.
        role = (getattr(user, "role", None) or "").upper()
        return role in SimpleAuthManagerRole.__members__ and \
            SimpleAuthManagerRole[role].order >= SIMPLE_REVIEW_ROLE.order
    return bool(manager.is_authorized_custom_view(method=REVIEW_METHOD, resource_name=REVIEW_RESOURCE, user=user))


def require_reviewer(user: GetUserDep) -> BaseUser:
    if not can_review(user):
        raise HTTPException(status_code=403, detail="Forbidden: 只有具有看板编辑权限的用户可以提交人工复核")
    return user


# ------------------------------------------------------------------------------ 人工复核: CSRF
class CsrfGuard:
    """Signed double-submit token (OWASP "Signed Double-Submit Cookie"), stateless across workers.

    The board is authenticated by Airflow's `_token` cookie (SameSite=Lax), so a form POST from
    another page of the same site would carry it. A page with the form sets a random, HttpOnly,
    SameSite=Strict cookie `pubwatch_csrf` (once per browser) and puts in a hidden field a token
    signed with a server secret (itsdangerous, timestamped) that binds the user's name and a hash
    of that cookie. The POST is accepted only if the token's signature is good, it is younger than
    `max_age`, names the logged-in user and matches the cookie the request carries. A request the
    browser marks `Sec-Fetch-Site: cross-site` is refused outright. The secret is
    $PUBWATCH_CSRF_SECRET, else Airflow's `[api] secret_key` (shared by all api-server workers).
    """

    cookie = "pubwatch_csrf"
    field = "csrf_token"
    max_age = 8 * 3600

    def _serializer(self) -> URLSafeTimedSerializer:
        secret = os.environ.get("PUBWATCH_CSRF_SECRET")
        if not secret:
            from airflow.configuration import conf

            secret = conf.get("api", "secret_key", fallback="") or conf.get("api_auth", "jwt_secret", fallback="")
        if not secret:
            raise HTTPException(status_code=503, detail="未配置表单签名密钥 ([api] secret_key 或 PUBWATCH_CSRF_SECRET)")
        return URLSafeTimedSerializer(secret, salt="pubwatch-review-csrf")

    @staticmethod
    def _binding(cookie_value: str) -> str:
        return hashlib.sha256(cookie_value.encode()).hexdigest()[:32]

    def issue(self, request: Request, user: BaseUser) -> tuple[str, str | None]:
        """(token for the hidden field, new cookie value to set or None when the browser has one)."""
        current = request.cookies.get(self.cookie)
        fresh = None if current and len(current) >= 32 else secrets.token_urlsafe(32)
        token = self._serializer().dumps([user.get_name(), self._binding(fresh or current)])
        return token, fresh

    def set_cookie(self, response: Response, request: Request, value: str | None) -> None:
        if value:
            response.set_cookie(self.cookie, value, path=request.scope.get("root_path") or "/", httponly=True,
                                samesite="strict", secure=request.url.scheme == "https")

    def verify(self, request: Request, user: BaseUser, token: str | None) -> None:
        """403 unless `token` is a fresh token for this user and this browser's cookie."""
        refuse = HTTPException(status_code=403, detail="CSRF 校验失败: 表单已过期或来源不明, 请刷新单位页面后重新提交")
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise refuse
        cookie = request.cookies.get(self.cookie)
        if not token or not cookie:
            raise refuse
        try:
            name, binding = self._serializer().loads(token, max_age=self.max_age)
        except (SignatureExpired, BadSignature, TypeError, ValueError):
            raise refuse from None
        if not (isinstance(name, str) and isinstance(binding, str)
                and hmac.compare_digest(name.encode(), user.get_name().encode())
                and hmac.compare_digest(binding.encode(), self._binding(cookie).encode())):
            raise refuse


csrf = CsrfGuard()


class _Resources:
    """The tracking store and the registry, opened lazily and shared by requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: Any = None
        self._store_url: str | None = None
        self._url: str | None = None
        self._url_at = 0.0
        self._registry: Any = None
        self._registry_key: tuple[str, float] | None = None

    def db_url(self) -> str:
        if self._url is None or time.monotonic() - self._url_at > URL_TTL_SECONDS:
            self._url, self._url_at = _resolve_db_url(), time.monotonic()
        return self._url

    def store(self):
        from pubwatch.store import Store

        url = self.db_url()
        with self._lock:
            if self._store is None or self._store_url != url:
                if self._store is not None:
                    self._store.close()
                self._store, self._store_url = Store(url), url
            return self._store

    def registry(self):
        from pubwatch.registry import default_registry_path, load_registry

        path = default_registry_path()
        try:
            key = (str(path), path.stat().st_mtime)
            with self._lock:
                if self._registry is None or self._registry_key != key:
                    self._registry, self._registry_key = load_registry(path), key
                return self._registry
        except (OSError, ValueError) as exc:   # YAML syntax, not UTF-8, not a registry: a page, not a 500
            raise RegistryUnreadable(str(exc)) from None


def _airflow_connection(conn_id: str) -> dict[str, Any] | None:
    """An Airflow connection from the API server's secrets backends, or None."""
    from airflow.models.connection import Connection

    from pubwatch import connections

    try:
        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # not defined: pubwatch.connections falls back to the environment / default
        return None
    return connections.from_airflow(conn)


def _resolve_db_url() -> str:
    from pubwatch import connections

    return connections.tracking_db_url(_airflow_connection)


class RegistryUnreadable(Exception):
    """units.yaml cannot be read or parsed (the message names file:line:column)."""


resources = _Resources()


def _root(request: Request) -> str:
    return request.scope.get("root_path", "") or URL_PREFIX


FIRST_YEAR, LAST_YEAR = 2000, 2100      # periods the board answers for; anything else is a bad request


def _weeks(weeks: int, end: str | None):
    from pubwatch import board

    until = _period(end, status_code=400).end if end else None
    return board.recent_weeks(weeks, until)


TREND_WEEKS = 26


def _matrix_charts(registry, last_week) -> dict:
    """The board's charts: 26 weeks of 达标率 per category up to the last week shown, and the
    scores by category of the month and quarter that week begins in (to date)."""
    from pubwatch import board, rules
    from pubwatch.board_charts import category_trend, ranking_bars
    from pubwatch.periods import Period

    store = resources.store()
    trend = category_trend(store, registry, board.recent_weeks(TREND_WEEKS, last_week.end))
    try:
        policies = rules.load_policies()
    except rules.PolicyError as exc:     # the scores need the scoring table; the trend does not
        log.error("看板无法读取评分规则: %s", exc)
        return {"trend": trend, "rankings": []}
    month = Period.month_of(last_week.start)          # the month and quarter of the last week shown
    quarter = Period.quarter_of(last_week.start)
    return {"trend": trend, "rankings": [ranking_bars(store, registry, policies, p) for p in (month, quarter)]}


def _choice(value: str | None, allowed, name: str) -> str | None:
    """An optional filter value that must be one of `allowed` (400 naming the parameter otherwise)."""
    if value in (None, ""):
        return None
    if value not in allowed:
        raise HTTPException(status_code=400, detail=f"参数 {name} 的取值无效, 应为 {' / '.join(allowed)} 之一")
    return value


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    from pubwatch import board

    return HTMLResponse(board.render(template, root=_root(request), **context), status_code=status_code,
                        headers={"Cache-Control": "no-store"})


def create_app() -> FastAPI:
    app = FastAPI(title="政务公开监测看板", dependencies=[Depends(require_user)], docs_url=None,
                  redoc_url=None, openapi_url=None)
    # ECharts from the plugin's own files: intranets have no CDN (a library file, no data: no login needed)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if exc.status_code in (401, 403):   # keep Airflow's plain answer for auth failures
            return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain; charset=utf-8")
        heading = {404: "页面不存在", 400: "请求参数有误"}.get(exc.status_code, "出错了")
        return _page(request, "error.j2", exc.status_code, heading=heading, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(request: Request, exc: RequestValidationError):
        names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        return _page(request, "error.j2", 400, heading="请求参数有误",
                     message=f"参数 {', '.join(names) or '-'} 的取值无效 (例如 weeks 应为 1–52 的整数)")

    @app.exception_handler(RegistryUnreadable)
    async def _registry_error(request: Request, exc: RegistryUnreadable):
        log.error("看板无法读取单位登记表: %s", exc)
        return _page(request, "error.j2", 503, heading="单位登记表无法读取",
                     message=f"{exc} — 请管理员修正后刷新 (可用 pubwatch check 检查)。")

    @app.exception_handler(SQLAlchemyError)
    async def _db_error(request: Request, exc: SQLAlchemyError):
        log.error("看板读取追踪数据库失败 (tracking DB error): %s", exc.__class__.__name__)
        return _page(request, "error.j2", 503, heading="追踪数据库暂不可用",
                     message="无法读取监测数据库: 数据库未初始化或暂时无法连接。请管理员检查 pubwatch_db 连接, "
                             "或运行 python -m pubwatch db upgrade 初始化数据库。")

    @app.get("/", response_class=HTMLResponse)
    def matrix_page(request: Request, weeks: int = Query(DEFAULT_WEEKS, ge=1, le=52), end: str | None = None,
                    channel: str | None = None, category: str | None = None, sort: str = "streak"):
        from pubwatch import board
        from pubwatch.registry import CATEGORIES
        from pubwatch.types import CHANNELS

        channel = _choice(channel, CHANNELS, "channel")
        category = _choice(category, tuple(CATEGORIES), "category")
        sort = _choice(sort, tuple(board.SORTS), "sort") or "streak"
        registry = resources.registry()
        shown = _weeks(weeks, end)
        view = board.matrix(resources.store(), registry, shown, channel=channel, category=category, sort=sort)
        return _page(request, "matrix.j2", view=view, registry_errors=[e.skipped_line for e in registry.errors],
                     charts=_matrix_charts(registry, shown[-1]))

    @app.get("/unit/{unit_id}", response_class=HTMLResponse)
    def unit_detail(request: Request, user: GetUserDep, unit_id: str,
                    weeks: int = Query(DEFAULT_WEEKS, ge=1, le=52), end: str | None = None,
                    reviewed: str | None = None):
        from pubwatch import board

        from pubwatch.board_charts import posting_calendar

        shown = _weeks(weeks, end)
        try:
            view = board.unit_page(resources.store(), resources.registry(), unit_id, shown)
        except KeyError:
            raise HTTPException(status_code=404, detail=f"登记表中没有单位 {unit_id}") from None
        unit = resources.registry().unit(unit_id)
        form, cookie = (None, None)
        if can_review(user):
            form, cookie = _review_form(request, user, unit, view, default_period=_last_closed(shown))
        page = _page(request, "unit.j2", u=view, calendar=posting_calendar(resources.store(), unit, shown[-1].end),
                     review=form, saved=_saved_review(unit.id, reviewed))
        csrf.set_cookie(page, request, cookie)
        return page

    @app.get("/unit/{unit_id}/review", response_class=HTMLResponse)
    def review_form(request: Request, unit_id: str, user: BaseUser = Depends(require_reviewer),
                    period: str | None = None, channel: str | None = None, rule: str | None = None):
        """The review form alone (a link from an evaluation row), prefilled; editors only."""
        unit = _unit_for_review(unit_id)
        view = _review_view(unit)
        form, cookie = _review_form(request, user, unit, view, default_period=period or "",
                                    values={"period": period or "", "channel": channel or "", "rule": rule or ""})
        page = _page(request, "review.j2", u=view, review=form)
        csrf.set_cookie(page, request, cookie)
        return page

    @app.post("/unit/{unit_id}/review")
    def review_submit(request: Request, unit_id: str, user: BaseUser = Depends(require_reviewer),
                      csrf_token: str = Form(""), period: str = Form(""), channel: str = Form(""),
                      rule: str = Form(""), status: str = Form(""), reason: str = Form(""),
                      evidence_url: str = Form(""), published: str = Form("")):
        csrf.verify(request, user, csrf_token)          # before anything is read or stored
        from pubwatch.periods import Period
        from pubwatch.reviews import ReviewError, record_review

        unit = _unit_for_review(unit_id)
        values = {"period": period.strip(), "channel": channel.strip(), "rule": rule.strip() or "weekly",
                  "status": status.strip(), "reason": reason.strip(), "evidence_url": evidence_url.strip(),
                  "published": published.strip()}
        try:
            review = record_review(resources.store(), resources.registry(), unit_id=unit.id, period=values["period"],
                                   channel=values["channel"], status=values["status"], reason=values["reason"],
                                   reviewer=user.get_name(), rule=values["rule"],
                                   evidence_url=values["evidence_url"] or None, published=values["published"])
        except ReviewError as exc:
            view = _review_view(unit)
            form, cookie = _review_form(request, user, unit, view, default_period=values["period"], values=values,
                                        error=str(exc))
            page = _page(request, "review.j2", 400, u=view, review=form)
            csrf.set_cookie(page, request, cookie)
            return page
        log.info("人工复核已记录: unit=%s period=%s channel=%s rule=%s status=%s reviewer=%s (review %s)", review.unit_id,
                 review.period, review.channel, review.rule, review.status.value, review.reviewer, review.id)
        query = {"reviewed": "|".join((review.period, review.channel, review.rule))}
        if Period.parse(review.period).end < _weeks(DEFAULT_WEEKS, None)[0].start:
            query["end"] = review.period               # an older period: the weeks shown end with it
        # to the top of the page: the reviewed cell, the confirmation, then its 评估结果 row
        return RedirectResponse(f"{_root(request)}/unit/{unit.id}?{urlencode(query)}",
                                status_code=303)

    @app.get("/period/{key}", response_class=HTMLResponse)
    def period_page(request: Request, key: str):
        from pubwatch import board

        view = board.period_summary(resources.store(), resources.registry(), _period(key))
        return _page(request, "period.j2", p=view)

    @app.get("/period/{key}/download.{fmt}")
    def period_download(key: str, fmt: str):
        if fmt not in MEDIA_TYPES:
            raise HTTPException(status_code=404, detail=f"不支持的格式 {fmt} (只支持 xlsx / docx)")
        period = _period(key)
        return Response(_generate(period.key, fmt), media_type=MEDIA_TYPES[fmt], headers={
            "Content-Disposition": f"attachment; filename=pubwatch-{period.key}.{fmt}",
            "Cache-Control": "no-store"})

    return app


REVIEW_STATUSES = (("met", "达标"), ("missed", "未达标"), ("exempt", "免检"))


def _unit_for_review(unit_id: str):
    """The registry's unit, or 404."""
    try:
        return resources.registry().unit(unit_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"登记表中没有单位 {unit_id}") from None


def _review_view(unit):
    """The unit's page over the default weeks: the form's choices (its channels, rules, weeks)."""
    from pubwatch import board

    return board.unit_page(resources.store(), resources.registry(), unit.id, _weeks(DEFAULT_WEEKS, None))


def _review_form(request: Request, user: BaseUser, unit, view, *, default_period: str,
                 values: dict[str, str] | None = None, error: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The review form's context (choices, values, a fresh CSRF token) and the CSRF cookie to set."""
    from pubwatch.report_data import rule_label
    from pubwatch.types import CHANNEL_LABELS

    token, cookie = csrf.issue(request, user)
    rule_keys = ["weekly"] + sorted({e.rule_key for e in view.evaluations if e.rule_key and e.rule_key != "weekly"})
    channels = [(ch, CHANNEL_LABELS.get(ch, ch)) for ch in unit.channels]
    channels += sorted({(e.channel_key, e.channel) for e in view.evaluations if e.channel_key not in unit.channels})
    values = dict(values or {})
    values.setdefault("period", default_period)
    for key, default in (("channel", channels[0][0] if channels else ""), ("rule", "weekly"), ("status", "met"),
                         ("reason", ""), ("evidence_url", ""), ("published", "")):
        values[key] = values.get(key) or default
    return {"action": f"{_root(request)}/unit/{unit.id}/review", "field": csrf.field, "token": token,
            "statuses": REVIEW_STATUSES, "channels": channels, "rules": [(r, rule_label(r)) for r in rule_keys],
            "periods": [w.key for w in reversed(view.weeks)], "filled": values, "error": error,
            "reviewer": user.get_name()}, cookie


def _last_closed(shown) -> str:
    """The form's default period: the newest week shown that has ended (the open week cannot be judged yet)."""
    from pubwatch.types import TZ

    today = datetime.now(TZ).date()
    closed = [w for w in shown if w.end < today]
    return (closed or shown)[-1].key


def _saved_review(unit_id: str, reviewed: str | None):
    """The stored review a redirect after a POST names (period|channel|rule), read back from the store."""
    if not reviewed or reviewed.count("|") != 2:
        return None
    period, channel, rule = reviewed.split("|")
    from pubwatch.periods import Period
    from pubwatch.reviews import current_reviews

    try:
        period = Period.parse(period).key
    except ValueError:
        return None
    return current_reviews(resources.store(), period, [unit_id]).get((unit_id, channel, period, rule))


def _period(key: str, status_code: int = 404):
    """The period named by `key`, within the years the board answers for; else 404 (a page that
    does not exist) or, for a query parameter, 400."""
    from pubwatch.periods import Period

    try:
        period = Period.parse(key)
    except ValueError as exc:
        raise HTTPException(status_code=status_code, detail=str(exc)) from None
    if not FIRST_YEAR <= period.start.year <= LAST_YEAR:
        raise HTTPException(status_code=status_code,
                            detail=f"周期 {period.key} 超出看板的范围 ({FIRST_YEAR}–{LAST_YEAR} 年)")
    return period


def _generate(period_key: str, fmt: str) -> bytes:
    """Write the period's circular file on demand (into a private temp dir) and return its bytes."""
    from pubwatch.jobs import Runtime
    from pubwatch.periods import Period
    from pubwatch.report_data import NotEvaluated, require_final_evaluation, write_period_files

    rt = Runtime(db_url=resources.db_url())
    try:
        period = Period.parse(period_key)
        try:
            require_final_evaluation(rt.store, period)
        except NotEvaluated as exc:
            raise HTTPException(status_code=409, detail=f"{exc} (每周任务运行后即可下载)") from None
        with tempfile.TemporaryDirectory(prefix="pubwatch-board-") as tmp:
            target = Path(tmp) / f"pubwatch-{period_key}.{fmt}"
            try:
                (path,) = write_period_files(rt.store, rt.registry, rt.policies, period, formats=(fmt,), out=target)
            except ImportError as exc:   # the report writer is not installed in this deployment
                log.error("通报文件生成失败 (report writer unavailable): %s", exc)
                raise HTTPException(status_code=503, detail="通报文件生成模块不可用, 请联系管理员") from None
            return Path(path).read_bytes()
    finally:
        rt.close()


app = create_app()


class PubwatchBoardPlugin(AirflowPlugin):
    name = "pubwatch_board"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "政务公开监测看板"}]
    external_views = [{
        "name": "政务公开监测看板",
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "category": "pubwatch",
        "url_route": "pubwatch",
    }]
