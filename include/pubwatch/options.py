"""Options declared as pydantic models, and one way of checking a mapping against them.

Every settings mapping an admin writes — a registry entry's source fields (sources/options.py), a
rule's fields in policies.yaml (rules/policy.py), policies.yaml `settings`, units.yaml `fetch:` and
`evidence:` — is declared as an `Options` model: names, types, defaults, limits. `check_options`
validates one mapping and turns the first problem into an `OptionError` naming the field (dotted,
list items as [i]: "max_age.news", "topics[0].min_posts") with a Chinese message, so each caller
only adds where the mapping came from ("单位 jyj: 策略 weekly: 字段 min_posts: …").

A check that spans fields (a model validator) raises `OptionError(field, message)` itself to name
the field it blames; a field's own validator raises ValueError with a Chinese message.
"""
from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError


class OptionError(ValueError):
    """One bad field of a settings mapping: `field` (dotted, e.g. "json.page_size") and a Chinese message."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class Options(BaseModel):
    """Base of a declared set of options. Unknown fields are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def field_names(cls) -> set[str]:
        """The names a mapping may use (aliases where a field has one, e.g. "json")."""
        return {f.alias or name for name, f in cls.model_fields.items()}

    @classmethod
    def default(cls, name: str) -> Any:
        """The declared default of field `name` (by field name or alias)."""
        for fname, f in cls.model_fields.items():
            if name in (fname, f.alias):
                return f.get_default(call_default_factory=True)
        raise KeyError(name)


_TYPE_WORDS = {
    "int": "应为整数", "float": "应为数字", "bool": "应为 true 或 false", "string": "应为文本",
    "dict": "应为映射", "model": "应为映射", "list": "应为列表", "tuple": "应为列表",
}
_LIMIT_WORDS = {"greater_than_equal": ("ge", "数值太小, 应不小于"), "greater_than": ("gt", "数值太小, 应大于"),
                "less_than_equal": ("le", "数值太大, 应不大于"), "less_than": ("lt", "数值太大, 应小于")}


def words(err: Mapping[str, Any]) -> str:
    """A Chinese sentence for one pydantic error (its value shown, never its field: the caller names it)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":                   # our own validators speak Chinese already
        return str(ctx["error"]) if ctx else err["msg"]
    if kind in _LIMIT_WORDS:
        key, text = _LIMIT_WORDS[kind]
        limit = ctx.get(key)
        limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        return f"{text} {limit}: {err['input']!r}"
    if kind == "literal_error":
        return f"应为 {str(ctx.get('expected', '')).replace(' or ', ', ')} 之一: {err['input']!r}"
    if kind.startswith("string_too_short"):
        return f"不能为空: {err['input']!r}"
    for prefix, text in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            return f"{text}: {err['input']!r}"
    return f"格式不正确 ({err['msg']}): {err.get('input')!r}"


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """("topics", 0, "min_posts") -> "topics[0].min_posts"; a dict key's own marker is dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else str(part)
    return out


def check_options(model: type[Options], entry: Mapping[str, Any], *, partial: bool = False) -> Options | None:
    """Validate `entry` against `model`; raise OptionError for the first bad field: an unknown
    field ("未知字段 (可用: …)"), a missing required one (its declared "missing" sentence, from
    ``Field(..., json_schema_extra={"missing": "…"})``) or a bad value. `partial`: missing fields
    are no error (and nothing is returned)."""
    allowed = model.field_names()
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise OptionError(unknown[0], f"未知字段 (可用: {', '.join(sorted(allowed))})")
    try:
        return model.model_validate(dict(entry))
    except ValidationError as exc:
        for err in exc.errors():
            loc = list(err["loc"])
            raised = (err.get("ctx") or {}).get("error")
            if isinstance(raised, OptionError):         # a check across fields names its field
                raise OptionError(field_path([*loc, raised.field]), raised.message) from None
            absent = err["type"] == "missing"
            if absent and partial:
                continue
            names = [str(p) for p in loc if isinstance(p, str) and p != "[key]"]
            owner = _submodel(model, names[:-1]) if names else None
            f = _field(owner, names[-1]) if owner is not None else None
            extra = f.json_schema_extra if f is not None and isinstance(f.json_schema_extra, dict) else {}
            if absent or (extra.get("missing") and err.get("input") in (None, "")):
                raise OptionError(field_path(loc), str(extra.get("missing") or "缺少此字段")) from None
            if err["type"] == "extra_forbidden":            # inside a nested mapping (json: {…})
                inner = _submodel(model, names[:-1])
                names = f" (可用: {', '.join(sorted(inner.field_names()))})" if inner is not None else ""
                raise OptionError(field_path(loc), f"未知字段{names}") from None
            raise OptionError(field_path(loc) or "-", words(err)) from None
    return None


def _submodel(model: type[BaseModel], loc: list[str]) -> type[Options] | None:
    """The nested options model at `loc` (e.g. ["json"] -> JsonSpec), or None."""
    for name in loc:
        f = _field(model, name)
        if f is None:
            return None
        model = next((c for c in _inner_types(f.annotation) if isinstance(c, type) and issubclass(c, Options)), None)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, Options) else None


def _inner_types(ann: Any) -> list[Any]:
    """`ann` and the types inside it: X | None, list[X], list[X] | None, dict[str, X] -> … X."""
    out = [ann]
    for arg in getattr(ann, "__args__", ()):
        out += _inner_types(arg)
    return out


def _field(model: type[BaseModel], name: str):
    for fname, f in model.model_fields.items():
        if name in (fname, f.alias):
            return f
    return None
