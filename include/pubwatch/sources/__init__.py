"""Sources: portal columns and WeChat feeds, each a `Source` registered by type name."""
from .base import CrawlContext, Source, make_source, register

__all__ = ["CrawlContext", "Source", "make_source", "register"]
