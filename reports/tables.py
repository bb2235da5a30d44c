"""Writers for the quarterly results table and the annual table: ODS, XLSX, CSV and JSON.

The quarterly sheet follows the seed's 「第一季（1-3月）提升服務品質自行考核結果統計表」: the
title, the grade scale, a three-row header (實施考核機關 | 編號 | 受考核單位名稱 |
考核項目及成績（1000分） over the seven item columns | 總分 | 等第 | 考核年月, then the item
names, then their maxima), one row per section, and 考核結果處理情形 at the end. A 備註 column
tells verified scores (審定分數) from a section's own (自評分數, also italic, and the grade reads
「甲（自評）」) and from nothing submitted (未送出).

ODS and XLSX are drawn from one layout (``_Sheet``) so the two files always agree; CSV and
JSON carry the same content in a form for programs.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from reports.model import AnnualRow, AnnualTable, QuarterTable, TableRow

# Words of the seed's table.
AGENCY = "實施考核機關"
NUMBER = "編號"
SECTION = "受考核單位名稱"
TOTAL = "總分"
GRADE = "等第"
MONTH = "考核年月"
NOTE = "備註"
FOLLOW_UP = "考核結果處理情形："
UNITS = "受考核單位："
ANNEX = "附件："
SELF_MARK = "（自評）"
VERIFIED_NOTE = "審定分數"
SELF_NOTE = "自評分數"
UNSENT_NOTE = "未送出"

RANK = "名次"
QUARTERS = ("第1季", "第2季", "第3季", "第4季")
AWARDS = "獎勵（嘉獎乙次）"
BEST_SECTION = "成績最優課室"
BEST_PHONE = "電話禮貌最佳人員"
ADOPTED = "創新方案被採用實施者"
NONE_YET = "（無）"
METHOD_WORDS = {"average": "平均", "sum": "合計"}

# Statuses that say no more than the 備註 word itself.
_PLAIN_STATUSES = {
    VERIFIED_NOTE: {"", "已審定", "審定", VERIFIED_NOTE},
    SELF_NOTE: {"", "已送出", "自評已送出", SELF_NOTE},
    UNSENT_NOTE: {"", UNSENT_NOTE},
}
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Value = str | int | float | None


# ---------------------------------------------------------------- shared wording


def score_note(row: TableRow) -> str:
    """The 備註 of a quarterly row: 審定分數, 自評分數 or 未送出, and the status if it says more.

    A row with no total and no item score is 未送出; a verified row is 審定分數; any other
    row carries the section's own scores (自評分數). A status beyond the plain ones is added
    in brackets, e.g. 「自評分數（已退回）」.
    """
    if row.total is None and all(score is None for score in row.item_scores):
        base = UNSENT_NOTE
    elif row.verified:
        base = VERIFIED_NOTE
    else:
        base = SELF_NOTE
    status = (row.status or "").strip()
    if status in _PLAIN_STATUSES[base]:
        return base
    return f"{base}（{status}）"


def is_self_assessed(row: TableRow) -> bool:
    """True when the row shows a section's own, not yet verified, scores."""
    return not row.verified and (
        row.total is not None or any(score is not None for score in row.item_scores)
    )


def grade_text(row: TableRow) -> str:
    """The 等第 cell: the grade, with 「（自評）」 appended when the scores are not verified."""
    if not row.grade:
        return ""
    return row.grade + SELF_MARK if is_self_assessed(row) else row.grade


def aggregate_label(method: str) -> str:
    """The annual column heading: 年度成績（平均） or 年度成績（合計）."""
    try:
        return f"年度成績（{METHOD_WORDS[method]}）"
    except KeyError:
        raise ValueError(f"unknown aggregation method {method!r}; expected one of "
                         f"{sorted(METHOD_WORDS)}") from None


def sheet_name(text: str, fallback: str = "結果統計表") -> str:
    """A spreadsheet tab name: no []:*?/\\, no edge apostrophes, at most 31 characters."""
    name = _SHEET_FORBIDDEN.sub("", text).strip().strip("'").strip()[:31].strip().strip("'")
    return name or fallback


def _item_heading(name: str, maximum: int) -> str:
    return f"{name}（{maximum}分）"


def _max_text(maximum: int) -> str:
    return f"{maximum}分"


def _plain_number(value: float | int | None) -> int | float | None:
    """Whole floats as int; other floats to two decimals (for text, not for sheets)."""
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        if value.is_integer():
            return int(value)
        return round(value, 2)
    return value


