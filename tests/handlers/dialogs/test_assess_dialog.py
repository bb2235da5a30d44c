"""The self-assessment as a dialog (issue #14): words of other flows ask before leaving a
question, glances come back, and a conversation saved by an older sqbot goes on."""

from __future__ import annotations

from sqlmodel import select

from storage.models import ConversationState
from tests.handlers.dialogs.test_verify import answers
from tests.handlers.test_flows import SCORES, answer_all, assessment_row, stored_answers


def write_state(office, chat, document: dict) -> None:
    with office.database.transaction() as session:
        row = session.exec(select(ConversationState).where(
            ConversationState.platform_user_id == chat.user_id)).one()
        row.state = document
        session.add(row)


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
    aid = assessment_row(office).id
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
    assert answers(office)["1.1"].self_score == 90 and len(answers(office)) == 1


# --- found in review of the port -------------------------------------------------------------


def test_a_score_typed_below_every_band_is_recorded_with_the_figure(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("跳到 2.4")
    chat.say("65")  # a phone-test score below the lowest band
    assert "未達最低級距" in chat.text and "本題建議給 0 分" in chat.text
    chat.say("0")
    assert "已記錄 2.4 電話禮貌測試績效：0 分" in chat.text
    answer = answers(office)["2.4"]
    assert (answer.self_score, answer.measure_value) == (0, 65)


def test_fill_typed_again_keeps_the_evidence_with_the_last_answer(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("填寫自評")
    assert "第 2/25 題" in chat.text and "評分後直接進入下一題" not in chat.text
    chat.say("補充佐證：網站截圖")
    assert "已收到 1.1 的佐證" in chat.text
    chat.act(chat.choice("暫停").action)
    chat.press("填寫自評")  # a new sitting from the menu: evidence waits for a score
    assert "評分後直接進入下一題" in chat.text


def test_buttons_of_an_older_sqbot_are_typed_as_words_after_the_upgrade(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    aid = assessment_row(office).id
    write_state(office, chat, {"v": 1, "step": 5, "mode": "question", "assessment_id": aid,
                               "question": "1.1", "drawn": [["略過", f"5:k:{aid}:1.1"]]})
    chat.say("略過")
    assert "第 2/25 題" in chat.text
    write_state(office, chat, {"v": 1, "step": 8, "mode": "question", "assessment_id": aid,
                               "question": "2.4", "measure": 55.0})
    chat.say("0")  # below every band, as an older sqbot asked it: 0 keeps the figure
    answer = answers(office)["2.4"]
    assert (answer.self_score, answer.measure_value) == (0, 55)


def test_a_file_at_a_review_with_nothing_answered_is_not_downloaded(office):
    from handlers.messages import Attachment as IncomingFile
    from handlers.messages import Incoming

    chat = office.chat("王小明")
    chat.say("檢視")
    incoming = Incoming(channel="console", user_id=chat.user_id, chat_id=chat.user_id,
                        event_id="f-1", attachment=IncomingFile(
                            kind="photo", platform_file_id="p1", mime_type="image/jpeg",
                            declared_size=10))
    assert office.dispatcher.takes_file(incoming) is False
    chat.say("填寫自評")
    chat.say("100")
    chat.say("檢視")
    assert office.dispatcher.takes_file(incoming) is True


def test_the_receipt_counts_an_answer_committed_just_before_the_lock(office):
    """On PostgreSQL a colleague's change can commit between the press's first read and the
    assessment's lock; the receipt must count what is stored."""
    import pytest
    import sqlalchemy as sa

    engine = office.database.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: nothing can commit in between")
    chat = office.chat("王小明")
    answer_all(chat)
    chat.press("送出")
    aid = assessment_row(office).id
    fired = []

    def colleague(conn, cursor, statement, parameters, context, executemany):
        if "FOR UPDATE" in statement and "FROM assessments" in statement and not fired:
            fired.append(True)
            with engine.connect() as other:
                other.execute(sa.text("UPDATE answers SET self_score = 50 WHERE "
                                      "assessment_id = :a AND question_code = '1.1'"),
                              {"a": aid})
                other.commit()

    sa.event.listen(engine, "before_cursor_execute", colleague)
    try:
        chat.press("確認送出")
    finally:
        sa.event.remove(engine, "before_cursor_execute", colleague)
    assert fired
    total = sum(SCORES.values()) - SCORES["1.1"] + 50
    assert f"總分：{total} 分" in chat.text, chat.text


def test_a_count_after_a_score_is_evidence_not_the_next_score(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("2 份表單已完成簡化")
    assert "已收到 1.1 的佐證：「2 份表單已完成簡化」" in chat.text
    assert stored_answers(office) == {"1.1": 100}


def test_a_draft_is_continued_by_typing_its_button_without_brackets(office):
    chat = office.chat("王小明")
    chat.say("創意提案")
    chat.say("河川公地線上預審")
    chat.say("暫停")
    chat.say("創意提案")
    assert "繼續「河川公地線上預審」" in [c.label for c in chat.choices]
    chat.say("繼續")
    assert "第 2/10 項" in chat.text
