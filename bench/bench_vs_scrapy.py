"""1,000 portal columns on 127.0.0.1: pubwatch's crawl vs a Scrapy spider, same politeness and concurrency.

    .venv/bin/python bench/bench_vs_scrapy.py [--columns 1000] [--concurrency 8]

A local http.server serves N TRS-style columns (title + date rows, `createPageHTML` pagination,
two pages each, ETag revalidation like nginx). Both crawlers read each column's first page and
follow page 2 only while the page is still inside the look-back period (the same rule), with the
same concurrency and no per-host delay (one local host). Scrapy runs in its own venv
(var/bench-venv, created here: `pip install scrapy==2.19.0`), never in the project venv.

Prints: wall time and requests per column for each, the ratio, and pubwatch's steady-state re-crawl
(conditional GET with the kept validators: goal ≤ 1.2 requests per column). No assertions.
Lines starting with "RESULT" are collected by bench/run_all.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

REF = date(2026, 11, 20)
SINCE = date(2026, 11, 9)
PER_PAGE = 15
BENCH_VENV = ROOT / "var" / "bench-venv"
SCRAPY_PIN = "scrapy==2.19.0"


# ------------------------------------------------------------------------------------- the site
def page_html(col: int, page: int) -> bytes:
    """Column `col`, page `page` (0-based): 15 rows a page, about one post a day, newest first."""
    rows = []
    for i in range(PER_PAGE):
        n = page * PER_PAGE + i
        d = REF - timedelta(days=(n * 11 + col % 7) // 10)
        rows.append(f'<li><a href="./{d:%Y%m}/t{d:%Y%m%d}_{col}_{n}.html" target="_blank" '
                    f'title="县第{col}单位召开第{n}次工作推进会">县第{col}单位召开第{n}次工作推进会</a>'
                    f"<span>{d:%Y-%m-%d}</span></li>")
    nxt = f'<a class="next" href="index_{page + 1}.html">下一页</a>' if page == 0 else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>工作动态_第{col}单位_某某县人民政府</title>
<meta name="ColumnName" content="工作动态"></head><body>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; 工作动态</div>
<div class="list-right"><ul class="list">
{chr(10).join(rows)}
</ul><div class="page">{nxt}<script>var currentPage = {page};var countPage = 2;
createPageHTML(2, {page}, "index", "html");</script></div></div>
<div class="footer">主办：某某县人民政府办公室</div></body></html>""".encode()


class Site:
    def __init__(self, columns: int):
        self.columns = columns
        self.requests = 0
        self.lock = threading.Lock()
        site = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with site.lock:
                    site.requests += 1
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 2 or parts[0] != "col":
                    return self._send(404, b"not found")
                col = int(parts[1])
                name = parts[2] if len(parts) > 2 else "index.html"
                page = 0 if name in ("", "index.html") else int(name.split("_")[1].split(".")[0])
                body = page_html(col, page)
                etag = '"' + hashlib.md5(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", etag)
                self._send(200, body, etag)

            def _send(self, status, body, etag=None):
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, col: int) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/col/{col}/"

    def take(self) -> int:
        with self.lock:
            n, self.requests = self.requests, 0
        return n


# ------------------------------------------------------------------------------------- pubwatch
def pubwatch_crawl(site: Site, concurrency: int, states: dict | None = None) -> tuple[float, int, dict, int]:
    from pubwatch.http import Fetcher, FetchSettings
    from pubwatch.registry import SourceConfig
    from pubwatch.sources import CrawlContext, make_source
    from pubwatch.types import TZ

    now = datetime.combine(REF, datetime.min.time(), TZ).replace(hour=9)
    settings = FetchSettings(allow_private=("127.0.0.1",), per_host_interval=0.0, max_concurrency=concurrency,
                             respect_robots=False, retries=1, timeout=15)
    states = states or {}
    out_states, items = {}, 0

    def one(col: int):
        cfg = SourceConfig(id=f"u{col}.portal.gzdt", unit_id=f"u{col}", channel="portal", type="portal",
                           name="工作动态", url=site.url(col), options={"profile": "auto"})
        res = make_source(cfg).fetch(CrawlContext(fetcher=fetcher, now=now, since=SINCE,
                                                  state=states.get(col, {}), previous_items=PER_PAGE))
        return col, res

    site.take()
    with Fetcher(settings) as fetcher:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            for col, res in pool.map(one, range(site.columns)):
                if not res.outcome.verified:
                    raise SystemExit(f"column {col}: {res.outcome.value} {res.message}")
                out_states[col] = res.state or states.get(col, {})
                items += len(res.items)
        wall = time.perf_counter() - start
    return wall, site.take(), out_states, items