# ---------------------------------------------------------------- the layout


@dataclass(frozen=True)
class _Cell:
    value: Value = None
    style: str = "cell"  # a key of _ODS_STYLES
    number_format: str | None = None  # XLSX only; ODS shows at most two decimals anyway


@dataclass
class _Sheet:
    """One worksheet as the writers draw it: cells, merged areas, widths, heights."""

    name: str
    title: str
    width: int  # columns
    rows: list[list[_Cell]] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # c0, r0, c1, r1
    widths: list[float] = field(default_factory=list)  # in characters of a Latin font
    heights: dict[int, float] = field(default_factory=dict)  # row index -> points
    freeze: tuple[int, int] | None = None  # (columns, rows) kept in view

    def add(self, cells: Sequence[_Cell], height: float | None = None) -> int:
        """Append a row (padded to the sheet's width); return its index."""
        row = list(cells) + [_Cell(None, "blank")] * (self.width - len(cells))
        self.rows.append(row)
        if height is not None:
            self.heights[len(self.rows) - 1] = height
        return len(self.rows) - 1

    def add_line(self, text: str, style: str, height: float | None = None) -> int:
        """Append a row holding one text merged across the whole width."""
        index = self.add([_Cell(text, style)] + [_Cell(None, style)] * (self.width - 1),
                         height)
        self.merges.append((0, index, self.width - 1, index))
        return index


def _line_height(text: str, width_chars: float, points_per_line: float = 16.0) -> float:
    """A row height that shows ``text`` wrapped in a merged area ``width_chars`` wide."""
    units = sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
    lines = max(1, math.ceil(units / max(width_chars * 0.95, 1)))
    return max(points_per_line, lines * points_per_line + 4)


def assessed_units(table: QuarterTable) -> str:
    """The seed's 「受考核單位：」 line, naming the sections of the table in its order."""
    return UNITS + "、".join(row.section for row in table.rows)


def _quarter_sheet(table: QuarterTable) -> _Sheet:
    items = table.items
    n = len(items)
    width = 3 + n + 4  # agency, number, section, items, total, grade, month, note
    total_col = 3 + n
    sheet = _Sheet(name=sheet_name(table.period_label), title=table.title, width=width)
    sheet.widths = [24.0, 6.0, 20.0] + [12.0] * n + [8.0, 10.0, 11.0, 16.0]
    sheet.add_line(table.title, "title", 30)
    units = assessed_units(table)
    sheet.add_line(units, "info", _line_height(units, sum(sheet.widths)))
    sheet.add_line(table.grade_scale, "info", 20)

    top = [_Cell(AGENCY, "header"), _Cell(NUMBER, "header"), _Cell(SECTION, "header"),
           _Cell(f"考核項目及成績（{table.total_max}分）", "header")]
    top += [_Cell(None, "header")] * (n - 1)
    top += [_Cell(TOTAL, "header"), _Cell(GRADE, "header"), _Cell(MONTH, "header"),
            _Cell(NOTE, "header")]
    first = sheet.add(top, 20)
    fillers = [_Cell(None, "header")] * 3
    tail = [_Cell(None, "header")] * 4
    sheet.add(fillers + [_Cell(item.name, "header") for item in items] + tail, 48)
    sheet.add(fillers + [_Cell(_max_text(item.max), "header") for item in items] + tail, 18)
    sheet.merges.append((3, first, 3 + n - 1, first))
    for column in (0, 1, 2, total_col, total_col + 1, total_col + 2, total_col + 3):
        sheet.merges.append((column, first, column, first + 2))
    sheet.freeze = (3, first + 3)

    for row in table.rows:
        style = "self" if is_self_assessed(row) else "cell"
        scores = list(row.item_scores) + [None] * (n - len(row.item_scores))
        cells = [_Cell(table.agency, style), _Cell(row.number, style),
                 _Cell(row.section, style)]
        cells += [_Cell(score, style) for score in scores[:n]]
        cells += [_Cell(row.total, style), _Cell(grade_text(row) or None, style),
                  _Cell(row.assessed_month, style), _Cell(score_note(row), style)]
        sheet.add(cells)

    follow_up = FOLLOW_UP + table.follow_up
    sheet.add_line(follow_up, "info", _line_height(follow_up, sum(sheet.widths)))
    annex = attachments_line(table)
    sheet.add_line(annex, "info", _line_height(annex, sum(sheet.widths)))
    return sheet


