"""Every flow through ``dispatch`` on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import errno
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from handlers.state import State
from handlers.tokens import Token
from rubric import load_year
from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    AssessmentStatus,
    Attachment,
    ChatBinding,
    ChatIdentity,
    ConversationState,
    Role,
)
from tests.conftest import REQUIRE_PG

RUBRIC = load_year(105)
SCORES = {
    "1.1": 100, "1.2": 50, "1.3": 80, "2.1": 20, "2.2": 22, "2.3": 18, "2.4": 18, "2.5": 45,
    "2.6": 25, "3.1": 70, "3.2": 60, "4.1": 18, "4.2": 9, "4.3": 16, "4.4": 40, "5.1": 25,
    "5.2": 8, "5.3": 8, "5.4": 45, "6.1": 40, "6.2": 25, "6.3": 15, "7.1": 25, "7.2": 35,
    "7.3": 25,
}
EXPECTED_ITEMS = [230, 148, 130, 83, 86, 80, 85]  # worked out by hand from SCORES
EXPECTED_TOTAL = 842


def stored_answers(office) -> dict[str, int]:
    with office.database.transaction() as session:
        rows = session.exec(select(Answer)).all()
        return {a.question_code: a.self_score for a in rows if a.self_score is not None}


def assessment_row(office) -> Assessment:
    with office.database.transaction() as session:
        return session.exec(select(Assessment)).one()


def answer_all(chat, scores=SCORES) -> None:
    chat.say("填寫自評")
    for question in RUBRIC.questions:
        assert f"{question.code} {question.name}" in chat.text, chat.text
        chat.say(str(scores[question.code]))
        assert f"已記錄 {question.code}" in chat.text, chat.text


def test_expected_total_matches_the_hand_computation():
    assert sum(SCORES.values()) == EXPECTED_TOTAL == sum(EXPECTED_ITEMS)


# --- onboarding ------------------------------------------------------------------------------


def test_stranger_is_asked_for_a_code(office):
    chat = office.stranger()
    chat.say("你好")
    assert "請輸入秘書室提供的邀請碼" in chat.text


def test_valid_code_as_first_message_binds_and_is_used_up(office):
    code = office.invite(name="張三")
    chat = office.stranger("u-1")
    chat.say(code.lower())
    assert "綁定完成！張三您好" in chat.text
    assert "規劃課" in chat.text and "承辦人" in chat.text
    assert [c.label for c in chat.choices] == ["填寫自評", "我的進度", "創意提案", "說明"]
    other = office.stranger("u-2")
    other.say(code)
    assert "已經使用過了" in other.text


def test_deep_link_start_code(office):
    code = office.invite(name="李四")
    chat = office.stranger("tg-1", channel="telegram")
    chat.say(f"/start {code}")
    assert "綁定完成！李四您好" in chat.text


def test_mistyped_and_expired_codes_get_their_reason(office, clock):
    chat = office.stranger()
    chat.say("ABCDE-FGHJK")
    assert "查無此邀請碼" in chat.text
    code = office.invite(valid_for=timedelta(hours=1))
    clock.set(clock.now + timedelta(hours=2))
    chat.say(code)
    assert "已過期" in chat.text
    with office.database.transaction() as session:
        assert session.exec(select(ChatIdentity)).all() == []


def test_one_member_binds_line_and_telegram(office):
    code = office.invite(name="王大同")
    office.stranger("tg-9", channel="telegram").say(code)
    member = office.member("王大同")
    with office.database.transaction() as session:
        from storage.invitations import create_invitation
        from storage.org import ensure_demo_agency

        second = create_invitation(session=session, agency=ensure_demo_agency(session=session),
                                   role=Role.STAFF, now=office.clock.now, member=member).code
    line = office.stranger("U" + "1" * 32, channel="line")
    line.say(second)
    assert "綁定完成！王大同您好" in line.text
    with office.database.transaction() as session:
        identities = session.exec(select(ChatIdentity).where(
            ChatIdentity.member_id == member.id)).all()
    assert {i.channel for i in identities} == {"telegram", "line"}


# --- answering -------------------------------------------------------------------------------


def test_full_assessment_submit_gives_receipt_and_notifies_secretariat(office):
    office.chat("陳秘書")  # the secretariat has a chat identity to be told through
    chat = office.chat("王小明")
    answer_all(chat)
    assert "全部 25 題都已作答" in chat.text
    assert f"總分 {EXPECTED_TOTAL} 分，等第「甲」" in chat.text
    chat.press("送出")
    for item, subtotal in zip(RUBRIC.items, EXPECTED_ITEMS, strict=True):
        assert f"{item.name}：{subtotal}/{item.max} 分" in chat.text
    chat.press("確認送出")
    assert "收件確認" in chat.text
    assert f"總分：{EXPECTED_TOTAL} 分" in chat.text and "等第：甲" in chat.text
    assert "期別：115年第4季" in chat.text and "送出人：王小明" in chat.text
    row = assessment_row(office)
    assert row.status == AssessmentStatus.SUBMITTED
    assert row.reference and row.reference in chat.text
    assert stored_answers(office) == SCORES
    notices = [m for m in office.outbox() if "【自評送出】" in m.payload["text"]]
    assert len(notices) == 1
    assert notices[0].destination == f"console-{office.member('陳秘書').id}"
    assert f"總分 {EXPECTED_TOTAL} 分" in notices[0].payload["text"]


def test_submitted_assessment_is_read_only(office):
    chat = office.chat("王小明")
    answer_all(chat)
    chat.press("送出")
    chat.press("確認送出")
    chat.say("填寫自評")
    assert "秘書室退回前僅能檢視" in chat.text
    chat.say("跳到 3")
    assert "秘書室退回前僅能檢視" in chat.text
    assert stored_answers(office) == SCORES


def test_band_pick_then_exact_score(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.press("81-120分")
    assert "請選擇 81 到 120 之間的分數" in chat.text
    assert [c.label for c in chat.choices][:5] == ["120分", "110分", "100分", "90分", "81分"]
    chat.say("50")
    assert "50 分不在這個級距的範圍內" in chat.text
    chat.press("110分")
    assert "已記錄 1.1 提供案件承辦資訊種類：110 分（級距 81-120分）" in chat.text
    assert stored_answers(office) == {"1.1": 110}


@pytest.mark.parametrize(
    ("typed", "stored", "message"),
    [
        ("85", 85, None),
        ("８５", 85, None),
        ("85分", 85, None),
        (" 0 ", 0, None),
        ("abc", None, "「abc」不是分數"),
        ("-1", None, "-1 分不在本題的範圍內"),
        ("999", None, "999 分不在本題的範圍內"),
        ("12.5", None, "不接受小數"),
        ("", None, "請輸入分數：0 到 120 之間的整數"),
        ("<b>85</b>", None, "不是分數"),
    ],
)
def test_typed_scores(office, typed, stored, message):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say(typed)
    if stored is None:
        assert message in chat.text
        assert "第 1/25 題" in chat.text  # the question is asked again
        assert stored_answers(office) == {}
    else:
        assert stored_answers(office) == {"1.1": stored}


def test_objective_measure_proposes_the_band(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("跳到 2.4")
    chat.press("輸入電話禮貌測試分數")
    chat.say("101")
    assert "超出電話禮貌測試分數的範圍" in chat.text
    chat.say("９２")
    assert "電話禮貌測試分數 92分，對應級距 16-20分" in chat.text
    chat.say("15")
    assert "15 分不在這個級距的範圍內" in chat.text
    chat.press("18分")
    with office.database.transaction() as session:
        answer = session.exec(select(Answer)).one()
    assert (answer.self_score, answer.measure_value) == (18, 92)


def test_measure_below_every_band_suggests_zero(office):
    chat = office.chat("王小明")
    chat.say("跳到 2.4")
    chat.press("輸入電話禮貌測試分數")
    chat.say("65")
    assert "未達最低級距（70分以上），本題建議給 0 分" in chat.text
    chat.press("0分（未辦理）")
    assert stored_answers(office) == {"2.4": 0}


def test_evidence_text_and_files_are_kept_with_the_answer(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.send_file(b"%PDF too early")
    assert "請先為本題評分" in chat.text
    chat.say("100")
    chat.say("已於網站公布標準作業流程")
    chat.say("櫃台張貼承辦人電話")
    chat.send_file(b"%PDF-1.4 evidence", filename="流程圖.pdf")
    assert "已收到檔案「流程圖.pdf」" in chat.text
    chat.send_file(b"\x89PNG photo", filename=None, mime_type="image/png", kind="photo")
    assert "已收到照片" in chat.text and "列為 1.1 的佐證" in chat.text
    assert "第 2/25 題" in chat.text  # the score moved on; the evidence went to 1.1
    with office.database.transaction() as session:
        answer = session.exec(select(Answer)).one()
        files = session.exec(select(Attachment)).all()
    assert answer.evidence_text == "已於網站公布標準作業流程\n櫃台張貼承辦人電話"
    assert len(files) == 2
    stored = office.evidence_root / files[0].stored_path
    assert stored.read_bytes() == b"%PDF-1.4 evidence"
    import hashlib

    assert files[0].sha256 == hashlib.sha256(b"%PDF-1.4 evidence").hexdigest()
    assert files[0].size == len(b"%PDF-1.4 evidence")
    assert files[0].mime_type == "application/pdf"


def test_oversized_file_is_refused(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.send_file(b"x" * (1024 * 1024 + 1))
    assert "檔案太大（1.0 MB），佐證檔案上限為 1.0 MB" in chat.text
    with office.database.transaction() as session:
        assert session.exec(select(Attachment)).all() == []


def test_full_evidence_store_keeps_the_answer_and_tells_the_secretariat(office):
    office.chat("陳秘書")
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    office.evidence_root.parent.mkdir(parents=True, exist_ok=True)
    office.evidence_root.write_bytes(b"")  # a file where the folder should be: writes fail
    chat.send_file(b"%PDF evidence")
    assert "佐證檔案暫時無法儲存" in chat.text
    assert stored_answers(office) == {"1.1": 100}
    assert any("佐證儲存區寫入失敗" in m.payload["text"] for m in office.outbox())


@pytest.fixture
def full_disk(office):
    """The evidence store on a real, tiny file system (tmpfs, 64 KiB), filled up: writes fail
    with ENOSPC. Mounting needs root; elsewhere the test is skipped, and CI fails instead."""
    root = office.evidence_root
    root.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)],
        capture_output=True).returncode == 0
    if not mounted:
        reason = "mounting a tmpfs needs root and CAP_SYS_ADMIN"
        if REQUIRE_PG:  # set in CI, where this machine allows it
            pytest.fail(reason)
        pytest.skip(reason)
    filler = root / "filler"
    try:
        with filler.open("wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    try:
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(root)], check=True)


def test_a_really_full_disk_keeps_the_answer_leaves_no_scraps_and_recovers(office, full_disk):
    office.chat("陳秘書")
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.send_file(b"%PDF " + os.urandom(16 * 1024))
    assert "佐證檔案暫時無法儲存" in chat.text
    assert stored_answers(office) == {"1.1": 100}
    assert any("佐證儲存區寫入失敗" in m.payload["text"] for m in office.outbox())
    assert not list(office.evidence_root.rglob(".incoming-*"))  # nothing half-written
    with office.database.transaction() as session:
        assert session.exec(select(Attachment)).all() == []
    full_disk.unlink()  # the operator frees space; the same file now goes in
    chat.send_file(b"%PDF again")
    assert "佐證檔案暫時無法儲存" not in chat.text
    with office.database.transaction() as session:
        (kept,) = session.exec(select(Attachment)).all()
    assert (office.evidence_root / kept.stored_path).read_bytes() == b"%PDF again"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL locks rows
def test_sqlite_locked_by_another_writer_for_a_moment_is_waited_out(office):
    """Another process holds SQLite's write lock for a moment (a backup, a CLI command): the
    event waits within the busy timeout and is answered as usual, with no error shown."""
    import sqlite3
    import threading

    chat = office.chat("王小明")
    path = office.database.engine.url.database
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as another writer holds it
    replies: list[str] = []
    answering = threading.Thread(target=lambda: replies.append(
        "\n".join(o.text for o in chat.say("填寫自評"))))
    answering.start()
    answering.join(timeout=1.0)
    assert answering.is_alive(), "the event did not wait for the lock"
    holder.execute("COMMIT")
    holder.close()
    answering.join(timeout=30)
    assert "第 1/25 題" in replies[0] and "抱歉" not in replies[0]


# --- moving around ---------------------------------------------------------------------------


def test_back_skip_goto_and_revision_history(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    assert "第 2/25 題" in chat.text  # a score moves on by itself
    chat.say("/skip")
    assert "第 3/25 題" in chat.text
    chat.say("上一題")
    assert "第 2/25 題" in chat.text
    chat.say("/back")
    assert "第 1/25 題" in chat.text and "目前答案：100 分" in chat.text
    chat.say("90")
    chat.say("跳到 25")
    assert "第 25/25 題" in chat.text
    chat.say("/goto 2.4")
    assert "第 7/25 題" in chat.text
    chat.say("跳到 99")
    assert "沒有「99」這一題" in chat.text
    with office.database.transaction() as session:
        revisions = session.exec(select(AnswerRevision).where(
            AnswerRevision.field == "self_score").order_by(AnswerRevision.id)).all()
    assert [(r.old_value, r.new_value) for r in revisions] == [(None, "100"), ("100", "90")]


def test_review_shows_subtotals_unanswered_and_who(office):
    office.add_member("黃同仁", "規劃課")
    first, second = office.chat("王小明"), office.chat("黃同仁")
    first.say("填寫自評")
    first.say("100")
    second.say("跳到 2")
    second.say("40")
    first.say("檢視")
    text = first.text
    assert "已作答 2/25 題，目前合計 140 分" in text
    assert "【服務流程】140/280 分" in text
    assert "1.1 提供案件承辦資訊種類：100 分（王小明）" in text
    assert "1.2 提供案件查詢管道種類：40 分（黃同仁）" in text
    assert "未作答 23 題" in text


def test_submit_refused_while_unanswered(office):
    chat = office.chat("王小明")
    answer_all(chat, {**SCORES, "7.3": 25})
    chat.say("跳到 3")
    # Re-opening a question does not clear it; a missing one must be answered explicitly.
    with office.database.transaction() as session:
        answer = session.exec(select(Answer).where(Answer.question_code == "1.3")).one()
        answer.self_score = None
        session.add(answer)
    chat.say("送出")
    assert "尚有 1 題未作答，還不能送出：第 3 題（1.3）" in chat.text
    assert "明確填 0 分" in chat.text
    assert assessment_row(office).status == AssessmentStatus.DRAFT


def test_cancel_submission(office):
    chat = office.chat("王小明")
    answer_all(chat)
    chat.say("/submit")
    chat.say("hmm")
    assert "請按「確認送出」送出" in chat.text
    chat.say("取消")
    assert "已取消送出" in chat.text
    assert assessment_row(office).status == AssessmentStatus.DRAFT


def test_pause_and_resume_days_later(office, clock):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")
    chat.say("暫停")
    assert "下次從第 2 題（1.2）繼續" in chat.text
    clock.set(clock.now + timedelta(days=9))
    chat.say("填寫自評")
    assert "已作答 1/25 題" in chat.text and "第 2/25 題" in chat.text


def test_help_menu_and_progress(office):
    chat = office.chat("王小明")
    chat.say("說明")
    assert "跳到 N（/goto N）" in chat.text
    chat.say("我的進度")
    assert "規劃課 115年第4季 自評（填寫中）" in chat.text and "已作答 0/25 題" in chat.text
    chat.say("/menu")
    assert "王小明您好，請選擇功能" in chat.text


def test_secretariat_sees_every_section_progress(office):
    staff = office.chat("王小明")
    staff.say("填寫自評")
    staff.say("100")
    secretary = office.chat("陳秘書")
    secretary.say("選單")
    assert "各課室進度" in [c.label for c in secretary.choices]
    secretary.press("各課室進度")
    assert "規劃課：1/25 題，填寫中" in secretary.text
    assert "尚未開始：秘書室、工務課" in secretary.text
    staff.say("進度")  # from staff: their own section's progress
    assert "規劃課 115年第4季 自評（填寫中）" in staff.text and "各課室" not in staff.text
    secretary.say("進度")
    assert "規劃課：1/25 題，填寫中" in secretary.text


def test_early_october_opens_the_third_quarter(office, clock):
    clock.set(datetime(2026, 10, 5, 1, 0, tzinfo=UTC))
    chat = office.chat("王小明")
    chat.say("填寫自評")
    assert "規劃課 115年第3季 自評" in chat.text
    clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    chat.say("填寫自評")
    assert "規劃課 115年第4季 自評" in chat.text


# --- tokens ----------------------------------------------------------------------------------


def test_stale_button_is_refused_and_nothing_changes(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    old_zero = chat.choice("0分（未辦理）").action
    chat.say("100")
    chat.act(old_zero)
    assert "這個按鈕已經過期" in chat.text
    assert stored_answers(office) == {"1.1": 100}


def current_step(office, chat) -> int:
    with office.database.transaction() as session:
        row = session.exec(select(ConversationState).where(
            ConversationState.platform_user_id == chat.user_id)).one()
        return State.from_json(row.state).step


def test_forged_tokens_are_refused(office):
    office.add_member("工務同仁", "工務課")
    other = office.chat("工務同仁")
    other.say("填寫自評")
    other_assessment = str(assessment_row(office).id)
    chat = office.chat("王小明")
    chat.say("填寫自評")
    own = str(max(a.id for a in _assessments(office)))
    # Every question button carries only its own widget's value: the window's data says
    # which assessment and question it is, so another's assessment cannot even be named.
    cases = [
        (lambda step: Token(step, "s", (other_assessment, "1.1", "10")).encode(),
         "無法辨識這個按鈕"),
        (lambda step: Token(step, "zero", (other_assessment,)).encode(), "無法辨識這個按鈕"),
        (lambda step: Token(step, "b", ("7",)).encode(), "無法辨識這個按鈕"),
        (lambda step: Token(step, "b", (own, "1.1", "0")).encode(), "無法辨識這個按鈕"),
        (lambda step: Token(step, "zz", ()).encode(), "無法辨識這個按鈕"),
        (lambda step: "not-a-token", "無法辨識這個按鈕"),
        (lambda step: f"{step}:b:'; DROP TABLE answers;--", "無法辨識這個按鈕"),
        (lambda step: f"{step - 1}:zero", "這個按鈕已經過期"),
    ]
    for make, message in cases:
        action = make(current_step(office, chat))
        chat.act(action)
        assert message in chat.text, (action, chat.text)
        assert "第 1/25 題" in chat.text  # the member is shown where they are
    assert stored_answers(office) == {}


def _assessments(office) -> list[Assessment]:
    with office.database.transaction() as session:
        return list(session.exec(select(Assessment)).all())


def test_token_for_submitted_assessment_is_refused(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    old_zero = chat.choice("0分（未辦理）").action  # a question's button, kept from before
    answer_all(chat)
    chat.press("送出")
    chat.press("確認送出")
    chat.act(old_zero)
    assert "這個按鈕已經過期" in chat.text
    chat.act(Token(current_step(office, chat), "zero", ()).encode())  # no question is open
    assert "無法辨識這個按鈕" in chat.text
    chat.say("0")
    chat.say("填寫自評")
    assert "自評已於" in chat.text and "無法修改" in chat.text
    assert stored_answers(office) == SCORES


# --- delivery --------------------------------------------------------------------------------


def test_redelivered_event_is_processed_once(office):
    chat = office.chat("王小明")
    chat.say("填寫自評", event_id="evt-1")
    first = chat.say("100", event_id="evt-2")
    assert first
    again = chat.say("100", event_id="evt-2")
    assert again == []
    with office.database.transaction() as session:
        revisions = session.exec(select(AnswerRevision)).all()
    assert len(revisions) == 1


def test_two_members_answering_different_questions_both_keep(office):
    office.add_member("黃同仁", "規劃課")
    a, b = office.chat("王小明"), office.chat("黃同仁")
    a.say("填寫自評")
    b.say("填寫自評")
    a.say("100")
    b.say("跳到 2")
    b.say("40")
    assert stored_answers(office) == {"1.1": 100, "1.2": 40}


def test_same_question_different_answers_keeps_the_later_and_tells_the_earlier(office):
    office.add_member("黃同仁", "規劃課")
    a, b = office.chat("王小明"), office.chat("黃同仁")
    a.say("填寫自評")
    b.say("填寫自評")
    a.say("100")
    b.say("90")
    assert stored_answers(office) == {"1.1": 90}
    told = [m for m in office.outbox() if m.destination == a.user_id]
    assert len(told) == 1
    assert "已由 黃同仁 改為 90 分；您先前填的是 100 分" in told[0].payload["text"]


def test_concurrent_answers_from_threads_are_all_kept(office):
    """Two members of one section answer at the same moment on separate connections."""
    import threading

    office.add_member("黃同仁", "規劃課")
    a, b = office.chat("王小明"), office.chat("黃同仁")
    a.say("填寫自評")
    b.say("填寫自評")
    codes_a = ["1.1", "1.3", "2.2", "2.5", "3.1"]
    codes_b = ["1.2", "2.1", "2.3", "2.6", "3.2"]
    errors: list[BaseException] = []

    def run(chat, codes):
        try:
            for code in codes:
                chat.say(f"跳到 {code}")
                chat.say(str(SCORES[code]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a, codes_a)),
               threading.Thread(target=run, args=(b, codes_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert stored_answers(office) == {c: SCORES[c] for c in codes_a + codes_b}


# --- groups and state ------------------------------------------------------------------------


def test_group_binding_with_a_secretariat_code(office):
    from handlers.messages import ChatKind


    staff_code = office.invite()
    code = office.invite(role=Role.SECRETARIAT, section="秘書室")
    group = office.stranger("user-in-group")
    group.chat_kind, group.chat_id = ChatKind.GROUP, "group-1"
    assert group.say("大家好") == []
    group.say(f"/bind {staff_code}")
    assert "無法以這組邀請碼綁定群組" in group.text
    group.say(f"綁定 {code}")
    assert "秘書室群組" in group.text
    with office.database.transaction() as session:
        binding = session.exec(select(ChatBinding)).one()
    assert (binding.channel, binding.chat_id) == ("console", "group-1")
    # Now submissions go to the group.
    chat = office.chat("王小明")
    answer_all(chat)
    chat.press("送出")
    chat.press("確認送出")
    assert [m.destination for m in office.outbox() if "【自評送出】" in m.payload["text"]] \
        == ["group-1"]


def test_state_documents_from_other_versions_load():
    assert State.from_json(None) == State()
    newer = {"v": 9, "step": 5, "mode": "evidence", "question": "1.1", "assessment_id": 3,
             "something_new": [1, 2]}
    state = State.from_json(newer)
    # An older sqbot waited for evidence after a score; that reads as being at the question
    # (now the assessment dialog's) with its evidence still welcome.
    assert (state.step, state.mode, state.question) == (5, "dialog", "1.1")
    assert state.dialog == {"name": "assess", "window": "question", "leaving": None, "data": {
        "assessment_id": 3, "code": "1.1", "band": None, "measure": None,
        "evidence_for": "1.1"}}
    # Before the assessment was a dialog: a band, the confirmation, the review.
    band = State.from_json({"mode": "band", "question": "2.4", "assessment_id": 3, "band": 1,
                            "measure": 92.0})
    assert band.dialog is not None and band.dialog["window"] == "band"
    assert band.dialog["data"]["band"] == 1 and band.dialog["data"]["measure"] == 92.0
    confirm = State.from_json({"mode": "confirm_submit", "assessment_id": 3})
    assert confirm.dialog is not None and confirm.dialog["window"] == "confirm"
    review = State.from_json({"mode": "idle", "assessment_id": 3, "evidence_for": "6.1"})
    assert review.dialog is not None and review.dialog["window"] == "review"
    assert State.from_json({"mode": "question", "question": "1.1"}).mode == "idle"
    assert State.from_json({"mode": "flying", "step": -3}) == State()
    assert State.from_json(State(step=2, question="2.4").to_json()) == State(step=2, question="2.4")


def test_unexpected_error_is_reported_and_not_redelivered(office, caplog):
    """A broken configuration (the agency points at a rubric year with no file) fails the
    flow: the member is told the message was not handled, and a redelivery is not retried."""
    from storage.models import Agency

    with office.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        agency.rubric_year = 99
        session.add(agency)
    chat = office.chat("王小明")
    chat.say("填寫自評", event_id="boom")
    assert "系統處理您的訊息時發生錯誤" in chat.text
    assert "no rubric for year 99" in caplog.text
    assert chat.say("填寫自評", event_id="boom") == []
    assert _assessments(office) == []


def test_repeated_wrong_codes_lock_the_chat_out_for_a_while(office, clock):
    code = office.invite(name="張三")
    chat = office.stranger("guesser")
    for attempt in range(4):
        chat.say(f"ABCDE-FGHJ{'KMNP'[attempt]}")
        assert "查無此邀請碼" in chat.text
    chat.say("ABCDE-FGHJQ")  # the fifth wrong code within 15 minutes
    assert "輸入錯誤的邀請碼次數過多" in chat.text and "15 分鐘後再試" in chat.text
    chat.say(code)  # even the right code waits out the lock
    assert "輸入錯誤的邀請碼次數過多" in chat.text
    with office.database.transaction() as session:
        assert session.exec(select(ChatIdentity)).all() == []
    clock.set(clock.now + timedelta(minutes=16))
    chat.say(code)
    assert "綁定完成！張三您好" in chat.text


def test_the_overview_names_the_one_quarter_it_counts(office, clock):
    """Early October: 規劃課 has already submitted the third quarter, the others have not
    started it. The overview is about 115年第3季 for every section (it once took the heading
    from whichever section came last, and counted 規劃課 on the fourth quarter)."""
    clock.set(datetime(2026, 10, 5, 1, 0, tzinfo=UTC))
    staff = office.chat("王小明")
    answer_all(staff)
    staff.press("送出")
    staff.press("確認送出")
    assert "期別：115年第3季" in staff.text
    secretary = office.chat("陳秘書")
    secretary.say("進度")
    assert secretary.text.startswith("各課室自評進度（115年第3季）")
    assert "規劃課：25/25 題，已送出" in secretary.text
    assert "尚未開始：秘書室、工務課" in secretary.text
