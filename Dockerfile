# pubwatch — the Airflow image every service in docker-compose.yaml runs.
#
# The official Airflow image (Python 3.11 variant) plus the project's pinned requirements, baked in
# at build time — never installed at container start (_PIP_ADDITIONAL_REQUIREMENTS).
# Build:   docker compose build
# Mirror:  docker compose build --build-arg PIP_INDEX_URL=https://<PyPI 镜像>/simple
FROM apache/airflow:3.3.2-python3.11

# Providers the compose stack needs besides requirements.txt: the FAB auth manager (users, roles,
# login page) and the Celery executor. Pinned: they resolve together with apache-airflow 3.3.2 and
# the pins in requirements.txt, and ran that way (scheduler + Celery worker + FAB login).
# celery itself is pinned below 5.7: celery 5.7.0 dropped `celery.backends.database.retry`, which
# the Celery provider imports — scheduler and worker then fail to load the executor.
ARG FAB_PROVIDER_VERSION=3.10.2
ARG CELERY_PROVIDER_VERSION=3.26.0
ARG CELERY_VERSION=5.6.3
# Optional PyPI mirror (unset = pip's default index).
ARG PIP_INDEX_URL

ENV TZ=Asia/Shanghai \
    LANG=C.UTF-8 \
    PYTHONIOENCODING=utf-8 \
    PYTHONPATH=/opt/airflow/include \
    PUBWATCH_VAR_DIR=/opt/airflow/var

USER airflow
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
# "apache-airflow==3.3.2" is repeated on purpose: pip must never move the image's Airflow.
RUN pip install --no-cache-dir \
        "apache-airflow==3.3.2" \
        -r /opt/airflow/requirements.txt \
        "apache-airflow-providers-fab==${FAB_PROVIDER_VERSION}" \
        "apache-airflow-providers-celery==${CELERY_PROVIDER_VERSION}" \
        "celery[redis]==${CELERY_VERSION}"

# The project itself. docker-compose.yaml mounts the same folders over these copies (read-only),
# so DAG, registry and template edits apply without a rebuild; the copies make the image usable alone.
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
COPY --chown=airflow:0 scripts /opt/airflow/scripts

# Fail the build, not the first Friday: the time zone data and the library must load.
# asyncpg: Airflow 3 opens an async engine on its PostgreSQL metadata DB (the base image ships it).
RUN python -c "import zoneinfo; zoneinfo.ZoneInfo('Asia/Shanghai')" \
 && python -c "import asyncpg, psycopg2, airflow.providers.fab, airflow.providers.celery.executors.celery_executor" \
 && python -c "import pubwatch.cli, pubwatch.store" \
 && airflow version
