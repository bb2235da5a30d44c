"""Single-use invitation codes: how a chat identity or a group chat gets a role."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.errors import InvitationError, InvitationProblem
from storage.models import Agency, ChatIdentity, InvitationCode, Member, Role, Section
from storage.org import add_member, bind_identity

#: No 0/O, 1/I/L: codes are read off paper and typed on phones.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # 31**10 ≈ 2**49.5 possible codes
DEFAULT_VALIDITY = timedelta(days=14)


def normalize_code(text: str) -> str:
    """What the user typed, as a stored code: full-width → ASCII, upper case, no spaces/dashes."""
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in text if ch.isalnum())


def format_code(code: str) -> str:
    """A code for reading aloud: ``ABCDE-FGHJK``."""
    return f"{code[:5]}-{code[5:]}" if len(code) == CODE_LENGTH else code


def looks_like_code(text: str) -> bool:
    """Whether ``text`` could be an invitation code (used to answer a stranger helpfully)."""
    code = normalize_code(text)
    return len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code)


def create_invitation(*, session: Session, agency: Agency, role: Role, now: datetime,
                      section: Section | None = None, member_name: str | None = None,
                      member: Member | None = None,
                      valid_for: timedelta = DEFAULT_VALIDITY) -> InvitationCode:
    """A new code for ``role``; with ``member`` it binds another channel of that member."""
    assert agency.id is not None
    invitation = InvitationCode(
        code="".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)),
        agency_id=agency.id,
        section_id=section.id if section else (member.section_id if member else None),
        member_id=member.id if member else None,
        member_name=member_name,
        role=member.role if member else role,
        expires_at=now + valid_for,
        created_at=now,
    )
    session.add(invitation)
    session.flush()
    return invitation


def check_invitation(*, session: Session, text: str, now: datetime) -> InvitationCode:
    """The usable invitation ``text`` names; InvitationError with the reason otherwise."""
    invitation = session.exec(
        select(InvitationCode).where(InvitationCode.code == normalize_code(text))
        .with_for_update()
    ).first()
    if invitation is None:
        raise InvitationError(InvitationProblem.UNKNOWN)
    if invitation.revoked_at is not None:
        raise InvitationError(InvitationProblem.REVOKED)
    if invitation.used_at is not None:
        raise InvitationError(InvitationProblem.USED)
    if invitation.expires_at <= now:
        raise InvitationError(InvitationProblem.EXPIRED)
    return invitation


def placeholder_name(channel: str, platform_user_id: str) -> str:
    """The name of a member bound with neither a name on the code nor a profile name."""
    return f"{channel} {platform_user_id[-4:]}"


def adopt_display_name(*, session: Session, member: Member, channel: str,
                       platform_user_id: str, display_name: str | None) -> bool:
    """A member still called by the placeholder takes the platform profile's name (read at a
    later follow); a name someone gave is never replaced. True if renamed."""
    if not display_name or member.name != placeholder_name(channel, platform_user_id):
        return False
    member.name = display_name
    session.add(member)
    return True


def redeem_for_identity(*, session: Session, text: str, channel: str, platform_user_id: str,
                        display_name: str | None, now: datetime) -> Member:
    """Use up the code ``text``: bind this chat identity to its member (created if needed)."""
    invitation = check_invitation(session=session, text=text, now=now)
    member: Member | None = None
    if invitation.member_id is not None:
        member = session.get(Member, invitation.member_id)
    if member is None:
        agency = session.get(Agency, invitation.agency_id)
        section = session.get(Section, invitation.section_id) if invitation.section_id else None
        assert agency is not None
        name = invitation.member_name or display_name \
            or placeholder_name(channel, platform_user_id)
        member = add_member(session=session, agency=agency, name=name,
                            role=Role(invitation.role), section=section)
    identity = bind_identity(session=session, member=member, channel=channel,
                             platform_user_id=platform_user_id)
    _use(invitation, identity, now)
    session.add(invitation)
    return member


def _use(invitation: InvitationCode, identity: ChatIdentity | None, now: datetime) -> None:
    invitation.used_at = now
    invitation.used_by_identity_id = identity.id if identity else None
