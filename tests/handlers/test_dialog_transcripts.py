"""Golden transcripts by scenario, several people in one file, each small enough to review:
a line ``王小明> 送出`` is typed by 王小明 in a private chat; what the bot queues for the
transcript's people (notices) is shown after the line that caused it.

After an intended wording change, regenerate with ``pytest --regen-golden`` and read the diff.
"""

from __future__ import annotations

import itertools

from bot.console import ConsoleChat, render
from handlers.messages import Outgoing
from tests.handlers.test_flows import SCORES
from tests.handlers.test_transcripts import check_golden


def run_people(office, script: list[str]) -> str:
    events = itertools.count(1)
    consoles: dict[str, ConsoleChat] = {}
    names: dict[str, str] = {}
    seen = {m.id for m in office.outbox()}
    out: list[str] = []
    for line in script:
        name, text = line.split("> ", 1) if "> " in line else (line.removesuffix(">"), "")
        if name not in consoles:
            user_id = office.chat(name).user_id
            consoles[name] = ConsoleChat(office.dispatcher, office.database, user_id,
                                         new_event_id=lambda: f"t-{next(events)}")
            names[user_id] = name
        out.append(f"{name}> {text}\n{consoles[name].send(text)}\n")
        for message in office.outbox():
            if message.id in seen:
                continue
            seen.add(message.id)
            to = names.get(message.destination, message.destination)
            shown = render([Outgoing.from_payload(message.payload)])[0]
            out.append(f"  【通知 → {to}】\n{shown}\n")
    return "\n".join(out)


def assessed(name: str = "王小明") -> list[str]:
    return [f"{name}> 填寫自評", *(f"{name}> {score}" for score in SCORES.values()),
            f"{name}> 送出", f"{name}> 確認"]


def test_verification_typed_and_the_section_sees_it(office, request):
    script = [
        *assessed(),
        "陳秘書> 審定 規劃課",
        "陳秘書> 確認",
        "陳秘書> 40 缺少佐證",
        "陳秘書> 送出",
        "陳秘書> 繼續審定",
        "陳秘書> 完成審定",
        "陳秘書> 流程公開透明；建議補強查詢管道的佐證",
        "王小明> 我的進度",
    ]
    check_golden(request, "verification.txt", run_people(office, script))


def test_return_and_resubmission(office, request):
    script = [
        *assessed(),
        "陳秘書> 審定 規劃課",
        "陳秘書> 下一題",
        "陳秘書> 標記退回",
        "陳秘書> 退回課室",
        "陳秘書> 1.2 請補查詢管道的佐證",
        "王小明> 填寫自評",
        "王小明> 保留原分數",
        "王小明> 網站查詢頁面截圖已上傳雲端：https://example.gov.tw/q",
        "王小明> 送出",
        "王小明> 確認",
    ]
    check_golden(request, "return_resubmission.txt", run_people(office, script))
