"""`pubwatch check`: is everything the next run needs in place? One line per problem.

Checked, in the order a person would fix them:
1. the registry file (UTF-8, YAML syntax → file:line:column) and every unit entry (unit id, field);
2. the policies file and every unit's policy overrides;
3. the working-day calendar: this year's holiday data, and — from 1 November on — next year's;
4. the connections the registry needs: each WeChat API source's `conn_id`, and each notice
   channel's connection (`notify.channels`), from Airflow (when a lookup is given) or from the
   same AIRFLOW_CONN_<ID> variables Airflow reads.

Exit status: 0 = nothing to fix, 1 = problems (listed), 2 = bad usage. Every DAG run starts with
the same registry check (`jobs.prepare`): a unit with a mistake is named in the run summary, the
supervisors' summary and the board, never silently absent.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import connections
from .types import TZ


@dataclass(frozen=True)
class Problem:
    where: str          # a file (file:line:column), a unit id, "calendar", "connection"
    what: str           # the field, policy or thing
    message: str        # Chinese, what is wrong and what to do

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.message}" if self.what else f"{self.where}: {self.message}"


def run_checks(registry_path: str | Path | None = None, policies_path: str | Path | None = None, *,
               today: date | None = None, lookup: connections.Lookup | None = None,
               with_connections: bool = True) -> list[Problem]:
    from .registry import default_registry_path, load_registry
    from .rules import PolicyError, load_policies
    from .workdays import WorkCalendar
    from .yamlfile import YamlFileError

    today = today or datetime.now(TZ).date()
    problems: list[Problem] = []
    registry = None
    reg_path = Path(registry_path) if registry_path else default_registry_path()
    try:
        registry = load_registry(reg_path)
    except YamlFileError as exc:
        problems.append(Problem(exc.where, "", exc.message))
    except (OSError, ValueError) as exc:
        problems.append(Problem(str(reg_path), "", str(exc)))
    if registry is not None:
        for unit in registry.units:
            undated = sorted(c for c, since in unit.suspended_since.items() if since is None)
            if undated:
                problems.append(Problem(f"单位 {unit.id}", "suspended",
                                        f"暂停监管未写起始日期, 会把 {', '.join(undated)} 以往各期也改为免检; "
                                        f"请写成 suspended: {{{undated[0]}: YYYY-MM-DD}}"))
        for err in registry.errors:
            who = f"{err.unit}({err.unit_name})" if err.unit_name and err.unit_name != err.unit else err.unit
            problems.append(Problem(f"单位 {who}", err.field, err.message))
        problems.extend(_settings_problems(registry, reg_path))
    try:
        policies = load_policies(policies_path)
    except PolicyError as exc:
        problems.append(Problem(exc.where, f"{exc.policy}.{exc.field}".strip(".-"), exc.message))
        policies = None
    if policies is not None and registry is not None:
        for unit in registry.units:
            for exc in policies.check_unit(unit):
                problems.append(Problem(f"单位 {unit.id}", f"policy.{exc.policy}.{exc.field}", exc.message))
    calendar = WorkCalendar()
    for warning in calendar.coverage_warnings(today):
        problems.append(Problem("节假日日历", "", warning))
    if with_connections and registry is not None:
        problems.extend(_connection_problems(registry, lookup))
    return problems


def _settings_problems(registry: Any, reg_path: Path) -> list[Problem]:
    """units.yaml's `fetch:` and `evidence:` blocks, checked as the jobs will read them (a bad value
    would otherwise surface only when a crawl or a probe starts)."""
    from .evidence import EvidenceSettings
    from .http import FetchSettings
    from .options import OptionError

    out = []
    for name, settings_class in (("fetch", FetchSettings), ("evidence", EvidenceSettings)):
        try:
            settings_class.from_mapping(registry.settings.get(name))
        except OptionError as exc:
            out.append(Problem(str(reg_path), exc.field, exc.message))
    return out


def _connection_problems(registry: Any, lookup: connections.Lookup | None) -> list[Problem]:
    from .notices.channels import channel_kinds

    needed: dict[str, str] = {}
    for unit in registry.units:
        for src in unit.sources:
            conn_id = (src.options or {}).get("conn_id")
            if conn_id:
                needed.setdefault(str(conn_id), f"单位 {unit.id} 的公众号数据源 {src.id}")
    kinds = channel_kinds()
    problems = []
    for name in (registry.settings.get("notify") or {}).get("channels") or []:
        kind = kinds.get(name)
        if kind is None:
            problems.append(Problem(str(registry.path or "units.yaml"), "notify.channels",
                                    f"未知的通知渠道 {name!r} (可用: {', '.join(sorted(kinds))})"))
        elif kind.default_conn_id:
            needed.setdefault(kind.default_conn_id, f"通知渠道 {name} ({kind.label})")
    return problems + _missing(needed, lookup)


def _missing(needed: dict[str, str], lookup: connections.Lookup | None) -> list[Problem]:
    out = []
    for conn_id, who in sorted(needed.items()):
        try:
            connections.settings(conn_id, lookup)
        except KeyError:
            out.append(Problem("连接", conn_id, f"{who} 需要该连接: 在 Airflow 中添加, 或设置环境变量 "
                                                f"{connections.env_name(conn_id)}"))
        except ValueError as exc:
            out.append(Problem("连接", conn_id, str(exc)))
    return out


def cli_check(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="pubwatch check", description="validate the registry, policies, calendar "
                                                                   "and connections; one line per problem")
    p.add_argument("--registry", help="units.yaml (default: $PUBWATCH_REGISTRY or include/units.yaml)")
    p.add_argument("--policies", help="policies.yaml (default: $PUBWATCH_POLICIES or include/policies.yaml)")
    p.add_argument("--no-connections", action="store_true", help="skip the connection check")
    p.add_argument("--today", help="check as of this day (YYYY-MM-DD)")
    args = p.parse_args(argv)
    try:
        today = date.fromisoformat(args.today) if args.today else None
    except ValueError:
        print(f"--today 日期格式应为 YYYY-MM-DD: {args.today!r}", file=sys.stderr)
        return 2
    problems = run_checks(args.registry, args.policies, today=today, with_connections=not args.no_connections)
    for problem in problems:
        print(problem)
    if not problems:
        print("检查通过: 登记表、规则、日历和连接均无问题")
    return 1 if problems else 0


__all__ = ["Problem", "run_checks", "cli_check"]
