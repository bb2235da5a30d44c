"""Forgetting a member, on both databases: identities and name gone, scores and history kept."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storage.assessments import (
    add_attachment,
    add_evidence_text,
    get_or_create_assessment,
    record_score,
    scores_of,
    submit_assessment,
)
from storage.conversations import lock_state
from storage.invitations import create_invitation, redeem_for_identity
from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    Attachment,
    AuditEvent,
    ChatIdentity,
    ConversationState,
    InvitationCode,
    Member,
    OutboxMessage,
    PhoneCourtesyTest,
    Role,
)
from storage.org import bind_identity, ensure_demo_agency, find_member, get_section
from storage.outbox import enqueue
from storage.privacy import forget_member
from storage.reminders import claim_reminder

NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
SCORES = {"1.1": 8, "1.2": 5, "2.1": 12}


def fill_office(session: Session, now: datetime = NOW) -> dict[str, int]:
    """The demo office with 王小明's answers, evidence, identities, messages and codes.

    Everything is made with the storage functions the flows use; returns the ids tests need.
    """
    agency = ensure_demo_agency(session=session)
    planning = get_section(session=session, agency=agency, name="規劃課")
    wang = find_member(session=session, agency=agency, name="王小明")
    secretary = find_member(session=session, agency=agency, name="陳秘書")
    assert wang.id is not None and agency.id is not None
    bind_identity(session=session, member=wang, channel="telegram", platform_user_id="tg-1001")
    bind_identity(session=session, member=secretary, channel="line", platform_user_id="U-sec")
    second = create_invitation(session=session, agency=agency, role=Role.STAFF, now=now,
                               member=wang)
    redeem_for_identity(session=session, text=second.code, channel="line",
                        platform_user_id="U-wang", display_name="Wang", now=now)
    create_invitation(session=session, agency=agency, role=Role.STAFF, now=now,
                      section=planning, member_name="王小明")
    create_invitation(session=session, agency=agency, role=Role.STAFF, now=now,
                      section=planning, member_name="李大華")
    assessment = get_or_create_assessment(session=session, section=planning, roc_year=115,
                                          quarter=4, rubric_year=105, now=now)
    for code, score in SCORES.items():
        record_score(session=session, assessment=assessment, question_code=code, score=score,
                     member=wang, now=now)
    add_evidence_text(session=session, assessment=assessment, question_code="1.1",
                      text="網站改版說明", member=wang, now=now)
    add_attachment(session=session, assessment=assessment, question_code="1.1",
                   attachment=Attachment(channel="telegram", filename="證明.pdf",
                                         mime_type="application/pdf", size=4,
                                         sha256="ab" * 32, content=b"%PDF"),
                   member=wang, now=now)
    submit_assessment(session=session, assessment=assessment, member=wang,
                      now=now + timedelta(minutes=5))
    enqueue(session=session, destination=("telegram", "tg-1001"),
            payload={"text": "王小明您好，規劃課已送出"}, key="to-wang", now=now,
            agency_id=agency.id)
    enqueue(session=session, destination=("line", "U-sec"),
            payload={"text": "規劃課 王小明 已送出 115年第4季自評", "choices": [
                {"label": "開始審定", "action": "verify"}]},
            key="to-secretariat", now=now, agency_id=agency.id)
    claim_reminder(session=session, kind="weekly", period="115Q4", recipient="member-wang",
                   now=now)
    state = lock_state(session=session, channel="telegram", user_id="tg-1001", now=now)
    state.state = {"flow": "assessment", "name": "王小明"}
    session.add(state)
    session.add(PhoneCourtesyTest(agency_id=agency.id, section_id=planning.id,
                                  tested_on=date(2026, 11, 20), person_tested="王小明",
                                  score=92, tester="陳秘書", note="親切"))
    session.flush()
    assert assessment.id is not None and secretary.id is not None
    return {"agency": agency.id, "wang": wang.id, "secretary": secretary.id,
            "assessment": assessment.id}


def _everything_about(session: Session, assessment_id: int) -> tuple[list, list, list]:
    answers = session.exec(select(Answer).where(Answer.assessment_id == assessment_id)
                           .order_by(Answer.id)).all()
    revisions = session.exec(select(AnswerRevision).order_by(AnswerRevision.id)).all()
    assessment = session.get(Assessment, assessment_id)
    return ([a.model_dump() for a in answers], [r.model_dump() for r in revisions],
            [assessment.model_dump() if assessment else None])


def test_forget_keeps_scores_and_removes_the_person(database):
    with database.transaction() as session:
        ids = fill_office(session)
    with database.transaction() as session:
        before = _everything_about(session, ids["assessment"])
        total_before = sum(scores_of(session=session, assessment_id=ids["assessment"]).values())
    with database.transaction() as session:
        wang = session.get(Member, ids["wang"])
        report = forget_member(session=session, member=wang, actor_name="operator",
                               now=NOW + timedelta(days=1))
    assert (report.identities, report.invitations, report.outbox_removed,
            report.outbox_scrubbed, report.conversations, report.phone_tests) == (2, 2, 1, 1, 1, 1)

    with database.transaction() as session:
        assert _everything_about(session, ids["assessment"]) == before
        assert sum(scores_of(session=session, assessment_id=ids["assessment"]).values()) \
            == total_before == sum(SCORES.values())
        answers = session.exec(select(Answer)).all()
        assert {a.answered_by_member_id for a in answers} == {ids["wang"]}
        assert session.exec(select(ChatIdentity)
                            .where(ChatIdentity.member_id == ids["wang"])).all() == []
        assert session.exec(select(ConversationState)).all() == []
        forgotten = session.get(Member, ids["wang"])
        assert forgotten.name == f"已刪除的同仁 #{ids['wang']}" and forgotten.active is False
        # The secretariat's own identity and messages stay (only the name inside is blanked).
        outbox = session.exec(select(OutboxMessage)).all()
        assert [(m.channel, m.destination) for m in outbox] == [("line", "U-sec")]
        assert "已刪除的同仁" in outbox[0].payload["text"]
        codes = session.exec(select(InvitationCode)).all()
        assert [c.member_name for c in codes] == ["李大華"]
        test = session.exec(select(PhoneCourtesyTest)).one()
        assert (test.person_tested, test.score) == (forgotten.name, 92)
        event = session.exec(select(AuditEvent)
                             .where(AuditEvent.action == "member.forget")).one()
        assert event.subject == f"member:{ids['wang']}"
        assert event.detail["identities"] == 2 and event.detail["actor"] == "operator"

        for table in (Member, OutboxMessage, InvitationCode, AuditEvent, PhoneCourtesyTest,
                      ChatIdentity, ConversationState):
            rows = session.exec(select(table)).all()
            dumped = json.dumps([r.model_dump(mode="json") for r in rows], ensure_ascii=False)
            assert "王小明" not in dumped, table.__name__
            assert "tg-1001" not in dumped and "U-wang" not in dumped, table.__name__


def test_forget_leaves_other_members_alone(database):
    with database.transaction() as session:
        ids = fill_office(session)
    with database.transaction() as session:
        forget_member(session=session, member=session.get(Member, ids["wang"]),
                      actor_name="operator", now=NOW)
    with database.transaction() as session:
        secretary = session.get(Member, ids["secretary"])
        assert (secretary.name, secretary.active) == ("陳秘書", True)
        assert session.exec(select(ChatIdentity.platform_user_id)).all() == ["U-sec"]
        count = session.execute(sa.select(sa.func.count()).select_from(Member)).scalar_one()
        assert count == 3
