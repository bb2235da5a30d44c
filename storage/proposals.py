"""Innovation proposals (創意提案): drafts, submission with a reference number, decisions.

A proposal is written by one member (its proposer) as a draft, submitted to the
secretariat, and decided: adopted for implementation, not adopted, implemented, or sent
back for more information (the proposer edits it and submits it again, keeping its
reference number). Every submission and decision is kept in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Attachment, AuditEvent, Member, Proposal, ProposalStatus

#: The proposer may still change these.
EDITABLE = (ProposalStatus.DRAFT, ProposalStatus.MORE_INFO)
#: Adopted for implementation, or implemented: these count for the annual commendations.
ADOPTED = (ProposalStatus.ADOPTED, ProposalStatus.IMPLEMENTED)
#: The secretariat's decisions, and the states each may be taken from.
DECISIONS: Mapping[ProposalStatus, tuple[ProposalStatus, ...]] = {
    ProposalStatus.ADOPTED: (ProposalStatus.SUBMITTED,),
    ProposalStatus.REJECTED: (ProposalStatus.SUBMITTED,),
    ProposalStatus.MORE_INFO: (ProposalStatus.SUBMITTED,),
    ProposalStatus.IMPLEMENTED: (ProposalStatus.SUBMITTED, ProposalStatus.ADOPTED),
}
#: The text fields of 附錄1, in the template's order.
TEXT_FIELDS = ("title", "kind", "background", "solution", "benefits", "external_benefits",
               "internal_benefits", "process_integration", "ict_adoption", "evidence_note")
_REFERENCE_ATTEMPTS = 5


class ProposalStateError(ValueError):
    """The proposal is not in a state that allows this (e.g. decided twice)."""


def reference_for(roc_year: int, number: int) -> str:
    """``115-P-0003``: the year's third proposal."""
    return f"{roc_year}-P-{number:04d}"


def create_proposal(*, session: Session, proposer: Member, roc_year: int,
                    now: datetime) -> Proposal:
    """A new, empty draft of ``proposer`` (for their section)."""
    proposal = Proposal(agency_id=proposer.agency_id, section_id=proposer.section_id,
                        proposer_member_id=proposer.id, roc_year=roc_year,
                        status=ProposalStatus.DRAFT, created_at=now, updated_at=now)
    session.add(proposal)
    session.flush()
    return proposal


def get_proposal(*, session: Session, proposal_id: int) -> Proposal | None:
    """The proposal with this id, if any."""
    return session.get(Proposal, proposal_id)


