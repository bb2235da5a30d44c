"""The secretariat's side: verified scores (審定), returns (退回), phone-courtesy tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage.assessments import _answer_row, _revise, _touch
from storage.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    AuditEvent,
    Member,
    PhoneCourtesyTest,
    Section,
)


def set_verified_score(*, session: Session, assessment: Assessment, question_code: str,
                       score: int, reviewer: Member, now: datetime,
                       comment: str | None = None) -> Answer:
    """Record the secretariat's score for a question, keeping the old one in the history."""
    answer = _answer_row(session, assessment, question_code)
    if answer.verified_score != score:
        _revise(session, answer, "verified_score", answer.verified_score, score, reviewer.id,
                now, reason=comment)
    if comment and comment != answer.reviewer_comment:
        _revise(session, answer, "reviewer_comment", answer.reviewer_comment, comment,
                reviewer.id, now)
        answer.reviewer_comment = comment
    answer.verified_score = score
    answer.reviewed_by_member_id = reviewer.id
    answer.reviewed_at = now
    session.add(answer)
    _touch(session, assessment, now)
    session.flush()
    return answer


def mark_returned(*, session: Session, assessment: Assessment, question_code: str,
                  returned: bool, reviewer: Member, now: datetime) -> Answer:
    """Mark (or unmark) a question to be returned to the section for editing."""
    answer = _answer_row(session, assessment, question_code)
    if answer.returned != returned:
        _revise(session, answer, "returned", answer.returned, returned, reviewer.id, now)
        answer.returned = returned
        session.add(answer)
    return answer


def return_assessment(*, session: Session, assessment: Assessment, reviewer: Member,
                      reason: str, now: datetime) -> list[str]:
    """退回: the section may edit again (only the marked questions, if any were marked)."""
    assert assessment.id is not None
    marked = [a.question_code for a in session.exec(
        select(Answer).where(Answer.assessment_id == assessment.id,
                             col(Answer.returned).is_(True))).all()]
    previous = assessment.status
    assessment.status = AssessmentStatus.RETURNED
    _touch(session, assessment, now)
    session.add(AuditEvent(agency_id=assessment.agency_id, actor_member_id=reviewer.id,
                           action="assessment.return", subject=f"assessment:{assessment.id}",
                           detail={"reason": reason, "from": previous, "questions": marked},
                           at=now))
    session.flush()
    return marked


def finish_verification(*, session: Session, assessment: Assessment, assessor: Member,
                        assessed_on: date, strengths_and_suggestions: str | None,
                        now: datetime) -> None:
    """Lock the verified assessment, recording 考核人員 and 考核日期."""
    assert assessment.id is not None
    for answer in session.exec(select(Answer).where(Answer.assessment_id == assessment.id)):
        if answer.verified_score is None and answer.self_score is not None:
            # A question the secretariat did not change keeps the section's score.
            set_verified_score(session=session, assessment=assessment,
                               question_code=answer.question_code, score=answer.self_score,
                               reviewer=assessor, now=now)
        if answer.returned:
            answer.returned = False
            session.add(answer)
    assessment.status = AssessmentStatus.VERIFIED
    assessment.verified_at = now
    assessment.assessor_member_id = assessor.id
    assessment.assessed_on = assessed_on
    assessment.strengths_and_suggestions = strengths_and_suggestions
    _touch(session, assessment, now)
    session.add(AuditEvent(agency_id=assessment.agency_id, actor_member_id=assessor.id,
                           action="assessment.verify", subject=f"assessment:{assessment.id}",
                           detail={"assessed_on": assessed_on.isoformat()}, at=now))
    session.flush()


def verified_scores(*, session: Session, assessment_id: int) -> dict[str, int]:
    """``{question code: verified score}`` of the questions the secretariat scored."""
    rows = session.exec(select(Answer).where(Answer.assessment_id == assessment_id)).all()
    return {a.question_code: a.verified_score for a in rows if a.verified_score is not None}


def record_phone_test(*, session: Session, section: Section, tested_on: date,
                      person_tested: str, score: int, recorded_by: Member | None,
                      now: datetime, tester: str | None = None,
                      note: str | None = None) -> PhoneCourtesyTest:
    """Keep one phone-courtesy test (score 0-100)."""
    if not 0 <= score <= 100:
        raise ValueError(f"a phone-courtesy test score is 0-100, not {score}")
    assert section.id is not None
    test = PhoneCourtesyTest(agency_id=section.agency_id, section_id=section.id,
                             tested_on=tested_on, person_tested=person_tested, score=score,
                             tester=tester, note=note,
                             recorded_by_member_id=recorded_by.id if recorded_by else None,
                             created_at=now)
    session.add(test)
    session.flush()
    return test


def phone_tests(*, session: Session, agency_id: int, first_day: date,
                last_day: date) -> Sequence[PhoneCourtesyTest]:
    """The agency's phone-courtesy tests between two days, oldest first."""
    return session.exec(select(PhoneCourtesyTest).where(
        PhoneCourtesyTest.agency_id == agency_id,
        col(PhoneCourtesyTest.tested_on) >= first_day,
        col(PhoneCourtesyTest.tested_on) <= last_day)
        .order_by(col(PhoneCourtesyTest.tested_on), col(PhoneCourtesyTest.id))).all()
