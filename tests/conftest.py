"""Shared fixtures: a real database on SQLite and on PostgreSQL for every test that asks.

Every test that takes ``database`` (or ``database_url``) runs twice: on a SQLite file and on
a PostgreSQL database created for this test run. PostgreSQL comes from
``SQBOT_TEST_POSTGRES_URL`` (default: the local server's ``test`` database, used only to
create a scratch database beside it). Where PostgreSQL cannot be reached the PostgreSQL
half is skipped with the reason — except in CI (``CI`` or ``SQBOT_REQUIRE_POSTGRES`` set),
where it fails: a suite that silently skips PostgreSQL proves nothing.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from storage.db import Database, create_db_engine, normalize_url
from storage.migrate import upgrade

BACKENDS = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("SQBOT_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("SQBOT_REQUIRE_POSTGRES"))


class PostgresServer:
    """Creates and drops scratch databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_url(admin_url, setting="SQBOT_TEST_POSTGRES_URL")
        self.engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT",
                                       poolclass=sa.pool.NullPool)
        self.created: list[str] = []

    def reachable(self) -> str | None:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError as exc:
            return str(exc.orig).strip().splitlines()[0]
        return None

    def create(self, prefix: str = "sqbot_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as connection:
            for name in self.created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(PG_ADMIN_URL)
    problem = server.reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at SQBOT_TEST_POSTGRES_URL ({problem})"
        if REQUIRE_PG:
            pytest.fail(message + "; CI requires it", pytrace=False)
        pytest.skip(message)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "sqbot.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated(postgres: PostgresServer) -> str:
    """A PostgreSQL database migrated once; tests empty its tables after use."""
    url = postgres.create()
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a migrated, empty database on ``backend``."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "sqbot.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_migrated")
    yield url
    _truncate_all(url)


def _truncate_all(url: str) -> None:
    engine = create_db_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A real, migrated, empty database (SQLite file or PostgreSQL)."""
    db = Database.from_url(database_url)
    yield db
    db.dispose()


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a brand-new database with no tables at all (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create("sqbot_fresh")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite golden conversation transcripts after an intended change")