def lock_proposal(*, session: Session, proposal_id: int) -> Proposal | None:
    """The proposal, locked until commit: two decisions on it go one after the other."""
    return session.exec(
        select(Proposal).where(Proposal.id == proposal_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def find_by_reference(*, session: Session, agency_id: int, reference: str) -> Proposal | None:
    """The agency's proposal with this reference number."""
    return session.exec(select(Proposal).where(Proposal.agency_id == agency_id,
                                               Proposal.reference == reference)).first()


def open_proposals(*, session: Session, proposer_member_id: int) -> Sequence[Proposal]:
    """The member's drafts and the proposals sent back to them, latest change first."""
    return session.exec(
        select(Proposal).where(Proposal.proposer_member_id == proposer_member_id,
                               col(Proposal.status).in_(EDITABLE))
        .order_by(col(Proposal.updated_at).desc(), col(Proposal.id).desc())
    ).all()


def update_proposal(*, session: Session, proposal: Proposal, values: Mapping[str, str | None],
                    member: Member, now: datetime) -> list[str]:
    """Set text fields of an editable proposal; return the names of those that changed."""
    if proposal.status not in EDITABLE:
        raise ProposalStateError(f"proposal {proposal.id} is {proposal.status}, not editable")
    unknown = set(values) - set(TEXT_FIELDS)
    if unknown:
        raise ValueError(f"not proposal text fields: {sorted(unknown)}")
    changed = [name for name, value in values.items() if getattr(proposal, name) != value]
    for name in changed:
        setattr(proposal, name, values[name])
    if changed:
        proposal.updated_at = now
        session.add(proposal)
        session.add(AuditEvent(agency_id=proposal.agency_id, actor_member_id=member.id,
                               action="proposal.edit", subject=f"proposal:{proposal.id}",
                               detail={"fields": changed}, at=now))
        session.flush()
    return changed


def add_proposal_attachment(*, session: Session, proposal: Proposal, attachment: Attachment,
                            member: Member, now: datetime) -> Attachment:
    """Keep a file with a proposal (its bytes are already in the evidence store)."""
    if proposal.status not in EDITABLE:
        raise ProposalStateError(f"proposal {proposal.id} is {proposal.status}, not editable")
    attachment.proposal_id = proposal.id
    attachment.answer_id = None
    attachment.uploaded_by_member_id = member.id
    attachment.created_at = now
    session.add(attachment)
    proposal.updated_at = now
    session.add(proposal)
    session.flush()
    return attachment


def proposal_attachments(*, session: Session, proposal_id: int) -> Sequence[Attachment]:
    """The files of a proposal, in the order they were sent."""
    return session.exec(select(Attachment).where(Attachment.proposal_id == proposal_id)
                        .order_by(col(Attachment.id))).all()


def _next_number(session: Session, roc_year: int) -> int:
    prefix = reference_for(roc_year, 0)[:-4]
    taken = session.exec(select(Proposal.reference).where(
        col(Proposal.reference).like(f"{prefix}%"))).all()
    numbers = [int(match.group(1)) for ref in taken
               if ref and (match := re.fullmatch(re.escape(prefix) + r"(\d+)", ref))]
    return max(numbers, default=0) + 1


def submit_proposal(*, session: Session, proposal: Proposal, member: Member, roc_year: int,
                    now: datetime) -> str:
    """Hand the proposal to the secretariat; return its reference number.

    The first submission numbers it in ``roc_year`` (the year it counts for); a proposal
    sent back for more information keeps its number when it is submitted again. Two
    submissions racing for the same number: the second one takes the next.
    """
    if proposal.status not in EDITABLE:
        raise ProposalStateError(f"proposal {proposal.id} is {proposal.status}, not a draft")
    previous = proposal.status
    if proposal.reference is None:
        for attempt in range(_REFERENCE_ATTEMPTS):
            reference = reference_for(roc_year, _next_number(session, roc_year))
            try:
                with session.begin_nested():
                    proposal.reference = reference
                    proposal.roc_year = roc_year
                    session.add(proposal)
                    session.flush()
                break
            except IntegrityError:
                proposal.reference = None
                if attempt == _REFERENCE_ATTEMPTS - 1:
                    raise
    proposal.status = ProposalStatus.SUBMITTED
    proposal.submitted_at = now
    proposal.updated_at = now
    session.add(proposal)
    session.add(AuditEvent(agency_id=proposal.agency_id, actor_member_id=member.id,
                           action="proposal.submit", subject=f"proposal:{proposal.id}",
                           detail={"reference": proposal.reference, "from": previous}, at=now))
    session.flush()
    assert proposal.reference is not None
    return proposal.reference


def decide_proposal(*, session: Session, proposal: Proposal, decision: ProposalStatus,
                    member: Member, now: datetime, note: str | None = None) -> None:
    """Record the secretariat's decision; ProposalStateError if it cannot be taken now."""
    allowed_from = DECISIONS.get(decision)
    if allowed_from is None:
        raise ValueError(f"{decision} is not a decision")
    if proposal.status not in allowed_from:
        raise ProposalStateError(f"proposal {proposal.id} is {proposal.status}; "
                                 f"{decision} needs {', '.join(allowed_from)}")
    previous = proposal.status
    proposal.status = decision
    proposal.decision_note = note
    proposal.decided_by_member_id = member.id
    proposal.decided_at = now
    proposal.updated_at = now
    session.add(proposal)
    session.add(AuditEvent(agency_id=proposal.agency_id, actor_member_id=member.id,
                           action=f"proposal.{decision}", subject=f"proposal:{proposal.id}",
                           detail={"reference": proposal.reference, "from": previous,
                                   "note": note}, at=now))
    session.flush()


def list_proposals(*, session: Session, agency_id: int,
                   statuses: Iterable[ProposalStatus] | None = None,
                   roc_year: int | None = None, section_id: int | None = None,
                   kind: str | None = None,
                   proposer_member_id: int | None = None) -> Sequence[Proposal]:
    """The agency's proposals that match every filter given, oldest first."""
    query = select(Proposal).where(Proposal.agency_id == agency_id)
    if statuses is not None:
        query = query.where(col(Proposal.status).in_(list(statuses)))
    if roc_year is not None:
        query = query.where(Proposal.roc_year == roc_year)
    if section_id is not None:
        query = query.where(Proposal.section_id == section_id)
    if kind is not None:
        query = query.where(Proposal.kind == kind)
    if proposer_member_id is not None:
        query = query.where(Proposal.proposer_member_id == proposer_member_id)
    return session.exec(query.order_by(col(Proposal.id))).all()


def adopted_proposals(*, session: Session, section_id: int, up_to_year: int,
                      limit: int = 5) -> Sequence[Proposal]:
    """The section's adopted or implemented proposals up to a year, latest first."""
    return session.exec(
        select(Proposal).where(Proposal.section_id == section_id,
                               col(Proposal.status).in_(ADOPTED),
                               col(Proposal.roc_year) <= up_to_year)
        .order_by(col(Proposal.roc_year).desc(), col(Proposal.reference).desc()).limit(limit)
    ).all()
