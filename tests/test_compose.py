"""The docker compose deployment, checked without a Docker engine.

- docker-compose.yaml validates against the Compose Specification's JSON schema (shared/schemas);
- every ${VAR} it uses is defined in .env.example or has a default, and interpolating it with
  .env.example leaves nothing unresolved; secrets are never literal;
- every build context, Dockerfile, mounted host path, named volume and depends_on target exists;
  long-running services have healthchecks; the worker scales; URLs point at real services;
- the Dockerfile builds FROM apache/airflow:3.3.2 and installs requirements.txt;
- airflow-init runs scripts/docker-init.sh, which migrates Airflow, upgrades the tracking DB and
  sets the pools — and the scripts themselves run natively against the real PostgreSQL.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SCHEMA = SHARED / "schemas" / "compose-spec.json"
COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
INIT_SCRIPT = REPO / "scripts" / "docker-init.sh"
PG_INIT_SCRIPT = REPO / "scripts" / "init-pubwatch-db.sh"
AIRFLOW_VERSION = "3.3.2"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; "$$" is a literal "$".
VAR_RE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
BARE_VAR_RE = re.compile(r"(?<!\$)\$(?![{$])[A-Za-z_]")
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|FERNET|_KEY$|JWT")
# Bind-mounted folders that are not in git (var/ is .gitignored and wiped by clean runs): Docker
# creates them on first start, and airflow-init creates their subfolders and hands them to AIRFLOW_UID.
CREATED_AT_START = {"./var"}


# ----------------------------------------------------------------------------- helpers
def load_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def read_env_example() -> dict[str, str]:
    """KEY=VALUE lines of .env.example (comments and blanks skipped; quotes stripped like compose)."""
    env: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env.example: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def walk_strings(node, path: str = ""):
    """Every string (keys included) in a loaded YAML tree, with where it sits."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(k, f"{path}.<key>")
            yield from walk_strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def interpolate(text: str, env: dict[str, str], unescape: bool = True) -> str:
    """Compose's variable interpolation (the subset the spec defines for ${...}); "$$" -> "$"."""
    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise KeyError(f"{name}: {arg}")
            return value
        if value is None:
            raise KeyError(name)
        return value
    out = VAR_RE.sub(one, text)
    return out.replace("$$", "$") if unescape else out


def interpolated_compose(env: dict[str, str], unescape: bool = True):
    def walk(node):
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return interpolate(node, env, unescape)
        return node
    return walk(load_compose())


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def is_one_shot(service: dict) -> bool:
    return str(service.get("restart", "no")) == "no"


def airflow_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if "build" in s}


def host_path(spec: str) -> str | None:
    """The host side of a short-syntax bind mount ("./x:/y:ro"), None for a named volume."""
    source = spec.split(":", 1)[0]
    return source if source.startswith((".", "/", "~")) else None


# ----------------------------------------------------------------------------- schema
def test_compose_validates_against_the_compose_spec_schema():
    if not SCHEMA.is_file():
        pytest.skip(f"compose-spec schema not found at {SCHEMA} (shared/ is not beside the repo)")
    jsonschema = pytest.importorskip("jsonschema")
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    for doc in (load_compose(), interpolated_compose(read_env_example())):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_compose_file_has_the_expected_services():
    services = load_compose()["services"]
    for name in ("postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler",
                 "airflow-dag-processor", "airflow-worker", "airflow-triggerer", "flower"):
        assert name in services, name
    assert services["flower"].get("profiles") == ["flower"]


# ----------------------------------------------------------------------------- variables and secrets
def test_every_variable_is_in_env_example_or_has_a_default():
    env = read_env_example()
    missing = []
    for where, text in walk_strings(load_compose()):
        assert not BARE_VAR_RE.search(text), f"{where}: use ${{VAR}} (or $$ for a literal $): {text!r}"
        for m in VAR_RE.finditer(text):
            name, op = m.group(1), m.group(2)
            if name not in env and op not in (":-", "-"):
                missing.append(f"{name} (at {where})")
    assert not missing, "not in .env.example and no default: " + ", ".join(sorted(set(missing)))


def test_interpolation_with_env_example_resolves_everything():
    compose = interpolated_compose(read_env_example(), unescape=False)
    leftovers = [(w, t) for w, t in walk_strings(compose) if VAR_RE.search(t)]
    assert not leftovers


