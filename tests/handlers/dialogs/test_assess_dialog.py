"""The self-assessment as a dialog (issue #14): words of other flows ask before leaving a
question, glances come back, and a conversation saved by an older sqbot goes on."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Answer, Assessment, ConversationState
from tests.handlers.test_flows import stored_answers


def write_state(office, chat, document: dict) -> None:
    with office.database.transaction() as session:
        row = session.exec(select(ConversationState).where(
            ConversationState.platform_user_id == chat.user_id)).one()
        row.state = document
        session.add(row)


def assessment_id(office) -> int:
    with office.database.transaction() as session:
        found = session.exec(select(Assessment)).one()
        assert found.id is not None
        return found.id


def test_another_flows_word_at_a_question_asks_and_nothing_is_lost(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("創意提案")
    assert "要離開自評嗎？您的答案都已儲存。" in chat.text
    chat.press("繼續填寫")
    assert "第 2/25 題" in chat.text
    chat.say("創意提案")
    chat.press("離開")
    assert "創意服務名稱" in chat.text  # the proposal it asked for
    chat.say("暫停")
    chat.say("填寫自評")
    assert "第 2/25 題" in chat.text and "已作答 1/25 題" in chat.text
    assert stored_answers(office) == {"1.1": 100}


def test_progress_typed_at_a_question_is_shown_and_fill_comes_back(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("我的進度")
    assert "已作答 1/25 題，目前合計 100 分" in chat.text
    chat.press("填寫自評")
    assert "第 2/25 題" in chat.text


def test_a_band_saved_by_an_older_sqbot_takes_the_typed_score(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    aid = assessment_id(office)
    # What sqbot wrote before the assessment was a dialog: inside band ① of 1.1.
    write_state(office, chat, {"v": 1, "step": 7, "mode": "band", "assessment_id": aid,
                               "question": "1.1", "band": 0, "evidence_for": None})
    chat.say("30")
    assert "30 分不在這個級距的範圍內。請輸入 81 到 120 之間的整數" in chat.text
    chat.say("90")
    assert "已記錄 1.1 提供案件承辦資訊種類：90 分" in chat.text and "第 2/25 題" in chat.text
    write_state(office, chat, {"v": 1, "step": 9, "mode": "confirm_submit",
                               "assessment_id": aid})
    chat.say("確認")  # the confirmation of an older sqbot: the sheet is not complete
    assert "尚有 24 題未作答，還不能送出" in chat.text
    with office.database.transaction() as session:
        assert session.exec(select(Answer)).one().self_score == 90
