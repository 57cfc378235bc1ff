"""Test set-up: one real database per run (SQLite by default, PostgreSQL with ``--db postgres``).

The schema is built by the real Alembic migrations once per run; each test starts from empty tables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from omniloop.core import (
    models_registry,  # noqa: F401
    security,
)
from omniloop.core.db import Base, make_engine, session_factory
from omniloop.core.migrate import upgrade
from omniloop.settings import Settings

# Argon2 at production cost makes every login ~60 ms; tests keep the algorithm and lower the cost.
security._hasher = security.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

from tests.factories import login_headers  # noqa: E402,F401  (re-exported for tests)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["sqlite", "postgres"], default=os.environ.get("OMNILOOP_TEST_DB", "sqlite"),
                     help="database backend for the run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "postgres":
        return
    skip = pytest.mark.skip(reason="needs --db postgres")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def database_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if db_backend == "postgres":
        url = os.environ.get("OMNILOOP_TEST_DATABASE_URL")
        if not url:
            pytest.exit("--db postgres needs OMNILOOP_TEST_DATABASE_URL (make test starts a server)", 2)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Engine:
    upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def _clear(engine: Engine) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def db(engine: Engine):
    """A clean database for one test; yields a session bound to it."""
    _clear(engine)
    session = session_factory(engine)()
    yield session
    session.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path, database_url=database_url, log_json=False, web_dist=tmp_path / "no-console")


@pytest.fixture
def app(db, engine: Engine, settings: Settings):
    from omniloop.app import create_app

    return create_app(settings=settings, engine=engine)


@pytest.fixture
def client(app) -> TestClient:
    with TestClient(app) as c:
        yield c
