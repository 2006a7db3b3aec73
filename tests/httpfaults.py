"""A local fault-injection HTTP server for tests (real sockets on 127.0.0.1, ephemeral port).

    with FaultServer() as srv:
        srv.route("/list/", body="<html>…</html>", headers={"Content-Type": "text/html; charset=gbk"})
        srv.route("/flaky", [Reply(status=503, headers={"Retry-After": "1"}), Reply(body="ok")])
        srv.route("/old", redirect="/new")
        srv.route("/slow", body="x" * 100, drip=(0.2, 10))      # 10 bytes every 0.2 s
        srv.route("/bomb", gzip_bomb=50_000_000)
        srv.route("/col/", body=page, etag='"v1"')              # 304 on If-None-Match: "v1"
        url = srv.url("/list/")
        ...
        assert len(srv.hits("/flaky")) == 2

A route is one `Reply` (repeated forever) or a list of replies served in turn (the last one
repeats), or a callable `(LoggedRequest) -> Reply`. Unknown paths get 404. Every request is
logged with its monotonic arrival time and headers, so tests can assert counts and spacing.

Also: `closed_port()` (a port nobody listens on), the WAF challenge bodies seen in the wild
(RIVERS_412, JIASULE_521, CLOUDFLARE_503, SAFEDOG_403, YUNSUO_200, BTWAF_403, WZWS_493) and
`gzip_bytes()`.
"""
from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                       # seconds before the status line
    drip: tuple[float, int] | None = None    # (interval, bytes per write): a slow body
    chunked: bool = False                    # Transfer-Encoding: chunked
    gzip: bool = False                       # gzip the body (Content-Encoding: gzip)
    gzip_bomb: int = 0                       # serve gzip of this many zero bytes instead of body
    redirect: str | None = None              # Location (status defaults to 302)
    etag: str | None = None                  # 304 when If-None-Match matches
    last_modified: str | None = None         # 304 when If-Modified-Since matches exactly
    abort: bool = False                      # close the connection without answering
    charset: str = "utf-8"                   # for str bodies


@dataclass
class LoggedRequest:
    method: str
    path: str                                 # without the query
    query: str
    headers: dict[str, str]
    time: float                               # time.monotonic() at arrival
    body: bytes = b""


Route = Union[Reply, list, Callable[[LoggedRequest], Reply]]

_BOMB_CACHE: dict[int, bytes] = {}


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6)


def _bomb(size: int) -> bytes:
    if size not in _BOMB_CACHE:
        comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * 1_000_000
        parts = [comp.compress(block) for _ in range(size // len(block))]
        parts.append(comp.compress(b"\0" * (size % len(block))))
        parts.append(comp.flush())
        _BOMB_CACHE[size] = b"".join(parts)
    return _BOMB_CACHE[size]


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients that hang up early are expected here
        pass


class FaultServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.routes: dict[str, Route] = {}
        self.log: list[LoggedRequest] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._inflight = 0
        self.max_inflight = 0               # the most requests handled at the same time
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # headers and body go in separate writes: avoid 40 ms stalls

            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                server._handle(self)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle

        self.httpd = _QuietServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "FaultServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- programming ----------------------------------------------------------------------------
    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, replies: Route | None = None, **reply_kw) -> None:
        """route(path, Reply(...)) / route(path, [Reply, Reply]) / route(path, fn) / route(path, **Reply fields)."""
        if replies is None:
            replies = Reply(**reply_kw)
        with self._lock:
            self.routes[path] = replies
            self._served[path] = 0

    def hits(self, path: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def gaps(self, path: str | None = None) -> list[float]:
        """Seconds between consecutive request arrivals (for one path, or all)."""
        with self._lock:
            times = [r.time for r in self.log if path is None or r.path == path]
        return [b - a for a, b in zip(times, times[1:])]

    # -- serving --------------------------------------------------------------------------------
    def _pick(self, req: LoggedRequest) -> Reply:
        with self._lock:
            route = self.routes.get(req.path)
            n = self._served.get(req.path, 0)
            self._served[req.path] = n + 1
        if route is None:
            return Reply(status=404, body="<html><body><h1>404 Not Found</h1></body></html>",
                          headers={"Content-Type": "text/html"})
        if isinstance(route, list):
            return route[min(n, len(route) - 1)]
        if callable(route) and not isinstance(route, Reply):
            return route(req)
        return route

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body_in = h.rfile.read(length) if length else b""
        req = LoggedRequest(h.command, parts.path, parts.query, {k: v for k, v in h.headers.items()},
                            time.monotonic(), body_in)
        with self._lock:
            self.log.append(req)
            self._inflight += 1
            self.max_inflight = max(self.max_inflight, self._inflight)
        try:
            self._answer(h, req, self._pick(req))
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._lock:
                self._inflight -= 1

    def _answer(self, h: BaseHTTPRequestHandler, req: LoggedRequest, r: Reply) -> None:
        if r.delay:
            time.sleep(r.delay)
        if r.abort:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        body = r.body.encode(r.charset) if isinstance(r.body, str) else r.body
        headers = dict(r.headers)
        status = r.status
        if r.redirect is not None:
            headers["Location"] = r.redirect
            if status == 200:
                status = 302
        if r.etag:
            headers["ETag"] = r.etag
        if r.last_modified:
            headers["Last-Modified"] = r.last_modified
        inm = req.headers.get("If-None-Match")
        ims = req.headers.get("If-Modified-Since")
        if (r.etag and inm and r.etag in [t.strip() for t in inm.split(",")]) or \
                (r.last_modified and ims and ims == r.last_modified and not (r.etag and inm)):
            status, body = 304, b""
        if r.gzip_bomb:
            body = _bomb(r.gzip_bomb)
            headers["Content-Encoding"] = "gzip"
        elif r.gzip and body:
            body = gzip_bytes(body)
            headers["Content-Encoding"] = "gzip"
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        headers.setdefault("Date", formatdate(usegmt=True))
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        send_body = h.command != "HEAD" and status not in (204, 304)
        if r.chunked and send_body:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(body) if send_body or h.command == "HEAD" else 0))
        h.end_headers()
        if not send_body:
            return
        step = r.drip[1] if r.drip else max(1, min(len(body), 16_384))
        for i in range(0, len(body), step):
            piece = body[i:i + step]
            if r.chunked:
                h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                h.wfile.write(piece)
            h.wfile.flush()
            if r.drip:
                time.sleep(r.drip[0])
        if r.chunked:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()


