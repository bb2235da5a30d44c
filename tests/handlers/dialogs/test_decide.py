"""The secretariat's proposal decision as a dialog."""

from __future__ import annotations

from handlers.state import Mode, State
from storage.models import ProposalStatus
from tests.handlers.test_proposals import bind_group, proposals, submitted, to_group


def test_another_decision_button_replaces_the_one_begun_and_cancel_keeps_nothing(office):
    bind_group(office)
    submitted(office)
    secretary = office.chat("陳秘書")
    card = to_group(office)[0]
    secretary.act(card.choices[1].action)  # 不採用: asks for the reason
    assert "請輸入不採用的原因" in secretary.text
    secretary.act(card.choices[3].action)  # 請補件 instead: no 要放棄 question
    assert "請輸入需要提案人補充的內容" in secretary.text and "要放棄" not in secretary.text
    secretary.say("取消")
    assert "已取消" in secretary.text
    assert proposals(office)[0].status == ProposalStatus.SUBMITTED
    secretary.say("經費不足")  # no decision open: not taken as a reason
    assert proposals(office)[0].status == ProposalStatus.SUBMITTED


def test_an_empty_reason_redraws_the_question(office):
    bind_group(office)
    submitted(office)
    secretary = office.chat("陳秘書")
    secretary.act(to_group(office)[0].choices[1].action)
    secretary.say("　")
    assert secretary.text.startswith("請輸入內容。") and "請輸入不採用的原因" in secretary.text


def test_a_state_written_while_a_reason_was_asked_opens_the_dialog_there():
    state = State.from_json({"mode": "proposal_decision", "proposal_id": 4,
                             "proposal_field": "rejected", "proposal_mark": "s1"})
    assert state.mode == Mode.DIALOG and state.dialog is not None
    assert state.dialog["name"] == "decide" and state.dialog["data"] == {
        "proposal_id": 4, "mark": "s1", "decision": "rejected"}
