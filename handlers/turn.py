"""One event being handled: its session, clock reading, member, state and replies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from handlers.messages import Attachment, Card, Choice, Incoming, Outgoing
from handlers.state import State
from handlers.tokens import Token
from rubric.calendar import ScheduleConfig, WorkCalendar
from storage.evidence import EvidenceStore, EvidenceStoreError
from storage.models import Member, Role
from storage.outbox import Destination, enqueue, notify_secretariat


@dataclass(frozen=True)
class FlowConfig:
    """What the flows need from the settings."""

    evidence: EvidenceStore
    max_evidence_bytes: int = 20 * 1024 * 1024
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)


@dataclass
class Turn:
    """Everything one event's handling reads and writes; created by the dispatcher."""

    session: Session
    incoming: Incoming
    now: datetime
    state: State
    config: FlowConfig
    member: Member | None
    previous_step: int
    replies: list[Outgoing] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: undone when the event's transaction does not commit (files stored for its rows)
    on_rollback: list[Callable[[], None]] = field(default_factory=list)
    #: what a flow read once in this event and reads again (the sheet a step wrote and its
    #: window then draws); gone with the event
    memo: dict[str, Any] = field(default_factory=dict)

    def keep_file(self, attachment: Attachment) -> tuple[str, str]:
        """Put the attachment's bytes in the evidence store; its sha256 and relative path.

        A file new to the store is removed again if the transaction does not commit, so no
        file is left behind without its row. Raises EvidenceStoreError.
        """
        store = self.config.evidence
        if attachment.store_failed:
            raise EvidenceStoreError("the upload could not be spooled to the evidence store")
        if attachment.spooled is not None and attachment.digest is not None:
            digest, relative, new = store.adopt(attachment.spooled, attachment.digest)
        else:
            digest, relative, new = store.put(attachment.content)
        if new:
            self.on_rollback.append(lambda: store.remove(relative))
        return digest, relative

    def defer(self, work: Callable[[], None]) -> None:
        """Run ``work`` after the event's transaction has committed (it may add replies).

        For slow work that writes nothing — rendering documents — so that no database lock
        is held while it runs.
        """
        self.after_commit.append(work)

    @property
    def is_secretariat(self) -> bool:
        """Whether the member may act for the secretariat."""
        return self.member is not None and self.member.role in (Role.SECRETARIAT, Role.ADMIN)

    def say(self, text: str, choices: list[Choice] | tuple[Choice, ...] = (), *,
            card: Card | None = None) -> None:
        """Reply to the sender."""
        self.replies.append(Outgoing(text=text, choices=tuple(choices), card=card))

    def choice(self, label: str, verb: str, *args: object) -> Choice:
        """A button whose token is valid until the conversation moves on."""
        return Choice(label, Token(self.state.step, verb, tuple(str(a) for a in args)).encode())

    def menu_choice(self, label: str, entry: str) -> Choice:
        """A button that stays valid in old messages (menu entries carry no step)."""
        return Choice(label, Token(0, "m", (entry,)).encode())

    def notify_secretariat(self, agency_id: int, message: Outgoing, key: str) -> None:
        """Queue ``message`` for the agency's secretariat; held until it has a chat."""
        notify_secretariat(session=self.session, agency_id=agency_id,
                           payload=message.to_payload(), key=key, now=self.now)

    def notify(self, destinations: list[Destination], message: Outgoing, key: str) -> None:
        """Queue ``message`` for each destination (delivered once per destination)."""
        agency_id = self.member.agency_id if self.member else None
        for destination in destinations:
            unique = hashlib.sha256(f"{key}|{destination[0]}|{destination[1]}".encode()).hexdigest()
            enqueue(session=self.session, destination=destination,
                    payload=message.to_payload(), key=unique, now=self.now, agency_id=agency_id)
