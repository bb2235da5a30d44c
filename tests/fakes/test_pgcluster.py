"""The private PostgreSQL server: it starts, restarts, stops, crashes and goes away for real.

One server serves the module (initdb is the slow part, about two seconds); each test finds it
running and leaves it so. The shared test server on 127.0.0.1:5432 is never touched.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.fakes.pgcluster import PrivatePostgres, available

REQUIRE_PG = bool(os.environ.get("CI") or os.environ.get("SQBOT_REQUIRE_POSTGRES"))


def require_private_postgres() -> None:
    """Skip when no private server can be made here, except in CI, where that fails."""
    problem = available()
    if problem is None:
        return
    message = f"cannot make a private PostgreSQL server ({problem})"
    if REQUIRE_PG:
        pytest.fail(message + "; CI requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    require_private_postgres()
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def pg(cluster: PrivatePostgres) -> PrivatePostgres:
    """The module's server, running (again, should an earlier test have left it down)."""
    cluster.start()
    return cluster


def count(url: str, table: str = "notes") -> int:
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def new_database(pg: PrivatePostgres, name: str) -> str:
    """A database on ``pg`` with one committed row in table ``notes``; its URL."""
    url = pg.create_database(name)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        connection.execute("INSERT INTO notes (body) VALUES (%s)", ("ほうれんそう",))
    return url


def refused(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return True
    return False


def test_start_serves_a_private_server(pg: PrivatePostgres) -> None:
    assert pg.running
    assert pg.port != 5432
    assert pg.url == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
    url = new_database(pg, "started")
    assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/started"
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT body, current_setting('fsync') FROM notes").fetchone()
    assert row == ("ほうれんそう", "off")


def test_restart_breaks_open_connections_and_keeps_the_data(pg: PrivatePostgres) -> None:
    url = new_database(pg, "restarted")
    port = pg.port
    with psycopg.connect(url, autocommit=True) as old:
        old.execute("SELECT 1")
        began = time.monotonic()
        pg.restart(down_for=1)
        assert time.monotonic() - began >= 1
        with pytest.raises(psycopg.OperationalError):
            old.execute("SELECT 1")
        assert old.broken
    assert pg.port == port
    assert count(url) == 1


def test_a_stopped_server_refuses_connections(pg: PrivatePostgres) -> None:
    pg.stop()
    assert not pg.running
    assert refused(pg.url)
    pg.stop()  # already down: nothing to do
    pg.start()
    assert not refused(pg.url)


def test_kill_then_start_recovers_committed_data(pg: PrivatePostgres) -> None:
    url = new_database(pg, "killed")
    with psycopg.connect(url, autocommit=True) as open_connection:
        open_connection.execute("INSERT INTO notes (body) VALUES ('just before the crash')")
        pg.kill()
        assert not pg.running
        assert refused(url)
        with pytest.raises(psycopg.OperationalError):
            open_connection.execute("SELECT 1")
    pg.start()
    assert count(url) == 2
    assert "automatic recovery in progress" in pg.log_tail()


def test_stop_immediate_is_recovered_on_start(pg: PrivatePostgres) -> None:
    url = new_database(pg, "immediate")
    pg.restart(mode="immediate")
    assert count(url) == 1
    with pytest.raises(ValueError, match="stop mode"):
        pg.stop("abrupt")


def test_destroy_stops_the_server_and_removes_its_directory() -> None:
    require_private_postgres()
    server = PrivatePostgres()
    directory, first_port = server.dir, server.port
    assert directory.is_dir()
    with socket.socket() as squatter:  # someone takes the port before the first start
        squatter.bind(("127.0.0.1", first_port))
        squatter.listen()
        with server:
            assert server.port != first_port
            assert not refused(server.url)
            url = server.url
    assert not directory.exists()
    assert refused(url)
    assert "destroyed" in repr(server)
    server.destroy()  # idempotent
    with pytest.raises(RuntimeError, match="destroyed"):
        server.start()
