"""A fake WeChat for the demo portal and the tests: the official API and the bridges' feeds.

`FakeWeChatAPI` answers, under a path prefix, ``POST /cgi-bin/stable_token``, ``GET
/cgi-bin/token`` and ``POST /cgi-bin/freepublish/batchget`` with the real JSON shapes, driven by
an in-memory list of `FakeArticle`s, with scriptable faults: token expiry after N batchget calls
(40001/42001), queued errcodes (45009, 40164, 48001, -1 …) or errcodes at the Nth batchget call, a missing stable_token endpoint, a
wrong AppSecret. Use it standalone (``with api.serve() as base: …``) or mount it on the demo
portal (``portal.extra_routes[prefix] = api.portal_route(prefix)``).

`render_feed(style, account, posts, built_at)` renders posts the way each bridge does:
"we-mp-rss" (RSS 2.0, naive local times with an empty %z, guid = link, /s/<id> links),
"wechat2rss" (RSS 2.0, RFC 1123 +0800 times, /s?__biz links with chksm and #rd), "rsshub"
(RSS 2.0, CDATA, GMT times, atom:link self) and "rsshub-atom" (Atom 1.0, ISO times, Z).
"""
from __future__ import annotations

import hashlib
import html
import json
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

from ..types import TZ

FEED_STYLES = ("we-mp-rss", "wechat2rss", "rsshub", "rsshub-atom")


def fake_article_url(seed: str, idx: int = 1, biz: str = "MzI0NTY3ODkwMQ==") -> str:
    """A deterministic mp.weixin.qq.com/s?__biz=… link as the API returns it (http, chksm, #rd)."""
    digest = hashlib.sha1(f"{seed}|{idx}".encode()).hexdigest()
    return (f"http://mp.weixin.qq.com/s?__biz={biz}&mid={int(digest[:8], 16) % 10**10}&idx={idx}"
            f"&sn={digest[8:40]}&chksm={digest[:8]}#rd")


@dataclass
class FakeArticle:
    """One 发布 (publish) = one article_id with one or more news items (multi-article send)."""

    titles: list[str]
    published: datetime
    urls: list[str] = field(default_factory=list)
    article_id: str = ""
    deleted: tuple[int, ...] = ()       # 0-based positions marked is_deleted

    def news_items(self) -> list[dict[str, Any]]:
        out = []
        for n, title in enumerate(self.titles):
            url = self.urls[n] if n < len(self.urls) else fake_article_url(self.article_id, n + 1)
            out.append({"title": title, "author": "", "digest": "", "content": "", "content_source_url": "",
                        "thumb_media_id": "THUMB", "show_cover_pic": 0, "need_open_comment": 0,
                        "only_fans_can_comment": 0, "url": url, "is_deleted": n in self.deleted})
        return out


