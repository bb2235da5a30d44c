"""Two senders (two workers) on one outbox while the platform is slow: a sender still busy
with its batch renews the lease on what it has not sent yet, so the other never takes those
rows and sends them a second time."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.line import LineChannel
from bot.outbox import OutboxSender
from handlers.messages import Outgoing
from storage.models import OutboxMessage
from storage.outbox import enqueue
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

LEASE = timedelta(seconds=1.5)
ROWS = 8


def real_clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def fake():
    with FakeLine() as server:
        server.quota = None
        server.latency = 0.6  # eight pushes take about five seconds: more than three leases
        yield server


async def test_a_busy_sender_keeps_its_rows_from_the_other(fake, desk):
    channels = [LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret="0" * 32, access_token=fake.access_token,
        max_evidence_bytes=1024, api_base_url=fake.base_url) for _ in range(2)]
    first, second = (OutboxSender(desk.database, {"line": channel}, real_clock, lease=LEASE)
                     for channel in channels)
    users = [hook.user_id(f"lease{n}") for n in range(ROWS)]
    with desk.database.transaction() as session:
        for n, user in enumerate(users):  # distinct texts: one push each, no multicast
            text = f"通知 {n}"
            enqueue(session=session, destination=("line", user),
                    payload=Outgoing(text).to_payload(), now=real_clock(),
                    key=hashlib.sha256(text.encode()).hexdigest())

    busy = asyncio.create_task(first.drain_once())  # takes all eight, sends slowly
    await asyncio.sleep(0.1)
    taken_by_second = 0
    while not busy.done():  # the other worker keeps looking, long past the first lease
        taken_by_second += await second.drain_once()
        await asyncio.sleep(0.1)
    assert await busy == ROWS
    assert taken_by_second == 0

    pushes = fake.sent("push")
    keys = [request.retry_key for request in pushes]
    assert len(pushes) == ROWS and len(set(keys)) == ROWS  # each row requested once
    assert sorted(to for request in pushes for to in request.delivered_to) == sorted(users)
    with desk.database.transaction() as session:
        assert {row.status for row in session.exec(select(OutboxMessage))} == {"sent"}
    for channel in channels:
        await channel.close()


async def test_a_dead_senders_rows_are_taken_over_when_its_lease_runs_out(fake, desk):
    channel = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret="0" * 32, access_token=fake.access_token,
        max_evidence_bytes=1024, api_base_url=fake.base_url)
    survivor = OutboxSender(desk.database, {"line": channel}, real_clock, lease=LEASE)
    user = hook.user_id("lease-dead")
    with desk.database.transaction() as session:
        enqueue(session=session, destination=("line", user),
                payload=Outgoing("孤兒訊息").to_payload(), now=real_clock(), key="orphan")
    dying = OutboxSender(desk.database, {"line": channel}, real_clock, lease=LEASE)
    claimed = await asyncio.to_thread(dying._claim, real_clock(), 50)  # then it dies
    assert len(claimed) == 1
    assert await survivor.drain_once() == 0  # still leased to the dead sender
    await asyncio.sleep(LEASE.total_seconds() + 0.1)
    assert await survivor.drain_once() == 1
    assert fake.texts_to(user) == ["孤兒訊息"]
    await channel.close()
