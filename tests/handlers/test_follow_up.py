"""考核結果處理情形 and the 附件 of the quarterly table (issue #16, item 2), on both databases:
set in the chat, printed in 總表 and its files, with the adopted plans' 附錄1 sent along."""

from __future__ import annotations

import io

from python_calamine import CalamineWorkbook

from tests.handlers.test_proposals import bind_group, submitted, to_group

TEXT = "考核結果已函送各課室提報改進情形，並登載於本局網頁。"


def cells_of(ods: bytes) -> list[str]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(ods)).get_sheet_by_index(0)
    return [str(cell) for row in sheet.to_python() for cell in row if cell != ""]


def test_the_secretariat_sets_the_follow_up_and_the_table_prints_it(office):
    bind_group(office)
    submitted(office)  # 王小明's proposal, submitted
    secretary = office.chat("陳秘書")
    secretary.act(to_group(office)[0].choices[0].action)  # 採用, in 115年第4季
    secretary.say("處理情形")
    assert "115年第4季考核結果處理情形　目前尚未填寫" in secretary.text
    secretary.say(f"處理情形 115年第4季 {TEXT}")
    assert f"已記錄115年第4季考核結果處理情形：{TEXT}" in secretary.text
    replies = secretary.say("總表 115年第4季")
    summary = replies[0].text
    assert f"考核結果處理情形：{TEXT}" in summary
    assert "附件：" in summary and "「河川公地申請線上預審」（規劃課）" in summary
    ods = next(r.document for r in replies if r.document and r.document.filename.endswith(".ods"))
    cells = cells_of(ods.content)
    assert f"考核結果處理情形：{TEXT}" in cells
    annex = next(c for c in cells if c.startswith("附件：受評核之「有價值的創意服務」計畫"))
    assert "河川公地申請線上預審" in annex
    annexes = [r.document.filename for r in replies if r.document
               and r.text.startswith("附件 ")]
    assert sorted(name.rsplit(".", 1)[1] for name in annexes) == ["docx", "odt"]


def test_without_adopted_plans_the_table_says_so(office):
    secretary = office.chat("陳秘書")
    replies = secretary.say("總表")
    assert "（尚未填寫，請輸入「處理情形 內容」）" in replies[0].text
    ods = next(r.document for r in replies if r.document and r.document.filename.endswith(".ods"))
    assert "附件：本季無經採用之「有價值的創意服務」計畫。" in cells_of(ods.content)


def test_staff_cannot_set_it(office):
    staff = office.chat("王小明")
    staff.say(f"處理情形 {TEXT}")
    assert "您的角色無法使用這項功能" in staff.text and "已記錄" not in staff.text
