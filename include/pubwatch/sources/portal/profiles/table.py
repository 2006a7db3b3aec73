"""信息公开目录 tables (tr/td): each column's header says what it holds (`listdates._header_meaning`):
发布日期/发布时间/公开日期 over 日期 over 更新时间 over 成文日期/印发日期; 发布机构/来源/实施日期 … are
never dates."""
from __future__ import annotations

from ..listing import GroupList, Page


class TableProfile(GroupList, kind="table"):
    """Auto-detected when the page's list is made of table rows."""

    label = "信息公开目录表格 (按表头识别发布日期)"
    priority = 40
    only_tag = "tr"

    def detect(self, page: Page) -> bool:
        return page.group()[1] == "tr"
