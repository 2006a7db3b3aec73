"""What the WeChat source kinds share: their base class (channel, label) and `merge_items`, with
which the crawler folds an account's sources (API, bridge, export) into one list of posts."""
from __future__ import annotations

from itertools import chain

from ...types import WECHAT, ListItem
from ...wechaturl import dedupe_items
from ..base import Source


class WeChatSource(Source):
    """Base of a WeChat kind: listed under a unit's `wechat.sources` with its `type`."""

    channel = WECHAT


def merge_items(lists: list[list[ListItem]]) -> list[ListItem]:
    """Merge the item lists of one account's sources (API, bridge, export) into one list, one item
    per post: same canonical URL or same title + publication minute (see pubwatch.wechaturl)."""
    return dedupe_items(chain.from_iterable(lists))
