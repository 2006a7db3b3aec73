"""Read a portal column's list page: entries (title, absolute URL, date, pinned) and further pages.

Pure parsing, no network. How a page is read is a *list profile*: one class per kind of list in
`profiles/` (trs, jcms, table, json, selectors, generic), registered once by subclassing:

    class FooProfile(GroupList, kind="foo"):      # or HtmlList (own items) / ListProfile (own read)
        label = "某某CMS栏目列表"                   # Chinese, for the admin
        priority = 45                             # auto-detection order, lower first (None: by name only)
        Options = FooOptions                      # registry fields it reads (a SourceOptions model)
        def detect(self, page): ...               # profile "auto": is this page one of mine?
        def items(self, page): ...                # (entries, further pages it knows of)

plus one import line in `profiles/__init__.py`. `parse_list(profile="auto")` asks the profiles in
priority order; the registry (units.yaml `profile:`) and `parse-list --profile` ask
`profile_names()`. No list of profile names exists anywhere else.

What every profile shares lives next to this module: `listdates` (an entry's date by meaning and
plausibility, `_finish`), `entries` (entries from HTML blocks, groups of repeated blocks), `pages`
(the TRS pager, next/last links), `recognise` (empty / error / article pages, list containers),
`html` (text helpers), `article` (an article page's date).

Decisions (documented because callers depend on them):

* ``is_list=False`` means "this is not a list page" (WAF challenge, error page, article, empty shell
  with no list and no "no entries" message). The caller reports PARSE_FAILED/BLOCKED — never 0 posts.
* A column that says 暂无信息/暂无数据 (or a JCMS datastore with no records, or a JSON list that is
  present and empty) is a recognised empty list: ``is_list=True, items=[], empty=True``, with the
  message in ``notice`` and where it sits in ``container``. Recognised is not proven: the portal
  source believes an empty list only when it is read again, empty, a day later
  (``sources.base.settle_empty``).
* A page that says the system failed — 系统维护中, 系统繁忙, a soft 404 (页面不存在 … answered with
  200), or a JSON answer whose code/message is an error ({"code":500,"msg":"系统繁忙"}) — sets
  ``error`` (the words found) and is never an empty list: ``is_list=False`` unless it still lists
  items. Messages are looked for in visible text only (never in <script>, e.g. a JS template's
  "暂无数据" fallback) and never in nav/header/footer/sidebar regions.
* ``container`` names the element that holds the entries ("html:div.list-right>ul.list",
  "jcms:datastore", "json:data.list"); ``container_state`` tells whether a later page still has it.
* Dates by meaning, not by position. An entry's date is its publication date: a column headed
  发布日期, a "发布时间：" label, a date box (also a day and a year-month in two elements,
  ``<div class="date"><span>05</span><em>2026-11</em></div>``), a JSON publish-time field (gkmlpt
  first_publish_time over publish_time; epochs in seconds or milliseconds read in Asia/Shanghai).
  Never a date inside a title or a summary (event dates, deadlines), never an issuing body's column,
  never 成文日期 when a publication date exists (see the R_* ranks).
* Plausible dates only: before 2000 (1900-01-01 placeholders) or after the read (+1 day) is no
  publication date — the entry gets ``published=None`` and ``extra["date_implausible"]``, the page
  ``notes`` say so; a page whose stated dates are *all* implausible is ``is_list=False``.
* Unsure dates are marked for the caller to confirm from the article page:
  ``extra["date_check"]`` is ``several_dates`` (tied candidates; the latest is used, all in
  ``extra["list_dates"]``), ``written_date`` (only 成文日期 known), ``weak_field`` (only a created /
  updated time), ``out_of_order`` (breaks the page's newest-first order) or ``implausible``.
  ``extra["date_field"]`` names the header or JSON key the date came from.
* Dates without a year are inferred over the page in order (``dates.infer_years``); pinned items are
  inferred on their own because they break the newest-first order. Entries without a date get
  ``published=None`` (the portal source then opens the article and calls ``article_date``).
* Identical URLs within a page are kept once (the first occurrence).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Mapping

from ...types import ListItem
from ..options import OptionError, SourceOptions, check_options
from .entries import _best_group, _entry
from .html import _base_url, _parse_tree, _to_text
from .listdates import _date_notes, _finish, _Raw
from .pages import _link_pages, _trs_pages
from .recognise import _is_article, _list_container, _says_empty, _says_error, _signature

__all__ = ["ParsedList", "Page", "ListProfile", "HtmlList", "GroupList", "parse_list", "profile_names",
           "profile_class", "check_profile_options", "cli_parse_list"]

AUTO = "auto"
_UNSET = object()


@dataclass
class ParsedList:
    items: list[ListItem]          # page order, absolute URLs
    next_urls: list[str]           # further list pages in order, as far as this page tells
    is_list: bool                  # False: not a list page at all (error page, article, empty shell)
    profile: str                   # the profile that read it: "trs" | "jcms" | "table" | "json" | …
    total_pages: int | None = None
    empty: bool = False            # the column itself says it has no entries (暂无信息): recognised, unproven
    notice: str = ""               # the page's own "no entries" message, as found (暂无信息, 未找到相关内容)
    error: str = ""                # the page/API says it failed (系统维护中, 页面不存在, code=500 系统繁忙)
    container: str = ""            # where the entries (or the empty message) sit, see container_state
    notes: list[str] = field(default_factory=list)   # for the admin (Chinese): e.g. implausible dates


class Page:
    """One list page as the profiles see it: its text and URL, the column's options (registry fields
    by name: "selectors", "json", …) and what several profiles need, worked out once (the tree, the
    base URL, the TRS pager, the group of repeated blocks). Entries handed out by `group` are read
    by one profile only (`_finish` resolves them in place)."""

    def __init__(self, text: str, url: str, reference: date | None, options: Mapping[str, Any]):
        self.text, self.url, self.reference, self.options = text, url, reference, options
        self._groups: dict[tuple[str | None, int], tuple[list[_Raw], str | None]] = {}
        self._root: Any = _UNSET
        self._base: Any = _UNSET
        self._trs: Any = _UNSET

    # (plain lazy properties: functools.cached_property takes a lock on every first read in 3.11)
    @property
    def root(self):
        """The HTML tree, or None when the text is no document at all."""
        if self._root is _UNSET:
            self._root = _parse_tree(self.text)
        return self._root

    @property
    def base(self) -> str:
        """The URL relative links resolve against (<base href> or the page's URL)."""
        if self._base is _UNSET:
            self._base = _base_url(self.root, self.url)
        return self._base

    @property
    def trs_pager(self) -> tuple[list[str], int] | None:
        """(further page URLs, page count) from a TRS pager script, or None."""
        if self._trs is _UNSET:
            self._trs = _trs_pages(self.text, self.url)
        return self._trs

    def group(self, only_tag: str | None = None, min_undated: int = 3) -> tuple[list[_Raw], str | None]:
        """The group of repeated sibling blocks most likely to be the column's list, and its tag
        (`entries._best_group`). The best "tr" group is the best group when that one is made of rows."""
        key = (only_tag, min_undated)
        if key not in self._groups:
            any_tag = self._groups.get((None, min_undated))
            if only_tag == "tr" and any_tag is not None and any_tag[1] == "tr":
                self._groups[key] = any_tag
            else:
                self._groups[key] = _best_group(self.root, only_tag=only_tag, min_undated=min_undated)
        return self._groups[key]


_PROFILES: dict[str, type["ListProfile"]] = {}
_AUTO_ORDER: list["ListProfile"] | None = None     # one (stateless) instance per auto-detected profile


class ListProfile:
    """How one kind of list page is read. A subclass names its kind (`class X(ListProfile, kind="x")`),
    sets `label`, `priority` (None: never auto-detected) and `Options`, and implements `detect`
    and `read`. Profiles keep no state: one instance reads every page."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""                        # Chinese, for the admin
    priority: ClassVar[int | None] = None            # auto-detection order, lower first
    needs_tree: ClassVar[bool] = True                # False: reads the text itself (JSON)
    Options: ClassVar[type[SourceOptions]] = SourceOptions   # the registry fields it reads
    required: ClassVar[bool] = False                 # its Options are required when a column names it

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any):
        global _AUTO_ORDER
        super().__init_subclass__(**kwargs)
        if kind:
            old = _PROFILES.get(kind)
            if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"list profile {kind!r} registered twice ({old.__module__}, {cls.__module__})")
            if kind == AUTO:
                raise TypeError(f"{AUTO!r} is not a profile name: it asks every profile")
            cls.kind = kind
            _PROFILES[kind] = cls
            _AUTO_ORDER = None

    def detect(self, page: Page) -> bool:
        """Profile "auto": is this page one of mine? (Cheap, or cached on the page.)"""
        return False

    def read(self, page: Page, explicit: bool) -> ParsedList | None:
        """The page read as this kind of list. In auto-detection (`explicit` False) None means "not
        mine after all": the next profile is asked."""
        raise NotImplementedError


def _auto_order() -> list[ListProfile]:
    global _AUTO_ORDER
    if _AUTO_ORDER is None:
        _AUTO_ORDER = [cls() for cls in sorted((p for p in _PROFILES.values() if p.priority is not None),
                                               key=lambda p: p.priority)]
    return _AUTO_ORDER


def profile_names() -> list[str]:
    """Every registered profile name, in auto-detection order (then those chosen by name only)."""
    auto = [p.kind for p in _auto_order()]
    return auto + sorted(k for k in _PROFILES if k not in auto)


def profile_class(name: str) -> type[ListProfile]:
    try:
        return _PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown list profile {name!r}; expected one of {(AUTO, *profile_names())}") from None


def check_profile_options(profile: str, options: Mapping[str, Any]) -> None:
    """Check a column's options against the list profiles (registry): `profile` must be "auto" or
    a profile name; the named profile's options must be there when it requires them; any option a
    profile declares must be valid wherever it appears (auto-detection uses them). OptionError
    names the field."""
    if profile != AUTO and profile not in _PROFILES:
        raise OptionError("profile", f"应为 {', '.join(sorted([AUTO, *_PROFILES]))} 之一: {profile!r}")
    for cls in _PROFILES.values():
        names = cls.Options.field_names()
        mine = {k: v for k, v in options.items() if k in names}
        if cls.kind == profile and cls.required:
            check_options(cls.Options, mine)
        elif mine:
            check_options(cls.Options, mine, partial=True)


def profile_option_names() -> set[str]:
    """Every registry field some list profile reads."""
    return {n for cls in _PROFILES.values() for n in cls.Options.field_names()}


class HtmlList(ListProfile):
    """A list read from an HTML page's entries (`items`). What follows is shared: further pages (a
    TRS pager script if the page has one, else the profile's own, else next/last links), an
    article or error page instead of a list, the column's own "no entries" message, the list's
    container."""

    def items(self, page: Page) -> tuple[list[_Raw], list[str]]:
        """The page's entries (hrefs as written) and the further pages the profile knows of."""
        raise NotImplementedError

    def items_when_paged(self, page: Page) -> list[_Raw]:
        """Entries to take when `items` found none on a page with a TRS pager (default: none)."""
        return []

    @staticmethod
    def entry(el, *, link=None, title_el=None, date_el=None) -> _Raw | None:
        """One entry from a block element: its title link (the longest content link unless given),
        title, pinned marker and every date it states, ranked by meaning (`date_el` fixes the
        date); None if it holds no content link."""
        return _entry(el, link=link, title_el=title_el, date_el=date_el)

    def read(self, page: Page, explicit: bool = True) -> ParsedList:
        root, base, name = page.root, page.base, self.kind
        raws, next_urls = self.items(page)
        pages = None
        trs = page.trs_pager
        if trs is not None:
            next_urls, pages = trs
            if not raws:
                raws = self.items_when_paged(page)
        elif not next_urls:
            next_urls = _link_pages(root, base, page.url)
        if raws and _is_article(root, len(raws)):
            return ParsedList([], [], False, name)
        if not raws:
            error = _says_error(root)
            if error:
                return ParsedList([], [], False, name, pages, error=error)
            notice, holder = _says_empty(root)
            empty = bool(notice) and not _is_article(root, 0)
            return ParsedList([], next_urls if empty else [], empty, name, pages, empty=empty,
                              notice=notice if empty else "", container=_signature(holder) if empty else "")
        holder = _list_container(root, [r.url for r in raws])          # before _finish resolves the URLs
        return _result(_finish(raws, page.reference, base), next_urls, name, pages,
                       container=_signature(holder) if holder is not None else "")


class GroupList(HtmlList):
    """An HTML list found as the biggest group of repeated sibling blocks (`entries._best_group`)
    that each hold one content link, preferring groups with dates, outside nav/header/footer/
    sidebar/breadcrumb regions; "更多", page-number and javascript: links are never items.
    `only_tag` restricts the blocks (table rows)."""

    only_tag: ClassVar[str | None] = None

    def items(self, page: Page) -> tuple[list[_Raw], list[str]]:
        return page.group(self.only_tag)[0], []

    def items_when_paged(self, page: Page) -> list[_Raw]:
        # The last page of an undated TRS list may hold only one or two items: the pager script
        # proves this is a list page, so a short undated group is accepted here.
        return page.group(self.only_tag, min_undated=1)[0]


def _result(items: list[ListItem], next_urls: list[str], profile: str, pages: int | None,
            empty: bool = False, **found: Any) -> ParsedList:
    """A parsed list page; not a list at all when every date it states is implausible. `found`:
    the recognition fields (notice, error, container) as the caller saw them."""
    notes, all_bad = _date_notes(items)
    if all_bad:
        notes.append("栏目列表的日期全部不可信(如1900-01-01占位日期), 无法据此判断更新情况, 请核对栏目页")
        return ParsedList([], [], False, profile, pages, notes=notes)
    return ParsedList(items, next_urls, True, profile, pages, empty=empty, notes=notes, **found)


def parse_list(body: bytes | str, url: str, *, profile: str = AUTO, selectors: dict | None = None,
               json_spec: dict | None = None, reference: date | None = None,
               encoding: str | None = None, options: Mapping[str, Any] | None = None) -> ParsedList:
    """Parse one list page with the named profile, or with the first profile (by priority) that
    recognises it. `options`: the column's registry fields (what profiles read: "selectors",
    "json", …); `selectors` / `json_spec` are shorthands for options["selectors"] / ["json"]."""
    chosen = None if profile == AUTO else profile_class(profile)
    text = _to_text(body, encoding)
    opts = dict(options or {})
    if selectors is not None:
        opts["selectors"] = selectors
    if json_spec is not None:
        opts["json"] = json_spec
    page = Page(text, url, reference, opts)
    if chosen is not None:
        prof = chosen()
        if prof.needs_tree and page.root is None:
            return ParsedList([], [], False, prof.kind)
        got = prof.read(page, True)
        assert got is not None, f"list profile {prof.kind!r} read nothing when named"
        return got
    order = _auto_order()
    for prof in order:
        if prof.needs_tree and page.root is None:
            break                               # not even a document: no HTML profile can read it
        if prof.detect(page):
            got = prof.read(page, False)
            if got is not None:
                return got
    # Reported under the last profile auto-detection asks (generic: it takes any page).
    return ParsedList([], [], False, order[-1].kind if order else AUTO)


def cli_parse_list(argv: list[str]) -> int:
    """`python -m pubwatch parse-list FILE --url URL [--profile P] [--reference YYYY-MM-DD]`."""
    ap = argparse.ArgumentParser(prog="pubwatch parse-list", description="parse a saved portal list page")
    ap.add_argument("file")
    ap.add_argument("--url", required=True, help="the list page's URL (relative links resolve against it)")
    ap.add_argument("--profile", default=AUTO, choices=(AUTO, *profile_names()))
    ap.add_argument("--reference", help="YYYY-MM-DD for dates without a year (default: today)")
    ap.add_argument("--encoding", help="force a charset (default: detect)")
    ap.add_argument("--selectors", help='JSON, e.g. {"item": "ul.list li", "date": "span"}')
    ap.add_argument("--json-spec", help='JSON, e.g. {"list": "data.list", "title": "title"}')
    args = ap.parse_args(argv)
    with open(args.file, "rb") as fh:
        body = fh.read()
    parsed = parse_list(body, args.url, profile=args.profile, encoding=args.encoding,
                        reference=date.fromisoformat(args.reference) if args.reference else None,
                        selectors=json.loads(args.selectors) if args.selectors else None,
                        json_spec=json.loads(args.json_spec) if args.json_spec else None)
    if not parsed.is_list:
        print(f"不是列表页 (not a list page, profile {parsed.profile}): {args.file}", file=sys.stderr)
        for note in parsed.notes:
            print(note, file=sys.stderr)
        return 3
    for note in parsed.notes:
        print(note, file=sys.stderr)
    for item in parsed.items:
        print(json.dumps({"title": item.title, "url": item.url,
                          "published": item.published.date().isoformat() if item.published else None},
                         ensure_ascii=False))
    return 0