# -- anti-bot / WAF pages as they are served in the wild (shapes, not real keys) ------------------
RIVERS_412 = """<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta content="{qVbtC3Ym0.RkjTnGu6hP" r='m'><script type="text/javascript" r='m'>$_ts=window['$_ts'];if(!$_ts)$_ts={};
$_ts.nsd=62839;$_ts.cd="qGcrrAAlEDaEqG";</script><script type="text/javascript" charset="utf-8"
src="/4QbVtADbnLVIc/d.FxJzG50F.dfe1675.js" r='m'></script></head><body></body></html>"""

JIASULE_521 = """<html><body><script>document.cookie=('_')+('_')+('j')+('s')+('l')+('_')+('c')+('l')+('e')+('a')+('r')+
('a')+('n')+('c')+('e')+('_')+('s')+('=')+(-~[]+'')+'7000000000.123|-1|'+'abcdef%3D;max-age=3600;path=/';
location.href=location.pathname+location.search</script></body></html>"""

CLOUDFLARE_503 = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"><script>(function(){window._cf_chl_opt={cvId: '3',cZone: 'example.gov.cn',
cType: 'managed'};}());</script></head><body><noscript>Enable JavaScript and cookies to continue</noscript>
<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=7f"></script></body></html>"""

SAFEDOG_403 = """<html><head><meta charset="utf-8"><title>网站防火墙</title></head><body>
<div>您的请求带有不合法参数，已被网站管理员设置拦截！</div>
<img src="http://404.safedog.cn/images/safedogsite/head.png"></body></html>"""

YUNSUO_200 = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>
<script type="text/javascript">function stringToHex(str){var val="";for(var i=0;i<str.length;i++){
val+=str.charCodeAt(i).toString(16);}return val;}function YunSuoAutoJump(){var width=screen.width;
var height=screen.height;var screendate=width+","+height;var curlocation=window.location.href;
document.cookie="srcurl="+stringToHex(window.location.href)+";path=/;";
self.location="/?security_verify_data="+stringToHex(screendate);}</script>
<script>setTimeout("YunSuoAutoJump()",50);</script></body></html>"""

BTWAF_403 = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>宝塔网站防火墙</title></head>
<body><h1>您的请求带有不合法参数，已被网站管理员设置拦截！</h1><p>可能原因：您提交的内容包含危险的攻击请求</p>
<p>如何解决：检查提交内容；如网站托管，请联系空间提供商；普通网站访客，请联系网站管理员</p></body></html>"""

WZWS_493 = """<html><head><title>493</title></head><body><script>var url="/wzws-waf-cgi/?wzwschallenge=V1pXU19DT05GSVJN";
window.location.href=url;</script></body></html>"""
