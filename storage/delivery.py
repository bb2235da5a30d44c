"""The outbox sender's side of storage: claiming due rows and recording what happened."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from storage.models import ChatBinding, ChatIdentity, OutboxMessage, OutboxStatus

LEASE = timedelta(seconds=60)


def claim_due(*, session: Session, channels: Collection[str], now: datetime,
              limit: int = 50, lease: timedelta = LEASE) -> Sequence[OutboxMessage]:
    """Pending rows of ``channels`` that are due, leased for a minute to this sender.

    On PostgreSQL ``SKIP LOCKED`` lets several senders drain one outbox without taking the
    same row; the lease (``next_attempt_at`` moved forward) makes a row whose sender died
    mid-send due again later. A sender still busy renews it (:func:`renew_lease`).
    """
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING,
               col(OutboxMessage.channel).in_(list(channels)),
               OutboxMessage.next_attempt_at <= now)
        .order_by(col(OutboxMessage.id)).limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    rows = list(rows)
    # A multicast batch goes out whole or not at all: take its due siblings too, so a retry
    # repeats the very request (and retry key) it made before.
    batches = {row.batch_key for row in rows if row.batch_key is not None}
    if batches:
        rows += session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.batch_key).in_(batches),
                   col(OutboxMessage.id).not_in([row.id for row in rows]),
                   OutboxMessage.status == OutboxStatus.PENDING,
                   OutboxMessage.next_attempt_at <= now)
            .with_for_update(skip_locked=True)).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
        session.add(row)
    return rows


def assign_batch(*, session: Session, row_ids: Collection[int], batch_key: str) -> None:
    """Record that these rows go out together in one multicast, under ``batch_key``."""
    for row in session.exec(select(OutboxMessage).where(
            col(OutboxMessage.id).in_(list(row_ids)))).all():
        row.batch_key = batch_key
        session.add(row)


def renew_lease(*, session: Session, row_ids: Collection[int], held_until: datetime,
                until: datetime) -> int:
    """Extend this sender's lease on the rows it is still sending: those of ``row_ids`` that
    are pending with exactly the lease ``held_until`` it set (a row it has finished, or one
    rescheduled meanwhile, has another time and is left alone). Returns how many."""
    rows = session.exec(
        select(OutboxMessage).where(col(OutboxMessage.id).in_(list(row_ids)),
                                    OutboxMessage.status == OutboxStatus.PENDING,
                                    OutboxMessage.next_attempt_at == held_until)
        .with_for_update()).all()
    for row in rows:
        row.next_attempt_at = until
        session.add(row)
    return len(rows)


def mark_sent(*, session: Session, row_id: int, now: datetime) -> None:
    """The row was delivered."""
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
        session.add(row)


def mark_progress(*, session: Session, row_id: int, parts_sent: int) -> None:
    """The first ``parts_sent`` parts of the row's message were delivered."""
    row = session.get(OutboxMessage, row_id)
    if row is not None and row.parts_sent < parts_sent:
        row.parts_sent = parts_sent
        session.add(row)


def mark_retry(*, session: Session, row_id: int, when: datetime, error: str) -> None:
    """Try the row again at ``when``."""
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.next_attempt_at, row.last_error = when, error[:500]
        session.add(row)


def mark_failed(*, session: Session, row_id: int, error: str) -> OutboxMessage | None:
    """Give up on the row (kept, with the reason, for the secretariat to see)."""
    row = session.get(OutboxMessage, row_id)
    if row is not None:
        row.status, row.last_error = OutboxStatus.FAILED, error[:500]
        session.add(row)
    return row


def mark_unreachable(*, session: Session, channel: str, destination: str,
                     now: datetime) -> str | None:
    """Flag the identity or group chat at ``destination``; return who it was, for the notice."""
    identity = session.exec(select(ChatIdentity).where(
        ChatIdentity.channel == channel, ChatIdentity.platform_user_id == destination)).first()
    if identity is not None:
        identity.unreachable_since = identity.unreachable_since or now
        session.add(identity)
        return f"member:{identity.member_id}"
    binding = session.exec(select(ChatBinding).where(
        ChatBinding.channel == channel, ChatBinding.chat_id == destination)).first()
    if binding is not None:
        binding.unreachable_since = binding.unreachable_since or now
        session.add(binding)
        return f"group:{binding.id}"
    return None
