"""The scoring form (reports.forms) as the seed draws it, read back with independent readers.

ODT is read as XML straight from the package (merged and covered cells as they are stored),
DOCX with python-docx; what is checked comes from the rubric itself (every band's every line
of criteria, the notes, the points), not from what the writer meant to write. LibreOffice
renders both to count the pages.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from xml.etree import ElementTree

import pytest
from docx import Document as open_docx
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Pt

from reports.build import blank_section_form, form_facets, form_title
from reports.forms import form_docx, form_odt
from reports.model import SectionForm
from reports.performance import office_binary, pdf_page_count, render_pdfs
from rubric import Question, grade_for, load_year, score_card
from storage.models import Agency, Answer, Section

AGENCY = "經濟部水利署第十河川局"
TITLE = "經濟部水利署第十河川局115年度提升服務品質自行考核項目及評分表"
FONT = "標楷體"
CLOSING_LABEL = "優點、建議改進事項："
CLOSING = (
    "優點：\n"
    "一、服務台設置雙語標示，並提供各類申辦書表填寫範例。\n"
    "\n"
    "建議改進事項：\n"
    "一、網站「最新消息」更新頻率偏低 & 部分連結失效（<3 處>），請定期檢查。"
)
HEADINGS = {
    "優質便民服務構面": ["評核項目", "評核指標", "次評核指標", "評分參考標準", "得分"],
    "資訊網路服務構面": ["評核項目", "評核指標", "次評核指標", "評分參考標準", "得分"],
    "創新加值服務構面": ["評核項目", "評核指標", "評分參考標準", "評分注意事項", "得分"],
    "服務規劃的創新整合構面": ["評核項目", "評核指標", "評分參考標準", "得分"],
}
RUBRIC = load_year(105)
# 1.2 cut with a reason, 2.4 returned, 3.1 left unanswered; the rest scored at half or more.
SELF = {q.code: q.max - (i % 3) * (q.max // 10) for i, q in enumerate(RUBRIC.questions)}
del SELF["3.1"]
VERIFIED = {**SELF, "1.2": SELF["1.2"] - 10}
REASONS = {"1.2": "缺少網路查詢 & <佐證>"}
EVIDENCE = {"1.1": "公告標準作業流程", "6.1": "河川公地線上預審"}
FILES = {"1.1": 2}


def _answers() -> dict[str, Answer]:
    return {
        code: Answer(question_code=code, self_score=score, verified_score=VERIFIED[code],
                     reviewer_comment=REASONS.get(code), evidence_text=EVIDENCE.get(code),
                     returned=code == "2.4")
        for code, score in SELF.items()
    }


@pytest.fixture(scope="module")
def form() -> SectionForm:
    card = score_card(RUBRIC, VERIFIED)
    return SectionForm(
        title=TITLE, number=3, section="工務課", period_label="115年第4季",
        assessed_on="115年12月20日", total=card.total, grade=grade_for(RUBRIC, card.total),
        assessor="王小明", facets=form_facets(RUBRIC, _answers(), FILES, VERIFIED),
        strengths_and_suggestions=CLOSING)


@pytest.fixture(scope="module")
def blank() -> SectionForm:
    return blank_section_form(Agency(name=AGENCY), 115, quarter=4,
                              section=Section(name="規劃課", position=2, agency_id=1))


def _criteria_lines(question: Question) -> list[str]:
    """Every line the seed prints under 評分參考標準 for a question, from the rubric."""
    lines = [f"{band.min}-{band.max}分" for band in question.bands]
    lines += [part for band in question.bands for part in band.criteria.split("\n")]
    lines += [question.guidance] if question.guidance else []
    return lines + list(question.criteria)


# ----------------------------------------------------------------------------- ODT reader

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
}


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _paragraph_text(element: ElementTree.Element) -> str:
    """A text:p's text with its line breaks, tabs and runs of spaces as the reader sees them."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _q("text:line-break"):
            parts.append("\n")
        elif child.tag == _q("text:tab"):
            parts.append("\t")
        elif child.tag == _q("text:s"):
            parts.append(" " * int(child.get(_q("text:c"), "1")))
        else:
            parts.append(_paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _text(element: ElementTree.Element) -> str:
    return "\n".join(_paragraph_text(p) for p in element.iter(_q("text:p")))


class OdtCell:
    def __init__(self, element: ElementTree.Element) -> None:
        self.covered = element.tag == _q("table:covered-table-cell")
        self.rows = int(element.get(_q("table:number-rows-spanned"), "1"))
        self.cols = int(element.get(_q("table:number-columns-spanned"), "1"))
        self.text = _text(element)
        self.style = element.get(_q("table:style-name"))


class OdtTable:
    def __init__(self, element: ElementTree.Element) -> None:
        self.name = element.get(_q("table:name"))
        head = element.find(_q("table:table-header-rows"))
        self.heading_rows = [] if head is None else [
            [OdtCell(c) for c in r] for r in head.findall(_q("table:table-row"))]
        self.rows = [[OdtCell(c) for c in r] for r in element.findall(_q("table:table-row"))]
        self.row_styles = {r.get(_q("table:style-name"))
                           for r in element.iter(_q("table:table-row"))}


def _odt_parts(data: bytes) -> tuple[ElementTree.Element, ElementTree.Element]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return (ElementTree.fromstring(package.read("content.xml")),
                ElementTree.fromstring(package.read("styles.xml")))


def _odt_body(data: bytes) -> tuple[list[str], list[OdtTable]]:
    content, _ = _odt_parts(data)
    text = content.find(f"{_q('office:body')}/{_q('office:text')}")
    assert text is not None
    paragraphs = [_text(child) for child in text if child.tag == _q("text:p")]
    tables = [OdtTable(child) for child in text if child.tag == _q("table:table")]
    return paragraphs, tables


def _question_rows(table_rows: list[list], names: list[str]) -> dict[str, dict[str, object]]:
    """Each body row's cells by column name, keyed by the question the row is for (found by
    its criteria text), for either reader's cells."""
    found = {}
    for row in table_rows:
        cells = dict(zip(names, row, strict=True))
        criteria = cells["評分參考標準"].text
        matches = [q for q in RUBRIC.questions if _criteria_lines(q)[-1] in criteria
                   and _criteria_lines(q)[0] in criteria]
        assert len(matches) == 1, criteria[:60]
        found[matches[0].code] = cells
    return found


def test_odt_title_fields_and_page(form: SectionForm) -> None:
    data = form_odt(form)
    paragraphs, _ = _odt_body(data)
    assert paragraphs[0] == TITLE
    assert re.fullmatch(r"編號：3\s+課室名稱：工務課\s+考核日期：115年12月20日", paragraphs[1])
    assert re.fullmatch(rf"總分（滿分1000分）：{form.total}（{form.grade}）\s+考核人員：王小明",
                        paragraphs[2])
    _, styles = _odt_parts(data)
    master = styles.find(f".//{_q('style:master-page')}")
    assert master is not None
    header = master.find(_q("style:header"))
    assert header is not None
    assert _text(header) == "115年第4季\u3000工務課\u3000自行考核項目及評分表"
    footer = master.find(_q("style:footer"))
    assert footer is not None and footer.find(f".//{_q('text:page-number')}") is not None
    assert "頁，共" in _text(footer)
    layout = styles.find(f".//{_q('style:page-layout-properties')}")
    assert layout is not None
    assert (layout.get(_q("fo:page-width")), layout.get(_q("fo:page-height"))) == \
        ("21.0cm", "29.7cm")
    faces = [f.get(_q("svg:font-family")) for f in styles.iter(_q("style:font-face"))]
    assert FONT in faces


def test_odt_a_table_per_facet_with_the_seeds_columns(form: SectionForm) -> None:
    _, tables = _odt_body(form_odt(form))
    assert [t.name for t in tables] == [*HEADINGS, "優點、建議改進事項"]
    for table, facet in zip(tables, RUBRIC.facets, strict=False):
        facet_row, headings = table.heading_rows
        assert facet_row[0].text == f"{facet.name}構面\n（{facet.max}分）"
        assert facet_row[0].cols == 2 and facet_row[1].covered
        assert facet_row[2].text == facet.description
        assert [c.text for c in headings] == HEADINGS[table.name]
        # A row per question of the facet, after the two heading rows that repeat per page.
        questions = [q for item in facet.items for q in item.all_questions()]
        assert len(table.rows) == len(questions)
        assert len(table.row_styles) == 1


def test_odt_merged_cells_subtotals_and_indicator_scores(form: SectionForm) -> None:
    _, tables = _odt_body(form_odt(form))
    for table, facet in zip(tables, RUBRIC.facets, strict=False):
        names = HEADINGS[table.name]
        body = table.rows
        row = 0
        for item in facet.items:
            count = len(item.all_questions())
            cell = body[row][0]
            subtotal = sum(VERIFIED.get(q.code, 0) for q in item.all_questions())
            assert cell.text == f"{item.name}\n（{item.max}分）\n＊小計：{subtotal}"
            assert cell.rows == count
            assert all(body[r][0].covered for r in range(row + 1, row + count))
            if "評分注意事項" in names:
                notes = body[row][names.index("評分注意事項")]
                assert notes.rows == count
                assert notes.text.split("\n") == [f"{n}. {t}" for n, t in enumerate(item.notes, 1)]
            inner = row
            for indicator in item.indicators:
                span = len(indicator.all_questions())
                score = sum(VERIFIED.get(q.code, 0) for q in indicator.all_questions())
                cell = body[inner][1]
                assert cell.text == f"{indicator.name}\n（{indicator.max}分）\n﹡得分：{score}"
                assert cell.rows == span
                inner += span
            row += count
        assert row == len(body)


def test_odt_every_line_of_every_band_and_the_scores(form: SectionForm) -> None:
    _, tables = _odt_body(form_odt(form))
    rows: dict[str, dict[str, object]] = {}
    for table in tables[:4]:
        rows |= _question_rows(table.rows, HEADINGS[table.name])
    assert list(rows) == [q.code for q in RUBRIC.questions]
    for question in RUBRIC.questions:
        criteria = rows[question.code]["評分參考標準"].text.split("\n")  # type: ignore[attr-defined]
        for line in _criteria_lines(question):
            assert any(line in shown for shown in criteria), (question.code, line)
    # The lines the first release lost, by name.
    assert "設置全功能單一窗口，提供整合服務" in rows["1.1"]["評分參考標準"].text  # type: ignore[attr-defined]
    assert "雙語（或多語）標示服務" in rows["2.2"]["評分參考標準"].text  # type: ignore[attr-defined]
    assert "通過無障礙檢測" in rows["4.4"]["評分參考標準"].text  # type: ignore[attr-defined]
    assert rows["1.1"]["評分參考標準"].text.startswith("※ 提供案件承辦資訊種類（120分）：")  # type: ignore[attr-defined]
    assert rows["1.3"]["評分參考標準"].text.startswith("61-100分")  # type: ignore[attr-defined]
    assert rows["7.1"]["評分參考標準"].text.startswith("透過內、外部流程的檢討修正與簡化")  # type: ignore[attr-defined]
    score = {code: cells["得分"].text.split("\n") for code, cells in rows.items()}  # type: ignore[attr-defined]
    assert score["1.2"][:3] == [f"自評：{SELF['1.2']}", f"審定：{VERIFIED['1.2']}",
                                "審定說明：缺少網路查詢 & <佐證>"]
    assert score["1.1"][-1] == "佐證：公告標準作業流程（檔案 2 件）"
    assert "（已退回課室）" in score["2.4"]
    assert score["3.1"] == ["自評：未作答", "審定："]
    sub = rows["1.1"]["次評核指標"]
    assert sub.text == "1.案件處理流程查詢公開及簡化流程程度\n（180分）" and sub.rows == 2  # type: ignore[attr-defined]
    assert rows["2.6"]["次評核指標"].text == "施政宣導有效程度\n（30分）"  # type: ignore[attr-defined]


def test_odt_rows_do_not_split_and_headings_repeat(form: SectionForm) -> None:
    data = form_odt(form)
    content, _ = _odt_parts(data)
    _, tables = _odt_body(data)
    row_styles = {s.get(_q("style:name")): s for s in content.iter(_q("style:style"))
                  if s.get(_q("style:family")) == "table-row"}
    for table in tables:
        for name in table.row_styles:
            properties = row_styles[name].find(_q("style:table-row-properties"))
            assert properties is not None
            assert properties.get(_q("fo:keep-together")) == "always"
    assert all(len(t.heading_rows) == 2 for t in tables[:4])


def test_odt_blank_form(blank: SectionForm) -> None:
    data = form_odt(blank)
    paragraphs, tables = _odt_body(data)
    assert paragraphs[0] == TITLE
    assert re.fullmatch(r"編號：2\s+課室名稱：規劃課\s+考核日期：\s*", paragraphs[1])
    assert re.fullmatch(r"總分（滿分1000分）：\s*考核人員：\s*", paragraphs[2])
    for table in tables[:4]:
        names = HEADINGS[table.name]
        for row in table.rows:
            cells = dict(zip(names, row, strict=True))
            assert cells["得分"].text == "自評：\n\n審定：\n"
            assert not re.search(r"\d", cells["評核項目"].text.split("＊小計：")[-1])
    closing = tables[-1].rows[0][0].text.split("\n")
    assert closing[0] == CLOSING_LABEL and all(not line for line in closing[1:])


# ---------------------------------------------------------------------------- DOCX reader


def _docx(data: bytes):  # -> docx.document.Document
    return open_docx(io.BytesIO(data))


def test_docx_title_fields_and_page(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts[0] == TITLE
    assert re.fullmatch(r"編號：3\s+課室名稱：工務課\s+考核日期：115年12月20日", texts[1])
    assert re.fullmatch(rf"總分（滿分1000分）：{form.total}（{form.grade}）\s+考核人員：王小明",
                        texts[2])
    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert section.page_width.cm == pytest.approx(21.0, abs=0.01)
    assert section.header.paragraphs[0].text == "115年第4季\u3000工務課\u3000自行考核項目及評分表"
    fields = [t.text for t in section.footer._element.iter(qn("w:instrText"))]
    assert [f.strip() for f in fields] == ["PAGE", "NUMPAGES"]
    runs = [run for p in doc.paragraphs for run in p.runs]
    runs += [run for t in doc.tables for c in t._cells for p in c.paragraphs for run in p.runs]
    fonts = {run._r.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) for run in runs}
    assert fonts == {FONT}
    assert {run.font.size for run in runs if run.font.size} <= {Pt(11), Pt(12), Pt(14)}


def test_docx_tables_merged_cells_and_bands(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    tables = doc.tables
    assert len(tables) == 5
    rows: dict[str, dict[str, object]] = {}
    for table, facet in zip(tables, RUBRIC.facets, strict=False):
        names = HEADINGS[f"{facet.name}構面"]
        facet_row = table.rows[0].cells
        assert facet_row[0].text == f"{facet.name}構面\n（{facet.max}分）"
        assert facet_row[0]._tc is facet_row[1]._tc, "the facet's name spans two columns"
        assert [c.text for c in table.rows[1].cells] == names
        body = [row.cells for row in table.rows[2:]]
        rows |= _question_rows(body, names)
        row = 0
        for item in facet.items:
            count = len(item.all_questions())
            subtotal = sum(VERIFIED.get(q.code, 0) for q in item.all_questions())
            assert body[row][0].text == f"{item.name}\n（{item.max}分）\n＊小計：{subtotal}"
            assert all(body[r][0]._tc is body[row][0]._tc for r in range(row, row + count))
            row += count
        for row_element in table.rows:
            tr_pr = row_element._tr.trPr
            assert tr_pr is not None and tr_pr.find(qn("w:cantSplit")) is not None
        headers = [r._tr.trPr.find(qn("w:tblHeader")) is not None for r in table.rows]
        assert headers[:2] == [True, True] and not any(headers[2:])
    for question in RUBRIC.questions:
        text = rows[question.code]["評分參考標準"].text  # type: ignore[attr-defined]
        assert all(line in text for line in _criteria_lines(question)), question.code
    assert rows["1.2"]["得分"].text.split("\n")[2] == "審定說明：缺少網路查詢 & <佐證>"  # type: ignore[attr-defined]
    closing = tables[-1].cell(0, 0).text.split("\n")
    assert closing[0] == CLOSING_LABEL and "\n".join(closing[1:]) == CLOSING


def test_docx_blank_form(blank: SectionForm) -> None:
    doc = _docx(form_docx(blank))
    for table, facet in zip(doc.tables, RUBRIC.facets, strict=False):
        names = HEADINGS[f"{facet.name}構面"]
        for row in table.rows[2:]:
            assert row.cells[names.index("得分")].text == "自評：\n\n審定：\n"


# Schema order of w:tcPr's and w:trPr's children (ECMA-376): Word rejects other orders.
TC_PR_ORDER = [qn(tag) for tag in (
    "w:cnfStyle", "w:tcW", "w:gridSpan", "w:hMerge", "w:vMerge", "w:tcBorders", "w:shd",
    "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark")]
TR_PR_ORDER = [qn(tag) for tag in (
    "w:cnfStyle", "w:divId", "w:gridBefore", "w:gridAfter", "w:wBefore", "w:wAfter",
    "w:cantSplit", "w:trHeight", "w:tblHeader", "w:tblCellSpacing", "w:jc", "w:hidden")]


def test_docx_properties_follow_the_schema(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    for table in doc.tables:
        assert len(table._tbl.tblPr.findall(qn("w:tblLayout"))) == 1
        for properties, order in ((qn("w:tcPr"), TC_PR_ORDER), (qn("w:trPr"), TR_PR_ORDER)):
            for element in table._tbl.iter(properties):
                positions = [order.index(child.tag) for child in element]
                assert positions == sorted(positions)


# ------------------------------------------------------------------------------- both


def test_characters_xml_cannot_hold_are_dropped(form: SectionForm) -> None:
    answers = _answers()
    answers["1.1"].evidence_text = "甲\x00乙\x0b丙\r\n丁\x1f"
    messy = replace(form, facets=form_facets(RUBRIC, answers, {}, VERIFIED),
                    strengths_and_suggestions="第一行\r\n第二行\x08")
    _, tables = _odt_body(form_odt(messy))
    row = _question_rows(tables[0].rows, HEADINGS[tables[0].name])["1.1"]
    assert row["得分"].text.endswith("佐證：甲乙丙\n丁")  # type: ignore[attr-defined]
    assert tables[-1].rows[0][0].text.split("\n")[1:] == ["第一行", "第二行"]
    doc = _docx(form_docx(messy))
    assert doc.tables[0].rows[2].cells[-1].text.endswith("佐證：甲乙丙\n丁")


def test_the_title_carries_the_year_not_the_quarter() -> None:
    assert form_title(AGENCY, 115) == TITLE
    whole_year = blank_section_form(Agency(name=AGENCY), 116)
    assert whole_year.title == TITLE.replace("115", "116")
    assert whole_year.period_label == "116年度" and whole_year.section is None


HAS_WRITER = office_binary() is not None and (
    __import__("pathlib").Path(office_binary()).resolve().parent / "libswlo.so").exists()


@pytest.mark.skipif(not HAS_WRITER, reason="LibreOffice Writer is not installed")
def test_libreoffice_renders_the_form_in_six_pages_or_so(form: SectionForm,
                                                        blank: SectionForm) -> None:
    pdfs = render_pdfs({"filled.odt": form_odt(form), "filled-docx.docx": form_docx(form),
                        "blank.odt": form_odt(blank), "blank-docx.docx": form_docx(blank)})
    pages = {name: pdf_page_count(pdf) for name, pdf in pdfs.items()}
    # The seed's form runs to six pages of 標楷體; the first release's score record was four.
    assert all(5 <= count <= 8 for count in pages.values()), pages
