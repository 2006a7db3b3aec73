"""The library's layering, checked on the imports (ast) of every module in include/pubwatch:

- no module imports Airflow (the library is tested and run on its own; dags/ and plugins/ glue it);
- the store package is the one gateway to the database: no module outside it imports SQLAlchemy,
  Alembic or a database driver, and none reaches past its facade (`pubwatch.store`) into its
  modules (models, rawsql, …);
- the store sits below the domain: of pubwatch it imports only itself, `config`, `types` and the
  neutral `posts` — never the rules engine or the registry.

Imports inside functions and under `if TYPE_CHECKING:` count like any other.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "include"
PACKAGE = ROOT / "pubwatch"
STORE = "pubwatch.store"
DATABASE_LIBRARIES = ("sqlalchemy", "alembic", "psycopg2", "psycopg", "sqlite3")
STORE_MAY_IMPORT = ("pubwatch.store", "pubwatch.config", "pubwatch.types", "pubwatch.posts")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _is_module(name: str) -> bool:
    """Whether a dotted pubwatch name is a module or package of the library (not a class/function)."""
    rel = ROOT.joinpath(*name.split("."))
    return rel.with_suffix(".py").is_file() or (rel / "__init__.py").is_file()


def imports(source: str, name: str, package: bool) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of everything a module imports; for `from X import a` both X and
    X.a when X.a is a module of the library; for `from . import a` X.a."""
    base = name.split(".") if package else name.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module:
                found.append((node.lineno, target))
            for alias in node.names:        # `from . import config` imports pubwatch.config
                sub = f"{target}.{alias.name}"
                if not node.module or (under(sub, "pubwatch") and _is_module(sub)):
                    found.append((node.lineno, sub))
    return found


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(path: Path, source: str | None = None) -> list[str]:
    name = module_name(path)
    in_store = under(name, STORE)
    in_migrations = under(name, f"{STORE}.migrations")
    source = path.read_text(encoding="utf-8") if source is None else source
    out = []
    for line, imported in imports(source, name, is_package(path)):
        where = f"{path.relative_to(ROOT)}:{line} imports {imported}"
        if under(imported, "airflow"):
            out.append(f"{where}: the library never imports Airflow")
        if not in_store and any(under(imported, lib) for lib in DATABASE_LIBRARIES):
            out.append(f"{where}: database access goes through pubwatch.store")
        if not in_store and under(imported, STORE) and imported != STORE:
            out.append(f"{where}: use the store's facade (pubwatch.store), not its modules")
        if (in_store and not in_migrations and under(imported, "pubwatch")
                and not any(under(imported, allowed) for allowed in STORE_MAY_IMPORT)):
            out.append(f"{where}: the store imports none of the domain (rules, registry, …)")
    return out


def library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_library_keeps_its_layers():
    modules = library_modules()
    assert len(modules) > 40 and PACKAGE / "store" / "__init__.py" in modules
    problems = [v for path in modules for v in violations(path)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path, source, expected", [
    ("pubwatch/board.py", "from sqlalchemy import select\n", "database access goes through pubwatch.store"),
    ("pubwatch/board.py", "def f():\n    import sqlalchemy.orm\n", "database access goes through pubwatch.store"),
    ("pubwatch/notices/ledger.py", "from ..store.models import Notice\n", "not its modules"),
    ("pubwatch/notices/ledger.py", "from ..store import models\n", "not its modules"),
    ("pubwatch/jobs.py", "from pubwatch.store.rawsql import Raw\n", "not its modules"),
    ("pubwatch/evaluate.py", "from airflow.sdk import task\n", "never imports Airflow"),
    ("pubwatch/store/posts.py", "from ..rules import dedupe_posts\n", "imports none of the domain"),
    ("pubwatch/store/__init__.py", "from ..registry import Unit\n", "imports none of the domain"),
    ("pubwatch/store/__init__.py", "from .. import registry\n", "imports none of the domain"),
    ("pubwatch/store/models.py", "from airflow import DAG\n", "never imports Airflow"),
])
def test_the_check_catches(path, source, expected):
    found = violations(ROOT / path, source)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize("path, source", [
    ("pubwatch/notices/ledger.py", "from ..store import Notice, Store, utcnow\n"),
    ("pubwatch/evidence.py", "from .store import PostRecord, Store\n"),
    ("pubwatch/store/posts.py", "from sqlalchemy import select\nfrom ..posts import dedupe_posts\n"),
    ("pubwatch/store/migrations/env.py", "from pubwatch.store.models import Base\nfrom pubwatch import config\n"),
])
def test_the_check_allows(path, source):
    assert violations(ROOT / path, source) == []
