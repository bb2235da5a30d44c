"""Housekeeping: what sqbot keeps only for a while.

- ``processed_events`` exist to drop a platform's redelivery. Telegram keeps an update for at
  most 24 hours and LINE redelivers within hours, so 14 days is far past both windows; kept
  for ever, the table only grows, and update ids that start again (a new bot token) would be
  taken for redeliveries.
- Delivered (or given up, or released) outbox rows are a record of what went out: 90 days.
- Wrong invitation codes (``code_failures``) count for an hour at most: kept a day.
- A conversation state untouched for 400 days (past a whole yearly cycle) only says where
  someone stood in a flow long finished; the answers themselves are never pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.lockout import prune_failures
from storage.models import (
    ConversationState,
    OutboxMessage,
    OutboxStatus,
    ProcessedEvent,
    ReminderLog,
)

PROCESSED_EVENTS_DAYS = 14
OUTBOX_DAYS = 90
STATE_DAYS = 400


def prune(*, session: Session, now: datetime) -> dict[str, int]:
    """Delete what is past its retention; how many rows of each kind went."""
    events = session.execute(sa.delete(ProcessedEvent).where(
        col(ProcessedEvent.processed_at) < now - timedelta(days=PROCESSED_EVENTS_DAYS)))
    done = sa.and_(col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.FAILED,
                                                  OutboxStatus.RELEASED]),
                   col(OutboxMessage.created_at) < now - timedelta(days=OUTBOX_DAYS))
    # The reminder log keeps its "sent once" rows; only their link to the message goes.
    session.execute(sa.update(ReminderLog).where(
        col(ReminderLog.outbox_id).in_(sa.select(col(OutboxMessage.id)).where(done)))
        .values(outbox_id=None))
    outbox = session.execute(sa.delete(OutboxMessage).where(done))
    states = session.execute(sa.delete(ConversationState).where(
        col(ConversationState.updated_at) < now - timedelta(days=STATE_DAYS)))
    failures = prune_failures(session=session, now=now)
    return {"processed_events": events.rowcount, "outbox": outbox.rowcount,  # type: ignore[attr-defined]
            "conversation_states": states.rowcount, "code_failures": failures}  # type: ignore[attr-defined]