class FakeWeChatAPI:
    def __init__(self, articles: Sequence[FakeArticle] = (), *, appid: str = "wx_fake_appid",
                 secret: str = "fake-secret-value", whitelist_ip: str = "203.0.113.7"):
        self.articles = list(articles)
        for n, a in enumerate(self.articles):
            a.article_id = a.article_id or f"AID{n:04d}"
        self.appid, self.secret, self.whitelist_ip = appid, secret, whitelist_ip
        self.stable_token_enabled = True
        self.expire_token_after: int | None = None   # batchget calls a token is good for
        self.queued_errors: list[int] = []            # errcodes the next batchget calls answer
        self.errors_at: dict[int, int] = {}           # batchget call number (1-based) -> errcode
        self.batchget_calls = 0
        self.token_errors: list[int] = []             # errcodes the next token calls answer
        self.calls: list[tuple[str, str]] = []        # (method, path) in order
        self.bodies: list[Any] = []
        self._tokens: dict[str, int] = {}             # token -> batchget calls made with it
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- the API
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.calls.append((method, path))
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                payload = None
            self.bodies.append(payload)
            q = {k: v[0] for k, v in query.items()}
            if path == "/cgi-bin/stable_token" and method == "POST":
                if not self.stable_token_enabled:
                    return 404, {"Content-Type": "text/html"}, b"<html>404 Not Found</html>"
                return self._token_answer(payload or {})
            if path == "/cgi-bin/token" and method == "GET":
                return self._token_answer(q)
            if path == "/cgi-bin/freepublish/batchget" and method == "POST":
                return self._batchget(q.get("access_token", ""), payload)
            return 404, {"Content-Type": "text/plain"}, b"not found"

    def _json(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(data, ensure_ascii=False).encode()

    def _error(self, code: int) -> tuple[int, dict[str, str], bytes]:
        messages = {45009: "reach max api daily quota limit rid: 6a1b2c3d-0e0f",
                    40164: f"invalid ip {self.whitelist_ip} ipv6 ::ffff:{self.whitelist_ip}, not in whitelist rid: 6a1b",
                    48001: "api unauthorized rid: 6a1b2c3d", -1: "system error rid: 6a1b2c3d",
                    40001: "invalid credential, access_token is invalid or not latest rid: 6a1b",
                    42001: "access_token expired rid: 6a1b", 40125: "invalid appsecret rid: 6a1b",
                    40013: "invalid appid rid: 6a1b"}
        return self._json({"errcode": code, "errmsg": messages.get(code, "error")})

    def _token_answer(self, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if self.token_errors:
            return self._error(self.token_errors.pop(0))
        if params.get("appid") != self.appid:
            return self._error(40013)
        if params.get("secret") != self.secret:
            return self._error(40125)
        token = "TOKEN_" + secrets.token_hex(12)
        self._tokens[token] = 0
        return self._json({"access_token": token, "expires_in": 7200})

    def _batchget(self, token: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
        if token not in self._tokens:
            return self._error(40001)
        if self.expire_token_after is not None and self._tokens[token] >= self.expire_token_after:
            return self._error(42001)
        self._tokens[token] += 1
        self.batchget_calls += 1
        if self.batchget_calls in self.errors_at:
            return self._error(self.errors_at[self.batchget_calls])
        if self.queued_errors:
            return self._error(self.queued_errors.pop(0))
        if not isinstance(payload, dict):
            return self._json({"errcode": 47001, "errmsg": "data format error"})
        offset, count = int(payload.get("offset", 0)), int(payload.get("count", 0))
        if not 1 <= count <= 20:
            return self._json({"errcode": 40097, "errmsg": "invalid args"})
        ordered = sorted(self.articles, key=lambda a: a.published, reverse=True)
        page = ordered[offset:offset + count]
        items = [{"article_id": a.article_id,
                  "content": {"news_item": a.news_items(), "create_time": int(a.published.timestamp()),
                              "update_time": int(a.published.timestamp())},
                  "update_time": int(a.published.timestamp())} for a in page]
        return self._json({"total_count": len(ordered), "item_count": len(items), "item": items})

    # ---------------------------------------------------------------- serving
    def portal_route(self, prefix: str = "") -> Callable[[BaseHTTPRequestHandler, Any], tuple[int, dict[str, str], bytes]]:
        """An entry for `DemoPortal.extra_routes[prefix]`: fn(handler, split_url) -> (status, headers, body)."""
        def route(handler: BaseHTTPRequestHandler, parts: Any) -> tuple[int, dict[str, str], bytes]:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            path = parts.path[len(prefix):] if prefix and parts.path.startswith(prefix) else parts.path
            return self.handle(handler.command, path, parse_qs(parts.query), body)
        return route

    @contextmanager
    def serve(self, host: str = "127.0.0.1", prefix: str = "") -> Iterator[str]:
        """Serve on an ephemeral port; yields the API base URL (``http://127.0.0.1:PORT`` + prefix)."""
        route = self.portal_route(prefix)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                status, headers, body = route(self, urlsplit(self.path))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                  name="fake-wechat")
        thread.start()
        try:
            yield f"http://{host}:{server.server_address[1]}{prefix}"
        finally:
            server.shutdown()
            server.server_close()


# ---------------------------------------------------------------- feed rendering
def _get(post: Any, name: str) -> Any:
    return post.get(name) if isinstance(post, dict) else getattr(post, name, None)


def _cdata(text: str) -> str:
    return "<![CDATA[" + str(text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_feed(style: str, account: str, posts: Sequence[Any], built_at: datetime | None) -> bytes:
    """Render `posts` (objects or dicts with title, url, published: aware datetime or None) as the
    feed one bridge would serve. `built_at` is the feed-level build time (None: omitted)."""
    if style not in FEED_STYLES:
        raise ValueError(f"unknown feed style {style!r}; use one of {FEED_STYLES}")
    return {"we-mp-rss": _we_mp_rss, "wechat2rss": _wechat2rss, "rsshub": _rsshub,
            "rsshub-atom": _rsshub_atom}[style](account, posts, built_at).encode("utf-8")


def _naive_local(dt: datetime) -> str:
    # we-mp-rss formats naive datetimes with "%a, %d %b %Y %H:%M:%S %z": %z is empty.
    return dt.astimezone(TZ).replace(tzinfo=None).strftime("%a, %d %b %Y %H:%M:%S %z")


def _we_mp_rss(account: str, posts: Sequence[Any], built: datetime | None) -> str:
    items = []
    for p in posts:
        url, when = html.escape(str(_get(p, "url"))), _get(p, "published")
        items.append(f"<item><id>{html.escape(url.rsplit('/', 1)[-1])}</id><title>{html.escape(str(_get(p, 'title')))}</title>"
                     f"<description>{html.escape(str(_get(p, 'title')))}</description><guid>{url}</guid>"
                     f'<enclosure url="https://mmbiz.qpic.cn/fake.jpg" length="0" type="image/jpeg"></enclosure>'
                     f"<link>{url}</link>" + (f"<pubDate>{_naive_local(when)}</pubDate>" if when else "") + "</item>")
    build = f"<lastBuildDate>{_naive_local(built)}</lastBuildDate>" if built else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n<rss version="2.0"><channel>'
            f"<title>{html.escape(account)}</title><link>https://github.com/rachelos/we-mp-rss</link>"
            f"<description>{html.escape(account)}</description><language>zh-CN</language>"
            f"<generator>Mp-We-Rss</generator>{build}<image><url></url><title>{html.escape(account)}</title>"
            f"<link>https://github.com/rachelos/we-mp-rss</link></image>{''.join(items)}</channel></rss>")


def _wechat2rss(account: str, posts: Sequence[Any], built: datetime | None) -> str:
    items = []
    for p in posts:
        url, when = html.escape(str(_get(p, "url"))), _get(p, "published")
        date = f"<pubDate>{when.astimezone(TZ).strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate>" if when else ""
        items.append(f"<item><title>{html.escape(str(_get(p, 'title')))}</title><link>{url}</link>"
                     f"<description>{_cdata('<p>' + html.escape(str(_get(p, 'title'))) + '</p>')}</description>"
                     f"<guid>{url}</guid>{date}</item>")
    build = f"<lastBuildDate>{built.astimezone(TZ).strftime('%a, %d %b %Y %H:%M:%S %z')}</lastBuildDate>" if built else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>{html.escape(account)}</title><link>https://wechat2rss.xlab.app</link>"
            f"<description>{html.escape(account)} (wechat feed made by @ttttmr https://wechat2rss.xlab.app)</description>"
            f"{build}{''.join(items)}</channel></rss>")


def _rsshub(account: str, posts: Sequence[Any], built: datetime | None) -> str:
    items = []
    for p in posts:
        url, when = str(_get(p, "url")), _get(p, "published")
        date = f"<pubDate>{format_datetime(when.astimezone(timezone.utc), usegmt=True)}</pubDate>" if when else ""
        items.append(f"<item><title>{_cdata(_get(p, 'title'))}</title><description>{_cdata('<p>' + str(_get(p, 'title')) + '</p>')}</description>"
                     f"{date}<guid isPermaLink=\"false\">{html.escape(url)}</guid><link>{html.escape(url)}</link>"
                     f"<author>{_cdata(account)}</author></item>")
    build = f"<lastBuildDate>{format_datetime(built.astimezone(timezone.utc), usegmt=True)}</lastBuildDate>" if built else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>'
            f"<title>{_cdata(account)}</title><link>https://mp.weixin.qq.com</link>"
            '<atom:link href="http://localhost:1200/wechat/feed" rel="self" type="application/rss+xml"/>'
            f"<description>{_cdata(account + ' - Powered by RSSHub')}</description><generator>RSSHub</generator>"
            f"<webMaster>contact@rsshub.app (RSSHub)</webMaster><language>zh-cn</language>{build}<ttl>5</ttl>"
            f"{''.join(items)}</channel></rss>")


def _iso_z(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _rsshub_atom(account: str, posts: Sequence[Any], built: datetime | None) -> str:
    entries = []
    for p in posts:
        url, when = html.escape(str(_get(p, "url"))), _get(p, "published")
        dates = f"<published>{_iso_z(when)}</published><updated>{_iso_z(when)}</updated>" if when else ""
        entries.append(f"<entry><id>{url}</id><title>{_cdata(_get(p, 'title'))}</title>{dates}"
                       f'<link href="{url}"/><content type="html">{_cdata("<p>" + str(_get(p, "title")) + "</p>")}</content>'
                       f"<author><name>{_cdata(account)}</name></author></entry>")
    updated = f"<updated>{_iso_z(built)}</updated>" if built else ""
    return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{_cdata(account)}</title><link href=\"https://mp.weixin.qq.com\"/><id>http://localhost:1200/wechat/feed</id>"
            f"<subtitle>{_cdata(account + ' - Powered by RSSHub')}</subtitle><generator>RSSHub</generator>"
            f"{updated}{''.join(entries)}</feed>")
