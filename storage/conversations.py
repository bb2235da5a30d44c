"""Processed event ids and per-identity conversation state (locked for the event's length)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.models import ConversationState, ProcessedEvent
from storage.upsert import insert_ignoring


def record_event(*, session: Session, channel: str, event_id: str, now: datetime) -> bool:
    """Note that ``event_id`` is being handled; False if it was handled before (a redelivery).

    On PostgreSQL a concurrent transaction holding the same id makes this wait until it ends,
    so a redelivery racing the original is still dropped.
    """
    inserted = insert_ignoring(session, ProcessedEvent,
                               {"channel": channel, "event_id": event_id, "processed_at": now},
                               conflict=("channel", "event_id"), returning="event_id")
    return inserted is not None


def read_state(*, session: Session, channel: str, user_id: str) -> dict[str, Any] | None:
    """The state document of (channel, user) as it stands, unlocked; None if there is none."""
    row = session.exec(select(ConversationState).where(
        ConversationState.channel == channel,
        ConversationState.platform_user_id == user_id)).first()
    return None if row is None else row.state


def lock_state(*, session: Session, channel: str, user_id: str,
               now: datetime) -> ConversationState:
    """The conversation state of (channel, user), created if new and locked until commit."""
    query = (select(ConversationState)
             .where(ConversationState.channel == channel,
                    ConversationState.platform_user_id == user_id)
             .with_for_update()
             .execution_options(populate_existing=True))
    row = session.exec(query).first()
    if row is not None:
        return row
    insert_ignoring(session, ConversationState,
                    {"channel": channel, "platform_user_id": user_id, "schema_version": 1,
                     "state": {}, "updated_at": now},
                    conflict=("channel", "platform_user_id"))
    return session.exec(query).one()
