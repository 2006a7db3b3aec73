"""The list profiles: one class per kind of portal list page, one module each.

A new profile is one module here (a `ListProfile` / `HtmlList` / `GroupList` subclass with its
kind, label, priority and Options; see `..listing`) plus its import line below. Auto-detection
order is the classes' `priority`, not the order of these lines.
"""
from . import generic, jcms, json_api, selectors, table, trs  # noqa: F401  (importing registers them)
