"""Alembic environment. The URL comes from the caller (``omniloop db upgrade``) or settings."""

from alembic import context

from omniloop.core import models_registry  # noqa: F401
from omniloop.core.db import Base, get_engine, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url) if url else get_engine()
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    if url:
        engine.dispose()


run_migrations_online()
