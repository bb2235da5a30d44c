"""Processed event ids and per-identity conversation state (locked for the event's length)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from storage.models import ConversationState, ProcessedEvent


def _insert(session: Session, table: type) -> sa.Insert:
    dialect = session.get_bind().dialect.name
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    return factory(table)  # type: ignore[no-any-return]


def record_event(*, session: Session, channel: str, event_id: str, now: datetime) -> bool:
    """Note that ``event_id`` is being handled; False if it was handled before (a redelivery).

    On PostgreSQL a concurrent transaction holding the same id makes this wait until it ends,
    so a redelivery racing the original is still dropped.
    """
    statement = _insert(session, ProcessedEvent).values(
        channel=channel, event_id=event_id, processed_at=now
    ).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["channel", "event_id"]
    ).returning(ProcessedEvent.event_id)
    # RETURNING, not rowcount: the ORM path reports rowcount -1 for this statement on psycopg.
    return session.execute(statement).first() is not None


def lock_state(*, session: Session, channel: str, user_id: str,
               now: datetime) -> ConversationState:
    """The conversation state of (channel, user), created if new and locked until commit."""
    statement = _insert(session, ConversationState).values(
        channel=channel, platform_user_id=user_id, schema_version=1, state={}, updated_at=now
    ).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["channel", "platform_user_id"])
    session.execute(statement)
    row = session.exec(
        select(ConversationState)
        .where(ConversationState.channel == channel,
               ConversationState.platform_user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return row
