"""A section's quarterly self-assessment: answers, their history, evidence and submission."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    AssessmentStatus,
    Attachment,
    AuditEvent,
    Member,
    Section,
)
from storage.upsert import insert_ignoring

EDITABLE = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)


def get_or_create_assessment(*, session: Session, section: Section, roc_year: int, quarter: int,
                             rubric_year: int, now: datetime) -> Assessment:
    """The section's assessment of the quarter, created (as a draft) on first use."""
    assert section.id is not None
    insert_ignoring(session, Assessment,
                    {"agency_id": section.agency_id, "section_id": section.id,
                     "roc_year": roc_year, "quarter": quarter, "rubric_year": rubric_year,
                     "status": AssessmentStatus.DRAFT.value, "version": 1, "created_at": now,
                     "updated_at": now},
                    conflict=("section_id", "roc_year", "quarter"))
    return session.exec(
        select(Assessment).where(Assessment.section_id == section.id,
                                 Assessment.roc_year == roc_year, Assessment.quarter == quarter)
    ).one()


def find_assessment(*, session: Session, section_id: int, roc_year: int,
                    quarter: int) -> Assessment | None:
    """The section's assessment of the quarter, if it was started."""
    return session.exec(
        select(Assessment).where(Assessment.section_id == section_id,
                                 Assessment.roc_year == roc_year, Assessment.quarter == quarter)
    ).first()


