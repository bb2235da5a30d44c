"""沿用上季 (issue #17, item 3): a new quarter starts from the last one's answers, offered per
question and taken with one press (or typed); nothing is copied silently, files are
referenced rather than copied, and the history, the review and the receipt say what was
carried over."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from rubric import load_year
from storage.models import Answer, AnswerRevision, Assessment, Attachment
from tests.handlers.test_flows import SCORES, answer_all

RUBRIC = load_year(105)
OCTOBER = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)  # 115年第3季's window is open
DECEMBER = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 115年第4季
PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg" * 100


def _last_quarter(office):
    """115年第3季: submitted by 規劃課, 1.1 with text and a photo, verified with 1.2 cut."""
    office.clock.set(OCTOBER)
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100 受理後即寄發收件確認")
    chat.send_file(PHOTO, filename="窗口.jpg", mime_type="image/jpeg", kind="photo")
    for question in RUBRIC.questions[1:]:
        chat.say(str(SCORES[question.code]))
    chat.press("送出")
    chat.press("確認送出")
    secretary = office.chat("陳秘書")
    secretary.say("審定 規劃課")
    secretary.press("確認 100 分")
    secretary.say("40 缺少網路查詢")
    secretary.press("完成審定")
    secretary.say("略過")
    office.clock.set(DECEMBER)
    return chat


def _answers(office, quarter: int) -> dict[str, Answer]:
    with office.database.transaction() as session:
        assessment = session.exec(select(Assessment).where(Assessment.quarter == quarter)).one()
        return {a.question_code: a for a in session.exec(
            select(Answer).where(Answer.assessment_id == assessment.id)).all()}


def test_the_new_quarter_offers_last_quarter_s_answers_and_copies_nothing_by_itself(office):
    chat = _last_quarter(office)
    chat.say("填寫自評")
    assert "115年第4季" in chat.text and "可從上季開始：115年第3季已答的 25 題" in chat.text
    assert "上季（115年第3季）：100 分（審定）；檔案 1 件" in chat.text
    assert "上季佐證：「受理後即寄發收件確認」" in chat.text
    assert chat.choices[0].label == "沿用上季 100 分"
    assert _answers(office, 4) == {}  # shown, not taken: nothing copied silently


def test_one_press_takes_score_evidence_and_a_reference_to_the_file(office):
    chat = _last_quarter(office)
    chat.say("填寫自評")
    chat.press("沿用上季 100 分")
    assert "已沿用115年第3季的 1.1：100 分，並沿用文字佐證、檔案 1 件" in chat.text
    assert "1.2 提供案件查詢管道種類" in chat.text
    # The verified score is the one offered where the secretariat changed it.
    assert "上季（115年第3季）：40 分（審定）" in chat.text
    chat.say("沿用上季")  # typed, as on LINE once the quick replies are gone
    assert "已沿用115年第3季的 1.2：40 分" in chat.text
    chat.say("90")  # typed over: this quarter's own
    answers = _answers(office, 4)
    assert (answers["1.1"].self_score, answers["1.1"].carried_from) == (100, "115年第3季")
    assert answers["1.1"].evidence_text == "受理後即寄發收件確認"
    assert (answers["1.2"].self_score, answers["1.2"].carried_from) == (40, "115年第3季")
    assert (answers["1.3"].self_score, answers["1.3"].carried_from) == (90, None)
    with office.database.transaction() as session:
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
        reasons = {r.reason for r in session.exec(select(AnswerRevision).where(
            AnswerRevision.answer_id == answers["1.1"].id)).all()}
    assert len(files) == 2 and files[0].stored_path == files[1].stored_path  # one stored file
    assert files[0].sha256 == files[1].sha256
    assert reasons == {"沿用115年第3季"}


def test_a_carried_answer_changed_later_is_this_quarter_s_own(office):
    chat = _last_quarter(office)
    chat.say("填寫自評")
    chat.press("沿用上季 100 分")
    chat.say("跳到 1")
    assert "沿用上季" not in " ".join(c.label for c in chat.choices)  # answered now
    chat.say("110")
    assert _answers(office, 4)["1.1"].carried_from is None


def test_the_review_and_the_receipt_say_what_was_carried_over(office):
    chat = _last_quarter(office)
    chat.say("填寫自評")
    chat.press("沿用上季 100 分")
    chat.say("沿用上季")
    for question in RUBRIC.questions[2:]:
        chat.say(str(SCORES[question.code]))
    chat.say("檢視")
    assert ("1.1 提供案件承辦資訊種類：100 分（王小明，文字佐證、檔案 1 件，沿用115年第3季）"
            in chat.text)
    chat.press("送出")
    chat.press("確認送出")
    assert "沿用上季：1.1、1.2（共 2 題，115年第3季）" in chat.text
    notices = [m.payload["text"] for m in office.outbox() if "【自評送出】" in m.payload["text"]]
    assert "沿用上季：1.1、1.2（共 2 題，115年第3季）" in notices[-1]


def test_nothing_is_offered_without_a_submitted_last_quarter(office):
    office.clock.set(OCTOBER)
    draft = office.chat("王小明")
    draft.say("填寫自評")
    draft.say("100")  # 115年第3季 started, never submitted
    office.clock.set(DECEMBER)
    draft.say("填寫自評")
    assert "115年第4季" in draft.text and "上季" not in draft.text
    assert all(not c.label.startswith("沿用上季") for c in draft.choices)
    answer_all(draft)  # and the quarter is filled as ever
