"""The rule kinds: one self-describing class per file, registered by subclassing `Policy` with
`kind="..."`. Every module here is imported, so a new kind needs only its own file (and its
policies.yaml lines)."""
from __future__ import annotations

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")
