"""Who may do what: every role × every action × own section / another section, through
dispatch on both databases. Only what the role allows passes; everything else is refused
and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers.messages import ChatKind, Outgoing
from handlers.tokens import Token
from storage.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    ChatBinding,
    Proposal,
    ProposalStatus,
    Role,
    Section,
)
from tests.handlers.test_flows import SCORES, answer_all
from tests.handlers.test_proposals import bind_group, write_proposal

ROLES = ("unbound", "staff", "section_head", "secretariat", "admin")
# What each role may do. "answer_own": score a question of one's own section's assessment.
ALLOWED = {
    "unbound": set(),
    "staff": {"answer_own", "review_own"},
    "section_head": {"answer_own", "review_own"},
    "secretariat": {"answer_own", "review_own", "verify", "return", "export", "decide"},
    "admin": {"verify", "return", "export", "decide"},  # admins belong to no section
}


@pytest.fixture
def world(office):
    """The demo office with one person per role, 工務課's assessment submitted, a proposal
    waiting for a decision, and the secretariat's group bound."""
    office.add_member("管理者甲", "秘書室", Role.ADMIN)
    with office.database.transaction() as session:
        from storage.models import Member

        admin = session.exec(select(Member).where(Member.name == "管理者甲")).one()
        admin.section_id = None
        session.add(admin)
    office.add_member("工務同仁", "工務課")
    works = office.chat("工務同仁")
    answer_all(works, SCORES)
    works.press("送出")
    works.press("確認送出")
    bind_group(office)
    write_proposal(works)  # a proposal for the secretariat to decide
    works.press("送出提案")
    chats = {"unbound": office.stranger("nobody"), "staff": office.chat("王小明"),
             "section_head": office.chat("林課長"), "secretariat": office.chat("陳秘書"),
             "admin": office.chat("管理者甲")}
    return office, chats


def _state_step(office, chat) -> int:
    from handlers.state import State
    from storage.models import ConversationState

    with office.database.transaction() as session:
        row = session.exec(select(ConversationState).where(
            ConversationState.platform_user_id == chat.user_id)).first()
        return State.from_json(row.state if row else None).step


def _works_assessment(office) -> Assessment:
    with office.database.transaction() as session:
        works = session.exec(select(Section).where(Section.name == "工務課")).one()
        return session.exec(select(Assessment).where(Assessment.section_id == works.id)).one()


def attempt(office, chats, role: str, action: str) -> bool:
    """Try ``action`` as ``role``; True if it took effect."""
    chat = chats[role]
    works = _works_assessment(office)
    if action == "answer_own":
        chat.say("填寫自評")
        chat.say("跳到 1")
        chat.say("7")
        with office.database.transaction() as session:
            return any(a.self_score == 7 and a.assessment_id != works.id
                       for a in session.exec(select(Answer)).all())
    if action == "answer_other":
        chat.act(Token(_state_step(office, chat), "s", (str(works.id), "1.1", "7")).encode())
        with office.database.transaction() as session:
            return any(a.self_score == 7 and a.assessment_id == works.id
                       for a in session.exec(select(Answer)).all())
    if action == "review_own":
        chat.say("檢視")
        return "已作答" in chat.text and "【服務流程】" in chat.text
    if action == "review_other":
        chat.act(Token(_state_step(office, chat), "r", (str(works.id),)).encode())
        return "工務課 115年第4季 自評" in chat.text
    if action == "verify":
        chat.say("審定 工務課")
        return "【審定】工務課 第 1/25 題" in chat.text
    if action == "return":
        chat.act(Token(0, "vo", (str(works.id),)).encode())
        if "【審定】" not in chat.text:
            return False
        chat.press("退回課室")
        chat.say("請補正")
        return _works_assessment(office).status == AssessmentStatus.RETURNED
    if action == "export":
        replies = chat.say("總表")
        return any(r.document is not None for r in replies)
    if action == "decide":
        card = next(Outgoing.from_payload(m.payload) for m in office.outbox()
                    if m.destination == "g-1" and m.payload.get("choices"))
        adopt = next(c for c in card.choices if c.label == "採用")
        chat.act(adopt.action)
        with office.database.transaction() as session:
            return session.exec(select(Proposal)).one().status == ProposalStatus.ADOPTED
    raise AssertionError(action)


ACTIONS = ("answer_own", "answer_other", "review_own", "review_other", "verify", "return",
           "export", "decide")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_can_do_exactly_what_it_may(world, role):
    office, chats = world
    for action in ACTIONS:
        took = attempt(office, chats, role, action)
        assert took == (action in ALLOWED[role]), (role, action, chats[role].text)
    # Nobody changed another section's answers.
    with office.database.transaction() as session:
        works_answers = session.exec(select(Answer).where(
            Answer.assessment_id == _works_assessment(office).id)).all()
    assert {a.question_code: a.self_score for a in works_answers} == SCORES


def test_binding_a_group_needs_a_secretariat_code_whoever_sends_it(world):
    office, _ = world
    staff_code = office.invite()
    group = office.stranger("someone-in-a-group")
    group.chat_kind, group.chat_id = ChatKind.GROUP, "g-2"
    group.say(f"/bind {staff_code}")
    assert "無法以這組邀請碼綁定群組" in group.text
    secretariat_code = office.invite(role=Role.SECRETARIAT, section="秘書室")
    group.say(f"/bind {secretariat_code}")
    with office.database.transaction() as session:
        assert {b.chat_id for b in session.exec(select(ChatBinding)).all()} == {"g-1", "g-2"}
