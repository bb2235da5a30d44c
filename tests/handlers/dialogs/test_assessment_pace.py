"""The assessment's pace (issue #14): a score moves on at once, evidence sent after it belongs
to it until the next score, a score and its evidence may come in one message, a bare number is
always a score, and a measured figure typed where a score is asked is offered as its band."""

from __future__ import annotations

from sqlmodel import select

from rubric import load_year
from storage.models import Answer, Assessment, AssessmentStatus, Attachment
from tests.handlers.dialogs.test_verify import answers
from tests.handlers.test_flows import SCORES
from tests.handlers.test_secretariat import submitted

RUBRIC = load_year(105)


def file_codes(office) -> list[str]:
    """The question of each stored evidence file, in the order they came."""
    with office.database.transaction() as session:
        rows = session.exec(select(Attachment, Answer).where(Attachment.answer_id == Answer.id)
                            .order_by(Attachment.id)).all()
        return [answer.question_code for _, answer in rows]


class Counting:
    """A chat that counts the messages the person sends."""

    def __init__(self, chat) -> None:
        self.chat, self.sent = chat, 0

    def say(self, text: str) -> None:
        self.sent += 1
        self.chat.say(text)

    def press(self, label: str) -> None:
        self.sent += 1
        self.chat.press(label)


def test_a_whole_assessment_takes_28_messages(office):
    chat = Counting(office.chat("王小明"))
    chat.say("填寫自評")
    for question in RUBRIC.questions:
        assert f"{question.code} {question.name}" in chat.chat.text
        chat.say(str(SCORES[question.code]))
    assert "全部 25 題都已作答" in chat.chat.text
    chat.press("送出")
    chat.press("確認送出")
    assert "收件確認" in chat.chat.text
    assert chat.sent == 28
    with office.database.transaction() as session:
        assert session.exec(select(Assessment)).one().status == AssessmentStatus.SUBMITTED


