"""The sent-reminder log: (kind, period, recipient) is unique, so nothing goes out twice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.conversations import _insert
from storage.models import ReminderLog


def claim_reminder(*, session: Session, kind: str, period: str, recipient: str,
                   now: datetime) -> bool:
    """Record that this reminder goes to ``recipient`` now; False if it already went."""
    statement = _insert(session, ReminderLog).values(
        kind=kind[:32], period=period[:16], recipient=recipient[:128], sent_at=now
    ).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["kind", "period", "recipient"]
    ).returning(ReminderLog.id)
    return session.execute(statement).first() is not None
