"""Forgetting a member: their chat identities and personal data go, the section's scores stay.

Answers, their revisions and assessments keep the member's id (``answered_by_member_id``,
``changed_by_member_id`` …), so totals and the history of who changed what remain; the id
then points at a row that no longer says who the person was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import (
    AuditEvent,
    ChatIdentity,
    ConversationState,
    InvitationCode,
    Member,
    OutboxMessage,
    PhoneCourtesyTest,
    ReminderLog,
)

FORGOTTEN_NAME = "已刪除的同仁 #{id}"


@dataclass(frozen=True)
class ForgetReport:
    """What :func:`forget_member` removed or blanked, as counts (never the old values)."""

    member_id: int
    placeholder: str
    identities: int
    conversations: int
    outbox_removed: int
    outbox_scrubbed: int
    invitations: int
    phone_tests: int

    def as_detail(self) -> dict[str, int]:
        """The counts for the audit event's detail."""
        return {"identities": self.identities, "conversations": self.conversations,
                "outbox_removed": self.outbox_removed, "outbox_scrubbed": self.outbox_scrubbed,
                "invitations": self.invitations, "phone_tests": self.phone_tests}


def forgotten_name(member_id: int) -> str:
    """The name a forgotten member is shown under."""
    return FORGOTTEN_NAME.format(id=member_id)


def _replace_text(value: Any, old: str, new: str) -> Any:
    """``value`` (JSON) with every occurrence of ``old`` in its strings replaced by ``new``."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_text(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_text(item, old, new) for key, item in value.items()}
    return value


def forget_member(*, session: Session, member: Member, actor_name: str,
                  now: datetime) -> ForgetReport:
    """Delete ``member``'s chat identities and blank their personal data; keep the scores.

    Removed: the chat identities and their conversation states, every outbox row addressed
    to those identities (whatever its status: the address itself is personal data), and the
    invitation codes that name the member or were redeemed by their identities. Blanked: the
    name (to ``已刪除的同仁 #<id>``, also inside other queued messages and in phone tests
    that name them); the member is made inactive. Appended: an ``AuditEvent`` whose detail
    holds only counts. The caller commits.
    """
    assert member.id is not None
    old_name = member.name
    placeholder = forgotten_name(member.id)
    identities = session.exec(
        select(ChatIdentity).where(ChatIdentity.member_id == member.id)
        .order_by(col(ChatIdentity.id))
    ).all()
    identity_ids = [i.id for i in identities]
    addresses = [(i.channel, i.platform_user_id) for i in identities]

    naming = (col(InvitationCode.member_id) == member.id) | sa.and_(
        col(InvitationCode.agency_id) == member.agency_id,
        col(InvitationCode.member_name) == old_name)
    if identity_ids:
        naming = naming | col(InvitationCode.used_by_identity_id).in_(identity_ids)
    invitations = session.exec(select(InvitationCode).where(naming)).all()
    for invitation in invitations:
        session.delete(invitation)

    outbox_removed = 0
    conversations = 0
    for channel, user_id in addresses:
        addressed = session.exec(select(OutboxMessage).where(
            OutboxMessage.channel == channel, OutboxMessage.destination == user_id)).all()
        for message in addressed:
            # The sent-reminder log keeps its "already sent" fact without the message.
            for entry in session.exec(select(ReminderLog)
                                      .where(ReminderLog.outbox_id == message.id)).all():
                entry.outbox_id = None
                session.add(entry)
            session.delete(message)
        outbox_removed += len(addressed)
        result = session.execute(sa.delete(ConversationState).where(
            col(ConversationState.channel) == channel,
            col(ConversationState.platform_user_id) == user_id))
        conversations += result.rowcount or 0  # type: ignore[attr-defined]
    session.flush()

    outbox_scrubbed = 0
    if len(old_name) >= 2:  # a one-letter name would match inside unrelated words
        # Searched in Python: SQLite keeps JSON with \u escapes, so SQL LIKE would miss it.
        for message in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))):
            if old_name in json.dumps(message.payload, ensure_ascii=False):
                message.payload = _replace_text(message.payload, old_name, placeholder)
                session.add(message)
                outbox_scrubbed += 1

    phone_tests = 0
    tests = session.exec(select(PhoneCourtesyTest).where(
        PhoneCourtesyTest.agency_id == member.agency_id,
        (col(PhoneCourtesyTest.person_tested) == old_name)
        | (col(PhoneCourtesyTest.tester) == old_name))).all()
    for test in tests:
        if test.person_tested == old_name:
            test.person_tested = placeholder
        if test.tester == old_name:
            test.tester = placeholder
        session.add(test)
        phone_tests += 1

    for identity in identities:
        session.delete(identity)
    member.name = placeholder
    member.active = False
    session.add(member)
    session.flush()

    report = ForgetReport(
        member_id=member.id, placeholder=placeholder, identities=len(identities),
        conversations=conversations, outbox_removed=outbox_removed,
        outbox_scrubbed=outbox_scrubbed, invitations=len(invitations),
        phone_tests=phone_tests)
    session.add(AuditEvent(
        agency_id=member.agency_id, actor_member_id=None, action="member.forget",
        subject=f"member:{member.id}", detail={"actor": actor_name, **report.as_detail()},
        at=now))
    session.flush()
    return report