def test_the_next_score_typed_after_a_score_is_a_score_not_evidence(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("28")
    assert "已記錄 1.2 提供案件查詢管道種類：28 分" in chat.text
    stored = answers(office)
    assert (stored["1.1"].self_score, stored["1.1"].evidence_text) == (100, None)
    assert stored["1.2"].self_score == 28


def test_evidence_after_a_score_belongs_to_it_until_the_next_score(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("受理後即寄發收件確認")
    assert "已收到 1.1 的佐證" in chat.text and "第 2/25 題" in chat.text
    chat.say("一、櫃台張貼承辦人電話")  # a numbered line is evidence, not a score of 1
    chat.send_file(b"\x89PNG shot", filename=None, mime_type="image/png", kind="photo")
    assert "列為 1.1 的佐證" in chat.text
    chat.say("50")
    chat.send_file(b"%PDF-1.4 channels", filename="管道.pdf")
    assert "列為 1.2 的佐證" in chat.text and "第 3/25 題" in chat.text
    stored = answers(office)
    assert stored["1.1"].evidence_text == "受理後即寄發收件確認\n一、櫃台張貼承辦人電話"
    assert stored["1.2"].self_score == 50 and "1.3" not in stored
    assert file_codes(office) == ["1.1", "1.2"]


def test_a_score_and_its_evidence_in_one_message(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("85 受理後即寄發收件確認")
    assert "已記錄 1.1 提供案件承辦資訊種類：85 分" in chat.text
    chat.say("５５分，提供電話及網站查詢")
    chat.say("90分 主動以簡訊通知進度")
    stored = answers(office)
    assert (stored["1.1"].self_score, stored["1.1"].evidence_text) == (85, "受理後即寄發收件確認")
    assert (stored["1.2"].self_score, stored["1.2"].evidence_text) == (55, "提供電話及網站查詢")
    assert (stored["1.3"].self_score, stored["1.3"].evidence_text) == (90, "主動以簡訊通知進度")
    chat.say("999 寫錯了")  # refused whole: neither the score nor the text is kept
    assert "999 分不在本題的範圍內" in chat.text
    assert "2.1" not in answers(office) or answers(office)["2.1"].self_score is None
    assert answers(office)["1.3"].evidence_text == "主動以簡訊通知進度"


def test_scores_in_chinese_numerals(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("一百")
    chat.say("跳到 4")
    chat.say("二十五")
    chat.say("十八分")
    stored = answers(office)
    assert (stored["1.1"].self_score, stored["2.1"].self_score, stored["2.2"].self_score) == (
        100, 25, 18)


def test_a_measured_figure_typed_as_a_score_is_offered_as_its_band(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("跳到 2.4")
    chat.say("92")  # a phone-test score, above the question's 20 points
    assert "92 超過本題滿分 20 分，視為電話禮貌測試分數" in chat.text
    assert "對應級距 16-20分" in chat.text
    chat.press("18分")
    assert answers(office)["2.4"].measure_value == 92
    chat.say("92%")  # 2.5: the correctness rate, said with its unit
    assert "服務人員回應問題正確率 92%，對應級距 46-50分" in chat.text
    chat.press("48分")
    chat.say("跳到 4.3")
    chat.say("14件")
    assert "網站資訊內容及連結抽測正確件數 14件，對應級距 16-20分" in chat.text
    chat.say("跳到 4.3")
    chat.say("14")  # a bare number within the points is the score itself
    assert "已記錄 4.3" in chat.text and "14 分" in chat.text
    stored = answers(office)
    assert (stored["2.4"].self_score, stored["2.5"].self_score, stored["4.3"].self_score) == (
        18, 48, 14)


def test_the_count_measure_says_its_range_plainly(office):
    chat = office.chat("王小明")
    chat.say("跳到 4.3")
    chat.press(next(c.label for c in chat.choices if c.label.startswith("輸入")))
    assert "（0件以上）" in chat.text and "0-以上" not in chat.text
    chat.say("很多")
    assert "（0件以上）" in chat.text and "0-以上" not in chat.text


def test_a_returned_question_keeps_its_evidence_and_the_resubmission_says_why(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    first = next(m for m in office.outbox() if "【自評送出】" in m.payload["text"])
    reference = first.payload["text"].rsplit("收件編號：", 1)[1]
    secretary.say("審定 規劃課")
    secretary.press("下一題")
    secretary.press("標記退回")  # 1.2
    secretary.press("退回課室")
    secretary.say("1.2 佐證不足")
    staff.say("填寫自評")
    assert "第 2/25 題" in staff.text and "退回原因：1.2 佐證不足" in staff.text
    staff.press("保留原分數")
    staff.send_file(b"\x89PNG screenshot", filename=None, mime_type="image/png", kind="photo")
    assert "列為 1.2 的佐證" in staff.text and "未被保存" not in staff.text
    staff.press("送出")
    staff.press("確認送出")
    again = [m.payload["text"] for m in office.outbox() if "【重新送出】" in m.payload["text"]]
    assert len(again) == 1, again
    assert f"收件編號：{reference}（同原送出）" in again[0]
    assert "秘書室退回原因：1.2 佐證不足" in again[0]
    assert "1.2 維持 50 分，補充佐證" in again[0]
    assert not any(a.returned for a in answers(office).values())
    secretary.say("審定 規劃課")
    secretary.press("下一題")
    assert "第 2/25 題" in secretary.text and "已標記退回" not in secretary.text
    assert file_codes(office) == ["1.2"]


def test_evidence_sent_at_the_review_is_for_the_last_answer(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    for question in RUBRIC.questions:
        chat.say(str(SCORES[question.code]))
    chat.say("滿意度調查報告已上傳")
    assert "已收到 7.3 的佐證" in chat.text and "送出" in [c.label for c in chat.choices]
    assert answers(office)["7.3"].evidence_text == "滿意度調查報告已上傳"
