"""Alembic environment for the tracking DB (run via pubwatch.store.upgrade or `python -m pubwatch db upgrade`)."""
from alembic import context
from sqlalchemy import create_engine, pool

from pubwatch import config as pw_config
from pubwatch.store.models import Base

cfg = context.config
url = cfg.attributes.get("url") or cfg.get_main_option("sqlalchemy.url") or pw_config.db_url()


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