def test_a_missing_required_secret_stops_compose():
    env = read_env_example()
    env.pop("POSTGRES_PASSWORD")
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolated_compose(env)


def test_no_literal_secret_in_compose():
    for name, service in load_compose()["services"].items():
        for key, value in env_of(service).items():
            if SECRET_KEY_RE.search(key):
                assert value.startswith("${"), f"{name}.{key} must come from .env"
            for password in re.findall(r"://[^:/@\s]*:([^@\s]*)@", value):
                assert password.startswith("${"), f"{name}.{key}: password in a URL must come from .env"


def test_env_example_holds_placeholders_only():
    env = read_env_example()
    for key, value in env.items():
        if SECRET_KEY_RE.search(key):
            assert value == "CHANGE_ME", f"{key} in .env.example must be the CHANGE_ME placeholder"
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("# AIRFLOW_CONN_") and ("password" in line or ":" in line.split("//", 1)[-1]):
            assert "CHANGE_ME" in line, f"example connection with a real-looking secret: {line}"


def test_env_file_stays_out_of_git_and_the_image():
    assert ".env" in (REPO / ".gitignore").read_text().split()
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


def example_connections() -> dict[str, str]:
    """The commented AIRFLOW_CONN_* examples of .env.example, uncommented, placeholders filled in."""
    out = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"# (AIRFLOW_CONN_[A-Z0-9_]+)=(.+)$", line)
        if m:
            value = m.group(2).strip()
            if value[0] == value[-1] == "'":
                value = value[1:-1]
            out[m.group(1)] = re.sub(r"CHANGE_ME\w*", lambda t: t.group(0).lower() + "0", value)
    return out


def test_example_connections_build_the_notice_channels_they_describe():
    """Each example, read the way Airflow reads AIRFLOW_CONN_*, configures the channel it names."""
    Connection = pytest.importorskip("airflow.models.connection").Connection
    from pubwatch.notices.channels import channel_from_config

    def conf(value: str) -> dict:
        c = Connection.from_json(value, conn_id="x") if value.startswith("{") else Connection(conn_id="x", uri=value)
        return {"login": c.login, "password": c.password, "host": c.host, "port": c.port, "schema": c.schema,
                "extra": c.extra_dejson}

    examples = example_connections()
    assert {"AIRFLOW_CONN_PUBWATCH_SMTP", "AIRFLOW_CONN_PUBWATCH_WECOM", "AIRFLOW_CONN_PUBWATCH_DINGTALK"} <= set(examples)
    email = channel_from_config("email", conf(examples["AIRFLOW_CONN_PUBWATCH_SMTP"]))
    assert (email.host, email.port, email.security) == ("smtp.county.example.gov.cn", 465, "ssl")
    assert email.from_addr == email.login == "gongkai@county.example.gov.cn" and email.from_name == "县政务公开办"
    wecom = channel_from_config("wecom", conf(examples["AIRFLOW_CONN_PUBWATCH_WECOM"]))
    assert wecom._url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=change_me_robot_key0"
    ding = channel_from_config("dingtalk", conf(examples["AIRFLOW_CONN_PUBWATCH_DINGTALK"]))
    assert ding._url == "https://oapi.dingtalk.com/robot/send?access_token=change_me_access_token0"
    assert ding._secret == "change_me_sec0"
    wechat = conf(examples["AIRFLOW_CONN_WECHAT_JYJ"])
    assert wechat["login"].startswith("wx") and wechat["password"] == "change_me_appsecret0"


# ----------------------------------------------------------------------------- structure
def test_build_context_dockerfile_and_mounted_paths_exist():
    compose = load_compose()
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context}"
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile}"
        for spec in service.get("volumes", []):
            source = spec if isinstance(spec, str) else spec.get("source", "")
            path = host_path(source) if isinstance(spec, str) else (source if spec.get("type") == "bind" else None)
            if path in CREATED_AT_START:
                assert path.removeprefix("./") + "/" in (REPO / ".gitignore").read_text().split()
                assert "mkdir -p" in INIT_SCRIPT.read_text() and "${VAR_DIR}/outbox" in INIT_SCRIPT.read_text()
            elif path:
                assert (REPO / path).exists(), f"{name}: mounted host path {path} is missing from the repo"
        for env_file in service.get("env_file", []) or []:
            path = env_file if isinstance(env_file, str) else env_file["path"]
            if path == ".env":
                assert ENV_EXAMPLE.is_file(), ".env is made from .env.example"
            else:
                assert (REPO / path).is_file(), f"{name}: env_file {path}"


