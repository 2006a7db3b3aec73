"""Unknown layouts: the biggest group of repeated sibling blocks (li/tr/dd/div/p/…) that each hold
one content link, preferring groups with dates, outside nav/header/footer/sidebar/breadcrumb
regions; "更多", page-number and javascript: links are never items (`entries._best_group`)."""
from __future__ import annotations

from ..listing import GroupList, Page


class GenericProfile(GroupList, kind="generic"):
    """The last resort of auto-detection: takes any HTML page."""

    label = "通用列表 (自动识别重复条目)"
    priority = 90

    def detect(self, page: Page) -> bool:
        return True
