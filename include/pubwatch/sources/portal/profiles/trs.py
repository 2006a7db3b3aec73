"""TRS WCM static lists (拓尔思): entries as a group of repeated blocks; further pages from the pager
script ``createPageHTML(count, current, "index", "html")`` or ``var countPage = N`` →
index_1.html, index_2.html … next to the list URL (`pages._trs_pages`)."""
from __future__ import annotations

from ..listing import GroupList, Page


class TrsProfile(GroupList, kind="trs"):
    """Auto-detected by its pager script (a list of table rows is read as "table" first)."""

    label = "TRS 静态栏目列表 (createPageHTML 翻页)"
    priority = 50

    def detect(self, page: Page) -> bool:
        return page.trs_pager is not None