def attachments_line(table: QuarterTable) -> str:
    """The seed's 附件 line: the quarter's adopted 創意服務 plans (附錄1), or that none was."""
    if not table.attachments:
        return f"{ANNEX}本季無經採用之「有價值的創意服務」計畫。"
    return (f"{ANNEX}受評核之「有價值的創意服務」計畫（格式參考附錄1）："
            + "、".join(table.attachments))


def _award_rows(table: AnnualTable) -> list[list[Value]]:
    """The 獎勵（嘉獎乙次） block, as rows of values (shared by the sheet and the CSV)."""
    rows: list[list[Value]] = [[AWARDS]]
    rows.append([BEST_SECTION, SECTION])
    rows += [[None, section] for section in table.best_sections] or [[None, NONE_YET]]
    rows.append([BEST_PHONE, "姓名", SECTION, "全年平均分數", "測試次數"])
    rows += [[None, person, section, average, count]
             for person, section, average, count in table.best_phone] or [[None, NONE_YET]]
    rows.append([ADOPTED, "方案名稱", "提案人", SECTION])
    rows += [[None, title, proposer, section]
             for title, proposer, section in table.adopted_proposals] or [[None, NONE_YET]]
    return rows


def _annual_info(table: AnnualTable) -> str:
    word = METHOD_WORDS.get(table.method, table.method)
    rules = table.rules or f"年度成績為第1至4季總分之{word}。"
    return f"{AGENCY}：{table.agency}；{rules}斜體為自評分數（尚未審定）。"


def _annual_header(table: AnnualTable) -> list[str]:
    return [RANK, SECTION, *QUARTERS, aggregate_label(table.method), GRADE, NOTE]


def _annual_sheet(table: AnnualTable) -> _Sheet:
    header = _annual_header(table)
    width = len(header)
    sheet = _Sheet(name=sheet_name(f"{table.roc_year}年度"), title=table.title, width=width)
    sheet.widths = [22.0, 28.0, 14.0, 14.0, 14.0, 14.0, 16.0, 8.0, 22.0]
    sheet.add_line(table.title, "title", 30)
    info = _annual_info(table)
    sheet.add_line(info, "info", _line_height(info, sum(sheet.widths)))
    header_row = sheet.add([_Cell(word, "header") for word in header], 20)
    sheet.freeze = (2, header_row + 1)
    for row in table.rows:
        cells = [_Cell(row.rank), _Cell(row.section)]
        cells += [_Cell(total, "cell" if done or total is None else "self")
                  for total, done in zip(row.quarter_totals, row.verified, strict=True)]
        cells += [_Cell(_plain_number(row.aggregate)), _Cell(row.grade),
                  _Cell(row.standing or None)]
        sheet.add(cells)
    sheet.add([])
    for values in _award_rows(table):
        if len(values) == 1:
            sheet.add_line(str(values[0]), "subtitle", 20)
        elif values[0] is not None:
            sheet.add([_Cell(value, "header") for value in values])
        else:
            sheet.add([_Cell(None, "blank")] + [_Cell(value) for value in values[1:]])
    return sheet


# ---------------------------------------------------------------- ODS

_BORDER = 'fo:border="0.06pt solid #000000"'
_ODS_STYLES = {
    "title": ('<style:table-cell-properties style:vertical-align="middle"/>'
              '<style:paragraph-properties fo:text-align="center"/>'
              '<style:text-properties fo:font-size="14pt" style:font-size-asian="14pt" '
              'fo:font-weight="bold" style:font-weight-asian="bold"/>'),
    "subtitle": ('<style:table-cell-properties style:vertical-align="middle"/>'
                 '<style:text-properties fo:font-weight="bold" '
                 'style:font-weight-asian="bold"/>'),
    "info": ('<style:table-cell-properties fo:wrap-option="wrap" '
             'style:vertical-align="middle"/>'),
    "header": (f'<style:table-cell-properties {_BORDER} fo:background-color="#e8e8e8" '
               'fo:wrap-option="wrap" style:vertical-align="middle"/>'
               '<style:paragraph-properties fo:text-align="center"/>'
               '<style:text-properties fo:font-weight="bold" style:font-weight-asian="bold"/>'),
    "cell": (f'<style:table-cell-properties {_BORDER} fo:wrap-option="wrap" '
             'style:vertical-align="middle"/>'
             '<style:paragraph-properties fo:text-align="center"/>'),
    "self": (f'<style:table-cell-properties {_BORDER} fo:wrap-option="wrap" '
             'style:vertical-align="middle"/>'
             '<style:paragraph-properties fo:text-align="center"/>'
             '<style:text-properties fo:font-style="italic" style:font-style-asian="italic" '
             'style:font-style-complex="italic" fo:color="#7a4a00"/>'),
    "blank": "",
}


def _ods_style_name(key: str) -> str:
    return f"sq{key.capitalize()}"


def _ods_text(value: str) -> str:
    return _XML_ILLEGAL.sub("", value)


def _ods_cell_xml(cell: _Cell) -> str:
    style = _ods_style_name(cell.style) if _ODS_STYLES.get(cell.style) else None
    styled = f' table:style-name="{style}"' if style else ""
    value = cell.value
    if isinstance(value, bool):  # never a 0/1 "number" by accident
        value = str(value)
    if value is None:
        return f"<table:table-cell{styled}/>"
    if isinstance(value, str):
        text = escape(_ods_text(value))
        paragraphs = "".join(f"<text:p>{line}</text:p>" for line in text.split("\n"))
        return f'<table:table-cell office:value-type="string"{styled}>{paragraphs}' \
               "</table:table-cell>"
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return (f'<table:table-cell office:value-type="float" office:value="{value}"{styled}>'
            f"<text:p>{shown}</text:p></table:table-cell>")


def _ods_table_xml(sheet: _Sheet, number: int) -> str:
    parts = [f'<table:table table:name={quoteattr(_ods_text(sheet.name))}>']
    parts += [f'<table:table-column table:style-name="sqCo{number}x{column}"/>'
              for column in range(1, len(sheet.widths) + 1)]
    for index, cells in enumerate(sheet.rows):
        styled = f' table:style-name="sqRo{number}x{index}"' if index in sheet.heights else ""
        parts.append(f"<table:table-row{styled}>")
        parts += [_ods_cell_xml(cell) for cell in cells]
        parts.append("</table:table-row>")
    parts.append("</table:table>")
    return "".join(parts)


def _ods_bytes(sheets: Sequence[_Sheet], title: str) -> bytes:
    from odfdo import Document, Element, Style, Table

    document = Document("spreadsheet")
    document.meta.title = _ods_text(title)
    document.meta.language = "zh-TW"
    document.meta.generator = "sqbot"
    # The template speaks French: make Chinese (Taiwan) the language of every default style,
    # so numbers show as 3.5 (not 3,5) and CJK text is typeset as Chinese.
    for properties in document.styles.get_elements("//style:default-style/style:text-properties"):
        properties.set_attribute("fo:language", "zh")
        properties.set_attribute("fo:country", "TW")
        properties.set_attribute("style:language-asian", "zh")
        properties.set_attribute("style:country-asian", "TW")
    # Print landscape on A4, the table's width fitted to one page, like the XLSX.
    for properties in document.styles.get_elements(
            "//style:page-layout/style:page-layout-properties"):
        for attribute, setting in (("fo:page-width", "29.7cm"), ("fo:page-height", "21cm"),
                                   ("style:print-orientation", "landscape"),
                                   ("fo:margin", "1cm"), ("style:scale-to-X", "1")):
            properties.set_attribute(attribute, setting)
    # The template prints an English "Page 1" under a "???" sheet name: no header, and a
    # zh-TW footer with the title and 第 1 頁，共 2 頁.
    footer = ('<style:footer><text:p>' + escape(title) + '　第 <text:page-number>1'
              '</text:page-number> 頁，共 <text:page-count>1</text:page-count> 頁'
              '</text:p></style:footer>')
    for master in document.styles.get_elements("//style:master-page"):
        for child in list(master.children):
            if child.tag == "style:header":
                master.replace_element(child, Element.from_tag(
                    '<style:header style:display="false"/>'))
            elif child.tag == "style:footer":
                master.replace_element(child, Element.from_tag(footer))
    for key, body in _ODS_STYLES.items():
        if body:
            document.insert_style(
                f'<style:style style:name="{_ods_style_name(key)}" '
                f'style:family="table-cell">{body}</style:style>', automatic=True)

    spreadsheet = document.body
    spreadsheet.clear()
    for number, sheet in enumerate(sheets, start=1):
        for column, width in enumerate(sheet.widths, start=1):
            document.insert_style(
                Style("table-column", name=f"sqCo{number}x{column}",
                      width=f"{width * 0.21 + 0.1:.2f}cm"), automatic=True)
        for index in sheet.heights:
            document.insert_style(
                Style("table-row", name=f"sqRo{number}x{index}",
                      height=f"{sheet.heights[index] * 0.0353:.3f}cm"), automatic=True)
        # The table is written as XML text and parsed once: odfdo's cell-by-cell API took
        # seconds for a thousand sections (it clones every cell it appends).
        table = Element.from_tag(_ods_table_xml(sheet, number))
        assert isinstance(table, Table)
        for c0, r0, c1, r1 in sheet.merges:
            table.set_span((c0, r0, c1, r1))
        spreadsheet.append(table)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- XLSX


