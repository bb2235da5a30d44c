"""Engines and transactions: SQLite (WAL, busy timeout) by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from storage.errors import DatabaseConfigError

DEFAULT_URL = "sqlite:///var/sqbot.db"
_SUPPORTED = ("sqlite", "postgresql")


def normalize_url(url: str, *, setting: str = "DATABASE_URL") -> sa.URL:
    """Parse ``url``; map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver.

    Raises DatabaseConfigError naming ``setting`` (never echoing a password).
    """
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise DatabaseConfigError(
            f"{setting} is not a database URL; expected e.g. sqlite:///var/sqbot.db or "
            "postgresql://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        parsed = parsed.set(drivername="postgresql+psycopg")
        backend = "postgresql"
    if backend not in _SUPPORTED:
        raise DatabaseConfigError(
            f"{setting} names the database {backend!r}; sqbot supports SQLite and PostgreSQL"
        )
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise DatabaseConfigError(
            f"{setting} must name a SQLite file (sqlite:///var/sqbot.db): an in-memory "
            "database would lose everything when sqbot stops"
        )
    return parsed


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so it can be BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Take the write lock at the start: two transactions that read and then write would
        # otherwise deadlock on the lock upgrade and one would fail with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str | sa.URL, *, busy_timeout_s: float = 10.0,
                     echo: bool = False) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout and foreign keys; its folder
    is created if missing. PostgreSQL gets pre-ping so a restarted server is reconnected, and
    a lock timeout equal to the busy timeout."""
    parsed = normalize_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        )
        _configure_sqlite(engine, int(busy_timeout_s * 1000))
        return engine
    # The same bound on waiting for a lock as SQLite's busy timeout: a transaction stuck
    # behind another fails (and is retried by the caller) instead of hanging a worker.
    return sa.create_engine(
        parsed, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10,
        # connect_timeout: an unreachable server fails a connection in seconds, not minutes.
        connect_args={"options": f"-c lock_timeout={int(busy_timeout_s * 1000)}",
                      "connect_timeout": 10},
    )


class Database:
    """An engine plus the one way the rest of sqbot opens transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        """Open the database at ``url`` (see :func:`create_db_engine`)."""
        return cls(create_db_engine(url, **kwargs))

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
