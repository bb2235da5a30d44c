"""年度案例 as a dialog: what is in progress asks before leaving, what is settled does not."""

from __future__ import annotations

from handlers.state import Mode, State
from tests.handlers.test_report_cases import DECEMBER, ONE


def test_a_word_of_elsewhere_at_a_settled_window_just_goes_there(office, clock):
    clock.set(DECEMBER)
    chat = office.chat("王小明")
    chat.say("本課室案例")
    assert "規劃課 115年度案例" in chat.text
    chat.say("填寫自評")  # nothing was being written: no 要離開年度案例嗎？
    assert "第 1/25 題" in chat.text and "要離開" not in chat.text


def test_a_word_of_elsewhere_while_writing_asks_first(office, clock):
    clock.set(DECEMBER)
    chat = office.chat("王小明")
    chat.say("年度案例")
    chat.press(ONE)
    chat.say("填寫自評")
    assert "要離開年度案例嗎？" in chat.text
    chat.press("繼續填寫")
    assert f"【{ONE}】第 1 件" in chat.text
    chat.say("全員完成電話禮貌訓練")
    assert "已記錄個案事例" in chat.text
    chat.send_file(b"%PDF")
    assert "年度案例請以文字輸入。" in chat.text and "請輸入量化數據" in chat.text


def test_a_state_written_while_a_case_was_typed_opens_the_dialog_there():
    old = {"v": 1, "step": 7, "mode": Mode.CASE_TEXT, "case_heading": 2, "case_id": None}
    state = State.from_json(old)
    assert state.mode == Mode.DIALOG
    assert state.dialog is not None and (state.dialog["name"], state.dialog["window"]) == (
        "cases", "write")
    assert state.dialog["data"]["heading"] == 2
