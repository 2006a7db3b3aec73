"""Options a source kind or a list profile declares, and how a registry entry is checked against them.

A kind declares its registry fields as a pydantic model (`SourceOptions`): names, types, defaults
and, for a required field, the Chinese sentence an admin reads when it is missing
(``Field(..., json_schema_extra={"missing": "…"})``). `check_options` validates one entry and turns
the first problem into an `OptionError` naming the field, in Chinese, so the registry can say
"单位 jyj: 字段 wechat.sources[0].conn_id: …" without knowing any kind.
"""
from __future__ import annotations

from typing import Annotated, Any, Mapping
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError


class OptionError(ValueError):
    """One bad field of a registry entry: `field` (dotted, e.g. "json.page_size") and a Chinese message."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class SourceOptions(BaseModel):
    """Base of a kind's registry fields. Unknown fields are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def field_names(cls) -> set[str]:
        """The names an entry may use (aliases where a field has one, e.g. "json")."""
        return {f.alias or name for name, f in cls.model_fields.items()}

    @classmethod
    def default(cls, name: str) -> Any:
        """The declared default of field `name` (by field name or alias)."""
        for fname, f in cls.model_fields.items():
            if name in (fname, f.alias):
                return f.get_default(call_default_factory=True)
        raise KeyError(name)


def check_url(value: Any) -> str:
    """An http(s) URL with a host name, stripped; ValueError (Chinese) otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("缺少网址 (missing URL)")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"只支持 http/https 网址, 不支持 {parts.scheme or '无协议'!r}: {value}")
    if not parts.hostname:
        raise ValueError(f"网址缺少主机名: {value}")
    return value.strip()


def _url(value: Any) -> str:
    return check_url(value)


# A URL field: `url: WebUrl` (required) or `url: WebUrl | None = None`.
WebUrl = Annotated[Any, AfterValidator(_url)]

_TYPE_WORDS = {
    "int": "应为整数", "float": "应为数字", "bool": "应为 true 或 false", "string": "应为文本",
    "dict": "应为映射", "model": "应为映射", "list": "应为列表", "greater_than": "数值太小", "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大", "less_than": "数值太大",
}


def _words(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "value_error":                   # our own validators speak Chinese already
        return str(err["ctx"]["error"]) if err.get("ctx") else err["msg"]
    for prefix, words in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            limit = next((f" ({k} {v})" for k, v in (err.get("ctx") or {}).items()), "")
            return f"{words}{limit}: {err['input']!r}"
    return f"格式不正确 ({err['msg']}): {err.get('input')!r}"


def check_options(model: type[SourceOptions], entry: Mapping[str, Any], *, partial: bool = False) -> SourceOptions | None:
    """Validate `entry` against `model`; raise OptionError for the first bad field: an unknown
    field ("未知字段 (可用: …)"), a missing required one (its declared "missing" sentence) or a
    value of the wrong type. `partial`: missing fields are no error (and nothing is returned)."""
    allowed = model.field_names()
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise OptionError(unknown[0], f"未知字段 (可用: {', '.join(sorted(allowed))})")
    try:
        return model.model_validate(dict(entry))
    except ValidationError as exc:
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            absent = err["type"] == "missing"
            if absent and partial:
                continue
            f = _field(model, loc[0]) if loc else None
            extra = f.json_schema_extra if f is not None and isinstance(f.json_schema_extra, dict) else {}
            if absent or (extra.get("missing") and err.get("input") in (None, "")):
                raise OptionError(".".join(loc), str(extra.get("missing") or "缺少此字段")) from None
            if err["type"] == "extra_forbidden":            # inside a nested mapping (json: {…})
                inner = _submodel(model, loc[:-1])
                names = f" (可用: {', '.join(sorted(inner.field_names()))})" if inner is not None else ""
                raise OptionError(".".join(loc), f"未知字段{names}") from None
            raise OptionError(".".join(loc) or "-", _words(err)) from None
    return None


def _submodel(model: type[BaseModel], loc: list[str]) -> type[SourceOptions] | None:
    """The nested options model at `loc` (e.g. ["json"] -> JsonSpec), or None."""
    for name in loc:
        f = _field(model, name)
        if f is None:
            return None
        ann = f.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, SourceOptions)), None)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, SourceOptions) else None


def _field(model: type[BaseModel], name: str):
    for fname, f in model.model_fields.items():
        if name in (fname, f.alias):
            return f
    return None
