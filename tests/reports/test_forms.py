"""The scoring-form writers (reports.forms), read back with independent readers.

ODT is read with odfdo, DOCX with python-docx: every header field, every question row, the
item subtotals, the closing text, the East Asian font and the A4 portrait page are checked in
what the reader finds, not in what the writer meant to write.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from docx import Document as open_docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from odfdo import Cell, Document, Paragraph, Style
from odfdo.style_props import StyleProps

from reports.forms import form_docx, form_odt
from reports.model import FormLine, SectionForm
from rubric import grade_for, load_year

TITLE = "經濟部水利署第十河川局115年第4季提升服務品質自行考核項目及評分表"
HEADINGS = ["題號", "評核項目／指標", "題目", "配分", "自評分數", "審定分數", "佐證摘要"]
CLOSING_LABEL = "優點、建議改進事項："
FONT = "標楷體"
CLOSING = (
    "優點：\n"
    "一、服務台設置雙語標示，並提供各類申辦書表填寫範例。\n"
    "二、電話禮貌測試成績 92 分，表現優良。\n"
    "\n"
    "建議改進事項：\n"
    "一、網站「最新消息」更新頻率偏低 & 部分連結失效（<3 處>），請定期檢查。\n"
    '二、滿意度調查宜增加 "趨勢分析"，並於下季提出改善措施。'
)
TRICKY_EVIDENCE = {
    0: "公告 & 標準作業流程 <SOP> 「網站」 \"雙引號\" '單引號'（3個檔案）",
    5: "電話禮貌測試 92 分\n第二行：附件 2 件",
    9: "A&B<C>D\"E'F  兩個空格\t定位字元",
    24: "結合 NGO & 志工 <社區> 資源（1個檔案）",
}


def _scores(index: int, top: int) -> tuple[int | None, int | None]:
    """A deterministic mix: most verified equal to self, some lower, one not yet scored."""
    self_score = top - (index % 3) * (top // 10)
    if index == 7:
        return None, None
    if index % 4 == 1:
        return self_score, max(self_score - top // 5, 0)
    if index == 12:
        return self_score, None  # verified not given yet: the self score counts
    return self_score, self_score


def _build_form() -> SectionForm:
    rubric = load_year(105)
    lines: list[FormLine] = []
    per_item: dict[str, int] = {}
    for index, question in enumerate(rubric.questions):
        self_score, verified = _scores(index, question.max)
        placement = rubric.placement(question.code)
        lines.append(
            FormLine(
                code=question.code,
                path=placement.breadcrumb,
                question=question.name,
                max=question.max,
                self_score=self_score,
                verified_score=verified,
                evidence=TRICKY_EVIDENCE.get(
                    index, f"佐證資料第{index + 1}項（{index % 3}個檔案）"
                ),
            )
        )
        counted = verified if verified is not None else self_score
        per_item[placement.item.name] = per_item.get(placement.item.name, 0) + (counted or 0)
    subtotals = tuple((item.name, per_item[item.name], item.max) for item in rubric.items)
    total = sum(score for _, score, _ in subtotals)
    return SectionForm(
        title=TITLE,
        number=3,
        section="工務課",
        period_label="115年第4季",
        assessed_on="115年12月20日",
        total=total,
        grade=grade_for(rubric, total),
        assessor="王小明",
        lines=tuple(lines),
        item_subtotals=subtotals,
        strengths_and_suggestions=CLOSING,
    )


@pytest.fixture(scope="module")
def form() -> SectionForm:
    return _build_form()


@pytest.fixture(scope="module")
def empty_form(form: SectionForm) -> SectionForm:
    """Nothing scored or written yet: every optional field missing."""
    return SectionForm(
        title=TITLE,
        number=12,
        section="員山子分洪管理中心",
        period_label="115年第4季",
        assessed_on=None,
        total=None,
        grade=None,
        assessor=None,
        lines=tuple(
            FormLine(line.code, line.path, line.question, line.max, None, None, "")
            for line in form.lines
        ),
    )


def _expected_row(line: FormLine) -> list[str]:
    def score(value: int | None) -> str:
        return "" if value is None else str(value)

    return [
        line.code,
        line.path,
        line.question,
        str(line.max),
        score(line.self_score),
        score(line.verified_score),
        line.evidence,
    ]


def _check_header(first: str, second: str, form: SectionForm) -> None:
    assert re.fullmatch(
        rf"編號：\s*{form.number}\s+課室名稱：\s*{form.section}\s+"
        rf"考核日期：\s*{form.assessed_on or ''}\s*",
        first,
    ), first
    total = "" if form.total is None else str(form.total)
    grade = f"（{form.grade}）" if form.grade else ""
    assert re.fullmatch(
        rf"總分（滿分1000分）：\s*{total}{grade}\s+考核人員：\s*{form.assessor or ''}\s*",
        second,
    ), second


def _check_closing(lines: list[str], form: SectionForm) -> None:
    if form.strengths_and_suggestions:
        assert "\n".join(lines) == form.strengths_and_suggestions
    else:
        assert len(lines) >= 3, "blank lines to write on"
        assert all(not line.strip() for line in lines)


def _cm(length: object) -> float:
    assert isinstance(length, str) and length.endswith("cm"), length
    return float(length[:-2])


# ------------------------------------------------------------------------------------- ODT


def _odt(data: bytes) -> Document:
    return Document(io.BytesIO(data))


def _odt_cell_text(cell: Cell) -> str:
    return "\n".join(p.text_recursive for p in cell.get_paragraphs())


def _odt_top_paragraphs(doc: Document) -> list[str]:
    return [child.text_recursive for child in doc.body.children if isinstance(child, Paragraph)]


def _odt_closing(doc: Document) -> list[str]:
    paragraphs = _odt_top_paragraphs(doc)
    return paragraphs[paragraphs.index(CLOSING_LABEL) + 1 :]


def test_odt_is_a_clean_package(form: SectionForm) -> None:
    data = form_odt(form)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        first = package.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        assert package.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        names = set(package.namelist())
        manifest = package.read("META-INF/manifest.xml").decode()
    listed = set(re.findall(r'manifest:full-path="([^"]+)"', manifest)) - {"/"}
    missing = {path for path in listed if path not in names and not path.endswith("/")}
    assert missing == set(), "the manifest lists parts the package lacks"


def test_odt_title_and_header_fields(form: SectionForm) -> None:
    doc = _odt(form_odt(form))
    paragraphs = _odt_top_paragraphs(doc)
    assert paragraphs[0] == TITLE
    _check_header(paragraphs[1], paragraphs[2], form)
    title = doc.body.children[0]
    assert isinstance(title, Paragraph) and title.style
    style = doc.get_style("paragraph", title.style)
    assert isinstance(style, Style)
    text = style.get_properties(area="text") or {}
    assert text["fo:font-weight"] == "bold"
    assert text["fo:font-size"] == "14pt"
    assert text["style:font-size-asian"] == "14pt"
    assert text["style:font-name-asian"] == FONT
    assert (style.get_properties(area="paragraph") or {})["fo:text-align"] == "center"


def test_odt_question_rows(form: SectionForm) -> None:
    doc = _odt(form_odt(form))
    table = doc.body.get_tables()[0]
    header_rows = table.get_element("table:table-header-rows")
    assert header_rows is not None, "the header row repeats on each page"
    rows = table.get_rows()
    assert [_odt_cell_text(cell) for cell in rows[0].get_cells()] == HEADINGS
    assert header_rows.get_elements("table:table-row")[0].serialize() == rows[0].serialize()
    assert len(rows) == 1 + len(form.lines) == 26
    for row, line in zip(rows[1:], form.lines, strict=True):
        cells = row.get_cells()
        assert [_odt_cell_text(cell) for cell in cells] == _expected_row(line)
        assert cells[3].get_value() == line.max
        assert cells[4].get_value() == line.self_score
        assert cells[5].get_value() == line.verified_score
    assert any(line.self_score is None for line in form.lines)
    assert any(line.verified_score not in (None, line.self_score) for line in form.lines), (
        "the fixture has verified scores that differ"
    )


def test_odt_subtotals_and_closing(form: SectionForm) -> None:
    doc = _odt(form_odt(form))
    table = doc.body.get_tables()[1]
    rows = [[_odt_cell_text(cell) for cell in row.get_cells()] for row in table.get_rows()]
    expected = [[item, str(score), str(top)] for item, score, top in form.item_subtotals]
    assert rows[1:-1] == expected
    assert rows[-1] == ["合計", str(form.total), "1000"]
    _check_closing(_odt_closing(doc), form)


def test_odt_font_and_page(form: SectionForm) -> None:
    doc = _odt(form_odt(form))
    faces = doc.styles.get_elements("//style:font-face")
    assert any(face.get_attribute("svg:font-family") == FONT for face in faces)
    default = doc.styles.get_element(
        "//style:default-style[@style:family='paragraph']/style:text-properties"
    )
    assert default is not None
    assert default.get_attribute("style:font-name-asian") == FONT
    assert default.get_attribute("style:font-size-asian") == "12pt"
    assert default.get_attribute("style:font-name") not in (None, FONT), "a Latin font"

    master = doc.styles.get_element("//style:master-page[@style:name='Standard']")
    assert master is not None
    layout = doc.get_style("page-layout", str(master.get_attribute("style:page-layout-name")))
    assert isinstance(layout, StyleProps)
    page = layout.get_properties() or {}
    assert _cm(page["fo:page-width"]) == pytest.approx(21.0, abs=0.01)
    assert _cm(page["fo:page-height"]) == pytest.approx(29.7, abs=0.01)
    assert page["style:print-orientation"] == "portrait"
    for side in ("top", "bottom", "left", "right"):
        assert _cm(page[f"fo:margin-{side}"]) == pytest.approx(2.0, abs=0.5)


def test_odt_blank_form(empty_form: SectionForm) -> None:
    doc = _odt(form_odt(empty_form))
    paragraphs = _odt_top_paragraphs(doc)
    _check_header(paragraphs[1], paragraphs[2], empty_form)
    tables = doc.body.get_tables()
    assert len(tables) == 1, "no subtotal table without subtotals"
    for row, line in zip(tables[0].get_rows()[1:], empty_form.lines, strict=True):
        assert [_odt_cell_text(cell) for cell in row.get_cells()] == _expected_row(line)
    _check_closing(_odt_closing(doc), empty_form)


# ------------------------------------------------------------------------------------ DOCX


def _docx(data: bytes):  # -> docx.document.Document
    return open_docx(io.BytesIO(data))


def _docx_closing(doc) -> list[str]:
    texts = [p.text for p in doc.paragraphs]
    return texts[texts.index(CLOSING_LABEL) + 1 :]


def _east_asian_font(r_pr) -> str | None:
    fonts = None if r_pr is None else r_pr.find(qn("w:rFonts"))
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def test_docx_is_a_clean_package(form: SectionForm) -> None:
    with zipfile.ZipFile(io.BytesIO(form_docx(form))) as package:
        assert package.testzip() is None
        assert {"[Content_Types].xml", "word/document.xml", "word/styles.xml"} <= set(
            package.namelist()
        )


def test_docx_title_and_header_fields(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    title = doc.paragraphs[0]
    assert title.text == TITLE
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert title.runs and all(run.bold for run in title.runs)
    assert all(run.font.size == Pt(14) for run in title.runs)
    _check_header(doc.paragraphs[1].text, doc.paragraphs[2].text, form)


def test_docx_question_rows(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    table = doc.tables[0]
    rows = table.rows
    assert [cell.text for cell in rows[0].cells] == HEADINGS
    assert rows[0]._tr.find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None
    assert len(rows) == 1 + len(form.lines) == 26
    for row, line in zip(rows[1:], form.lines, strict=True):
        assert [cell.text for cell in row.cells] == _expected_row(line)


def test_docx_subtotals_and_closing(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    rows = [[cell.text for cell in row.cells] for row in doc.tables[1].rows]
    assert rows[0] == ["評核項目", "小計", "配分"]
    expected = [[item, str(score), str(top)] for item, score, top in form.item_subtotals]
    assert rows[1:-1] == expected
    assert rows[-1] == ["合計", str(form.total), "1000"]
    _check_closing(_docx_closing(doc), form)


def test_docx_font_and_page(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    normal = doc.styles["Normal"]
    assert _east_asian_font(normal.element.rPr) == FONT
    assert normal.font.name not in (None, FONT), "a Latin font"
    assert normal.font.size == Pt(12)
    runs = [run for p in doc.paragraphs for run in p.runs]
    runs += [run for cell in doc.tables[0]._cells for p in cell.paragraphs for run in p.runs]
    assert runs
    assert {_east_asian_font(run._r.rPr) for run in runs} == {FONT}
    assert {run.font.size for run in runs if run.font.size is not None} <= {Pt(12), Pt(14)}

    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert section.page_width is not None and section.page_height is not None
    assert section.page_width.cm == pytest.approx(21.0, abs=0.01)
    assert section.page_height.cm == pytest.approx(29.7, abs=0.01)
    for margin in (
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    ):
        assert margin is not None
        assert margin.cm == pytest.approx(2.0, abs=0.5)


# Schema order of w:tcPr's children (ECMA-376 CT_TcPr): Word rejects other orders.
TC_PR_ORDER = [
    qn(tag)
    for tag in (
        "w:cnfStyle", "w:tcW", "w:gridSpan", "w:hMerge", "w:vMerge", "w:tcBorders", "w:shd",
        "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
    )
]  # fmt: skip


def test_docx_table_properties_follow_the_schema(form: SectionForm) -> None:
    doc = _docx(form_docx(form))
    for table in doc.tables:
        tbl_pr = table._tbl.tblPr
        assert len(tbl_pr.findall(qn("w:tblLayout"))) == 1
        for tc_pr in table._tbl.iter(qn("w:tcPr")):
            positions = [TC_PR_ORDER.index(child.tag) for child in tc_pr]
            assert positions == sorted(positions)


def test_docx_blank_form(empty_form: SectionForm) -> None:
    doc = _docx(form_docx(empty_form))
    _check_header(doc.paragraphs[1].text, doc.paragraphs[2].text, empty_form)
    assert len(doc.tables) == 1, "no subtotal table without subtotals"
    for row, line in zip(doc.tables[0].rows[1:], empty_form.lines, strict=True):
        assert [cell.text for cell in row.cells] == _expected_row(line)
    _check_closing(_docx_closing(doc), empty_form)


# ------------------------------------------------------------------------------- both


def test_characters_xml_cannot_hold_are_dropped(form: SectionForm) -> None:
    first = form.lines[0]
    dirty = FormLine(
        first.code, first.path, first.question, first.max, 1, 1, "甲\x00乙\x0b丙\r\n丁\x1f"
    )
    messy = SectionForm(
        title=form.title,
        number=form.number,
        section=form.section,
        period_label=form.period_label,
        assessed_on=form.assessed_on,
        total=form.total,
        grade=form.grade,
        assessor=form.assessor,
        lines=(dirty,),
        strengths_and_suggestions="第一行\r\n第二行\x08",
    )
    odt_table = _odt(form_odt(messy)).body.get_tables()[0]
    assert _odt_cell_text(odt_table.get_rows()[1].get_cells()[6]) == "甲乙丙\n丁"
    docx_doc = _docx(form_docx(messy))
    assert docx_doc.tables[0].rows[1].cells[6].text == "甲乙丙\n丁"
    assert _docx_closing(docx_doc) == ["第一行", "第二行"]


OFFICE = shutil.which("libreoffice") or shutil.which("soffice")
# Writer's library sits beside the soffice binary; without it (e.g. only Calc installed)
# LibreOffice cannot load a text document at all.
HAS_WRITER = OFFICE is not None and any(
    (Path(OFFICE).resolve().parent / name).exists() for name in ("libswlo.so", "libswlo.dylib")
)


@pytest.mark.skipif(OFFICE is None, reason="LibreOffice (libreoffice/soffice) is not installed")
@pytest.mark.skipif(
    OFFICE is not None and not HAS_WRITER,
    reason="LibreOffice is installed without Writer (no libswlo beside soffice)",
)
@pytest.mark.parametrize(("suffix", "writer"), [("odt", form_odt), ("docx", form_docx)])
def test_libreoffice_converts_to_pdf(form: SectionForm, tmp_path: Path, suffix, writer) -> None:
    source = tmp_path / f"form.{suffix}"
    source.write_bytes(writer(form))
    subprocess.run(
        [
            str(OFFICE),
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "form.pdf"
    assert pdf.exists(), "LibreOffice could not load the document"
    assert pdf.read_bytes().startswith(b"%PDF")
