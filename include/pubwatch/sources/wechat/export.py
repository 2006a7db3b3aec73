"""Manual exports from the 公众号 admin (source type "export"): the last fallback.

Option ``path``: one CSV/XLSX file, or a folder whose newest CSV/XLSX (by modification time) is
read. Columns are found by header name, tolerating the variants the admin and hand-made sheets
use (标题/文章标题/内容标题, 链接/文章链接/原文链接, 发表时间/发布时间/群发时间, …); the header
row may sit below a title row. CSV may be UTF-8 (with or without BOM) or GBK/GB18030. Rows
without a link (the 内容分析 export has none) get a stable ``wechat-export:`` id and are merged
with the same post from another source by title + minute. The file's own mtime is
``source_updated``.
"""
from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from pydantic import Field

from ...types import TZ, ListItem, Outcome, SourceResult
from ...wechaturl import clean_title, dedupe_items, make_item
from ..base import CrawlContext
from ..options import SourceOptions
from .common import WeChatSource

EXTENSIONS = (".csv", ".xlsx", ".xlsm")
TITLE_HEADERS = ("标题", "文章标题", "内容标题", "图文标题", "消息标题", "title")
URL_HEADERS = ("链接", "文章链接", "原文链接", "文章地址", "永久链接", "url", "link", "文章url")
TIME_HEADERS = ("发表时间", "发布时间", "群发时间", "发送时间", "发文时间", "创建时间", "时间", "日期",
                "publish_time", "published", "date", "time")
HEADER_SCAN_ROWS = 15
MAX_ROWS = 50_000


class ExportError(Exception):
    def __init__(self, outcome: Outcome, message: str):
        super().__init__(message)
        self.outcome, self.message = outcome, message


def _norm_header(value: Any) -> str:
    return clean_title(value).replace(" ", "").lower()


def _pick(headers: list[str], names: Iterable[str]) -> int | None:
    """Exact header match first, then a header that contains a known name (e.g. 文章标题(必填))."""
    names = [n.lower() for n in names]
    for name in names:
        if name in headers:
            return headers.index(name)
    for name in names:
        for i, h in enumerate(headers):
            if h and name in h and len(name) >= 2:
                return i
    return None


def find_columns(rows: list[list[Any]]) -> tuple[int, int, int | None, int | None]:
    """(header row index, title col, url col, time col). Raises ExportError if no header row."""
    for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        headers = [_norm_header(c) for c in row]
        title = _pick(headers, TITLE_HEADERS)
        if title is None:
            continue
        url = _pick(headers, URL_HEADERS)
        when = _pick(headers, TIME_HEADERS)
        if url is not None or when is not None:
            return r, title, url, when
    raise ExportError(Outcome.PARSE_FAILED,
                      "导出文件中找不到表头(需要 标题 列以及 链接 或 发表时间 列) (no header row found)")


def read_rows(path: Path) -> list[list[Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _csv_rows(path.read_bytes())
        if suffix in (".xlsx", ".xlsm"):
            return _xlsx_rows(path)
    except ExportError:
        raise
    except Exception as exc:  # a corrupt workbook raises many different things
        raise ExportError(Outcome.PARSE_FAILED, f"导出文件无法读取 {path.name}: {type(exc).__name__}: {exc}"[:300]) from None
    raise ExportError(Outcome.PARSE_FAILED, f"不支持的文件类型 {path.suffix} (请另存为 .xlsx 或 .csv)")


def _csv_rows(data: bytes) -> list[list[Any]]:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything
        raise ExportError(Outcome.PARSE_FAILED, "CSV 编码无法识别 (既不是 UTF-8 也不是 GBK)")
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [row for _, row in zip(range(MAX_ROWS), csv.reader(io.StringIO(text), dialect))]


def _xlsx_rows(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.active
        return [list(row) for _, row in zip(range(MAX_ROWS), ws.iter_rows(values_only=True))]
    finally:
        wb.close()


def newest_export(path: Path) -> Path:
    if not path.exists():
        raise ExportError(Outcome.CONFIG_ERROR, f"导出文件或目录不存在: {path}")
    if path.is_file():
        return path
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS
             and not p.name.startswith(("~$", "."))]
    if not files:
        raise ExportError(Outcome.CONFIG_ERROR, f"目录中没有 .xlsx/.csv 导出文件: {path}")
    return max(files, key=lambda p: (p.stat().st_mtime, p.name))


def parse_export(path: Path) -> list[ListItem]:
    rows = read_rows(path)
    head, t_col, u_col, d_col = find_columns(rows)
    items = []
    for row in rows[head + 1:]:
        cell = lambda c: row[c] if c is not None and c < len(row) else None  # noqa: E731
        link = cell(u_col)
        link = str(link).strip() if link else ""
        if link and not link.lower().startswith(("http://", "https://", "//")):
            link = ""
        item = make_item(cell(t_col), link, cell(d_col), via="export")
        if item is not None:
            items.append(item)
    return dedupe_items(items)


class ExportOptions(SourceOptions):
    path: str = Field(..., min_length=1, json_schema_extra={"missing": "手工导出需要文件或目录路径"})
    note: Any = None


class WeChatExportSource(WeChatSource, kind="export"):
    """The newest manual export (CSV/XLSX) in `path`."""

    label = "公众号后台手工导出 (CSV/XLSX)"
    Options = ExportOptions

    def fetch(self, ctx: CrawlContext) -> SourceResult:
        raw = self.config.options.get("path")
        if not raw:
            return SourceResult(Outcome.CONFIG_ERROR, message="手工导出需要 path (文件或目录)")
        try:
            path = newest_export(Path(os.path.expanduser(str(raw))))
            updated = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).astimezone(TZ)
            items = parse_export(path)
        except ExportError as exc:
            return SourceResult(exc.outcome, message=exc.message)
        except OSError as exc:
            return SourceResult(Outcome.PARSE_FAILED, message=f"导出文件无法读取: {exc}")
        if not items:
            # An export is a one-off snapshot: reading the same empty file again proves nothing more.
            return SourceResult(Outcome.SUSPECT_EMPTY, pages=1, source_updated=updated,
                                message=f"导出文件 {path.name} 没有任何文章条目, 不作为未发文的依据 (请核对导出是否完整)")
        undated = sum(1 for i in items if i.published is None)
        msg = f"读取 {path.name}" + (f"; {undated}条没有发表时间" if undated else "")
        return SourceResult(Outcome.OK, items=items, message=msg, pages=1, source_updated=updated,
                            state={"file": path.name, "mtime": updated.isoformat()})
