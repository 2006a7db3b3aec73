"""WeChat official accounts (公众号): one module per source kind — `rss.py` (bridge feeds), `api.py`
(the official API, kind "wechat_api"), `export.py` (the admin's manual exports) — and `common.py`
(their base class, `merge_items`). The kinds are registered by `sources/__init__.py` importing them."""
from .common import WeChatSource, merge_items  # noqa: F401

__all__ = ["WeChatSource", "merge_items"]
