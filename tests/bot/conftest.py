"""Fixtures for the channel adapters: the demo office behind a dispatcher, fake platforms."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import select

from bot.outbox import OutboxSender, fallback_to_outbox
from handlers.dispatch import Dispatcher
from handlers.turn import FlowConfig
from storage.db import Database
from storage.evidence import EvidenceStore
from storage.invitations import create_invitation
from storage.models import Member, OutboxMessage, Role
from storage.org import ensure_demo_agency, get_section
from tests.handlers.conftest import Clock


class Desk:
    """The demo office on a real database, with the dispatcher and outbox the adapters use."""

    def __init__(self, database: Database, evidence_root: Path, *, max_bytes: int) -> None:
        self.database = database
        self.clock = Clock()
        self.evidence_root = evidence_root
        config = FlowConfig(evidence=EvidenceStore(evidence_root), max_evidence_bytes=max_bytes)
        self.dispatcher = Dispatcher(database, config, clock=self.clock)
        with database.transaction() as session:
            ensure_demo_agency(session=session)
        self.outbox = OutboxSender(database, {}, self.clock)
        self.fallback = fallback_to_outbox(database, self.clock, self.outbox)

    def invite(self, *, role: Role = Role.STAFF, section: str | None = "規劃課",
               name: str | None = None) -> str:
        with self.database.transaction() as session:
            agency = ensure_demo_agency(session=session)
            the_section = get_section(session=session, agency=agency, name=section) \
                if section else None
            return create_invitation(session=session, agency=agency, role=role,
                                     now=self.clock.now, section=the_section,
                                     member_name=name).code

    def member(self, name: str) -> Member:
        with self.database.transaction() as session:
            return session.exec(select(Member).where(Member.name == name)).one()

    def outbox_rows(self) -> list[OutboxMessage]:
        with self.database.transaction() as session:
            return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


@pytest.fixture
def desk(database, tmp_path) -> Desk:
    return Desk(database, tmp_path / "evidence", max_bytes=64 * 1024)


async def eventually(check: Callable[[], object], *, timeout: float = 15.0,
                     message: str = "") -> object:
    """Poll ``check`` until it returns something truthy (async tests, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port inside the test's event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
        sock.close()
