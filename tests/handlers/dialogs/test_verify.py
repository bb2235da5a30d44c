"""審定 on the engine: typed labels are presses, words of other dialogs ask first, the group
shows the desk, and the section sees what was decided (issue #14's findings)."""

from __future__ import annotations

import logging

from sqlmodel import select

from handlers.messages import ChatKind
from handlers.tokens import Token
from storage.models import Answer, Assessment, AssessmentStatus, ChatBinding, Role
from storage.org import ensure_demo_agency
from tests.handlers.test_flows import SCORES
from tests.handlers.test_secretariat import submitted


def assessment(office) -> Assessment:
    with office.database.transaction() as session:
        return session.exec(select(Assessment)).one()


def answers(office) -> dict[str, Answer]:
    with office.database.transaction() as session:
        return {a.question_code: a for a in session.exec(select(Answer)).all()}


def in_group(office, *chats) -> None:
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        session.add(ChatBinding(agency_id=agency.id, channel="console", chat_id="g-1",
                                role=Role.SECRETARIAT))
    for chat in chats:
        chat.chat_kind, chat.chat_id = ChatKind.GROUP, "g-1"


def labels(chat) -> list[str]:
    return [c.label for c in chat.choices]


def test_typed_confirm_in_the_group_keeps_the_self_score_and_moves_on(office):
    secretary = office.chat("陳秘書")
    submitted(office)
    in_group(office, secretary)
    secretary.say("審定 規劃課")
    secretary.say("確認")
    assert "1.1 審定 100 分" in secretary.text and "第 2/25 題" in secretary.text
    assert answers(office)["1.1"].verified_score == 100
    secretary.say("確認 50 分")  # the label as drawn, typed
    assert "1.2 審定 50 分" in secretary.text
    # Nothing of the staff member's 送出 path ran: no self-assessment of 秘書室 appeared.
    assert len(list(office.outbox())) == 1  # only the 【自評送出】 notice of 規劃課
    with office.database.transaction() as session:
        assert len(session.exec(select(Assessment)).all()) == 1


def test_every_label_of_the_walk_works_when_typed(office):
    secretary = office.chat("陳秘書")
    staff = office.chat("王小明")
    staff.say("填寫自評")
    staff.say("100")
    staff.send_file(b"%PDF-1.4 flow", filename="流程.pdf")
    for code, score in SCORES.items():
        if code != "1.1":
            staff.say(f"跳到 {code}")
            staff.say(str(score))
    staff.say("送出")
    staff.say("確認")
    secretary.say("審定 規劃課")
    replies = secretary.say("看附件")
    assert replies[0].document.filename == "流程.pdf"
    assert "已傳送 1.1 的 1 個附件" in secretary.text
    secretary.say("標記退回")
    assert "1.1 已標記退回" in secretary.text and "取消退回標記" in labels(secretary)
    secretary.say("取消退回標記")
    assert "1.1 已取消退回標記" in secretary.text
    secretary.say("下一題")
    assert "第 2/25 題" in secretary.text
    secretary.say("上一題")
    assert "第 1/25 題" in secretary.text
    secretary.say("完成審定")
    assert "優點、建議改進事項" in secretary.text
    secretary.say("略過")
    assert assessment(office).status == AssessmentStatus.VERIFIED


def test_a_word_of_another_dialog_asks_before_leaving_the_walk(office):
    secretary = office.chat("陳秘書")
    submitted(office)
    secretary.say("審定 規劃課")
    secretary.say("確認")
    for word in ("送出", "填寫自評", "創意提案"):
        secretary.say(word)
        assert "要離開審定嗎？" in secretary.text, word
        assert labels(secretary) == ["繼續審定", "離開"]
        secretary.say("繼續審定")
        assert "【審定】規劃課 第 2/25 題" in secretary.text
    secretary.say("送出")
    secretary.press("離開")  # now the word is taken as said: 秘書室's own 送出
    assert "【審定】" not in secretary.text and "尚有 25 題未作答" in secretary.text
    secretary.say("審定 規劃課")  # the scores verified so far were kept
    assert answers(office)["1.1"].verified_score == 100


def test_the_group_shows_the_desk_and_starts_no_self_assessment(office):
    secretary = office.chat("陳秘書")
    submitted(office)
    in_group(office, secretary)
    secretary.say("進度")
    shown = labels(secretary)
    assert "填寫自評" not in shown and "我的進度" not in shown and "創意提案" not in shown
    assert "各課室進度" in shown and "說明" in shown
    secretary.act(Token(0, "m", ("fill",)).encode())  # an old menu button, pressed there
    assert "請在與小幫手的私人對話中填寫" in secretary.text
    with office.database.transaction() as session:
        assert len(session.exec(select(Assessment)).all()) == 1  # none for 秘書室


