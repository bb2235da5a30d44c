"""Shared set-up for the benchmarks: an office with many bound staff, timing helpers, and
writing results (figures, ratios, machine, versions) to benchmarks/results/<name>.json."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from handlers.dispatch import Dispatcher
from handlers.turn import FlowConfig
from storage.db import Database
from storage.evidence import EvidenceStore
from storage.migrate import upgrade
from storage.models import ChatIdentity, Member, Role, Section
from storage.org import ensure_demo_agency

RESULTS = Path(__file__).resolve().parent / "results"
PG_URL = os.environ.get("SQBOT_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
#: 115年12月2日 09:00 Taipei: the Q4 window is open.
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


class TickingClock:
    """A clock that moves a millisecond per reading, so every event has its own time."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def machine() -> dict[str, Any]:
    """What ran the benchmark."""
    packages = ("sqlalchemy", "sqlmodel", "python-telegram-bot", "line-bot-sdk", "starlette",
                "uvicorn", "psycopg", "matplotlib", "odfdo", "openpyxl")
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "versions": {p: _version(p) for p in packages}}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def write(name: str, figures: dict[str, Any], *, targets: dict[str, Any] | None = None) -> None:
    """Write one benchmark's result file."""
    RESULTS.mkdir(exist_ok=True)
    record = {"name": name, "when": datetime.now(UTC).isoformat(timespec="seconds"),
              "figures": figures, "targets": targets or {}, "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
    print(f"{name}: {json.dumps(figures, ensure_ascii=False)}")


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


@contextmanager
def database(backend: str) -> Iterator[Database]:
    """A migrated, empty database: a SQLite file, or a scratch PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            db = Database.from_url(f"sqlite:///{folder}/bench.db")
            upgrade(db.engine)
            try:
                yield db
            finally:
                db.dispose()
        return
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    name = f"sqbot_bench_{os.getpid()}_{int(time.time())}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database.from_url(url)
    try:
        upgrade(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def populate(db: Database, staff: int, *, channel: str = "console",
             sections: int = 50) -> list[str]:
    """The demo office plus ``sections`` extra sections and ``staff`` bound members; returns
    the members' platform user ids (one per member) in ``channel``."""
    user_ids: list[str] = []
    with db.transaction() as session:
        agency = ensure_demo_agency(session=session)
        assert agency.id is not None
        extra = [Section(agency_id=agency.id, name=f"測試課{n:04d}", position=100 + n)
                 for n in range(sections)]
        session.add_all(extra)
        session.flush()
        members = [Member(agency_id=agency.id, section_id=extra[n % sections].id,
                          name=f"同仁{n:05d}", role=Role.STAFF) for n in range(staff)]
        session.add_all(members)
        session.flush()
        for member in members:
            user_id = f"{channel}-{member.id}" if channel != "line" else f"U{member.id:032x}"
            session.add(ChatIdentity(member_id=member.id or 0, channel=channel,
                                     platform_user_id=user_id))
            user_ids.append(user_id)
    return user_ids


def dispatcher(db: Database, folder: Path) -> Dispatcher:
    """A dispatcher on ``db`` with a ticking clock and an evidence store under ``folder``."""
    return Dispatcher(db, FlowConfig(evidence=EvidenceStore(folder / "evidence")),
                      clock=TickingClock())


def raw_commits_per_s(backend: str, commits: int = 3000) -> float:
    """This machine's limit for one-row transactions, measured beside sqbot in the same run:
    INSERT + COMMIT through the bare driver (sqlite3 in WAL with synchronous=NORMAL, as sqbot
    configures it; psycopg against the same PostgreSQL)."""
    if backend == "sqlite":
        import sqlite3

        with tempfile.TemporaryDirectory() as folder:
            connection = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            start = time.perf_counter()
            for n in range(commits):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO t (v) VALUES (?)", (f"v{n}",))
                connection.execute("COMMIT")
            elapsed = time.perf_counter() - start
            connection.close()
        return round(commits / elapsed, 1)
    import psycopg

    with psycopg.connect(PG_URL) as connection:
        connection.execute("CREATE TEMPORARY TABLE raw_commits (id serial PRIMARY KEY, v text)")
        connection.commit()
        start = time.perf_counter()
        for n in range(commits):
            connection.execute("INSERT INTO raw_commits (v) VALUES (%s)", (f"v{n}",))
            connection.commit()
        elapsed = time.perf_counter() - start
    return round(commits / elapsed, 1)
