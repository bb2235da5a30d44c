"""Agencies, sections, members and their chat identities; the demo office."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.errors import NotFound
from storage.models import Agency, ChatBinding, ChatIdentity, Member, Role, Section

DEMO_AGENCY = "經濟部水利署第十河川局"
#: The seed names 秘書室 (it runs the assessment) and 員山子分洪管理中心 (it is assessed);
#: the other sections are demo data chosen to look like a river management office.
DEMO_SECTIONS: tuple[tuple[str, bool], ...] = (
    ("秘書室", True),
    ("規劃課", True),
    ("工務課", True),
    ("管理課", True),
    ("資產課", True),
    ("人事室", True),
    ("主計室", True),
    ("政風室", True),
    ("員山子分洪管理中心", True),
)
#: Fictional people so the demo can be tried at once (`sqbot chat --as 王小明`).
DEMO_MEMBERS: tuple[tuple[str, str, Role], ...] = (
    ("規劃課", "王小明", Role.STAFF),
    ("規劃課", "林課長", Role.SECTION_HEAD),
    ("秘書室", "陳秘書", Role.SECRETARIAT),
)


def create_agency(*, session: Session, name: str, rubric_year: int | None = None) -> Agency:
    """Add an agency; the caller commits."""
    agency = Agency(name=name, rubric_year=rubric_year)
    session.add(agency)
    session.flush()
    return agency


def get_agency(*, session: Session, name: str) -> Agency:
    """The agency called ``name``; NotFound otherwise."""
    agency = session.exec(select(Agency).where(Agency.name == name)).first()
    if agency is None:
        raise NotFound("agency", name)
    return agency


def list_agencies(*, session: Session) -> Sequence[Agency]:
    """Every agency, by id."""
    return session.exec(select(Agency).order_by(col(Agency.id))).all()


def the_only_agency(*, session: Session) -> Agency:
    """The agency of a single-office installation; NotFound if there are none or several."""
    agencies = list_agencies(session=session)
    if len(agencies) != 1:
        raise NotFound("single agency", f"{len(agencies)} agencies exist")
    return agencies[0]


def add_section(*, session: Session, agency: Agency, name: str, position: int | None = None,
                assessed: bool = True) -> Section:
    """Add a section to ``agency`` (at the end unless ``position`` is given)."""
    assert agency.id is not None
    if position is None:
        position = len(list_sections(session=session, agency=agency)) + 1
    section = Section(agency_id=agency.id, name=name, position=position, assessed=assessed)
    session.add(section)
    session.flush()
    return section


def list_sections(*, session: Session, agency: Agency) -> Sequence[Section]:
    """Sections of ``agency`` in their 編號 order."""
    return session.exec(
        select(Section).where(Section.agency_id == agency.id)
        .order_by(col(Section.position), col(Section.id))
    ).all()


def get_section(*, session: Session, agency: Agency, name: str) -> Section:
    """The section of ``agency`` called ``name``; NotFound otherwise."""
    section = session.exec(
        select(Section).where(Section.agency_id == agency.id, Section.name == name)
    ).first()
    if section is None:
        raise NotFound("section", name)
    return section


def add_member(*, session: Session, agency: Agency, name: str, role: Role,
               section: Section | None = None) -> Member:
    """Add a member; the caller commits."""
    assert agency.id is not None
    member = Member(agency_id=agency.id, section_id=section.id if section else None,
                    name=name, role=role)
    session.add(member)
    session.flush()
    return member


def find_member(*, session: Session, agency: Agency, name: str) -> Member:
    """The active member of ``agency`` called ``name``; NotFound if none or ambiguous."""
    members = session.exec(
        select(Member).where(Member.agency_id == agency.id, Member.name == name,
                             col(Member.active).is_(True))
    ).all()
    if len(members) != 1:
        raise NotFound("member", name)
    return members[0]


def member_for_identity(*, session: Session, channel: str,
                        platform_user_id: str) -> Member | None:
    """The active member bound to this chat identity, or None for a stranger."""
    return session.exec(
        select(Member).join(ChatIdentity, col(ChatIdentity.member_id) == col(Member.id))
        .where(ChatIdentity.channel == channel,
               ChatIdentity.platform_user_id == platform_user_id,
               col(Member.active).is_(True))
    ).first()


def bind_identity(*, session: Session, member: Member, channel: str,
                  platform_user_id: str) -> ChatIdentity:
    """Link a chat identity to ``member``; a member may have one per channel."""
    assert member.id is not None
    identity = ChatIdentity(member_id=member.id, channel=channel,
                            platform_user_id=platform_user_id)
    session.add(identity)
    session.flush()
    return identity


def binding_for_chat(*, session: Session, channel: str, chat_id: str) -> ChatBinding | None:
    """The binding of a group chat, or None when the group is not bound."""
    return session.exec(
        select(ChatBinding).where(ChatBinding.channel == channel, ChatBinding.chat_id == chat_id)
    ).first()


def ensure_demo_agency(*, session: Session, rubric_year: int | None = None) -> Agency:
    """Create the seed's office with its sections and demo members (idempotent)."""
    agency = session.exec(select(Agency).where(Agency.name == DEMO_AGENCY)).first()
    if agency is None:
        agency = create_agency(session=session, name=DEMO_AGENCY, rubric_year=rubric_year)
        for position, (name, assessed) in enumerate(DEMO_SECTIONS, start=1):
            add_section(session=session, agency=agency, name=name, position=position,
                        assessed=assessed)
    for section_name, person, role in DEMO_MEMBERS:
        exists = session.exec(select(Member).where(Member.agency_id == agency.id,
                                                   Member.name == person)).first()
        if exists is None:
            add_member(session=session, agency=agency, name=person, role=role,
                       section=get_section(session=session, agency=agency, name=section_name))
    return agency


def set_identity_reachable(*, session: Session, channel: str, platform_user_id: str,
                           reachable: bool, now: datetime) -> ChatIdentity | None:
    """Record that a chat identity blocked (unfollowed) or came back to the bot."""
    identity = session.exec(select(ChatIdentity).where(
        ChatIdentity.channel == channel,
        ChatIdentity.platform_user_id == platform_user_id)).first()
    if identity is not None:
        identity.unreachable_since = None if reachable else (identity.unreachable_since or now)
        session.add(identity)
    return identity


def unbind_chat(*, session: Session, channel: str, chat_id: str) -> ChatBinding | None:
    """Remove a group chat's binding (the bot was removed from the group)."""
    binding = binding_for_chat(session=session, channel=channel, chat_id=chat_id)
    if binding is not None:
        session.delete(binding)
        session.flush()
    return binding
