"""A whole quarter for the demo office, on both databases: submissions (one returned and
resubmitted), verification with an adjusted score and phone tests, then the table, the
files and the year's commendations — against figures worked out by hand below."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from reports.build import build_annual_table, build_quarter_table, build_section_form
from rubric import Period
from storage.models import Agency, Assessment, Proposal, ProposalStatus, Section
from tests.handlers.test_flows import SCORES, answer_all

# By hand, from SCORES (842, items 230/148/130/83/86/80/85):
PLANNING = dict(SCORES)  # 規劃課: verified with 1.2 cut from 50 to 40 → 832 (甲)
WORKS = {**SCORES, "2.6": 15}  # 工務課: 842 - 10 = 832, verified unchanged → 832 (甲), a tie
MANAGEMENT = {**SCORES, "1.1": 60}  # 管理課: 802, returned; 1.1 → 70 → 812 (甲), not verified
OCTOBER = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)  # 115年第3季's window is open


def submit(chat, scores):
    answer_all(chat, scores)
    chat.press("送出")
    chat.press("確認送出")


@pytest.fixture
def quarter(office):
    office.clock.set(OCTOBER)
    office.add_member("工務同仁", "工務課")
    office.add_member("管理同仁", "管理課")
    secretary = office.chat("陳秘書")
    planning, works, management = (office.chat(n) for n in ("王小明", "工務同仁", "管理同仁"))
    submit(planning, PLANNING)
    submit(works, WORKS)
    submit(management, MANAGEMENT)
    secretary.say("審定 管理課")
    secretary.press("退回課室")
    secretary.say("1.1 請再確認")
    management.say("跳到 1")
    management.say("70")
    management.say("送出")
    management.say("確認")
    secretary.say("電話測試 規劃課 王小明 92")
    secretary.say("電話測試 工務課 趙工程師 92")
    secretary.say("電話測試 管理課 錢專員 85")
    secretary.say("審定 規劃課")
    secretary.press("確認 100 分")
    secretary.say("40 缺少網路查詢")
    secretary.press("完成審定")
    secretary.say("略過")
    secretary.say("審定 工務課")
    secretary.press("完成審定")
    secretary.say("流程整合良好")
    proposers = {name: office.member(name).id for name in ("工務同仁", "王小明")}
    with office.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        sections = {s.name: s.id for s in session.exec(select(Section)).all()}
        session.add(Proposal(agency_id=agency.id, section_id=sections["工務課"],
                             proposer_member_id=proposers["工務同仁"], roc_year=115,
                             title="河川巡防線上通報", status=ProposalStatus.ADOPTED))
        session.add(Proposal(agency_id=agency.id, section_id=sections["規劃課"],
                             proposer_member_id=proposers["王小明"], roc_year=115,
                             title="未採用的構想", status=ProposalStatus.REJECTED))
    return office


def test_the_quarterly_table(quarter):
    with quarter.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        table = build_quarter_table(session, agency, Period(115, 3))
    assert table.title == ("經濟部水利署第十河川局115年度第三季（7-9月）"
                           "提升服務品質自行考核結果統計表")
    assert table.grade_scale == ("優=900分以上；甲=899-800分；乙=799-700分；丙=699-600分；"
                                 "丁=599分以下")
    rows = {row.section: row for row in table.rows}
    assert [r.section for r in table.rows][:3] == ["秘書室", "規劃課", "工務課"]
    planning, management = rows["規劃課"], rows["管理課"]
    assert (planning.total, planning.grade, planning.verified) == (832, "甲", True)
    assert rows["規劃課"].item_scores == (220, 148, 130, 83, 86, 80, 85)
    assert (rows["工務課"].total, rows["工務課"].verified) == (832, True)
    assert (management.total, management.grade, management.verified) == (812, "甲", False)
    assert rows["管理課"].status == "自評已送出"
    assert (rows["秘書室"].total, rows["秘書室"].status) == (None, "未送出")
    assert rows["規劃課"].assessed_month == "115年10月"


def test_files_read_back_with_independent_readers(quarter):
    calamine = pytest.importorskip("python_calamine")
    import openpyxl

    from reports.tables import quarter_ods, quarter_xlsx

    with quarter.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        table = build_quarter_table(session, agency, Period(115, 3))
    ods = calamine.CalamineWorkbook.from_filelike(io.BytesIO(quarter_ods(table)))
    cells = [c for row in ods.get_sheet_by_index(0).to_python() for c in row]
    for header in ("實施考核機關", "編號", "受考核單位名稱", "總分", "等第", "考核年月", "服務流程",
                   "辦理服務規劃創新整合情形"):
        assert header in cells
    assert 832 in cells and 812 in cells and 220 in cells
    workbook = openpyxl.load_workbook(io.BytesIO(quarter_xlsx(table)))
    values = [c.value for row in workbook.active.iter_rows() for c in row]
    assert values.count(832) == 2 and 812 in values


def test_the_year_and_its_commendations(quarter):
    with quarter.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        annual = build_annual_table(session, agency, 115)
        total = build_annual_table(session, agency, 115, method="sum")
    # Only the third quarter exists: nobody has a year's result yet, nobody is commended
    # (the old default averaged the quarters there were and commended 工務課 and 規劃課).
    assert [r.rank for r in annual.rows] == [None] * len(annual.rows)
    planning = next(r for r in annual.rows if r.section == "規劃課")
    assert (planning.aggregate, planning.standing) == (None, "未完成（缺第1季、第2季、第4季）")
    assert planning.quarter_totals == (None, None, 832, None)
    assert annual.best_sections == ()
    # Tested once each, nobody twice: everyone is compared, the tie shared.
    assert annual.best_phone == (("王小明", "規劃課", 92.0, 1), ("趙工程師", "工務課", 92.0, 1))
    assert annual.adopted_proposals == (("河川巡防線上通報", "工務同仁", "工務課"),)
    assert next(r for r in total.rows if r.section == "規劃課").aggregate is None


def test_the_section_form(quarter):
    with quarter.database.transaction() as session:
        planning = session.exec(select(Section).where(Section.name == "規劃課")).one()
        assessment = session.exec(select(Assessment).where(
            Assessment.section_id == planning.id)).one()
        form = build_section_form(session, assessment)
    assert (form.section, form.total, form.grade, form.assessor) == ("規劃課", 832, "甲", "陳秘書")
    assert form.title == "經濟部水利署第十河川局115年度提升服務品質自行考核項目及評分表"
    assert form.period_label == "115年第3季"
    line = next(x for x in form.questions if x.code == "1.2")
    assert (line.self_score, line.verified_score, line.reason) == (50, 40, "缺少網路查詢")
    # ＊小計 and ﹡得分 count the verified scores: 服務流程 230 with 1.2 cut by 10.
    process = form.items[0]
    assert (process.name, process.subtotal) == ("服務流程", 220)
    assert process.indicators[0].score == 220
    assert form.assessed_on == "115年10月5日"


def test_the_table_in_the_chat(quarter):
    pytest.importorskip("reports.charts")
    secretary = quarter.chat("陳秘書", channel="telegram")
    replies = secretary.say("總表 115年第3季")
    assert "2. 規劃課：832 分，甲" in replies[0].text
    assert "4. 管理課：812 分，甲（自評）" in replies[0].text
    assert replies[1].picture is not None and replies[1].picture.content[:4] == b"\x89PNG"
    assert replies[2].document.filename.endswith(".ods")
    assert replies[3].document.filename.endswith(".xlsx")
    staff = quarter.chat("王小明", channel="telegram")
    staff.say("總表")
    assert "您的角色無法使用這項功能" in staff.text