def test_stale_forged_and_malformed_buttons_redraw_the_walk(office, caplog):
    secretary = office.chat("陳秘書")
    submitted(office)
    secretary.say("審定 規劃課")
    old = secretary.choice("確認 100 分").action
    secretary.say("確認")
    caplog.set_level(logging.WARNING)
    secretary.act(old)
    assert "這個按鈕已經過期" in secretary.text and "第 2/25 題" in secretary.text
    step = int(secretary.choices[0].action.split(":")[0])
    for forged in ("{step}:vc:1", "{step}:ok:1.1", "0:vo", "{step}:zz"):
        forged = forged.format(step=step)
        secretary.act(forged)
        assert "無法辨識這個按鈕" in secretary.text, forged
        assert "第 2/25 題" in secretary.text, forged
        step = int(secretary.choices[0].action.split(":")[0])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert answers(office)["1.2"].verified_score is None


def test_the_section_sees_what_the_secretariat_decided(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    secretary.say("審定 規劃課")
    secretary.say("確認")
    secretary.say("40 缺少佐證")
    secretary.press("完成審定")
    secretary.say("流程公開完整")
    notice = next(m.payload["text"] for m in office.outbox()
                  if m.destination == staff.user_id and "【審定完成】" in m.payload["text"])
    assert "1.2 50→40：缺少佐證" in notice
    staff.say("我的進度")
    assert "已審定" in staff.text
    assert "審定後總分" in staff.text
    staff.say("檢視")
    assert "1.2 提供案件查詢管道種類：自評 50 分，審定 40 分（缺少佐證）" in staff.text
    assert "1.1 提供案件承辦資訊種類：100 分" in staff.text


def test_a_walk_left_halfway_goes_on_where_it_stopped(office):
    secretary = office.chat("陳秘書")
    submitted(office)
    secretary.say("審定 規劃課")
    for _ in range(3):
        secretary.say("確認")
    assert "第 4/25 題" in secretary.text
    secretary.say("選單")
    secretary.say("審定 規劃課")
    assert "繼續審定 規劃課 115年第4季 自評" in secretary.text
    assert "已審定 3 題，從 2.1 繼續" in secretary.text and "第 4/25 題" in secretary.text


def test_finishing_names_the_questions_not_looked_at(office):
    secretary = office.chat("陳秘書")
    staff = submitted(office)
    secretary.say("審定 規劃課")
    secretary.say("確認")
    secretary.press("完成審定")
    assert "注意：尚有 24 題未逐題審定：1.2、1.3" in secretary.text
    secretary.press("返回審定")
    assert "第 2/25 題" in secretary.text  # the first question not looked at
    # After a return the changed question is to be looked at again, even if seen before.
    secretary.say("跳到 1")
    secretary.press("標記退回")
    secretary.press("退回課室")
    secretary.say("請補佐證")
    staff.say("填寫自評")
    staff.say("90")
    staff.press("送出")
    staff.press("確認送出")
    secretary.say("審定 規劃課")
    assert "第 1/25 題" in secretary.text  # 1.1 changed since it was confirmed
    secretary.press("完成審定")
    assert "1.1、1.2" in secretary.text


def test_the_secretariats_help_in_private_lists_the_desk(office):
    secretary = office.chat("陳秘書")
    secretary.say("說明")
    for word in ("審定 課室名稱", "電話測試 課室 受測人員 分數", "總表 [115年第4季]", "處理情形",
                 "完成審定", "評分表 課室"):
        assert word in secretary.text, word
    staff = office.chat("王小明")
    staff.say("說明")
    assert "審定 課室名稱" not in staff.text


def test_the_sections_measured_figure_is_shown_in_review_and_verification(office):
    staff = office.chat("王小明")
    staff.say("填寫自評")
    staff.say("跳到 2.4")
    staff.say("92")
    staff.say("18")
    staff.say("檢視")
    assert "2.4 電話禮貌測試績效：18 分（王小明，電話禮貌測試分數 92分）" in staff.text
    for code, score in SCORES.items():
        if code != "2.4":
            staff.say(f"跳到 {code}")
            staff.say(str(score))
    staff.press("送出")
    staff.press("確認送出")
    secretary = office.chat("陳秘書")
    secretary.say("審定 規劃課")
    secretary.say("跳到 2.4")
    assert "自評：18 分（課室填報電話禮貌測試分數 92分）" in secretary.text
