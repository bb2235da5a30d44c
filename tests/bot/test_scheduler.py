"""One scheduler per database: leadership on PostgreSQL and SQLite, and the ticking clock."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import psycopg
from sqlmodel import select

from bot.scheduler import FileLeader, PostgresLeader, ReminderScheduler, leader_for
from handlers.reminders import Reminders
from rubric.calendar import ScheduleConfig
from storage.models import ReminderLog
from tests.bot.conftest import eventually

HOLDER = """
import sys, time
from pathlib import Path
from bot.scheduler import FileLeader
leader = FileLeader(Path(sys.argv[1]))
assert leader.try_acquire()
print("leading", flush=True)
time.sleep(600)
"""


def test_two_processes_run_one_scheduler_and_the_survivor_takes_over(database):
    """PostgreSQL: an advisory lock on the leader's own connection; SQLite: a file lock."""
    if database.backend == "sqlite":
        _two_processes_on_sqlite(database)
        return
    url = database.engine.url.render_as_string(hide_password=False)
    first, second = PostgresLeader(url), PostgresLeader(url)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.try_acquire()  # still leading
    # The leader's connection dies (its process was killed, the network dropped …).
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first.backend_pid,))
    # pg_terminate_backend only signals the backend; its locks go when it has exited, so
    # the survivor takes over at one of its next ticks, as the scheduler's loop would.
    deadline = time.monotonic() + 10
    while not second.try_acquire():
        assert time.monotonic() < deadline, "the survivor never took over"
        time.sleep(0.05)
    assert not first.try_acquire()  # and the old leader knows it no longer leads
    second.release()
    assert first.try_acquire()
    first.release()


def _two_processes_on_sqlite(database) -> None:
    leader = leader_for(database)
    assert isinstance(leader, FileLeader)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(leader.path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        assert not leader.try_acquire()
    finally:
        holder.kill()  # SIGKILL: the lock goes with the process
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not leader.try_acquire():
        assert time.monotonic() < deadline, "the survivor never took over"
        time.sleep(0.05)
    leader.release()


def test_file_leader_in_one_process(tmp_path):
    path = tmp_path / "sqbot.scheduler.lock"
    first, second = FileLeader(path), FileLeader(path)
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


class NeverLeads:
    def try_acquire(self) -> bool:
        return False

    def release(self) -> None:
        pass


async def test_tick_only_while_leading_and_the_start_up_tick(desk):
    from storage.org import bind_identity

    member = desk.member("王小明")
    with desk.database.transaction() as session:
        bind_identity(session=session, member=member, channel="console",
                      platform_user_id="console-x")
    reminders = Reminders(desk.database, ScheduleConfig())
    april = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    follower = ReminderScheduler(reminders, NeverLeads(), lambda: april)
    assert await follower.tick() is None
    woken = []
    leader = ReminderScheduler(reminders, leader_for(desk.database), lambda: april,
                               on_queued=lambda: woken.append(True))
    leader.start()
    try:
        await eventually(lambda: woken, message="the start-up tick queued the opening")
    finally:
        leader.shutdown()
    with desk.database.transaction() as session:
        sent = session.exec(select(ReminderLog).where(ReminderLog.kind == "opening")).all()
    assert [(r.period, r.recipient) for r in sent] == [("115Q1", f"member:{member.id}")]


async def test_the_leader_prunes_every_few_hours_and_a_follower_never(desk):
    from datetime import timedelta

    reminders = Reminders(desk.database, ScheduleConfig())
    now = [datetime(2026, 12, 2, 1, 0, tzinfo=UTC)]
    calls: list[datetime] = []

    def housekeeping(at: datetime) -> dict[str, int]:
        calls.append(at)
        return {"processed_events": 0}

    follower = ReminderScheduler(reminders, NeverLeads(), lambda: now[0],
                                 housekeeping=housekeeping)
    await follower.tick()
    assert calls == []
    leader = ReminderScheduler(reminders, leader_for(desk.database), lambda: now[0],
                               housekeeping=housekeeping)
    try:
        await leader.tick()
        now[0] += timedelta(hours=1)
        await leader.tick()  # within the six hours: not again
        now[0] += timedelta(hours=6)
        await leader.tick()
    finally:
        leader.shutdown()
    assert calls == [datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
                     datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
