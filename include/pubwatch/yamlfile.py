"""Reading the office's YAML files (units.yaml, policies.yaml) safely and with errors a person can act on.

- UTF-8 is required (a BOM is accepted); anything else is an error naming the file and the byte.
- Size is capped (MAX_BYTES): a registry of thousands of units is a few MB; more is a mistake.
- Aliases are limited (MAX_EXPANDED nodes once expanded): anchors and `<<: *defaults` merges are
  handy in a registry, but a "billion laughs" alias bomb must not take the scheduler's CPU.
- A syntax error names file:line:column.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 8 * 1024 * 1024


class YamlFileError(ValueError):
    """A YAML file that cannot be used; the message names the file (and line:column when known)."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, column: int | None = None):
        self.path, self.line, self.column, self.message = str(path), line, column, message
        self.where = self.path + (f":{line}" if line is not None else "") + (f":{column}" if column is not None else "")
        super().__init__(f"{self.where}: {message}")


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases expand past MAX_EXPANDED nodes: PyYAML shares
    an aliased node, so loading is cheap, but anything that walks the data (validation, copies,
    JSON) pays for every expansion — the "billion laughs" bomb."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


MAX_EXPANDED = 200_000


def _check_expansion(root: Any) -> None:
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1                      # a recursive alias counts once
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        if total > MAX_EXPANDED:
            mark = node.start_mark
            raise yaml.MarkedYAMLError(problem=f"aliases expand to more than {MAX_EXPANDED} nodes "
                                               f"(an alias bomb?)", problem_mark=mark)
        sizes[id(node)] = total
        return total

    size(root)


def load(path: str | Path) -> Any:
    """The parsed document of `path` (None for an empty file); YamlFileError otherwise."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise YamlFileError(p, f"文件过大 ({size} 字节, 上限 {MAX_BYTES}) (file too large)")
        raw = p.read_bytes()
    except OSError as exc:
        raise YamlFileError(p, f"无法读取文件 (cannot read): {exc.strerror or exc}") from None
    return loads(raw, p)


def loads(raw: bytes | str, path: str | Path = "<text>") -> Any:
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise YamlFileError(path, f"文件过大 ({len(raw)} 字节, 上限 {MAX_BYTES}) (file too large)")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise YamlFileError(path, f"文件不是 UTF-8 编码 (第 {exc.start} 字节); 请用 UTF-8 保存 "
                                      f"(not UTF-8; e.g. saved as GBK)", line=line, column=None) from None
    else:
        text = raw
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise YamlFileError(path, f"YAML 格式错误 (syntax error): {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise YamlFileError(path, f"YAML 无法解析 (cannot parse): {exc}") from None


__all__ = ["YamlFileError", "load", "loads", "MAX_BYTES", "MAX_EXPANDED"]
