"""The polite fetcher against real local HTTP servers (tests/httpfaults.py)."""
from __future__ import annotations

import threading
import time
import tracemalloc
from email.utils import formatdate

import pytest

from httpfaults import (BTWAF_403, CLOUDFLARE_503, JIASULE_521, RIVERS_412, SAFEDOG_403, WZWS_493,
                        YUNSUO_200, FaultServer, Reply, closed_port)
from pubwatch.http import FetchError, Fetcher, FetchSettings, detect_challenge, mask_secrets
from pubwatch.types import Outcome

LOCAL = ("127.0.0.1",)


def make(**kw) -> Fetcher:
    base = dict(allow_private=LOCAL, per_host_interval=0.0, backoff=0.01, timeout=2.0, respect_robots=False)
    base.update(kw)
    return Fetcher(FetchSettings(**base))


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


def fail(fetcher: Fetcher, url: str, **kw) -> FetchError:
    with pytest.raises(FetchError) as ei:
        fetcher.get(url, **kw)
    return ei.value


# -- settings -------------------------------------------------------------------------------------
def test_settings_from_mapping_validates():
    s = FetchSettings.from_mapping({"per_host_interval": 0.05, "timeout": 5, "retries": 1,
                                    "allow_private": ["127.0.0.1"]})
    assert s.allow_private == ("127.0.0.1",) and s.timeout == 5.0 and s.retries == 1
    assert FetchSettings.from_mapping(None) == FetchSettings()
    with pytest.raises(ValueError, match="fetch.timout: 未知字段"):
        FetchSettings.from_mapping({"timout": 5})
    with pytest.raises(ValueError, match="fetch.retries: 数值太小, 应不小于 0: -1"):
        FetchSettings.from_mapping({"retries": -1})
    with pytest.raises(ValueError, match="fetch.timeout: 数值太小, 应大于 0: 0"):
        FetchSettings.from_mapping({"timeout": 0})
    with pytest.raises(ValueError, match="fetch.respect_robots: 应为 true 或 false"):
        FetchSettings.from_mapping({"respect_robots": "maybe"})


# -- plain fetches, encodings, compression ----------------------------------------------------------
def test_get_decodes_gbk_by_header_and_meta(srv):
    page = "<html><head><title>工作动态</title></head><body>县教育局召开会议</body></html>"
    srv.route("/gbk", body=page.encode("gbk"), headers={"Content-Type": "text/html; charset=GBK"})
    meta = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>通知公告</body></html>'
    srv.route("/meta", body=meta.encode("gbk"), headers={"Content-Type": "text/html"})
    with make() as f:
        r = f.get(srv.url("/gbk"))
        assert r.status == 200 and r.encoding == "gbk" and "县教育局召开会议" in r.text
        assert r.requests == 1 and r.final_url == srv.url("/gbk") and not r.not_modified
        r2 = f.get(srv.url("/meta"))
        assert r2.encoding is None and "通知公告" in r2.text


def test_gzip_and_chunked_bodies(srv):
    body = "<ul>" + "".join(f"<li>第{i}条</li>" for i in range(2000)) + "</ul>"
    srv.route("/gz", body=body, gzip=True)
    srv.route("/chunked", body=body, chunked=True)
    srv.route("/both", body=body, chunked=True, gzip=True)
    with make() as f:
        for path in ("/gz", "/chunked", "/both"):
            assert f.get(srv.url(path)).text == body, path


def test_size_cap_stops_reading(srv):
    srv.route("/big", body=b"x" * 50_000)
    with make(max_bytes=10_000) as f:
        err = fail(f, srv.url("/big"))
    assert err.outcome is Outcome.HTTP_ERROR and "上限" in err.message


