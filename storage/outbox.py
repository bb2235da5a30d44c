"""The outbox: messages for someone other than the sender, written in the event's transaction.

The outbox sender (in bot/) delivers each row once; the idempotency key makes enqueueing the
same notice twice harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import ChatBinding, ChatIdentity, Member, OutboxMessage, OutboxStatus, Role
from storage.upsert import insert_ignoring

Destination = tuple[str, str]  # (channel, chat or user id)


def enqueue(*, session: Session, destination: Destination, payload: dict[str, Any], key: str,
            now: datetime, agency_id: int | None = None, parts_sent: int = 0) -> bool:
    """Queue ``payload`` for ``destination``; False if ``key`` was queued before.

    ``parts_sent``: how many of the message's parts already went out (a reply whose text
    was delivered and whose file failed), so the outbox sends only the rest."""
    channel, chat_id = destination
    inserted = insert_ignoring(
        session, OutboxMessage,
        {"agency_id": agency_id, "channel": channel, "destination": chat_id, "payload": payload,
         "idempotency_key": key[:64], "status": "pending", "attempts": 0,
         "parts_sent": parts_sent,
         "next_attempt_at": now, "created_at": now},
        conflict=("idempotency_key",), returning="id")
    return inserted is not None


def member_destinations(*, session: Session, member_id: int) -> list[Destination]:
    """Every reachable chat identity of a member."""
    identities = session.exec(
        select(ChatIdentity).where(ChatIdentity.member_id == member_id,
                                   col(ChatIdentity.unreachable_since).is_(None))
        .order_by(col(ChatIdentity.id))
    ).all()
    return [(i.channel, i.platform_user_id) for i in identities]


def secretariat_destinations(*, session: Session, agency_id: int) -> list[Destination]:
    """The agency's bound secretariat group chats; without one, each secretariat member."""
    groups = session.exec(
        select(ChatBinding).where(ChatBinding.agency_id == agency_id,
                                  ChatBinding.role == Role.SECRETARIAT,
                                  col(ChatBinding.unreachable_since).is_(None))
        .order_by(col(ChatBinding.id))
    ).all()
    if groups:
        return [(g.channel, g.chat_id) for g in groups]
    members: Sequence[Member] = session.exec(
        select(Member).where(Member.agency_id == agency_id, Member.role == Role.SECRETARIAT,
                             col(Member.active).is_(True)).order_by(col(Member.id))
    ).all()
    found: list[Destination] = []
    for member in members:
        assert member.id is not None
        found += member_destinations(session=session, member_id=member.id)
    return found


#: The channel of a held row: its destination is ``secretariat:<agency id>``.
HELD_CHANNEL = "held"


def notify_secretariat(*, session: Session, agency_id: int, payload: dict[str, Any], key: str,
                       now: datetime) -> int:
    """Queue ``payload`` for the agency's secretariat; with no destination yet (no group
    bound, no secretariat member with a chat), hold it until there is one, rather than
    dropping it. Returns the number of rows queued or held."""
    destinations = secretariat_destinations(session=session, agency_id=agency_id)
    if not destinations:
        inserted = insert_ignoring(
            session, OutboxMessage,
            {"agency_id": agency_id, "channel": HELD_CHANNEL,
             "destination": f"secretariat:{agency_id}", "payload": payload,
             "idempotency_key": _unique(key, "held"), "status": OutboxStatus.HELD,
             "attempts": 0, "next_attempt_at": now, "created_at": now},
            conflict=("idempotency_key",), returning="id")
        return int(inserted is not None)
    return sum(enqueue(session=session, destination=d, payload=payload,
                       key=_unique(key, f"{d[0]}|{d[1]}"), now=now, agency_id=agency_id)
               for d in destinations)


def release_held(*, session: Session, agency_id: int, now: datetime) -> int:
    """The secretariat has a chat now: queue every held notice of the agency to it, in the
    order they were held. Returns how many notices were released."""
    destinations = secretariat_destinations(session=session, agency_id=agency_id)
    if not destinations:
        return 0
    held = session.exec(
        select(OutboxMessage).where(OutboxMessage.agency_id == agency_id,
                                    OutboxMessage.status == OutboxStatus.HELD)
        .order_by(col(OutboxMessage.id)).with_for_update()).all()
    for row in held:
        for destination in destinations:
            enqueue(session=session, destination=destination, payload=row.payload,
                    key=_unique(row.idempotency_key, f"{destination[0]}|{destination[1]}"),
                    now=now, agency_id=agency_id)
        row.status = OutboxStatus.RELEASED
        row.sent_at = now
        session.add(row)
    return len(held)


def _unique(key: str, part: str) -> str:
    return hashlib.sha256(f"{key}|{part}".encode()).hexdigest()


def pending(*, session: Session, limit: int = 100) -> Sequence[OutboxMessage]:
    """Undelivered rows, oldest first."""
    return session.exec(
        select(OutboxMessage).where(OutboxMessage.status == "pending")
        .order_by(col(OutboxMessage.id)).limit(limit)
    ).all()
