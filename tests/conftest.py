"""Test set-up: one real database per run (SQLite by default, PostgreSQL with ``--db postgres``).

The schema is built by the real Alembic migrations once per run; each test starts from empty tables.

Parallel runs (pytest-xdist, ``-n 2``; ``make test`` uses it): each worker has its own database — a SQLite
file in its own temporary directory, or on PostgreSQL a database ``<name>_<worker>`` created on the server
of OMNILOOP_TEST_DATABASE_URL (the variable is rewritten inside the worker, so whatever reads it gets the
worker's database). Everything else a test shares is per worker already: tmp_path, port 0, the e2e
server and browser (session fixtures). ``--dist loadfile`` keeps a module's tests on one worker, so its
module fixtures are built once and its tests run in order. (Not ``loadgroup``: with pytest 9 xdist's
group suffix on node ids has no effect.)

``--db-tests-only`` (the PostgreSQL run of ``make test``) keeps only the tests that reach the database: those
requesting ``database_url``/``db_backend`` directly or through another fixture (``engine``, ``db``,
``settings``, ``app``, ``client``, ...) and those marked ``postgres_only``. Every other test does the same on
both backends, and the SQLite run covers it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

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

# A test requesting one of these (directly or through other fixtures) uses the run's database.
DB_FIXTURES = frozenset({"database_url", "db_backend"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=["sqlite", "postgres"], default=os.environ.get("OMNILOOP_TEST_DB", "sqlite"),
                     help="database backend for the run")
    parser.addoption("--db-tests-only", action="store_true", default=False,
                     help="deselect tests that never reach the database (they behave the same on every backend)")


def _xdist_worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


def _create_worker_database(url: str, worker: str) -> str:
    """A fresh database ``<name>_<worker>`` next to ``url``'s; returns its URL."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def pytest_configure(config: pytest.Config) -> None:
    worker = _xdist_worker()
    url = os.environ.get("OMNILOOP_TEST_DATABASE_URL")
    if worker and url and config.getoption("--db") == "postgres":
        os.environ["OMNILOOP_TEST_DATABASE_URL"] = _create_worker_database(url, worker)


def touches_database(item: pytest.Item) -> bool:
    return "postgres_only" in item.keywords or not DB_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db-tests-only"):
        keep = [item for item in items if touches_database(item)]
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if not touches_database(item)])
            items[:] = keep
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


# Tables that hold rows, in one round trip (cheaper than clearing all ~60 tables every test).
def _non_empty(conn, names: list[str]) -> set[str]:
    probe = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names)
    return set(conn.execute(text(probe)).scalars())


# Tables whose identity/serial sequences have been used since the last TRUNCATE ... RESTART IDENTITY (an
# emptied table still has to restart its ids).
_USED_SEQUENCE_OWNERS = text("""
    SELECT DISTINCT t.relname FROM pg_sequence s
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    WHERE t.relnamespace = current_schema()::regnamespace AND pg_sequence_last_value(s.seqrelid) IS NOT NULL
""")


def _clear(engine: Engine) -> None:
    """Empty every table the previous tests wrote to: each test starts from empty tables (and, on PostgreSQL,
    from ids restarting at 1)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        dirty = _non_empty(conn, tables)
        if engine.dialect.name == "postgresql":
            dirty |= set(conn.execute(_USED_SEQUENCE_OWNERS).scalars()) & set(tables)
            if dirty:
                names = ", ".join(f'"{name}"' for name in tables if name in dirty)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in dirty:
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
