"""Flow test tools: a fixed clock, the demo office with bound members, and a chat driver."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.console import render
from handlers.dispatch import Dispatcher
from handlers.flow.labels import match_label
from handlers.messages import Attachment, ChatKind, Choice, Incoming, Outgoing
from handlers.turn import FlowConfig
from storage.evidence import EvidenceStore
from storage.invitations import create_invitation
from storage.models import Member, OutboxMessage, Role
from storage.org import bind_identity, ensure_demo_agency, get_section

# 115年11月27日 09:00 Taipei: inside 115年第4季.
START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves: each reading advances it by ``tick``."""

    def __init__(self, start: datetime = START, tick: timedelta = timedelta(seconds=30)) -> None:
        self.now = start
        self.tick = tick

    def __call__(self) -> datetime:
        current = self.now
        self.now = self.now + self.tick
        return current

    def set(self, moment: datetime) -> None:
        self.now = moment


def check_buttons(reply: Outgoing) -> None:
    """Every message drawn in any test: its buttons' tokens are unique, and each label typed
    names that button and no other (issue #14: typed labels are presses)."""
    actions = [c.action for c in reply.choices]
    assert len(set(actions)) == len(actions), f"a token drawn twice: {actions}"
    drawn = [(c.label, c.action) for c in reply.choices]
    for label, action in drawn:
        assert match_label(label, drawn) == action, f"typed {label!r} is not its press: {drawn}"


@dataclass
class Chat:
    """One chat identity talking to the dispatcher, pressing buttons by label."""

    dispatcher: Dispatcher
    channel: str
    user_id: str
    chat_kind: ChatKind = ChatKind.PRIVATE
    chat_id: str | None = None
    events: itertools.count = field(default_factory=lambda: itertools.count(1))
    last: list[Outgoing] = field(default_factory=list)

    def _send(self, **content) -> list[Outgoing]:
        event_id = content.pop("event_id", None) or f"{self.user_id}-{next(self.events)}"
        incoming = Incoming(channel=self.channel, user_id=self.user_id,
                            chat_id=self.chat_id or self.user_id, event_id=event_id,
                            chat_kind=self.chat_kind, **content)
        replies = self.dispatcher.dispatch(incoming)
        for reply in replies:
            check_buttons(reply)
        if replies:
            self.last = replies
        return replies

    def say(self, text: str, **extra) -> list[Outgoing]:
        return self._send(text=text, **extra)

    def act(self, action: str, **extra) -> list[Outgoing]:
        return self._send(action=action, **extra)

    def send_file(self, content: bytes, *, filename: str = "evidence.pdf",
                  mime_type: str = "application/pdf", kind: str = "document") -> list[Outgoing]:
        return self._send(attachment=Attachment(kind, content, mime_type, filename))

    @property
    def choices(self) -> list[Choice]:
        return [choice for reply in self.last for choice in reply.choices]

    def choice(self, label: str) -> Choice:
        found = [c for c in self.choices if c.label == label]
        assert found, f"no choice {label!r} in {[c.label for c in self.choices]}"
        return found[0]

    def press(self, label: str) -> list[Outgoing]:
        return self.act(self.choice(label).action)

    @property
    def text(self) -> str:
        return render(self.last)[0]


@dataclass
class Office:
    """The demo office on a test database, with helpers to bind chat identities."""

    database: object
    dispatcher: Dispatcher
    clock: Clock
    evidence_root: Path

    def member(self, name: str) -> Member:
        with self.database.transaction() as session:
            return session.exec(select(Member).where(Member.name == name)).one()

    def chat(self, name: str, *, channel: str = "console") -> Chat:
        """A chat already bound to member ``name``."""
        member = self.member(name)
        user_id = f"{channel}-{member.id}"
        with self.database.transaction() as session:
            bind_identity(session=session, member=member, channel=channel,
                          platform_user_id=user_id)
        return Chat(self.dispatcher, channel, user_id)

    def stranger(self, user_id: str = "stranger-1", *, channel: str = "console") -> Chat:
        return Chat(self.dispatcher, channel, user_id)

    def invite(self, *, role: Role = Role.STAFF, section: str | None = "規劃課",
               name: str | None = None, valid_for: timedelta = timedelta(days=14)) -> str:
        with self.database.transaction() as session:
            agency = ensure_demo_agency(session=session)
            the_section = get_section(session=session, agency=agency, name=section) \
                if section else None
            return create_invitation(session=session, agency=agency, role=role,
                                     now=self.clock.now, section=the_section,
                                     member_name=name, valid_for=valid_for).code

    def add_member(self, name: str, section: str, role: Role = Role.STAFF) -> Member:
        from storage.org import add_member

        with self.database.transaction() as session:
            agency = ensure_demo_agency(session=session)
            return add_member(session=session, agency=agency, name=name, role=role,
                              section=get_section(session=session, agency=agency, name=section))

    def outbox(self) -> list[OutboxMessage]:
        with self.database.transaction() as session:
            return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def office(database, clock, tmp_path) -> Office:
    with database.transaction() as session:
        ensure_demo_agency(session=session)
    root = tmp_path / "evidence"
    config = FlowConfig(evidence=EvidenceStore(root), max_evidence_bytes=1024 * 1024)
    return Office(database, Dispatcher(database, config, clock=clock), clock, root)
