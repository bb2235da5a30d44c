"""年度案例 and 年度報告 through dispatch, on both databases.

December: two sections enter their cases (with figures, one skipped) and a 檢討 point, a 4th
case under one heading is refused, a case is listed and deleted; the call on 115年12月1日
reaches every bound member and its button starts the flow. The secretariat's 年度報告 sends
ODT and DOCX whose text (read back with python-docx and odfdo) has each case under its
heading and the figures the database knows; a report too long for 3 pages says what it left
out, and the secretariat keeps a dropped case instead of another and builds it again.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document as open_docx
from odfdo import Document as OdfDocument
from sqlmodel import select

from handlers.reminders import Reminders
from handlers.tokens import Token
from rubric.calendar import ScheduleConfig
from storage.models import Member, ReportCase
from storage.org import ensure_demo_agency, get_section
from storage.report_cases import add_report_case

DECEMBER = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 115年12月1日 09:30 Taipei
ONE = "一、提升服務品質，深化服務績效"
TWO = "二、便捷服務程序，確保流程透明"
THREE = "三、探查民意趨勢，建立顧客關係"


def labels(chat) -> list[str]:
    return [c.label for c in chat.choices]


def stored(office) -> list[ReportCase]:
    with office.database.transaction() as session:
        return list(session.exec(select(ReportCase).order_by(ReportCase.id)).all())


def write_case(chat, heading: str, text: str, figures: str | None) -> None:
    chat.press(heading)
    assert f"【{heading}】" in chat.text, chat.text
    chat.say(text)
    assert "請輸入量化數據" in chat.text, chat.text
    if figures is None:
        chat.press("略過")
        assert "（未提供量化數據）" in chat.text
    else:
        chat.say(figures)
        assert f"量化成果：{figures}" in chat.text
    chat.press("選擇項目")


def test_two_sections_enter_their_cases_in_december(office):
    office.add_member("工務同仁", "工務課")
    planning, works = office.chat("王小明"), office.chat("工務同仁")
    planning.say("選單")
    assert "年度案例" not in labels(planning)  # 11月27日: not yet
    office.clock.set(DECEMBER)
    planning.say("選單")
    planning.press("年度案例")
    assert "【年度案例】115年度提升服務品質績效總報告（資料截止時間：115年12月31日）" \
        in planning.text
    assert f"{ONE}：0 件" in planning.text and "貳、檢討：0 點" in planning.text
    write_case(planning, ONE, "全員完成電話禮貌訓練並每季抽測", "抽測平均由82分提升至91分")
    write_case(planning, ONE, "洽公櫃台增設引導標示", None)
    write_case(planning, ONE, "河川公地申請書表範例上網", "下載次數全年1,250次")
    assert f"{ONE}：3 件" in planning.text
    planning.press(ONE)
    assert "規劃課在「一、提升服務品質，深化服務績效」已有 3 件，每項以2、3件為限" in planning.text
    assert len(stored(office)) == 3

    works.say("/cases")
    write_case(works, TWO, "河川公地申請導入線上預審", "處理天數由14天縮短為5天")
    works.press("貳、檢討")
    works.say("部分課室量化數據蒐集不易，建議建立季報表")
    assert "已記錄「貳、檢討」第 1 點" in works.text
    assert "請輸入量化數據" not in works.text  # 檢討 points have no figures

    planning.press("本課室案例")
    assert "規劃課 115年度案例（共 3 則）" in planning.text
    assert "2. 洽公櫃台增設引導標示" in planning.text
    planning.press("刪除 2")
    assert "已刪除「一、提升服務品質，深化服務績效」：洽公櫃台增設引導標示" in planning.text
    assert "共 2 則" in planning.text
    planning.say("/cases")
    assert f"{ONE}：2 件" in planning.text

    rows = stored(office)
    assert [(r.heading, r.text, r.figures) for r in rows] == [
        (1, "全員完成電話禮貌訓練並每季抽測", "抽測平均由82分提升至91分"),
        (1, "河川公地申請書表範例上網", "下載次數全年1,250次"),
        (2, "河川公地申請導入線上預審", "處理天數由14天縮短為5天"),
        (0, "部分課室量化數據蒐集不易，建議建立季報表", None),
    ]
    planning_id, works_id = office.member("王小明"), office.member("工務同仁")
    assert {r.member_id for r in rows[:2]} == {planning_id.id}
    assert {r.member_id for r in rows[2:]} == {works_id.id}
    assert all(r.roc_year == 115 and r.kept for r in rows)
    # Another section's case cannot be deleted by a forged button: the list drew no such
    # button, so the engine refuses it before any step runs.
    works.say("本課室案例")
    step = int(works.choices[0].action.split(":")[0])
    works.act(Token(step, "del", (str(rows[0].id),)).encode())
    assert "無法辨識這個按鈕" in works.text and "工務課 115年度案例" in works.text
    assert len(stored(office)) == 4


def test_the_call_on_the_first_working_day_of_december(office):
    office.add_member("工務同仁", "工務課")
    works = office.chat("工務同仁")
    office.chat("王小明")
    reminders = Reminders(office.database, ScheduleConfig())
    report = reminders.run_due(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    called = {line.split(" → ")[1] for line in report.sent if line.startswith("report_cases:115")}
    assert called == {f"member:{office.member(n).id}" for n in ("王小明", "工務同仁")}
    call = next(m for m in office.outbox() if m.destination == works.user_id
                and m.payload["text"].startswith("【年度案例】"))
    office.clock.set(DECEMBER)
    works.act(call.payload["choices"][0]["action"])
    assert "工務課目前已提供：" in works.text and TWO in labels(works)


def docx_text(data: bytes) -> list[str]:
    return [p.text for p in open_docx(io.BytesIO(data)).paragraphs]


def odt_text(data: bytes) -> str:
    return OdfDocument(io.BytesIO(data)).get_formatted_text()


def between(lines: list[str], start: str, end: str) -> list[str]:
    first = next(i for i, line in enumerate(lines) if line.endswith(start))
    last = next(i for i, line in enumerate(lines) if line.endswith(end))
    return lines[first + 1:last]


def test_the_secretariat_builds_the_report(office):
    office.add_member("工務同仁", "工務課")
    planning, works = office.chat("王小明"), office.chat("工務同仁")
    secretary = office.chat("陳秘書")
    secretary.say("電話測試 規劃課 王小明 92")
    office.clock.set(DECEMBER)
    planning.say("年度案例")
    write_case(planning, ONE, "全員完成電話禮貌訓練並每季抽測", "抽測平均由82分提升至91分")
    works.say("年度案例")
    write_case(works, THREE, "辦理河川巡守志工座談", "參與民眾320人次，滿意度94%")
    works.press("貳、檢討")
    works.say("部分課室量化數據蒐集不易，建議建立季報表")

    planning.say("年度報告")
    assert "您的角色無法使用這項功能" in planning.text
    replies = secretary.say("年度報告 115")
    summary = replies[0].text
    assert summary.startswith("經濟部水利署第十河川局115年度提升服務品質績效總報告")
    assert "列入個案事例 2 件、檢討 1 點" in summary and "已確認不超過3頁" in summary
    files = {r.document.filename: r.document.content for r in replies if r.document}
    assert set(files) == {"115年度提升服務品質績效總報告.odt", "115年度提升服務品質績效總報告.docx"}

    lines = docx_text(files["115年度提升服務品質績效總報告.docx"])
    assert lines[1] == "資料截止時間：115年12月31日"
    one = between(lines, ONE, TWO)
    assert any(line.endswith("、電話禮貌測試：全年測試1人次，平均92分，最高92分（規劃課王小明）。")
               for line in one), one
    assert "（二）規劃課：全員完成電話禮貌訓練並每季抽測。量化成果：抽測平均由82分提升至91分。" \
        in one
    three = between(lines, THREE, "四、豐富服務資訊，促進網路溝通")
    assert "（二）工務課：辦理河川巡守志工座談。量化成果：參與民眾320人次，滿意度94%。" in three
    assert not any("工務課" in line for line in one)
    review = lines[lines.index("貳、檢討") + 1:]
    assert review == ["一、工務課：部分課室量化數據蒐集不易，建議建立季報表。"]
    five = between(lines, "五、創新服務方式，整合服務資源", "貳、檢討")
    assert "１、創意服務提案（組織內部創新提案機制）：全年提出0件，獲採用0件，其中已實施0件。" \
        in five
    odt = odt_text(files["115年度提升服務品質績效總報告.odt"])
    assert "工務課：辦理河川巡守志工座談。量化成果：參與民眾320人次，滿意度94%。" in odt
    assert "電話禮貌測試：全年測試1人次，平均92分" in odt


LONG = ("於轄區各河段辦理防汛整備說明會與堤防安全巡查，結合地方公所及里長建立聯繫窗口，"
        "即時通報颱風豪雨期間之河川水位與淹水情形，並將處理進度公開於本局網站供民眾查詢，"
        "民眾陳情案件均於期限內回復並追蹤改善情形，提升為民服務品質與機關形象。")


def test_a_long_report_is_shortened_and_a_dropped_case_kept_instead_of_another(office):
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        names = ("規劃課", "工務課", "管理課", "資產課")
        for number, name in enumerate(names, start=1):
            section = get_section(session=session, agency=agency, name=name)
            member = Member(agency_id=agency.id, section_id=section.id, name=f"同仁{number}")
            session.add(member)
            session.flush()
            for index in range(3):
                add_report_case(session=session, member=member, roc_year=115, heading=1,
                                text=f"{name}案例{index + 1}：{LONG}{LONG}",
                                figures=f"全年辦理{10 * number + index}場", now=DECEMBER)
    secretary = office.chat("陳秘書")
    office.clock.set(DECEMBER)
    replies = secretary.say("年度報告 115")
    summary = replies[0].text
    assert "超過3頁，已刪減：" in summary, summary
    dropped = [c.label for c in secretary.choices if c.label.startswith("保留 ")]
    assert dropped, summary
    assert "・刪除「一、提升服務品質，深化服務績效」" in summary
    first_dropped = dropped[0]  # 保留 資產課一「資產課案例3…」
    kept_text = first_dropped.split("「", 1)[1].rstrip("」").rstrip("…")
    docx = next(r.document.content for r in replies if r.document
                and r.document.filename.endswith(".docx"))
    assert not any(kept_text in line for line in docx_text(docx))

    secretary.press(first_dropped)
    assert "請選擇改為不列入報告的案例" in secretary.text
    pinned = [r for r in stored(office) if r.pinned]  # 保留: never cut on the rebuild
    assert len(pinned) == 1 and pinned[0].text.startswith(kept_text)
    instead = next(c.label for c in secretary.choices if c.label.startswith("改刪 規劃課一"))
    secretary.press(instead)
    assert "設為不列入報告" in secretary.text
    left_out = [r for r in stored(office) if not r.kept]
    assert len(left_out) == 1 and left_out[0].text.startswith("規劃課案例1")
    replies = secretary.press("再產生報告")
    assert "秘書室設為不列入 1 則" in replies[0].text
    docx = next(r.document.content for r in replies if r.document
                and r.document.filename.endswith(".docx"))
    text = docx_text(docx)
    assert any(kept_text in line for line in text), replies[0].text
    assert not any("規劃課案例1" in line for line in text)
    assert "恢復 規劃課一之1「規劃課案例1：於…」" in labels(secretary)


def test_without_libreoffice_the_unfitted_draft_is_sent(office, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no soffice to count pages with
    secretary = office.chat("陳秘書")
    office.clock.set(DECEMBER)
    replies = secretary.say("/report 115年度")
    assert "無法執行 PDF 頁數檢查" in replies[0].text and "未經刪減的草稿" in replies[0].text
    assert sorted(r.document.filename for r in replies if r.document) == [
        "115年度提升服務品質績效總報告.docx", "115年度提升服務品質績效總報告.odt"]


def test_the_figures_prompt_reads_plainly_and_typed_labels_work(office):
    """Issue #14: the figures prompt was two sentences in one bracket, "案例3" counted as
    containing figures, and a typed 選擇項目 dropped to the main menu."""
    office.clock.set(DECEMBER)
    planning = office.chat("王小明")
    planning.say("/cases")
    planning.say(ONE)  # the heading's label, typed
    assert f"【{ONE}】" in planning.text
    planning.say("案例3：115年起櫃台增設引導標示")
    assert "請輸入量化數據，例如：" in planning.text and "）（" not in planning.text
    assert "內容中已有數據" not in planning.text and "沒有數據請按「略過」" in planning.text
    planning.say("略過")
    assert "（未提供量化數據）" in planning.text
    planning.say("選擇項目")
    assert f"{ONE}：1 件" in planning.text and "請選擇功能" not in planning.text
    planning.say(ONE)
    planning.say("線上預審使處理天數由14天縮短為5天")
    assert "內容中已有數據，可再補充或按「略過」" in planning.text
