"""A reusable local webhook receiver for tests (WeCom / DingTalk robots, any JSON webhook).

    with WebhookReceiver() as hook:
        hook.script((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))   # first answer
        ...post to hook.url_for("/cgi-bin/webhook/send", key="k")...
        assert hook.requests[0].json["msgtype"] == "markdown"

It listens on 127.0.0.1 with an ephemeral port, records every request (method, path, query,
headers, raw body, parsed JSON) and answers from a queue of scripted responses, falling back to
`default` ({"errcode": 0, "errmsg": "ok"}). A scripted response is one of:
- (status, body): body a dict/list (sent as JSON), str or bytes;
- (status, body, delay_seconds): answer after sleeping (to provoke client timeouts);
- a callable(recorded) -> one of the above (e.g. to check a signature);
- "close": drop the connection without answering.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union
from urllib.parse import parse_qsl, urlencode, urlsplit

Response = Union[tuple, str, Callable[["Recorded"], Any]]
OK = (200, {"errcode": 0, "errmsg": "ok"})


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    received_at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class WebhookReceiver:
    def __init__(self, default: Response = OK):
        self.default = default
        self.requests: list[Recorded] = []
        self._script: list[Response] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                receiver._handle(self)

            do_GET = do_POST
            do_PUT = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhookrecv", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----- addresses and scripting --------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "receiver not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str = "/send", **query: str) -> str:
        return f"{self.url}{path}" + (f"?{urlencode(query)}" if query else "")

    def script(self, *responses: Response) -> None:
        """Queue answers for the next requests, in order; later requests get `default`."""
        with self._lock:
            self._script.extend(responses)

    def bodies(self) -> list[Any]:
        return [r.json for r in self.requests]

    # ----- request handling ---------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            parsed = None
        rec = Recorded(method=h.command, path=parts.path, query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                       raw_query=parts.query, headers={k: v for k, v in h.headers.items()}, body=body, json=parsed)
        with self._lock:
            self.requests.append(rec)
            response = self._script.pop(0) if self._script else self.default
        if callable(response):
            response = response(rec)
        if response == "close":
            h.close_connection = True
            h.connection.close()
            return
        status, payload, *rest = response
        if rest and rest[0]:
            time.sleep(rest[0])
        if isinstance(payload, (dict, list)):
            data, ctype = json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"
        elif isinstance(payload, str):
            data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = bytes(payload or b""), "application/octet-stream"
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass
