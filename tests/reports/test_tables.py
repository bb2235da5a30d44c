"""The quarterly and annual tables, written in every format and read back with other readers.

ODS and XLSX are read with python-calamine (and XLSX also with openpyxl; the ODS styles and
merges straight from its content.xml), CSV with the csv module, JSON through json.dumps.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from reports.model import (
    AnnualRow,
    AnnualTable,
    ItemColumn,
    QuarterTable,
    TableRow,
)
from reports.tables import (
    annual_csv,
    annual_json,
    annual_ods,
    annual_xlsx,
    quarter_csv,
    quarter_json,
    quarter_ods,
    quarter_xlsx,
    sheet_name,
)

AGENCY = "經濟部水利署第十河川局"
TITLE = f"{AGENCY}115年度第4季（10-12月）提升服務品質自行考核結果統計表"
SCALE = "優=900分以上；甲=899-800分；乙=799-700分；丙=699-600分；丁=599分以下"
FOLLOW_UP = "函送各受考核單位提報改進情形，並將考核結果登載於本局網頁。"
ITEMS = (
    ("service_process", "服務流程", 280),
    ("image", "機關形象", 170),
    ("customer", "顧客關係", 150),
    ("information", "資訊提供及檢索服務", 100),
    ("online", "線上服務及電子參與", 100),
    ("innovation", "提供創新服務情形", 100),
    ("integration", "辦理服務規劃創新整合情形", 100),
)
SECTIONS = ("秘書室", "規劃課", "工務課", "管理課", "資產課", "人事室", "主計室", "政風室",
            "員山子分洪管理中心")
BANDS = (("優", 900), ("甲", 800), ("乙", 700), ("丙", 600), ("丁", 0))
# section -> (item scores, verified); None: nothing submitted
SCORES: dict[str, tuple[tuple[int, ...], bool] | None] = {
    "秘書室": ((270, 165, 140, 95, 90, 90, 85), True),  # 935 優
    "規劃課": ((240, 150, 130, 80, 85, 70, 75), False),  # 830 甲, self-assessed
    "工務課": ((250, 160, 135, 90, 90, 80, 70), True),  # 875 甲
    "管理課": None,  # 未送出
    "資產課": ((200, 130, 120, 70, 70, 60, 60), True),  # 710 乙
    "人事室": ((180, 120, 100, 60, 60, 55, 50), False),  # 625 丙, self-assessed
    "主計室": ((160, 100, 90, 50, 60, 40, 40), True),  # 540 丁
    "政風室": ((280, 170, 150, 100, 100, 100, 100), True),  # 1000 優
    "員山子分洪管理中心": ((230, 150, 120, 85, 80, 75, 60), True),  # 800 甲
}
HEADER_1 = ["實施考核機關", "編號", "受考核單位名稱", "考核項目及成績（1000分）", "", "", "", "",
            "", "", "總分", "等第", "考核年月", "備註"]
ITEM_NAMES = ["服務流程", "機關形象", "顧客關係", "資訊提供及檢索服務", "線上服務及電子參與",
              "提供創新服務情形", "辦理服務規劃創新整合情形"]
ITEM_MAXIMA = ["280分", "170分", "150分", "100分", "100分", "100分", "100分"]
FIRST_DATA_ROW = 6  # zero-based: title, 受考核單位, scale, three header rows


def grade_of(total: int) -> str:
    return next(grade for grade, least in BANDS if total >= least)


def demo_quarter() -> QuarterTable:
    """The demo office's 115年第4季 table: verified, self-assessed and unsent sections."""
    rows = []
    for number, section in enumerate(SECTIONS, start=1):
        entry = SCORES[section]
        if entry is None:
            rows.append(TableRow(number, section, (None,) * 7, None, None, False, "未送出",
                                 None))
            continue
        scores, verified = entry
        total = sum(scores)
        rows.append(TableRow(number, section, scores, total, grade_of(total), verified,
                             "已審定" if verified else "自評已送出", "115年12月"))
    return QuarterTable(
        title=TITLE, agency=AGENCY, period_label="115年第4季",
        items=tuple(ItemColumn(code, name, maximum) for code, name, maximum in ITEMS),
        grade_scale=SCALE, grade_bands=BANDS, total_max=1000, rows=tuple(rows),
        follow_up=FOLLOW_UP)


def demo_annual() -> AnnualTable:
    """The demo office's 115年度 table: averages, ranks and the three commendations."""
    quarters: dict[str, tuple[int | None, int | None, int | None, int | None]] = {
        "政風室": (950, 960, 970, 1000),
        "秘書室": (900, 910, 920, 935),
        "工務課": (850, 860, None, 875),
        "規劃課": (800, 810, 820, 830),
        "管理課": (None, None, None, None),
    }
    rows = []
    rank = 0
    for section, totals in quarters.items():
        present = [t for t in totals if t is not None]
        aggregate = sum(present) / len(present) if present else None
        if aggregate is not None:
            rank += 1
        rows.append(AnnualRow(section, totals, aggregate, rank if aggregate else None,
                              grade_of(int(aggregate)) if aggregate else None))
    return AnnualTable(
        title=f"{AGENCY}115年度提升服務品質自行考核年度成績", agency=AGENCY, roc_year=115,
        method="average", rows=tuple(rows), best_sections=("政風室",),
        best_phone=(("王小明", "秘書室", 96.5, 2), ("李大華", "工務課", 96.5, 4)),
        adopted_proposals=(("防汛資訊一站通", "陳美玲", "規劃課"),
                           ("=HYPERLINK(\"x\")線上預約", "林志強", "管理課")))


def read_calamine(data: bytes) -> tuple[list[str], list[list[Any]]]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheet = workbook.get_sheet_by_index(0)
    return workbook.sheet_names, sheet.to_python(skip_empty_area=False)


def expected_row(row: TableRow) -> list[Any]:
    """A data row as calamine reads it: numbers as float, empty cells as ''."""
    def num(value: int | None) -> Any:
        return "" if value is None else float(value)
    self_assessed = not row.verified and row.total is not None
    grade = "" if row.grade is None else row.grade + ("（自評）" if self_assessed else "")
    note = "未送出" if row.total is None else ("自評分數" if self_assessed else "審定分數")
    return [AGENCY, float(row.number), row.section, *(num(s) for s in row.item_scores),
            num(row.total), grade, row.assessed_month or "", note]


def check_quarter_grid(names: list[str], grid: list[list[Any]], table: QuarterTable) -> None:
    assert names == ["115年第4季"]
    assert grid[0][0] == TITLE
    assert grid[1][0] == "受考核單位：" + "、".join(row.section for row in table.rows)
    assert grid[2][0] == SCALE
    assert grid[3] == HEADER_1
    assert grid[4][3:10] == ITEM_NAMES
    assert grid[5][3:10] == ITEM_MAXIMA
    data = grid[FIRST_DATA_ROW:FIRST_DATA_ROW + len(table.rows)]
    assert [row[:14] for row in data] == [expected_row(row) for row in table.rows]
    for line in data:  # every number is a numeric cell, never text
        assert all(isinstance(cell, float) for cell in line[3:11] if cell != "")
        assert isinstance(line[1], float)
    unsent = data[SECTIONS.index("管理課")]
    assert unsent[3:13] == [""] * 10 and unsent[13] == "未送出"
    assert data[SECTIONS.index("規劃課")][11] == "甲（自評）"
    assert data[SECTIONS.index("人事室")][11] == "丙（自評）"
    assert data[SECTIONS.index("秘書室")][11] == "優"
    assert grid[FIRST_DATA_ROW + len(table.rows)][0] == "考核結果處理情形：" + FOLLOW_UP


# ---------------------------------------------------------------- quarterly table


def test_quarter_ods_reads_back_with_the_seeds_layout() -> None:
    table = demo_quarter()
    data = quarter_ods(table)
    assert data[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = archive.read("content.xml")
    check_quarter_grid(*read_calamine(data), table)
    ods_cells_are_typed_and_styled(content, table)


NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def ods_cells_are_typed_and_styled(content: bytes, table: QuarterTable) -> None:
    """Read content.xml directly: float cells, italic self-assessed rows, merged header."""
    root = ElementTree.fromstring(content)
    italic = {
        style.get(q("style", "name"))
        for style in root.iter(q("style", "style"))
        for props in style.iter(q("style", "text-properties"))
        if props.get(q("fo", "font-style")) == "italic"
        and props.get(q("style", "font-style-asian")) == "italic"
    }
    rows = root.findall(".//table:table-row", NS)
    title = rows[0].find("table:table-cell", NS)
    assert title is not None and title.get(q("table", "number-columns-spanned")) == "14"
    spans = [cell.get(q("table", "number-columns-spanned"))
             for cell in rows[3].findall("table:table-cell", NS)]
    assert "7" in spans  # 考核項目及成績 spans the seven item columns
    for number, row in enumerate(table.rows):
        cells = rows[FIRST_DATA_ROW + number].findall("table:table-cell", NS)
        styles = {cell.get(q("table", "style-name")) for cell in cells}
        self_assessed = not row.verified and row.total is not None
        assert bool(styles & italic) == self_assessed, row.section
        if row.total is not None:
            total = cells[10]
            assert total.get(q("office", "value-type")) == "float"
            assert total.get(q("office", "value")) == str(row.total)


def test_the_ods_prints_a_chinese_footer_and_no_template_header() -> None:
    """The template printed 「???」 above and an English "Page 1" below every page."""
    table = demo_quarter()
    with zipfile.ZipFile(io.BytesIO(quarter_ods(table))) as archive:
        styles = ElementTree.fromstring(archive.read("styles.xml"))
    ns = {"style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0"}
    masters = styles.findall(".//style:master-page", ns)
    assert masters
    for master in masters:
        header = master.find("style:header", ns)
        assert header is not None and header.get(f"{{{ns['style']}}}display") == "false"
        footer = "".join(master.find("style:footer", ns).itertext())  # type: ignore[union-attr]
        assert footer.startswith(table.title) and "第 1 頁，共 1 頁" in footer
        assert "Page" not in footer


def test_quarter_xlsx_reads_back_with_calamine_and_openpyxl() -> None:
    table = demo_quarter()
    data = quarter_xlsx(table)
    check_quarter_grid(*read_calamine(data), table)

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None and sheet.title == "115年第4季"
    merged = {str(area) for area in sheet.merged_cells.ranges}
    assert {"A1:N1", "A2:N2", "A3:N3", "D4:J4", "A4:A6", "K4:K6"} <= merged
    for number, row in enumerate(table.rows):
        excel_row = FIRST_DATA_ROW + number + 1
        cells = sheet[excel_row]
        self_assessed = not row.verified and row.total is not None
        assert cells[2].value == row.section
        assert all(cell.font.i == self_assessed for cell in cells), row.section
        for cell, score in zip(cells[3:10], row.item_scores, strict=True):
            assert cell.value == score
            if score is not None:
                assert cell.data_type == "n" and isinstance(cell.value, int)
        assert cells[10].value == row.total
    assert sheet.freeze_panes == "D7"


def test_quarter_csv_has_one_header_row_and_the_same_content() -> None:
    table = demo_quarter()
    text = quarter_csv(table)
    assert not text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text)))
    header = lines[0]
    assert header == ["實施考核機關", "編號", "受考核單位名稱",
                      *(f"{name}（{maximum}分）" for _, name, maximum in ITEMS),
                      "總分", "等第", "考核年月", "備註"]
    body = lines[1:1 + len(table.rows)]
    for line, row in zip(body, table.rows, strict=True):
        expected = expected_row(row)
        assert line[0] == AGENCY and line[2] == row.section
        assert [int(v) if v else None for v in line[3:11]] == [*row.item_scores, row.total]
        assert line[11:] == expected[11:]
    assert lines[1 + len(table.rows)] == []
    facts = dict(lines[2 + len(table.rows):])
    assert facts == {"標題": TITLE, "期別": "115年第4季", "等第標準": SCALE,
                     "考核結果處理情形": FOLLOW_UP, "附件": ""}


def test_quarter_json_round_trips_with_every_field() -> None:
    table = demo_quarter()
    document = quarter_json(table)
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert document["title"] == TITLE and document["agency"] == AGENCY
    assert document["period"] == "115年第4季" and document["grade_scale"] == SCALE
    assert document["follow_up"] == FOLLOW_UP
    assert document["items"] == [{"code": c, "name": n, "max": m} for c, n, m in ITEMS]
    assert document["grade_bands"][0] == {"grade": "優", "min_total": 900}
    planning = document["rows"][1]
    assert planning == {
        "number": 2, "section": "規劃課", "item_scores": [240, 150, 130, 80, 85, 70, 75],
        "total": 830, "grade": "甲", "grade_text": "甲（自評）", "verified": False,
        "self_assessed": True, "status": "自評已送出", "assessed_month": "115年12月",
        "note": "自評分數"}
    unsent = document["rows"][SECTIONS.index("管理課")]
    assert unsent["total"] is None and unsent["item_scores"] == [None] * 7
    assert unsent["note"] == "未送出" and unsent["self_assessed"] is False


def test_a_status_beyond_the_plain_ones_shows_in_the_note() -> None:
    table = demo_quarter()
    returned = TableRow(2, "規劃課", (240, 150, 130, 80, 85, 70, 75), 830, "甲", False, "已退回",
                        "115年12月")
    table = QuarterTable(table.title, table.agency, table.period_label, table.items,
                         table.grade_scale, table.grade_bands, table.total_max, (returned,))
    assert quarter_json(table)["rows"][0]["note"] == "自評分數（已退回）"
    _, grid = read_calamine(quarter_xlsx(table))
    assert grid[FIRST_DATA_ROW][13] == "自評分數（已退回）"
    assert grid[FIRST_DATA_ROW + 1][0] == "考核結果處理情形："  # empty follow-up: a blank


def test_sheet_names_are_legal() -> None:
    assert sheet_name("115年第4季") == "115年第4季"
    assert sheet_name("a/b:c*d?[e]\\" + "x" * 40) == ("abcde" + "x" * 40)[:31]
    assert sheet_name("'[]'") == "結果統計表"


# ---------------------------------------------------------------- annual table

ANNUAL_HEADER = ["名次", "受考核單位名稱", "第1季", "第2季", "第3季", "第4季", "年度成績（平均）",
                 "等第", "備註"]


def check_annual_grid(names: list[str], grid: list[list[Any]], table: AnnualTable) -> None:
    assert names == ["115年度"]
    assert grid[0][0] == table.title
    assert "平均" in grid[1][0] and AGENCY in grid[1][0]
    assert grid[2] == ANNUAL_HEADER
    for line, row in zip(grid[3:3 + len(table.rows)], table.rows, strict=True):
        assert line[0] == ("" if row.rank is None else float(row.rank))
        assert line[1] == row.section
        assert line[2:6] == ["" if t is None else float(t) for t in row.quarter_totals]
        assert line[6] == ("" if row.aggregate is None
                           else pytest.approx(round(row.aggregate, 2)))
        assert all(isinstance(v, float) for v in line[2:7] if v != "")
        assert line[7] == (row.grade or "")
    rest = [[cell for cell in line if cell != ""] for line in grid[3 + len(table.rows):]]
    rest = [line for line in rest if line]
    assert rest == [
        ["獎勵（嘉獎乙次）"],
        ["成績最優課室", "受考核單位名稱"], ["政風室"],
        ["電話禮貌最佳人員", "姓名", "受考核單位名稱", "全年平均分數", "測試次數"],
        ["王小明", "秘書室", 96.5, 2.0], ["李大華", "工務課", 96.5, 4.0],
        ["創新方案被採用實施者", "方案名稱", "提案人", "受考核單位名稱"],
        ["防汛資訊一站通", "陳美玲", "規劃課"],
        ["=HYPERLINK(\"x\")線上預約", "林志強", "管理課"],
    ]


def test_annual_ods_reads_back() -> None:
    table = demo_annual()
    check_annual_grid(*read_calamine(annual_ods(table)), table)


def test_annual_xlsx_reads_back_and_text_never_becomes_a_formula() -> None:
    table = demo_annual()
    data = annual_xlsx(table)
    check_annual_grid(*read_calamine(data), table)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    texts = [cell for line in sheet.iter_rows() for cell in line
             if isinstance(cell.value, str) and cell.value.startswith("=")]
    assert [cell.data_type for cell in texts] == ["s"]


def test_annual_csv_has_the_same_content() -> None:
    table = demo_annual()
    lines = list(csv.reader(io.StringIO(annual_csv(table))))
    assert lines[0] == ANNUAL_HEADER
    body = lines[1:1 + len(table.rows)]
    assert body[0] == ["1", "政風室", "950", "960", "970", "1000", "970", "優", ""]
    assert body[2] == ["3", "工務課", "850", "860", "", "875", "861.67", "甲", ""]
    assert body[4] == ["", "管理課", "", "", "", "", "", "", ""]
    rest = lines[1 + len(table.rows):]
    assert rest[0] == []
    assert dict(line for line in rest[1:5]) == {
        "標題": table.title, "實施考核機關": AGENCY, "年度": "115", "彙總方式": "平均"}
    awards = [[cell for cell in line if cell] for line in rest[6:]]
    assert awards[0] == ["獎勵（嘉獎乙次）"]
    assert ["王小明", "秘書室", "96.5", "2"] in awards
    # A spreadsheet must not run a proposal title as a formula.
    assert ["'=HYPERLINK(\"x\")線上預約", "林志強", "管理課"] in awards


def test_annual_json_round_trips() -> None:
    table = demo_annual()
    document = annual_json(table)
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert document["roc_year"] == 115 and document["method"] == "average"
    assert document["rows"][2] == {"rank": 3, "section": "工務課",
                                   "quarter_totals": [850, 860, None, 875],
                                   "aggregate": pytest.approx(861.6667, abs=1e-3),
                                   "grade": "甲", "verified": [True] * 4, "standing": ""}
    assert document["awards"]["best_sections"] == ["政風室"]
    assert document["awards"]["best_phone"][0] == {"person": "王小明", "section": "秘書室",
                                                  "average": 96.5, "tests": 2}
    assert document["awards"]["adopted_proposals"][0] == {
        "title": "防汛資訊一站通", "proposer": "陳美玲", "section": "規劃課"}


def test_annual_sum_method_and_no_awards() -> None:
    table = demo_annual()
    summed = AnnualTable(table.title, AGENCY, 115, "sum", table.rows[:1], (), (), ())
    _, grid = read_calamine(annual_ods(summed))
    assert grid[2][6] == "年度成績（合計）"
    assert [line[1] for line in grid if line[0] in ("成績最優課室", "電話禮貌最佳人員",
                                                    "創新方案被採用實施者")] == [
        "受考核單位名稱", "姓名", "方案名稱"]
    assert sum(line.count("（無）") for line in grid) == 3
    with pytest.raises(ValueError, match="median"):
        annual_csv(AnnualTable(table.title, AGENCY, 115, "median", (), (), (), ()))
