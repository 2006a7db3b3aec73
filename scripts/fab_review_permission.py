"""FAB auth manager: let roles record 人工复核 on the board (airflow-init step; idempotent).

The board's review form asks the auth manager `is_authorized_custom_view(method="PUT",
resource_name="pubwatch_board")`; the FAB auth manager answers it from the role's permissions, i.e.
("can_edit", "pubwatch_board"). FAB creates no resource for a plugin, and `airflow roles add-perms`
refuses a resource that does not exist yet — so without this step nobody, not even Admin, could
review on the board. This script creates the permission and grants it to the roles named in
$PUBWATCH_REVIEW_ROLES (comma-separated; default "Admin,Op"). Revoking is done in the UI (Security →
List Roles) or with `airflow roles del-perms ROLE -r pubwatch_board -a can_edit`.

    python scripts/fab_review_permission.py [--role Admin --role Op]

Exit 1 (with a Chinese + English message) when a named role does not exist; other roles are still
granted. Under another auth manager it does nothing.
"""
from __future__ import annotations

import argparse
import os
import sys

RESOURCE = "pubwatch_board"       # the board plugin's custom-view name (plugins/pubwatch_board.py)
ACTION = "can_edit"               # FAB's action for method PUT


def roles_from(argv: list[str] | None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", action="append", help="role to grant (repeatable)")
    args = parser.parse_args(argv)
    if args.role:
        return args.role
    return [r.strip() for r in os.environ.get("PUBWATCH_REVIEW_ROLES", "Admin,Op").split(",") if r.strip()]


def main(argv: list[str] | None = None) -> int:
    roles = roles_from(argv)
    from airflow.configuration import conf

    if not conf.get("core", "auth_manager", fallback="").endswith("FabAuthManager"):
        print("[pubwatch-init] auth manager is not FAB: review permission not needed")
        return 0
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    missing = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        permission = sm.get_permission(ACTION, RESOURCE) or sm.create_permission(ACTION, RESOURCE)
        for name in roles:
            role = sm.find_role(name)
            if role is None:
                missing.append(name)
                continue
            if permission not in role.permissions:
                sm.add_permission_to_role(role, permission)
            print(f"[pubwatch-init] role {name}: {ACTION} on {RESOURCE} (人工复核)")
    if missing:
        print(f"[pubwatch-init] 错误 / ERROR: 角色不存在 (no such role): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