# ------------------------------------------------------------------------------------- scrapy
SPIDER = r'''
import json, sys
from datetime import date
import scrapy
from scrapy.crawler import CrawlerProcess

urls, since, concurrency, out = json.loads(sys.argv[1]), date.fromisoformat(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
items = []

class Columns(scrapy.Spider):
    name = "columns"
    async def start(self):                      # Scrapy ≥ 2.13 (start_requests is gone in 2.19)
        for u in urls:
            yield scrapy.Request(u, callback=self.parse)
    def parse(self, response):
        oldest = None
        for li in response.css("ul.list li"):
            d = date.fromisoformat(li.css("span::text").get().strip())
            items.append((li.css("a::text").get(), response.urljoin(li.css("a::attr(href)").get()), d.isoformat()))
            oldest = d if oldest is None or d < oldest else oldest
        nxt = response.css("a.next::attr(href)").get()
        if nxt and oldest is not None and oldest >= since:
            yield response.follow(nxt, callback=self.parse)

p = CrawlerProcess(settings={"LOG_LEVEL": "ERROR", "CONCURRENT_REQUESTS": concurrency,
                             "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "DOWNLOAD_DELAY": 0,
                             "ROBOTSTXT_OBEY": False, "RETRY_TIMES": 1, "DOWNLOAD_TIMEOUT": 15,
                             "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
                             "HTTPCACHE_ENABLED": False, "AUTOTHROTTLE_ENABLED": False})
import time
t = time.perf_counter()
p.crawl(Columns)
p.start()
open(out, "w").write(json.dumps({"wall": time.perf_counter() - t, "items": len(items)}))
'''


def ensure_scrapy() -> Path | None:
    py = BENCH_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable if sys.version_info[:2] == (3, 11) else "python3.11", "-m", "venv",
                        str(BENCH_VENV)], check=True)
    check = subprocess.run([str(py), "-c", "import scrapy; print(scrapy.__version__)"], capture_output=True, text=True)
    if check.returncode != 0:
        got = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", SCRAPY_PIN])
        if got.returncode != 0:
            return None
    return py


def scrapy_crawl(site: Site, concurrency: int) -> tuple[float, int, int] | None:
    py = ensure_scrapy()
    if py is None:
        return None
    out = ROOT / "var" / "bench-scrapy.json"
    site.take()
    urls = [site.url(c) for c in range(site.columns)]
    spider = ROOT / "var" / "bench_spider.py"          # a file: Scrapy inspects the callbacks' source
    spider.write_text(SPIDER, encoding="utf-8")
    subprocess.run([str(py), str(spider), json.dumps(urls), SINCE.isoformat(), str(concurrency), str(out)],
                   check=True)
    res = json.loads(out.read_text())
    return res["wall"], site.take(), res["items"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--columns", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args(argv)
    site = Site(args.columns)
    n = args.columns
    pw_wall, pw_req, states, pw_items = pubwatch_crawl(site, args.concurrency)
    re_wall, re_req, _, _ = pubwatch_crawl(site, args.concurrency, states)
    print(f"{n} columns, concurrency {args.concurrency}, no per-host delay, one local host")
    print(f"pubwatch  first crawl : {pw_wall:7.2f} s  {pw_req / n:.2f} requests/column  {pw_items} items")
    print(f"pubwatch  re-crawl    : {re_wall:7.2f} s  {re_req / n:.2f} requests/column (goal ≤ 1.2)")
    print(f"RESULT crawl_1000_pubwatch_s {pw_wall:.2f}")
    print(f"RESULT crawl_requests_per_column_pubwatch {pw_req / n:.2f}")
    print(f"RESULT recrawl_requests_per_column {re_req / n:.2f}")
    sc = scrapy_crawl(site, args.concurrency)
    if sc is None:
        print("scrapy: could not be installed in var/bench-venv; no comparison")
        return 0
    sc_wall, sc_req, sc_items = sc
    print(f"scrapy    first crawl : {sc_wall:7.2f} s  {sc_req / n:.2f} requests/column  {sc_items} items")
    print(f"ratio pubwatch/scrapy : wall {pw_wall / sc_wall:.2f}x, requests {pw_req / max(sc_req, 1):.2f}x")
    print(f"RESULT crawl_1000_scrapy_s {sc_wall:.2f}")
    print(f"RESULT crawl_requests_per_column_scrapy {sc_req / n:.2f}")
    print(f"RESULT crawl_wall_ratio_pubwatch_over_scrapy {pw_wall / sc_wall:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
