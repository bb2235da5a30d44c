"""The reminder clock: APScheduler runs the round; one process at a time leads.

Nothing about reminders is stored in jobs: each tick asks :class:`handlers.reminders.Reminders`
what is due from the calendar and the database. Exactly one scheduler runs per database:
on PostgreSQL the leader holds an advisory lock on a connection of its own (if that
connection dies, the lock is gone and another process takes over); on SQLite it holds an
exclusive lock on a file next to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Protocol

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from handlers.reminders import Reminders, RoundReport
from rubric.periods import TAIPEI
from storage.db import Database

logger = logging.getLogger(__name__)

#: The advisory lock key: "sqbot" in ASCII, so it is recognisable in pg_locks.
ADVISORY_KEY = 0x7371626F74


class Leader(Protocol):
    """Who may run the scheduler."""

    @property
    def held(self) -> bool:
        """Whether this process held leadership when last asked."""

    def try_acquire(self) -> bool:
        """True while this process is (or just became) the leader."""

    def release(self) -> None:
        """Give leadership up."""


class PostgresLeader:
    """Leadership by ``pg_try_advisory_lock`` on a dedicated connection."""

    def __init__(self, url: str) -> None:
        self._dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._connection: psycopg.Connection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    @property
    def backend_pid(self) -> int | None:
        """The server process holding the lock (for operators and tests)."""
        return self._connection.info.backend_pid if self._connection is not None else None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute("SELECT 1")
                return True
            except psycopg.Error:
                logger.warning("scheduler lock connection lost; trying to lead again")
                self._close()
        try:
            connection = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            logger.warning("cannot reach PostgreSQL for the scheduler lock: %s",
                           exc.__class__.__name__)
            return False
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        if row and row[0]:
            self._connection = connection
            logger.info("this process now runs the reminder scheduler")
            return True
        connection.close()
        return False

    def release(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None


class FileLeader:
    """Leadership by an exclusive ``flock`` on a file (one machine, SQLite)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        logger.info("this process now runs the reminder scheduler")
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def leader_for(database: Database) -> Leader:
    """The leadership mechanism that fits the database."""
    url = database.engine.url
    if database.backend == "postgresql":
        return PostgresLeader(url.render_as_string(hide_password=False))
    assert url.database is not None
    return FileLeader(Path(url.database).with_suffix(".scheduler.lock"))


#: How often the leader prunes what is past its retention (``storage.housekeeping``).
HOUSEKEEPING_EVERY = timedelta(hours=6)


class ReminderScheduler:
    """Ticks at the reminder time, at start-up and every ``check_seconds``; only the leader's
    ticks queue anything."""

    def __init__(self, reminders: Reminders, leader: Leader, clock: Callable[[], datetime],
                 *, on_queued: Callable[[], None] | None = None,
                 check_seconds: int = 60,
                 housekeeping: Callable[[datetime], dict[str, int]] | None = None) -> None:
        self.reminders = reminders
        self.housekeeping = housekeeping
        self._housekept: datetime | None = None
        self.leader = leader
        self.clock = clock
        self.on_queued = on_queued
        self.check_seconds = check_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()

    async def tick(self) -> RoundReport | None:
        """One round, if this process leads: queue what is due; None when not leading."""
        async with self._lock:
            if not await asyncio.to_thread(self.leader.try_acquire):
                return None
            now = self.clock()
            report = await asyncio.to_thread(self.reminders.run_due, now)
            if self.housekeeping is not None and (
                    self._housekept is None or now - self._housekept >= HOUSEKEEPING_EVERY):
                self._housekept = now
                pruned = await asyncio.to_thread(self.housekeeping, now)
                if any(pruned.values()):
                    logger.info("housekeeping removed %s", pruned)
            if report.sent:
                logger.info("queued %s reminder messages", len(report.sent))
                if self.on_queued is not None:
                    self.on_queued()
            return report

    @property
    def leading(self) -> bool:
        """Whether this process runs the reminders (as of the last check)."""
        return self.leader.held

    def start(self) -> None:
        """Schedule the ticks (the first one right away: reminders missed while down)."""
        time = self.reminders.config.reminder_time
        scheduler = AsyncIOScheduler(timezone=TAIPEI)
        scheduler.add_job(self.tick, CronTrigger(hour=time.hour, minute=time.minute,
                                                 timezone=TAIPEI),
                          id="reminder-time", coalesce=True, max_instances=1,
                          misfire_grace_time=3600)
        # Every check: the leader confirms it still holds the lock and queues what became
        # due or deliverable (a secretariat group bound since); a standby tries to take over.
        scheduler.add_job(self.tick, IntervalTrigger(seconds=self.check_seconds),
                          id="check", coalesce=True, max_instances=1)
        scheduler.add_job(self.tick, id="start-up")
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Stop ticking and give leadership up."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.leader.release()
