#!/usr/bin/env bash
# airflow-init: prepare what every other service needs, then exit 0. Idempotent: safe to re-run
# (`docker compose run --rm airflow-init` after an upgrade). The same steps work natively, with the
# same environment variables and `airflow` + `python` of a venv on PATH.
#
#   1. refuse placeholder secrets left over from .env.example
#   2. create the writable folders (logs, var/outbox, var/reports) and hand them to AIRFLOW_UID
#   3. airflow db migrate                     (Airflow metadata DB)
#   4. admin user from AIRFLOW_ADMIN_*        (FAB auth manager; skipped for other auth managers)
#      and the board's review permission     (can_edit on pubwatch_board for $PUBWATCH_REVIEW_ROLES)
#   5. python -m pubwatch db upgrade          (tracking DB, Alembic, PUBWATCH_DB_URL)
#   6. python -m pubwatch pools               (one Airflow pool per portal host, created if missing)
# Never prints a secret.
set -euo pipefail

AIRFLOW_HOME="${AIRFLOW_HOME:-/opt/airflow}"
VAR_DIR="${PUBWATCH_VAR_DIR:-${AIRFLOW_HOME}/var}"
say() { printf '[pubwatch-init] %s\n' "$*"; }
die() { printf '[pubwatch-init] 错误 / ERROR: %s\n' "$*" >&2; exit 1; }

# 1. -------------------------------------------------------------- secrets must be real
for name in AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
            AIRFLOW_ADMIN_PASSWORD PUBWATCH_DB_URL; do
  value="${!name:-}"
  [[ -n "$value" ]] || die "${name} 未设置 (is not set) — copy .env.example to .env and fill it in"
  [[ "$value" != *CHANGE_ME* ]] || die "${name} 仍是 .env.example 的占位值 (still a CHANGE_ME placeholder) — edit .env"
done

# 2. -------------------------------------------------------------- writable folders
mkdir -p "${AIRFLOW_HOME}/logs" "${VAR_DIR}/outbox" "${VAR_DIR}/reports"
if [[ "$(id -u)" == "0" && -n "${AIRFLOW_UID:-}" ]]; then
  chown -R "${AIRFLOW_UID}:0" "${AIRFLOW_HOME}/logs" "${VAR_DIR}"
  say "logs/ and var/ belong to uid ${AIRFLOW_UID}"
fi

# 3. -------------------------------------------------------------- Airflow metadata DB
say "airflow $(airflow version 2>/dev/null | tail -n 1): migrating the metadata DB"
airflow db migrate

# 4. -------------------------------------------------------------- admin user
case "${AIRFLOW__CORE__AUTH_MANAGER:-}" in
  *FabAuthManager)
    # Creates the user only if missing ("already exists" otherwise): a password changed in the UI
    # is never reset by a re-run. Its output names the user, never the password.
    airflow users create --role Admin --username "${AIRFLOW_ADMIN_USERNAME:-admin}" \
      --password "$AIRFLOW_ADMIN_PASSWORD" \
      --firstname "${AIRFLOW_ADMIN_FIRSTNAME:-政务公开办}" --lastname "${AIRFLOW_ADMIN_LASTNAME:-管理员}" \
      --email "${AIRFLOW_ADMIN_EMAIL:-admin@example.invalid}"
    # 人工复核 on the board needs can_edit on pubwatch_board, a resource FAB never creates by itself
    # (roles: $PUBWATCH_REVIEW_ROLES, default Admin,Op)
    python "$(dirname "$0")/fab_review_permission.py"
    ;;
  *)
    say "auth manager ${AIRFLOW__CORE__AUTH_MANAGER:-<default>}: no FAB user to create"
    ;;
esac

# 5. -------------------------------------------------------------- tracking DB
say "tracking DB: alembic upgrade"
python -m pubwatch db upgrade || die "跟踪数据库升级失败 (tracking DB upgrade failed). On a postgres volume created \
before scripts/init-pubwatch-db.sh existed, run: docker compose exec postgres bash /docker-entrypoint-initdb.d/10-pubwatch.sh"

# 6. -------------------------------------------------------------- pools per portal host
# `python -m pubwatch pools` prints lines: airflow pools set NAME SLOTS 'DESCRIPTION'
# Only missing pools are created: slots an admin changed (Admin → Pools) survive a re-run.
if pool_lines="$(python -m pubwatch pools)"; then
  existing="$(airflow pools list --output plain 2>/dev/null | awk 'NR > 1 {print $1}')"
  created=0; kept=0
  while read -r _airflow _pools _set name slots desc; do
    [[ -n "${name:-}" ]] || continue
    if grep -qxF -- "$name" <<< "$existing"; then
      kept=$((kept + 1))
      continue
    fi
    desc="${desc#\'}"; desc="${desc%\'}"
    airflow pools set "$name" "$slots" "$desc" >/dev/null
    created=$((created + 1))
  done <<< "$pool_lines"
  say "portal-host pools: ${created} created, ${kept} already there"
else
  # A registry error must not keep Airflow down; the crawl DAG reports it too.
  say "警告 / WARNING: 登记表无法读取, 未设置抓取池 (units.yaml could not be read; pools not set). Fix it, then re-run airflow-init."
fi
say "done"