def test_named_volumes_are_declared():
    compose = load_compose()
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            source = spec.split(":", 1)[0] if isinstance(spec, str) else spec.get("source", "")
            if isinstance(spec, str) and host_path(spec) is None:
                assert source in declared, f"{name}: volume {source} is not declared"


def test_depends_on_targets_exist_and_conditions_make_sense():
    services = load_compose()["services"]
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for target, spec in deps.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} health, which has no check"
            if condition == "service_completed_successfully":
                assert is_one_shot(services[target]), f"{target} must be a one-shot service"


def test_long_running_services_have_healthchecks():
    for name, service in load_compose()["services"].items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_apiserver_health_endpoint_and_execution_api_url():
    compose = load_compose()
    api = compose["services"]["airflow-apiserver"]
    assert api["command"] == "api-server"
    assert "/api/v2/monitor/health" in " ".join(api["healthcheck"]["test"])
    assert any(p.endswith(":8080") for p in api["ports"])
    url = env_of(api)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert url == "http://airflow-apiserver:8080/execution/"


def test_airflow_services_share_the_settings_that_matter():
    compose = load_compose()
    services = airflow_services(compose)
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
            "airflow-triggerer", "airflow-init"} <= set(services)
    for name, service in services.items():
        env = env_of(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai", name
        assert env["TZ"] == "Asia/Shanghai", name
        assert "FabAuthManager" in env["AIRFLOW__CORE__AUTH_MANAGER"], name
        assert "${AIRFLOW_JWT_SECRET" in env["AIRFLOW__API_AUTH__JWT_SECRET"], name
        assert "${AIRFLOW_FERNET_KEY" in env["AIRFLOW__CORE__FERNET_KEY"], name
        assert "/opt/airflow/include" in env["PYTHONPATH"].split(":"), name
        assert env["PUBWATCH_DB_URL"] and env["AIRFLOW_CONN_PUBWATCH_DB"], name
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env, name
        targets = {v.split(":")[1] for v in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include", "/opt/airflow/logs",
                "/opt/airflow/config", "/opt/airflow/var"} <= targets, name
    assert not [w for w, t in walk_strings(compose) if "_PIP_ADDITIONAL_REQUIREMENTS" in t]


def test_urls_point_at_services_of_this_stack():
    from sqlalchemy.engine import make_url

    compose = interpolated_compose(read_env_example())
    services = compose["services"]
    postgres_env = env_of(services["postgres"])
    env = env_of(services["airflow-scheduler"])
    meta = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (meta.host, meta.database, meta.username) == ("postgres", postgres_env["POSTGRES_DB"],
                                                         postgres_env["POSTGRES_USER"])
    tracking = make_url(env["PUBWATCH_DB_URL"])
    assert tracking.host == "postgres" and tracking.drivername == "postgresql+psycopg2"
    # The role and database the postgres init script creates are the ones the URL names.
    assert (tracking.username, tracking.database) == (postgres_env["PUBWATCH_DB_USER"], postgres_env["PUBWATCH_DB_NAME"])
    assert tracking.password == postgres_env["PUBWATCH_DB_PASSWORD"]
    assert make_url(env["AIRFLOW_CONN_PUBWATCH_DB"]).database == tracking.database
    assert "@redis:6379/" in env["AIRFLOW__CELERY__BROKER_URL"]
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which the image does not ship: every
    # URL that reaches SQLAlchemy names psycopg2 (the Celery result backend too, after "db+").
    backend = make_url(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    for url in (meta, tracking, backend):
        assert url.drivername == "postgresql+psycopg2", url.drivername
    assert backend.host == "postgres" and backend.database == meta.database
    init_mount = [v for v in services["postgres"]["volumes"] if v.startswith("./scripts/init-pubwatch-db.sh:")]
    assert init_mount and init_mount[0].split(":")[1].startswith("/docker-entrypoint-initdb.d/")


def test_worker_can_be_scaled():
    worker = load_compose()["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"] == "celery worker"


def test_web_ports_bind_to_localhost_by_default():
    compose = interpolated_compose(read_env_example())
    for name in ("airflow-apiserver", "flower"):
        for port in compose["services"][name]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


# ----------------------------------------------------------------------------- Dockerfile, requirements
def test_dockerfile_pins_airflow_and_installs_requirements():
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms == [f"apache/airflow:{AIRFLOW_VERSION}-python3.11"]
    assert re.search(r"^COPY\b.*\brequirements\.txt\b", text, re.M)
    joined = text.replace("\\\n", " ")
    install = " ".join(re.findall(r"^RUN pip install .*$", joined, re.M))
    assert "--no-cache-dir" in install and re.search(r"-r \S*requirements\.txt", install)
    assert f'"apache-airflow=={AIRFLOW_VERSION}"' in install
    for provider in ("fab", "celery"):
        arg = re.search(rf"^ARG {provider.upper()}_PROVIDER_VERSION=(\d+\.\d+\.\d+)$", text, re.M)
        assert arg, f"{provider} provider must be pinned to an exact version"
        assert f"apache-airflow-providers-{provider}==${{{provider.upper()}_PROVIDER_VERSION}}" in install
    # celery 5.7.0 breaks the Celery provider's result backend import: the image must pin 5.6.
    celery = re.search(r"^ARG CELERY_VERSION=(\d+)\.(\d+)\.(\d+)$", text, re.M)
    assert celery and (int(celery[1]), int(celery[2])) < (5, 7)
    assert '"celery[redis]==${CELERY_VERSION}"' in install


def test_image_contains_what_the_compose_runs():
    text = DOCKERFILE.read_text(encoding="utf-8")
    for folder in ("include", "dags", "plugins", "scripts"):
        assert re.search(rf"^COPY\b.*\s{folder}\s+/opt/airflow/{folder}$", text, re.M), folder
        assert (REPO / folder).is_dir()
    ignored = (REPO / ".dockerignore").read_text().split()
    for folder in ("include", "dags", "plugins", "scripts", "requirements.txt"):
        assert folder not in ignored


def test_requirements_pin_airflow():
    lines = [l.split("#")[0].strip() for l in (REPO / "requirements.txt").read_text().splitlines()]
    assert f"apache-airflow=={AIRFLOW_VERSION}" in lines


def test_airflow_init_runs_the_init_script_with_tracking_db_upgrade():
    compose = load_compose()
    init = compose["services"]["airflow-init"]
    command = init["command"] if isinstance(init["command"], list) else init["command"].split()
    script = next(c for c in command if c.endswith("docker-init.sh"))
    mounts = dict(v.split(":")[:2][::-1] for v in init["volumes"])
    host = mounts[str(Path(script).parent)]
    assert (REPO / host / Path(script).name).resolve() == INIT_SCRIPT.resolve()
    body = INIT_SCRIPT.read_text(encoding="utf-8")
    steps = ["airflow db migrate", "python -m pubwatch db upgrade", "python -m pubwatch pools", "airflow pools set"]
    positions = [body.index(s) for s in steps]
    assert positions == sorted(positions)
    assert "set -euo pipefail" in body and "set -x" not in body
    assert init["user"] == "0:0" and is_one_shot(init)
    # under FAB nobody (not even Admin) could record 人工复核: the resource pubwatch_board did not exist
    fab = body[body.index("*FabAuthManager)"):body.index(";;", body.index("*FabAuthManager)"))]
    assert fab.index("airflow users create") < fab.index("fab_review_permission.py")
    assert (INIT_SCRIPT.parent / "fab_review_permission.py").is_file()


# ----------------------------------------------------------------------------- the scripts, natively
def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PUBWATCH", "PG"))}
    env.update(extra)
    return env


def test_init_script_refuses_placeholder_secrets(tmp_path):
    env = _clean_env(AIRFLOW_HOME=str(tmp_path), PUBWATCH_VAR_DIR=str(tmp_path / "var"),
                     AIRFLOW__CORE__FERNET_KEY="x", AIRFLOW__API_AUTH__JWT_SECRET="CHANGE_ME",
                     AIRFLOW__API__SECRET_KEY="y", AIRFLOW_ADMIN_PASSWORD="z", PUBWATCH_DB_URL="sqlite://")
    proc = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in proc.stderr and "CHANGE_ME" in proc.stderr
    assert not (tmp_path / "var").exists(), "nothing may be touched before the secrets check passes"


def _psql_ok() -> bool:
    if not shutil.which("psql"):
        return False
    probe = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc", "select 1"],
                           capture_output=True, text=True, timeout=10)
    return probe.returncode == 0


def _psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc", sql],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


@pytest.fixture
def pg_names():
    if not _psql_ok():
        pytest.skip("no PostgreSQL with psql at 127.0.0.1:5432 (trust auth)")
    tag = uuid.uuid4().hex[:8]
    names = {"meta": f"pw_meta_{tag}", "db": f"pw_track_{tag}", "role": f"pw_role_{tag}"}
    yield names
    for db in (names["meta"], names["db"]):
        _psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    _psql(f'DROP ROLE IF EXISTS "{names["role"]}"')


def _run_pg_init(names: dict, password: str) -> subprocess.CompletedProcess:
    env = _clean_env(PGHOST="127.0.0.1", POSTGRES_USER="postgres", POSTGRES_DB="postgres",
                     PUBWATCH_DB_USER=names["role"], PUBWATCH_DB_PASSWORD=password, PUBWATCH_DB_NAME=names["db"])
    return subprocess.run(["bash", str(PG_INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.postgres
def test_postgres_init_script_creates_the_tracking_db_idempotently(pg_names):
    tricky = "pa'ss\"wo rd"
    for _ in range(2):
        proc = _run_pg_init(pg_names, tricky)
        assert proc.returncode == 0, proc.stderr
        assert tricky not in proc.stdout + proc.stderr
    owner = _psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{pg_names['db']}'")
    assert owner == pg_names["role"]
    assert _psql(f"SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = '{pg_names['role']}'") == "t|f"
    # The role can create its tables in its own database...
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", pg_names["role"], "-d", pg_names["db"], "-Atc",
                          "CREATE TABLE t (x int); DROP TABLE t; SELECT current_user"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.split()[-1] == pg_names["role"], out.stderr
    # ...and PUBLIC may not connect to it.
    acl = _psql(f"SELECT datacl::text FROM pg_database WHERE datname = '{pg_names['db']}'")
    assert "=c" not in acl.replace(f"{pg_names['role']}=", "")


@pytest.mark.postgres
@pytest.mark.airflow
@pytest.mark.slow
def test_init_script_runs_natively_twice(pg_names, tmp_path):
    """airflow-init's steps against the real PostgreSQL: metadata DB, tracking DB, pools — twice."""
    from cryptography.fernet import Fernet

    pytest.importorskip("asyncpg", reason="Airflow 3 on PostgreSQL also opens an asyncpg engine "
                        "(the apache/airflow image ships asyncpg; the venv needs asyncpg==0.32.0)")
    assert _run_pg_init(pg_names, "pw").returncode == 0
    _psql(f'CREATE DATABASE "{pg_names["meta"]}"')
    venv_bin = Path(sys.executable).parent
    env = _clean_env(
        PATH=f"{venv_bin}:{os.environ.get('PATH', '')}",
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__LOAD_EXAMPLES="false",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{pg_names['meta']}",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
        AIRFLOW_ADMIN_PASSWORD=secrets.token_hex(8),
        PYTHONPATH=str(REPO / "include"),
        PUBWATCH_DB_URL=f"postgresql+psycopg2://{pg_names['role']}:pw@127.0.0.1:5432/{pg_names['db']}",
        PUBWATCH_REGISTRY=str(REPO / "include" / "units.yaml"),
        PUBWATCH_DEMO_BASE="http://www.county.example.gov.cn",
        PUBWATCH_VAR_DIR=str(tmp_path / "var"),
    )
    expected = ["pools: 1 created, 0 already there", "pools: 0 created, 1 already there"]
    for run in range(2):
        proc = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=480)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert expected[run] in proc.stdout
        assert env["AIRFLOW_ADMIN_PASSWORD"] not in proc.stdout + proc.stderr
        if run == 0:  # an admin widens the pool; the re-run must keep it
            _psql("UPDATE slot_pool SET slots = 3 WHERE pool LIKE 'pubwatch_host_%'", pg_names["meta"])
    assert (tmp_path / "var" / "outbox").is_dir() and (tmp_path / "var" / "reports").is_dir()
    tables = _psql("SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'", pg_names["db"])
    assert "alembic_version" in tables.split(",") and len(tables.split(",")) > 2
    assert _psql("SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'", pg_names["db"]) == pg_names["role"]
    pools = _psql("SELECT pool || ':' || slots FROM slot_pool WHERE pool LIKE 'pubwatch_host_%'", pg_names["meta"])
    assert pools == "pubwatch_host_www_county_example_gov_cn:3"
