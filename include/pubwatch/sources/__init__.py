"""Sources: portal columns and WeChat feeds, each kind a `Source` subclass registered by its kind name.

- `base.py`      Source (the kind registry), CrawlContext, settle_empty, make_source
- `options.py`   SourceOptions (a kind's registry fields, pydantic) and OptionError
- `portal/`      the "portal" kind (`portal/column.py`) and the list parser with its profiles
- `wechat/`      one module per WeChat kind: `rss.py`, `api.py` ("wechat_api"), `export.py`;
                 `common.py` what they share (merge_items)
- `listparse.py` the list parser's old import path (bench scripts, tests)

A new source kind is one module plus its import line below.
"""
from .base import CrawlContext, Source, make_source, source_kinds
from .options import OptionError, SourceOptions

# Importing the kind modules registers their classes (once, here).
from .portal import column  # noqa: F401,E402
from .wechat import api, export, rss  # noqa: F401,E402

__all__ = ["CrawlContext", "Source", "SourceOptions", "OptionError", "make_source", "source_kinds"]
