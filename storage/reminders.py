"""The sent-reminder log: (kind, period, recipient) is unique, so nothing goes out twice."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import ReminderLog
from storage.upsert import insert_ignoring


def claim_reminder(*, session: Session, kind: str, period: str, recipient: str,
                   now: datetime) -> bool:
    """Record that this reminder goes to ``recipient`` now; False if it already went."""
    inserted = insert_ignoring(
        session, ReminderLog,
        {"kind": kind[:32], "period": period[:16], "recipient": recipient[:128], "sent_at": now},
        conflict=("kind", "period", "recipient"), returning="id")
    return inserted is not None
