"""The secretariat's desk through dispatch: verification, returns, phone tests, rights."""

from __future__ import annotations

from sqlmodel import select

from handlers.messages import ChatKind
from handlers.tokens import Token
from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    AssessmentStatus,
    AuditEvent,
    ChatBinding,
    PhoneCourtesyTest,
    Role,
)
from storage.org import ensure_demo_agency
from tests.handlers.test_flows import SCORES, answer_all


def submitted(office):
    staff = office.chat("王小明")
    answer_all(staff)
    staff.press("送出")
    staff.press("確認送出")
    return staff


def assessment(office) -> Assessment:
    with office.database.transaction() as session:
        return session.exec(select(Assessment)).one()


def test_verify_confirm_adjust_and_finish(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    notice = next(m for m in office.outbox() if "【自評送出】" in m.payload["text"])
    assert notice.payload["choices"][0]["label"] == "開始審定"
    secretary.act(notice.payload["choices"][0]["action"])
    assert "【審定】規劃課 第 1/25 題" in secretary.text and "自評：100 分" in secretary.text
    secretary.press("確認 100 分")
    assert "1.1 審定 100 分" in secretary.text and "第 2/25 題" in secretary.text
    secretary.say("40 查詢管道僅現場與電話")
    assert "1.2 審定 40 分" in secretary.text
    secretary.say("999")
    assert "999 分不是本題允許的分數" in secretary.text
    secretary.press("完成審定")
    assert "優點、建議改進事項" in secretary.text
    secretary.say("流程公開完整；建議增加網路查詢")
    row = assessment(office)
    assert row.status == AssessmentStatus.VERIFIED
    assert row.assessor_member_id == office.member("陳秘書").id
    assert row.assessed_on is not None
    assert row.strengths_and_suggestions == "流程公開完整；建議增加網路查詢"
    total = sum(SCORES.values()) - 10  # 1.2: 50 → 40
    assert f"總分 {total} 分" in secretary.text and "考核人員：陳秘書" in secretary.text
    with office.database.transaction() as session:
        answers = {a.question_code: a for a in session.exec(select(Answer)).all()}
        changes = session.exec(select(AnswerRevision).where(
            AnswerRevision.field == "verified_score",
            AnswerRevision.answer_id == answers["1.2"].id)).all()
    assert answers["1.2"].verified_score == 40 and answers["3.1"].verified_score == 70
    assert answers["1.2"].reviewer_comment == "查詢管道僅現場與電話"
    assert [(c.old_value, c.new_value, c.reason) for c in changes] == [
        (None, "40", "查詢管道僅現場與電話")]
    told = [m.payload["text"] for m in office.outbox() if m.destination == staff.user_id]
    assert any(t.startswith("【審定完成】規劃課 115年第4季") for t in told)


def test_return_marked_questions_then_resubmit(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    secretary.say("審定 規劃課")
    secretary.press("下一題")
    secretary.press("標記退回")  # 1.2
    assert "1.2 已標記退回" in secretary.text
    secretary.press("退回課室")
    secretary.say("1.2 佐證不足")
    assert assessment(office).status == AssessmentStatus.RETURNED
    told = [m.payload["text"] for m in office.outbox() if m.destination == staff.user_id]
    assert any("【退回】" in t and "1.2 題" in t and "原因：1.2 佐證不足" in t for t in told)
    staff.say("填寫自評")
    assert "秘書室退回，請修改：1.2" in staff.text and "第 2/25 題" in staff.text
    staff.say("跳到 1")
    staff.say("10")
    assert "秘書室這次退回的題目是：1.2" in staff.text
    staff.say("跳到 2")
    staff.say("55")
    assert "已將 1.2 由 50 分改為 55 分" in staff.text
    staff.say("送出")
    staff.say("確認")
    assert "收件確認" in staff.text
    assert assessment(office).status == AssessmentStatus.SUBMITTED
    with office.database.transaction() as session:
        events = [e.action for e in session.exec(select(AuditEvent)).all()]
    assert events == ["assessment.submit", "assessment.return", "assessment.submit"]


def test_phone_tests_propose_the_band_during_verification(office):
    secretary = office.chat("陳秘書")
    submitted(office)
    secretary.say("電話測試 規劃課 王小明 92 語氣親切")
    assert "已登錄電話禮貌測試：規劃課 王小明 92 分" in secretary.text
    assert "對應「電話禮貌測試績效」級距 16-20分" in secretary.text
    secretary.say("電話測試 規劃課 林課長 150")
    assert "0 到 100" in secretary.text
    secretary.say("電話測試 規劃課")
    assert "格式：電話測試 課室 受測人員 分數" in secretary.text
    secretary.say("審定 規劃課")
    with office.database.transaction() as session:
        assert len(session.exec(select(PhoneCourtesyTest)).all()) == 1
    secretary.say("跳到 6")  # during the walk, moving is about the walk
    secretary.press("下一題")
    assert "2.4 電話禮貌測試績效" in secretary.text
    assert "本季電話禮貌測試：王小明 92 分（平均 92 分）→ 建議級距 16-20分" in secretary.text


def test_only_the_secretariat_uses_the_desk(office):
    staff = submitted(office)
    staff.say("審定 規劃課")
    assert "您的角色無法使用這項功能" in staff.text
    staff.say("電話測試 規劃課 王小明 92")
    assert "您的角色無法使用這項功能" in staff.text
    own = assessment(office).id
    staff.act(Token(0, "vo", (str(own),)).encode())
    assert "您的角色無法使用這項功能" in staff.text
    with office.database.transaction() as session:
        assert session.exec(select(PhoneCourtesyTest)).all() == []
    assert assessment(office).status == AssessmentStatus.SUBMITTED


def test_the_desk_in_the_bound_group(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        session.add(ChatBinding(agency_id=agency.id, channel="console", chat_id="g-1",
                                role=Role.SECRETARIAT))
    for chat in (secretary, staff):
        chat.chat_kind, chat.chat_id = ChatKind.GROUP, "g-1"
    assert staff.say("審定 規劃課") == []  # not the secretariat: the group stays quiet
    secretary.say("大家辛苦了")
    assert secretary.say("午安") == []
    secretary.say("審定 規劃課")
    assert "【審定】規劃課 第 1/25 題" in secretary.text
    secretary.press("確認 100 分")
    assert "第 2/25 題" in secretary.text


def test_attachments_are_sent_again_on_request(office):
    secretary = office.chat("陳秘書")
    staff = office.chat("王小明")
    staff.say("填寫自評")
    staff.say("100")
    staff.send_file(b"%PDF-1.4 flow", filename="流程.pdf")
    staff.send_file(b"\x89PNG photo", filename="櫃台.png", mime_type="image/png", kind="photo")
    scores = dict(SCORES)
    for question_code, score in scores.items():
        if question_code == "1.1":
            continue
        staff.say(f"跳到 {question_code}")
        staff.say(str(score))
    staff.say("送出")
    staff.say("確認")
    secretary.say("審定 規劃課")
    assert "佐證檔案：2 件" in secretary.text
    replies = secretary.press("看附件（2）")
    assert replies[0].document.filename == "流程.pdf"
    assert replies[0].document.content == b"%PDF-1.4 flow"
    assert replies[1].picture.content == b"\x89PNG photo"
    assert "已傳送 1.1 的 2 個附件" in replies[2].text


def test_the_years_summary_marks_self_scores_and_says_how_it_ranks(office):
    staff = office.chat("王小明")
    answer_all(staff)
    staff.press("送出")
    staff.press("確認送出")
    secretary = office.chat("陳秘書")
    secretary.say("年度 115")
    summary = secretary.last[0].text
    assert "四季皆經秘書室審定者始列名次" in summary
    line = next(part for part in summary.splitlines() if part.startswith("—. 規劃課"))
    assert f"{sum(SCORES.values())}（自評）" in line and "未完成（缺第1季、第2季、第3季）" in line
    assert "成績最優課室：—" in summary
