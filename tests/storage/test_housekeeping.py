"""What is kept only for a while goes after its retention; nothing else does (issue #15,
finding 4: processed_events, states and delivered outbox rows were never pruned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from storage.conversations import record_event
from storage.housekeeping import prune
from storage.models import (
    CodeFailure,
    ConversationState,
    OutboxMessage,
    OutboxStatus,
    ProcessedEvent,
    ReminderLog,
)
from storage.outbox import enqueue

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_prune_keeps_what_is_recent_or_undelivered(database):
    with database.transaction() as session:
        record_event(session=session, channel="telegram", event_id="1:u1",
                     now=NOW - timedelta(days=15))
        record_event(session=session, channel="telegram", event_id="1:u2",
                     now=NOW - timedelta(days=13))
        for key, status, age in (("old-sent", OutboxStatus.SENT, 91),
                                 ("new-sent", OutboxStatus.SENT, 89),
                                 ("old-pending", OutboxStatus.PENDING, 200),
                                 ("old-held", OutboxStatus.HELD, 200)):
            enqueue(session=session, destination=("line", "U1"), payload={"text": key},
                    key=key, now=NOW - timedelta(days=age))
            row = session.exec(select(OutboxMessage).where(
                OutboxMessage.idempotency_key == key)).one()
            row.status = status
            session.add(row)
            if key == "old-sent":
                session.flush()
                session.add(ReminderLog(kind="start", period="115Q4", recipient="line:U1",
                                        outbox_id=row.id, sent_at=NOW - timedelta(days=91)))
        session.add(ConversationState(channel="line", platform_user_id="U-old", state={},
                                      updated_at=NOW - timedelta(days=401)))
        session.add(ConversationState(channel="line", platform_user_id="U-new", state={},
                                      updated_at=NOW - timedelta(days=30)))
        session.add(CodeFailure(scope="all", failed_at=NOW - timedelta(days=2)))
        session.add(CodeFailure(scope="all", failed_at=NOW - timedelta(minutes=5)))
    with database.transaction() as session:
        assert prune(session=session, now=NOW) == {
            "processed_events": 1, "outbox": 1, "conversation_states": 1, "code_failures": 1}
    with database.transaction() as session:
        assert [e.event_id for e in session.exec(select(ProcessedEvent))] == ["1:u2"]
        assert sorted(m.idempotency_key for m in session.exec(select(OutboxMessage))) == [
            "new-sent", "old-held", "old-pending"]
        log = session.exec(select(ReminderLog)).one()
        assert log.outbox_id is None  # the "sent once" record stays
        assert [s.platform_user_id for s in session.exec(select(ConversationState))] == [
            "U-new"]
    with database.transaction() as session:
        assert set(prune(session=session, now=NOW).values()) == {0}