def _xlsx_bytes(sheets: Sequence[_Sheet], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    looks: dict[str, dict[str, Any]] = {
        "title": {"font": Font(bold=True, size=14),
                  "alignment": Alignment(horizontal="center", vertical="center",
                                         wrap_text=True)},
        "subtitle": {"font": Font(bold=True),
                     "alignment": Alignment(vertical="center")},
        "info": {"alignment": Alignment(vertical="center", wrap_text=True)},
        "header": {"font": Font(bold=True), "border": box, "alignment": center,
                   "fill": PatternFill("solid", fgColor="E8E8E8")},
        "cell": {"border": box, "alignment": center},
        "self": {"font": Font(italic=True, color="7A4A00"), "border": box,
                 "alignment": center},
        "blank": {},
    }

    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = ILLEGAL_CHARACTERS_RE.sub("", title)
    workbook.properties.language = "zh-TW"
    workbook.properties.creator = "sqbot"
    for sheet in sheets:
        worksheet = workbook.create_sheet(sheet.name)
        for column, width in enumerate(sheet.widths, start=1):
            worksheet.column_dimensions[get_column_letter(column)].width = width
        for index, cells in enumerate(sheet.rows, start=1):
            for column, cell in enumerate(cells, start=1):
                target = worksheet.cell(row=index, column=column)
                value = cell.value
                if isinstance(value, bool):
                    value = str(value)
                if isinstance(value, str):
                    target.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                    target.data_type = "s"  # never a formula, whatever the text begins with
                elif value is not None:
                    target.value = value
                    if cell.number_format:
                        target.number_format = cell.number_format
                for attribute, look in looks[cell.style].items():
                    setattr(target, attribute, look)
        for index, height in sheet.heights.items():
            worksheet.row_dimensions[index + 1].height = height
        for c0, r0, c1, r1 in sheet.merges:
            worksheet.merge_cells(start_row=r0 + 1, start_column=c0 + 1,
                                  end_row=r1 + 1, end_column=c1 + 1)
        if sheet.freeze is not None:
            columns, rows = sheet.freeze
            worksheet.freeze_panes = worksheet.cell(row=rows + 1, column=columns + 1)
        worksheet.page_setup.orientation = "landscape"
        worksheet.page_setup.paperSize = worksheet.PAPERSIZE_A4
        worksheet.page_setup.fitToWidth = 1
        worksheet.page_setup.fitToHeight = 0
        worksheet.sheet_properties.pageSetUpPr.fitToPage = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- CSV


def _csv_value(value: Value) -> str:
    """Text for one CSV field; text that a spreadsheet would run as a formula gets a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return str(_plain_number(value))
    if value.startswith(_CSV_FORMULA_START):
        return "'" + value
    return value


def _csv_text(rows: Sequence[Sequence[Value]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    return buffer.getvalue()


def quarter_header(table: QuarterTable) -> list[str]:
    """The one header row of the quarterly CSV, the item columns as 「服務流程（280分）」."""
    return [AGENCY, NUMBER, SECTION, *(_item_heading(i.name, i.max) for i in table.items),
            TOTAL, GRADE, MONTH, NOTE]


# ---------------------------------------------------------------- public writers


def quarter_ods(table: QuarterTable) -> bytes:
    """The quarterly results table as an OpenDocument spreadsheet (ODS), the seed's layout."""
    return _ods_bytes([_quarter_sheet(table)], table.title)


def quarter_xlsx(table: QuarterTable) -> bytes:
    """The quarterly results table as an Excel workbook (XLSX), the same layout as the ODS."""
    return _xlsx_bytes([_quarter_sheet(table)], table.title)


def quarter_csv(table: QuarterTable) -> str:
    """The quarterly results table as CSV text, for programs and spreadsheets.

    The first line is the header (no byte-order mark; encode with ``utf-8-sig`` for Excel),
    then one line per section with the same cells as the sheet, an empty line, and the
    table's facts as 「name,value」 lines: 標題, 期別, 等第標準, 考核結果處理情形. Text that
    begins like a spreadsheet formula (= + - @) is prefixed with an apostrophe.
    """
    n = len(table.items)
    rows: list[list[Value]] = [list(quarter_header(table))]
    for row in table.rows:
        scores = (list(row.item_scores) + [None] * n)[:n]
        rows.append([table.agency, row.number, row.section, *scores, row.total,
                     grade_text(row), row.assessed_month, score_note(row)])
    rows.append([])
    rows += [["標題", table.title], ["期別", table.period_label],
             ["等第標準", table.grade_scale], [FOLLOW_UP.rstrip("："), table.follow_up],
             [ANNEX.rstrip("："), "、".join(table.attachments)]]
    return _csv_text(rows)


def quarter_json(table: QuarterTable) -> dict[str, Any]:
    """The quarterly results table as a JSON-safe dict (only dicts, lists, str, int, bool)."""
    return {
        "kind": "quarter_table",
        "title": table.title,
        "agency": table.agency,
        "period": table.period_label,
        "total_max": table.total_max,
        "grade_scale": table.grade_scale,
        "grade_bands": [{"grade": grade, "min_total": least}
                        for grade, least in table.grade_bands],
        "items": [{"code": item.code, "name": item.name, "max": item.max}
                  for item in table.items],
        "rows": [
            {
                "number": row.number,
                "section": row.section,
                "item_scores": list(row.item_scores),
                "total": row.total,
                "grade": row.grade,
                "grade_text": grade_text(row),
                "verified": row.verified,
                "self_assessed": is_self_assessed(row),
                "status": row.status,
                "assessed_month": row.assessed_month,
                "note": score_note(row),
            }
            for row in table.rows
        ],
        "follow_up": table.follow_up,
        "attachments": list(table.attachments),
    }


def annual_ods(table: AnnualTable) -> bytes:
    """The annual table (ranking and 獎勵（嘉獎乙次）) as an OpenDocument spreadsheet."""
    return _ods_bytes([_annual_sheet(table)], table.title)


def annual_xlsx(table: AnnualTable) -> bytes:
    """The annual table (ranking and 獎勵（嘉獎乙次）) as an Excel workbook."""
    return _xlsx_bytes([_annual_sheet(table)], table.title)


def annual_csv(table: AnnualTable) -> str:
    """The annual table as CSV text: header, one line per section, then facts and awards.

    After the section lines and an empty line come 標題, 實施考核機關, 年度 and 彙總方式,
    another empty line, and the 獎勵（嘉獎乙次） block exactly as in the sheet.
    """
    rows: list[list[Value]] = [list(_annual_header(table))]
    rows += [_annual_values(row) for row in table.rows]
    rows.append([])
    rows += [["標題", table.title], [AGENCY, table.agency], ["年度", table.roc_year],
             ["彙總方式", METHOD_WORDS[table.method]]]
    rows.append([])
    rows += _award_rows(table)
    return _csv_text(rows)


def _annual_values(row: AnnualRow) -> list[Value]:
    return [row.rank, row.section, *row.quarter_totals, _plain_number(row.aggregate), row.grade,
            row.standing]


def annual_json(table: AnnualTable) -> dict[str, Any]:
    """The annual table as a JSON-safe dict: rows, method and the three commendations."""
    aggregate_label(table.method)  # refuses an unknown method, like the other writers
    for row in table.rows:
        _plain_number(row.aggregate)  # refuses NaN and infinity, which JSON cannot carry
    return {
        "kind": "annual_table",
        "title": table.title,
        "agency": table.agency,
        "roc_year": table.roc_year,
        "method": table.method,
        "rules": table.rules,
        "rows": [
            {
                "rank": row.rank,
                "section": row.section,
                "quarter_totals": list(row.quarter_totals),
                "aggregate": row.aggregate,
                "grade": row.grade,
                "verified": list(row.verified),
                "standing": row.standing,
            }
            for row in table.rows
        ],
        "awards": {
            "best_sections": list(table.best_sections),
            "best_phone": [{"person": person, "section": section, "average": average,
                            "tests": count}
                           for person, section, average, count in table.best_phone],
            "adopted_proposals": [{"title": title, "proposer": proposer, "section": section}
                                  for title, proposer, section in table.adopted_proposals],
        },
    }
