"""Golden conversation transcripts: inputs → the exact replies, on both databases.

After an intended wording change, regenerate with ``pytest --regen-golden`` and read the diff.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.console import ConsoleChat
from handlers.dispatch import Dispatcher
from storage.models import Role

GOLDEN = Path(__file__).parent / "golden"


def run_script(office, user_id: str, lines: list[str], *, tmp: Path,
               events: itertools.count) -> str:
    """Feed ``lines`` to a fresh console chat; a line ``--- restart ---`` starts a new
    dispatcher and console on the same database, as a restarted process would."""
    def new_console() -> ConsoleChat:
        dispatcher = Dispatcher(office.database, office.dispatcher.config, clock=office.clock)
        return ConsoleChat(dispatcher, office.database, user_id,
                           new_event_id=lambda: f"{user_id}-{next(events)}")

    console = new_console()
    out: list[str] = []
    for line in lines:
        if line == "--- restart ---":
            console = new_console()
            out.append("--- restart ---\n")
            continue
        shown = line.replace(str(tmp), "{TMP}")
        out.append(f"> {shown}\n{console.send(line)}\n")
    return "\n".join(out)


def check_golden(request, name: str, transcript: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--regen-golden"):
        path.write_text(transcript, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run pytest --regen-golden and review it"
    expected = path.read_text(encoding="utf-8")
    assert transcript == expected, f"{name} differs; if intended, run pytest --regen-golden"


def test_onboarding_transcript(office, request, tmp_path):
    code = office.invite(role=Role.STAFF, section="規劃課", name="張承辦")
    lines = ["你好", "ABCDE-FGHJK", code.lower(), "說明", "選單"]
    transcript = run_script(office, "newcomer", lines, tmp=tmp_path,
                            events=itertools.count(1))
    check_golden(request, "onboarding.txt", transcript.replace(code.lower(), "{CODE}"))


FULL_SCRIPT = [
    "填寫自評",
    # 1.1: band pick, a score outside the band, then a button; the text after it is 1.1's
    # evidence (the score has already moved on to 1.2).
    "#1", "50", "#2", "已於服務場所及網站公布標準處理流程",
    # 1.2: invalid inputs, then a full-width score with its evidence in one message; the file
    # sent after it is 1.2's too.
    "-1", "999", "12.5", "", "５０分，提供電話、網站及臨櫃三種查詢管道",
    "/file {TMP}/查詢管道.pdf",
    # 1.3: typed; go back and change it; then jump.
    "80", "上一題", "45", "跳到 4",
    # 2.1 .. 2.3 typed, one in Chinese numerals, one with its evidence.
    "20", "二十二", "18 每季辦理服務禮儀訓練",
    # 2.4: the phone-test score typed where the score is asked: its band is offered.
    "92", "18分",
    # 2.5 .. 3.2
    "45", "25", "70", "60",
    "暫停",
    "--- restart ---",
    "填寫自評",
    # 4.1 .. 7.3
    "18", "9", "16", "40", "25", "8", "8", "45", "40", "25", "15", "25", "35", "25",
    "檢視",
    "送出",
    "確認",
    "填寫自評",
]


def test_full_assessment_transcript(office, request, tmp_path):
    (tmp_path / "查詢管道.pdf").write_bytes(b"%PDF-1.4 demo evidence")
    lines = [line.replace("{TMP}", str(tmp_path)) for line in FULL_SCRIPT]
    chat = office.chat("王小明")
    transcript = run_script(office, chat.user_id, lines, tmp=tmp_path,
                            events=itertools.count(1))
    check_golden(request, "assessment.txt", transcript)
    # By hand: 1.1 110 + 1.2 50 + 1.3 45 (changed from 80) = 205; 2.x 148; 3.x 130; 4.x 83;
    # 5.x 86; 6.x 80; 7.x 85 → 817, which is 甲 (800-899).
    assert "總分：817 分" in transcript and "等第：甲" in transcript
    assert "【服務流程】205/280 分" in transcript


@pytest.fixture(autouse=True)
def _golden_folder():
    GOLDEN.mkdir(exist_ok=True)