def test_gzip_bomb_is_cut_with_bounded_memory(srv):
    srv.route("/bomb", gzip_bomb=200_000_000)      # ~200 KB on the wire, 200 MB inflated
    with make(max_bytes=1_000_000) as f:
        tracemalloc.start()
        err = fail(f, srv.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert err.outcome is Outcome.HTTP_ERROR and "上限" in err.message
    assert peak < 10_000_000, peak


# -- retries, backoff, Retry-After --------------------------------------------------------------------
def test_retries_transient_statuses_then_succeeds(srv):
    srv.route("/flaky", [Reply(status=503), Reply(status=502), Reply(body="ok")])
    with make(retries=2, backoff=0.1) as f:
        r = f.get(srv.url("/flaky"))
    assert r.text == "ok" and r.requests == 3 and len(srv.hits("/flaky")) == 3
    assert all(g >= 0.05 for g in srv.gaps("/flaky"))        # backoff 0.1 * jitter >= 0.5


def test_gives_up_after_retries_with_http_error(srv):
    srv.route("/down", status=500)
    with make(retries=1) as f:
        err = fail(f, srv.url("/down"))
    assert err.outcome is Outcome.HTTP_ERROR and err.http_status == 500 and err.requests == 2
    assert len(srv.hits("/down")) == 2


def test_404_is_not_retried(srv):
    with make(retries=3) as f:
        err = fail(f, srv.url("/gone"))
    assert err.http_status == 404 and "不存在" in err.message and len(srv.hits("/gone")) == 1


def test_retry_after_seconds_and_http_date_are_honoured(srv):
    srv.route("/busy", [Reply(status=429, headers={"Retry-After": "1"}), Reply(body="ok")])
    with make(retries=1) as f:
        assert f.get(srv.url("/busy")).text == "ok"
        future = formatdate(time.time() + 3, usegmt=True)     # whole seconds: 2 to 3 s from now
        srv.route("/later", [Reply(status=503, headers={"Retry-After": future}), Reply(body="ok")])
        assert f.get(srv.url("/later")).text == "ok"
    assert srv.gaps("/busy")[0] >= 1.0
    assert srv.gaps("/later")[0] >= 1.5


def test_retry_after_is_capped(srv):
    srv.route("/busy", [Reply(status=429, headers={"Retry-After": "3600"}), Reply(body="ok")])
    with make(retries=1, max_retry_after=0.2) as f:
        assert f.get(srv.url("/busy")).text == "ok"
    assert 0.2 <= srv.gaps("/busy")[0] < 30


# -- pacing and the global cap -----------------------------------------------------------------------
def test_per_host_pacing_spaces_requests_across_threads(srv):
    srv.route("/p", body="ok")
    with make(per_host_interval=0.25, max_concurrency=4) as f:
        threads = [threading.Thread(target=f.get, args=(srv.url("/p"),)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    gaps = srv.gaps("/p")
    assert len(gaps) == 5
    # Gaps are measured where the server receives each request: the first one also carries the
    # connection set-up, so allow a little jitter (without pacing the gaps would be ~0).
    assert min(gaps) >= 0.25 - 0.04, gaps
    assert sum(gaps) >= 5 * 0.25 - 0.05, gaps


def test_global_concurrency_cap(srv):
    srv.route("/slow", body="ok", delay=0.3)
    with make(max_concurrency=2) as f:
        threads = [threading.Thread(target=f.get, args=(srv.url("/slow"),)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(srv.hits("/slow")) == 6
    assert srv.max_inflight == 2


# -- conditional GET -------------------------------------------------------------------------------
def test_conditional_get_etag_and_last_modified(srv):
    lm = "Wed, 18 Nov 2026 02:00:00 GMT"
    srv.route("/col/", body="<ul><li>x</li></ul>", etag='"v1"', last_modified=lm)
    srv.route("/lm/", body="<ul></ul>", last_modified=lm)
    with make() as f:
        first = f.get(srv.url("/col/"))
        assert first.etag == '"v1"' and first.last_modified == lm and not first.not_modified
        again = f.get(srv.url("/col/"), etag=first.etag, last_modified=first.last_modified)
        assert again.not_modified and again.status == 304 and again.body == b"" and again.requests == 1
        changed = f.get(srv.url("/col/"), etag='"v0"')
        assert not changed.not_modified and changed.body
        assert f.get(srv.url("/lm/"), last_modified=lm).not_modified
    assert srv.hits("/col/")[1].headers["If-None-Match"] == '"v1"'


# -- robots.txt ----------------------------------------------------------------------------------
def test_robots_disallow_blocks_unless_owned_site(srv):
    srv.route("/robots.txt", body="User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    srv.route("/private/list.html", body="secret list")
    srv.route("/public/list.html", body="public list")
    with make(respect_robots=True) as f:
        err = fail(f, srv.url("/private/list.html"))
        assert err.outcome is Outcome.BLOCKED and "owned_site: true" in err.message and "robots.txt" in err.message
        assert f.get(srv.url("/public/list.html")).text == "public list"
        assert f.get(srv.url("/private/list.html"), owned_site=True).text == "secret list"
    assert len(srv.hits("/robots.txt")) == 1            # cached per host
    assert len(srv.hits("/private/list.html")) == 1     # only the owned_site request reached it


def test_robots_missing_or_broken_means_allowed(srv):
    srv.route("/a", body="a")
    with make(respect_robots=True) as f:                   # robots.txt → 404
        r = f.get(srv.url("/a"))
        assert r.text == "a" and r.requests == 2 and r.notes == ()
    with FaultServer() as other:
        other.route("/robots.txt", status=500)
        other.route("/b", body="b")
        with make(respect_robots=True, retries=0) as f:
            r = f.get(other.url("/b"))
        assert r.text == "b" and any("robots.txt" in n for n in r.notes)


def test_robots_unreachable_is_allowed_with_note(srv):
    srv.route("/robots.txt", abort=True)
    srv.route("/c", body="c")
    with make(respect_robots=True, retries=0) as f:
        r = f.get(srv.url("/c"))
    assert r.text == "c" and r.notes and "无法读取" in r.notes[0]


# -- refused targets ---------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.gov.cn/a", "gopher://127.0.0.1:70/x",
                                 "data:text/html,<b>x</b>", "javascript:alert(1)"])
def test_refuses_non_http_schemes(url):
    with make() as f:
        err = fail(f, url)
    assert err.outcome is Outcome.CONFIG_ERROR and err.requests == 0


def test_refuses_private_targets_unless_allowed(srv):
    srv.route("/", body="hi")
    with Fetcher(FetchSettings(per_host_interval=0, respect_robots=False, timeout=2)) as f:
        for url in (srv.url("/"), f"http://localhost:{srv.port}/", "http://169.254.169.254/latest/meta-data/",
                    "http://10.0.0.1/", "http://[::1]/", "http://224.0.0.1/", "http://0.0.0.0/"):
            err = fail(f, url)
            assert err.outcome is Outcome.CONFIG_ERROR and "allow_private" in err.message, url
    assert srv.log == []                                  # nothing was sent
    with make(allow_private=("127.0.0.0/8",)) as f:       # a CIDR works too
        assert f.get(srv.url("/")).text == "hi"


def test_redirect_to_private_host_is_checked_again(srv):
    with FaultServer(host="127.0.0.2") as inner:
        inner.route("/admin", body="internal")
        srv.route("/go", redirect=inner.url("/admin"))
        with make(allow_private=("127.0.0.1",)) as f:
            err = fail(f, srv.url("/go"))
        assert err.outcome is Outcome.CONFIG_ERROR and "127.0.0.2" in err.message
        assert inner.log == []


def test_redirect_to_other_host_is_followed_and_recorded(srv):
    with FaultServer(host="127.0.0.2") as new:
        new.route("/xwzx/gzdt/", body="new site")
        srv.route("/old/", redirect=new.url("/xwzx/gzdt/"), status=301)
        with make(allow_private=("127.0.0.0/8",)) as f:
            r = f.get(srv.url("/old/"))
        assert r.text == "new site" and r.url == srv.url("/old/") and r.final_url == new.url("/xwzx/gzdt/")
        assert r.requests == 2


def test_redirect_loop_and_too_many_redirects(srv):
    srv.route("/a", redirect="/b")
    srv.route("/b", redirect="/a")
    for i in range(10):
        srv.route(f"/r{i}", redirect=f"/r{i + 1}")
    srv.route("/r10", body="end")
    with make(max_redirects=5) as f:
        loop = fail(f, srv.url("/a"))
        assert loop.outcome is Outcome.HTTP_ERROR and "循环" in loop.message
        many = fail(f, srv.url("/r0"))
        assert many.outcome is Outcome.HTTP_ERROR and "超过5次" in many.message
        assert f.get(srv.url("/r6")).text == "end"      # 4 hops: fine


# -- transport failures ---------------------------------------------------------------------------
def test_dns_failure_is_unreachable():
    with make() as f:
        err = fail(f, "http://portal.nowhere.invalid/col/")
    assert err.outcome is Outcome.UNREACHABLE and "域名解析失败" in err.message


def test_connection_refused_is_unreachable_and_retried():
    port = closed_port()
    with make(retries=2) as f:
        err = fail(f, f"http://127.0.0.1:{port}/")
    assert err.outcome is Outcome.UNREACHABLE and "拒绝" in err.message and err.requests == 3


def test_timeout_and_slow_drip(srv):
    srv.route("/hang", body="late", delay=1.5)
    srv.route("/drip", body=b"x" * 200, drip=(0.1, 2))     # 10 s in total, a byte pair at a time
    with make(timeout=0.5, retries=0) as f:
        for path in ("/hang", "/drip"):
            err = fail(f, srv.url(path))
            assert err.outcome is Outcome.UNREACHABLE and "超过0.5秒无响应" in err.message, path
            assert err.elapsed < 5


def test_reset_and_tls_errors_are_unreachable(srv):
    srv.route("/reset", abort=True)
    srv.route("/", body="plain http")
    with make(retries=0) as f:
        err = fail(f, srv.url("/reset"))
        assert err.outcome is Outcome.UNREACHABLE
        tls = fail(f, f"https://127.0.0.1:{srv.port}/")
        assert tls.outcome is Outcome.UNREACHABLE and "TLS" in tls.message


# -- WAF / anti-bot -------------------------------------------------------------------------------
@pytest.mark.parametrize("status,body,vendor", [
    (412, RIVERS_412, "瑞数"), (202, RIVERS_412, "瑞数"), (521, JIASULE_521, "加速乐"),
    (503, CLOUDFLARE_503, "Cloudflare"), (403, SAFEDOG_403, "安全狗"), (200, YUNSUO_200, "云锁"),
    (403, BTWAF_403, "宝塔"), (493, WZWS_493, "360"),
])
def test_waf_challenges_are_blocked_and_not_retried(srv, status, body, vendor):
    srv.route("/col/", status=status, body=body)
    with make(retries=2) as f:
        err = fail(f, srv.url("/col/"))
    assert err.outcome is Outcome.BLOCKED and vendor in err.message and err.http_status == status
    assert len(srv.hits("/col/")) == 1


def test_real_pages_are_not_mistaken_for_challenges(srv):
    items = "".join(f'<li><a href="/t{i}.html">县政府召开第{i}次常务会议</a><span>2026-11-0{i % 9 + 1}</span></li>'
                    for i in range(30))
    page = (f'<html><head><script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script></head>'
            f'<body><ul>{items}</ul><script>document.cookie="a=1";</script></body></html>')
    srv.route("/list/", body=page)
    srv.route("/forbidden", status=403, body="<html><body><h1>403 Forbidden</h1><hr>nginx</body></html>")
    with make() as f:
        assert "常务会议" in f.get(srv.url("/list/")).text
        err = fail(f, srv.url("/forbidden"))
    assert err.outcome is Outcome.HTTP_ERROR and err.http_status == 403


def test_detect_challenge_by_header_only():
    assert detect_challenge(403, {"cf-mitigated": "challenge"}, b"<html></html>") == "Cloudflare"
    assert detect_challenge(200, {}, b"<html><body>" + "正文".encode() * 200 + b"</body></html>") is None


# -- secrets, APIs, probes, stats -------------------------------------------------------------------
def test_secrets_are_masked_in_messages(srv):
    srv.route("/cgi-bin/token", status=500)
    with make(retries=0) as f:
        with pytest.raises(FetchError) as ei:
            f.request("GET", srv.url("/cgi-bin/token"), params={"appsecret": "S3CRET", "access_token": "T0KEN"})
        err = fail(f, "http://api.nowhere.invalid/x?access_token=T0KEN&secret=S3CRET&page=2")
    for e in (ei.value, err):
        assert "S3CRET" not in e.message and "T0KEN" not in e.message and "***" in e.message
    assert mask_secrets("https://x/?key=abc&b=1") == "https://x/?key=***&b=1"


def test_request_posts_json_and_does_not_retry_post_by_default(srv):
    srv.route("/cgi-bin/freepublish/batchget", body='{"total_count": 1, "item": []}',
              headers={"Content-Type": "application/json"})
    srv.route("/flaky", status=503)
    with make(retries=2) as f:
        r = f.request("POST", srv.url("/cgi-bin/freepublish/batchget"), json={"offset": 0, "count": 20})
        assert r.json() == {"total_count": 1, "item": []}
        assert srv.hits("/cgi-bin/freepublish/batchget")[0].body == b'{"offset": 0, "count": 20}'
        with pytest.raises(FetchError):
            f.request("POST", srv.url("/flaky"), json={})
        assert len(srv.hits("/flaky")) == 1
        with pytest.raises(FetchError):
            f.request("POST", srv.url("/flaky"), json={}, retry=True)
        assert len(srv.hits("/flaky")) == 4


def test_probe_counts_waf_as_answered_and_5xx_timeouts_as_down(srv):
    srv.route("/", body="home")
    srv.route("/waf", status=412, body=RIVERS_412)
    srv.route("/err", status=503)
    srv.route("/hang", body="x", delay=1.0)
    with make(timeout=0.3, retries=2) as f:
        assert f.probe(srv.url("/")).ok
        assert f.probe(srv.url("/waf")).ok
        down = f.probe(srv.url("/err"))
        assert not down.ok and down.status == 503
        slow = f.probe(srv.url("/hang"))
        assert not slow.ok and "无响应" in slow.error
    assert len(srv.hits("/err")) == 1                     # one try only


def test_stats_per_host(srv):
    srv.route("/ok", body="12345")
    with make(retries=0) as f:
        f.get(srv.url("/ok"))
        with pytest.raises(FetchError):
            f.get(srv.url("/missing"))
        st = f.stats["127.0.0.1"]
    assert st == {"requests": 2, "errors": 1, "bytes": 5 + len("<html><body><h1>404 Not Found</h1></body></html>")}


def test_robots_txt_is_cached_across_fetchers(srv, tmp_path):
    """One Airflow task per unit = one Fetcher per unit: the disk cache keeps it at one robots.txt a day."""
    srv.route("/robots.txt", body="User-agent: *\nDisallow: /private/\n")
    srv.route("/list", body="ok")
    for _ in range(3):
        with Fetcher(FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0), robots_cache=tmp_path) as f:
            f.get(srv.url("/list"))
            with pytest.raises(FetchError) as err:
                f.get(srv.url("/private/x"))
            assert err.value.outcome is Outcome.BLOCKED
    assert len(srv.hits("/robots.txt")) == 1
    assert len(srv.hits("/list")) == 3


def test_dns_rebinding_cannot_redirect_the_connection(monkeypatch):
    """The name is checked once (127.0.0.1, allowed) and then resolves elsewhere (127.0.0.2, not
    allowed): the connection goes to the address that was checked, never to the new answer."""
    import socket

    import pubwatch.http as http_mod

    with FaultServer() as good:
        with FaultServer(host="127.0.0.2", port=good.port) as evil:
            good.route("/gzdt/", body="the checked site")
            evil.route("/gzdt/", body="internal admin page")
            real = socket.getaddrinfo
            answers = {"n": 0}

            def rebinding(host, *args, **kw):
                if host == "rebind.example.gov.cn":
                    answers["n"] += 1
                    host = "127.0.0.1" if answers["n"] == 1 else "127.0.0.2"
                return real(host, *args, **kw)

            monkeypatch.setattr(socket, "getaddrinfo", rebinding)
            assert http_mod.socket.getaddrinfo is rebinding
            with make(allow_private=("127.0.0.1",)) as f:
                r = f.get(f"http://rebind.example.gov.cn:{good.port}/gzdt/")
            assert r.text == "the checked site" and evil.log == [] and len(good.log) == 1
