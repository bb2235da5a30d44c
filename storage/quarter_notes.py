"""考核結果處理情形: one note per agency and quarter, set by the secretariat."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from storage.models import Member, QuarterNote

MAX_FOLLOW_UP = 500


def get_follow_up(*, session: Session, agency_id: int, roc_year: int, quarter: int) -> str:
    """The quarter's note, or "" when none was set."""
    note = session.exec(select(QuarterNote).where(
        QuarterNote.agency_id == agency_id, QuarterNote.roc_year == roc_year,
        QuarterNote.quarter == quarter)).first()
    return note.follow_up if note else ""


def set_follow_up(*, session: Session, agency_id: int, roc_year: int, quarter: int, text: str,
                  member: Member | None, now: datetime) -> QuarterNote:
    """Set (or replace) the quarter's note."""
    note = session.exec(select(QuarterNote).where(
        QuarterNote.agency_id == agency_id, QuarterNote.roc_year == roc_year,
        QuarterNote.quarter == quarter).with_for_update()).first()
    if note is None:
        note = QuarterNote(agency_id=agency_id, roc_year=roc_year, quarter=quarter,
                           follow_up=text, updated_at=now)
    note.follow_up = text
    note.updated_at = now
    note.updated_by_member_id = member.id if member else None
    session.add(note)
    session.flush()
    return note
