#!/usr/bin/env bash
# Create pubwatch's tracking database and its own login role, beside Airflow's metadata DB.
#
# docker compose mounts this file into the postgres container's /docker-entrypoint-initdb.d/, so it
# runs once, when the data volume is first created. It is idempotent — safe to run again by hand,
# e.g. on a volume created before this script existed:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-pubwatch.sh
# The role owns only its database: tracking data never lives in, or reaches into, Airflow's DB.
#
# Reads: PUBWATCH_DB_USER, PUBWATCH_DB_PASSWORD, PUBWATCH_DB_NAME (default pubwatch),
#        POSTGRES_USER / POSTGRES_DB (the superuser and its database; libpq PG* variables work too).
set -euo pipefail

: "${PUBWATCH_DB_USER:?PUBWATCH_DB_USER is not set (see .env.example)}"
: "${PUBWATCH_DB_PASSWORD:?PUBWATCH_DB_PASSWORD is not set (see .env.example)}"
PUBWATCH_DB_NAME="${PUBWATCH_DB_NAME:-pubwatch}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
     --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     -v db_name="$PUBWATCH_DB_NAME" -v db_user="$PUBWATCH_DB_USER" -v db_pass="$PUBWATCH_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'db_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'db_user') \gexec
-- The password follows .env on every run (a rotated password applies after a re-run).
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'db_user', :'db_pass') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db_name', :'db_user', 'UTF8')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db_name') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db_name', :'db_user') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db_name') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db_name', :'db_user') \gexec
SQL
echo "pubwatch tracking database '${PUBWATCH_DB_NAME}' is ready (owner '${PUBWATCH_DB_USER}')"
