"""A steady-state re-crawl of the demo portal costs about one request per column (conditional GET)."""
from pubwatch import jobs
from tests.conftest import TEST_AS_OF


def crawl_all(rt):
    fetcher = rt.fetcher()
    try:
        return [jobs.crawl(rt, u.id, fetcher=fetcher, now=TEST_AS_OF) for u in rt.registry.units]
    finally:
        fetcher.close()


def portal_requests(portal, since):
    return [r for r in portal.request_log[since:] if not r[1].startswith(("/feeds/", "/wxapi"))]


def test_second_crawl_is_about_one_request_per_column(demo_env, sqlite_url):
    rt = jobs.Runtime(sqlite_url)
    jobs.prepare(rt)
    columns = sum(len(u.sources_of("portal")) for u in rt.registry.units)
    start = len(demo_env.request_log)
    crawl_all(rt)
    first = portal_requests(demo_env, start)
    mark = len(demo_env.request_log)
    second = crawl_all(rt)
    again = portal_requests(demo_env, mark)
    per_column = len(again) / columns
    print(f"first crawl: {len(first) / columns:.2f} requests/column; steady state: {per_column:.2f}")
    assert per_column <= 1.2, again
    assert sum(r[2] == 304 for r in again) >= columns - 3         # all but the 503 / WAF / pager cases
    assert all(s["items_new"] == 0 for c in second for s in c["sources"])
    rt.close()