def lock_assessment(*, session: Session, assessment_id: int) -> Assessment | None:
    """The assessment, locked until commit: writers of one section's answers go one by one."""
    return session.exec(
        select(Assessment).where(Assessment.id == assessment_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def answers_by_code(*, session: Session, assessment_id: int,
                    fresh: bool = False) -> dict[str, Answer]:
    """The current answers of an assessment, by question code (``fresh``: read again even
    where the session holds them already — after the assessment was locked, what another
    transaction committed before the lock must be seen)."""
    query = select(Answer).where(Answer.assessment_id == assessment_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    rows = session.exec(query).all()
    return {row.question_code: row for row in rows}


def scores_of(*, session: Session, assessment_id: int) -> dict[str, int]:
    """``{question code: self score}`` of the answered questions."""
    return {code: a.self_score for code, a in
            answers_by_code(session=session, assessment_id=assessment_id).items()
            if a.self_score is not None}


@dataclass(frozen=True)
class ScoreChange:
    """What :func:`record_score` did: the answer and what it replaced."""

    answer: Answer
    previous_score: int | None
    previous_member_id: int | None

    @property
    def changed(self) -> bool:
        """Whether the score differs from before."""
        return self.previous_score != self.answer.self_score


def _touch(session: Session, assessment: Assessment, now: datetime) -> None:
    """A change to the assessment: bump its version and time, and keep it in the session."""
    assessment.version += 1
    assessment.updated_at = now
    session.add(assessment)


def _revise(session: Session, answer: Answer, field: str, old: object, new: object,
            member_id: int | None, now: datetime, reason: str | None = None) -> None:
    assert answer.id is not None
    session.add(AnswerRevision(
        answer_id=answer.id, field=field, old_value=None if old is None else str(old),
        new_value=None if new is None else str(new), changed_by_member_id=member_id,
        changed_at=now, reason=reason))


def _answer_row(session: Session, assessment: Assessment, code: str) -> Answer:
    assert assessment.id is not None
    insert_ignoring(session, Answer,
                    {"assessment_id": assessment.id, "question_code": code, "returned": False},
                    conflict=("assessment_id", "question_code"))
    return session.exec(
        select(Answer).where(Answer.assessment_id == assessment.id, Answer.question_code == code)
        .execution_options(populate_existing=True)
    ).one()


def record_score(*, session: Session, assessment: Assessment, question_code: str, score: int,
                 member: Member, now: datetime,
                 measure_value: float | None = None, reason: str | None = None) -> ScoreChange:
    """Set a self score (validated by the caller against the rubric), keeping its history
    (``reason``: why, when it is not typed, such as 沿用115年第3季)."""
    answer = _answer_row(session, assessment, question_code)
    previous_score, previous_member = answer.self_score, answer.answered_by_member_id
    if previous_score != score:
        _revise(session, answer, "self_score", previous_score, score, member.id, now, reason)
    if measure_value is not None and measure_value != answer.measure_value:
        _revise(session, answer, "measure_value", answer.measure_value, measure_value,
                member.id, now)
        answer.measure_value = measure_value
    answer.self_score = score
    answer.answered_by_member_id = member.id
    answer.answered_at = now
    answer.carried_from = None  # a score given now is this quarter's own
    session.add(answer)
    _touch(session, assessment, now)
    session.flush()
    return ScoreChange(answer, previous_score, previous_member)


@dataclass(frozen=True)
class EarlierAnswer:
    """An answer of the previous quarter, offered to start from (沿用上季)."""

    period_label: str  # 115年第3季
    score: int  # the verified score where the secretariat verified it, else the self score
    verified: bool
    evidence_text: str | None
    attachments: tuple[Attachment, ...]


def earlier_answers(*, session: Session, section_id: int, roc_year: int, quarter: int,
                    label: str) -> dict[str, EarlierAnswer]:
    """The answers of the section's assessment of (``roc_year``, ``quarter``) — the quarter
    before the one being filled — once it was submitted; empty otherwise."""
    earlier = find_assessment(session=session, section_id=section_id, roc_year=roc_year,
                              quarter=quarter)
    if earlier is None or earlier.id is None or earlier.status == AssessmentStatus.DRAFT:
        return {}
    verified = earlier.status == AssessmentStatus.VERIFIED
    files: dict[int, list[Attachment]] = {}
    for attachment in session.exec(
            select(Attachment).join(Answer, col(Attachment.answer_id) == col(Answer.id))
            .where(Answer.assessment_id == earlier.id).order_by(col(Attachment.id))).all():
        assert attachment.answer_id is not None
        files.setdefault(attachment.answer_id, []).append(attachment)
    found = {}
    for code, answer in answers_by_code(session=session, assessment_id=earlier.id).items():
        use_verified = verified and answer.verified_score is not None
        score = answer.verified_score if use_verified else answer.self_score
        if score is None or answer.id is None:
            continue
        found[code] = EarlierAnswer(label, score, use_verified, answer.evidence_text,
                                    tuple(files.get(answer.id, ())))
    return found


def carry_over(*, session: Session, assessment: Assessment, question_code: str,
               earlier: EarlierAnswer, member: Member, now: datetime) -> ScoreChange:
    """Take an earlier quarter's answer: its score, its evidence text and references to its
    files (the stored bytes are shared, not copied), each change in the history with the
    reason 沿用<quarter>."""
    reason = f"沿用{earlier.period_label}"
    change = record_score(session=session, assessment=assessment, question_code=question_code,
                          score=earlier.score, member=member, now=now, reason=reason)
    answer = change.answer
    if earlier.evidence_text and earlier.evidence_text not in (answer.evidence_text or ""):
        old = answer.evidence_text
        answer.evidence_text = earlier.evidence_text if not old \
            else f"{old}\n{earlier.evidence_text}"
        _revise(session, answer, "evidence_text", old, answer.evidence_text, member.id, now,
                reason)
    held = {a.sha256 for a in session.exec(
        select(Attachment).where(Attachment.answer_id == answer.id)).all()}
    for source in earlier.attachments:
        if source.sha256 in held:
            continue
        session.add(Attachment(
            answer_id=answer.id, channel=source.channel, platform_file_id=source.platform_file_id,
            filename=source.filename, mime_type=source.mime_type, size=source.size,
            sha256=source.sha256, stored_path=source.stored_path, content=source.content,
            uploaded_by_member_id=member.id, created_at=now))
        _revise(session, answer, "attachment", None,
                f"{source.filename or source.mime_type} ({source.size} bytes, sha256 "
                f"{source.sha256[:12]})", member.id, now, reason)
    answer.carried_from = earlier.period_label
    session.add(answer)
    session.flush()
    return change


def add_evidence_text(*, session: Session, assessment: Assessment, question_code: str,
                      text: str, member: Member, now: datetime) -> Answer:
    """Append a paragraph of evidence text to an answer."""
    answer = _answer_row(session, assessment, question_code)
    old = answer.evidence_text
    answer.evidence_text = text if not old else f"{old}\n{text}"
    _revise(session, answer, "evidence_text", old, answer.evidence_text, member.id, now)
    session.add(answer)
    _touch(session, assessment, now)
    session.flush()
    return answer


def add_attachment(*, session: Session, assessment: Assessment, question_code: str,
                   attachment: Attachment, member: Member, now: datetime) -> Attachment:
    """Keep an evidence file with an answer (the bytes are already in the evidence store)."""
    answer = _answer_row(session, assessment, question_code)
    attachment.answer_id = answer.id
    attachment.uploaded_by_member_id = member.id
    attachment.created_at = now
    session.add(attachment)
    session.flush()
    _revise(session, answer, "attachment", None,
            f"{attachment.filename or attachment.mime_type} ({attachment.size} bytes, "
            f"sha256 {attachment.sha256[:12]})", member.id, now)
    _touch(session, assessment, now)
    return attachment


def attachment_counts(*, session: Session, assessment_id: int) -> dict[str, int]:
    """How many evidence files each question has."""
    rows = session.execute(
        sa.select(col(Answer.question_code), func.count(col(Attachment.id)))
        .join(Attachment, col(Attachment.answer_id) == col(Answer.id))
        .where(col(Answer.assessment_id) == assessment_id)
        .group_by(col(Answer.question_code))
    ).all()
    return {code: count for code, count in rows}


def submit_assessment(*, session: Session, assessment: Assessment, member: Member,
                      now: datetime) -> str:
    """Lock the assessment as submitted; return its receipt reference number (收件編號).

    The reference carries the period, the assessment and its version. A resubmission after
    a return keeps the reference of the first submission (the secretariat files it under
    one number) and clears the questions' return marks: what was returned has been answered.
    """
    assert assessment.id is not None
    _touch(session, assessment, now)
    previous = assessment.status
    if previous == AssessmentStatus.RETURNED and assessment.reference:
        reference = assessment.reference
        for answer in session.exec(select(Answer).where(
                Answer.assessment_id == assessment.id, col(Answer.returned).is_(True))):
            _revise(session, answer, "returned", True, False, member.id, now)
            answer.returned = False
            session.add(answer)
    else:
        reference = (f"{assessment.roc_year}Q{assessment.quarter}-{assessment.id:05d}-"
                     f"{assessment.version}")
    assessment.status = AssessmentStatus.SUBMITTED
    assessment.reference = reference
    assessment.submitted_at = now
    assessment.submitted_by_member_id = member.id
    session.add(AuditEvent(
        agency_id=assessment.agency_id, actor_member_id=member.id, action="assessment.submit",
        subject=f"assessment:{assessment.id}",
        detail={"reference": reference, "from": previous, "version": assessment.version},
        at=now))
    session.flush()
    return reference


@dataclass(frozen=True)
class ReturnedFix:
    """What the section did to one returned question before resubmitting."""

    code: str
    before: int | None  # the self score when it was returned
    after: int | None  # the self score now
    evidence_added: bool


def fixes_since_return(*, session: Session, assessment: Assessment,
                       codes: Sequence[str]) -> tuple[str | None, list[ReturnedFix]]:
    """The secretariat's reason of the latest 退回, and what changed since at ``codes``."""
    assert assessment.id is not None
    event = session.exec(
        select(AuditEvent).where(AuditEvent.subject == f"assessment:{assessment.id}",
                                 AuditEvent.action == "assessment.return")
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())).first()
    if event is None:
        return None, []
    reason = event.detail.get("reason") if isinstance(event.detail, dict) else None
    answers = {a.question_code: a for a in session.exec(
        select(Answer).where(Answer.assessment_id == assessment.id,
                             col(Answer.question_code).in_(list(codes))))}
    fixes = []
    for code in codes:
        answer = answers.get(code)
        if answer is None or answer.id is None:
            continue
        revisions = session.exec(
            select(AnswerRevision).where(AnswerRevision.answer_id == answer.id,
                                         AnswerRevision.changed_at >= event.at)
            .order_by(col(AnswerRevision.id))).all()
        scores = [r for r in revisions if r.field == "self_score"]
        before = answer.self_score
        if scores and scores[0].old_value is not None:
            before = int(scores[0].old_value)
        fixes.append(ReturnedFix(
            code=code, before=before, after=answer.self_score,
            evidence_added=any(r.field in ("evidence_text", "attachment") for r in revisions)))
    return (reason if isinstance(reason, str) else None), fixes


def section_assessments(*, session: Session, agency_id: int, roc_year: int,
                        quarter: int) -> Sequence[Assessment]:
    """Every started assessment of an agency's quarter."""
    return session.exec(
        select(Assessment).where(Assessment.agency_id == agency_id, Assessment.roc_year == roc_year,
                                 Assessment.quarter == quarter)
    ).all()
