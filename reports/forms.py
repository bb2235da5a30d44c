"""Writers of the scoring form (自行考核項目及評分表) as ODT and DOCX, drawn as the seed draws it.

The title with the year, then 編號 / 課室名稱 / 考核日期 and 總分（滿分1000分）/ 考核人員. One
table per 構面: a row with the facet's name, points and description, the column headings, and
a row per question. 評核項目, 評核指標, 次評核指標 (and, for 創新加值, 評分注意事項) are cells
merged over the rows they cover, the item's cell carrying ＊小計 and the indicator's ﹡得分; the
評分參考標準 cell holds every band with every line of its criteria, or the lead sentence and the
numbered criteria list; the 得分 cell holds the self score, the verified score and the
secretariat's reason. Rows do not split across pages, and the facet row and headings repeat on
every page a facet's table runs over. 優點、建議改進事項 closes the form. The page header names
the quarter and the section; the footer numbers the pages.

A blank form (``SectionForm.blank``) has the same tables with the 得分 cells left to write in.

The writers only lay out what :class:`reports.model.SectionForm` holds: the cells are computed
once (:func:`facet_grid`) and drawn by both writers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from odfdo import Cell, Document, Element, HeaderRows, Paragraph, Row, Table

from reports.documents import (
    TEXT_WIDTH_CM,
    clean_text,
    docx_defaults,
    docx_fonts,
    docx_shade,
    new_odt,
    odt_fonts_and_page,
    odt_text_props,
)
from reports.model import FormFacet, FormQuestion, SectionForm

TITLE_PT = 14
FIELD_PT = 12
CELL_PT = 11
SMALL_PT = 9  # page header and footer

ITEM = "評核項目"
INDICATOR = "評核指標"
SUB_INDICATOR = "次評核指標"
CRITERIA = "評分參考標準"
NOTES = "評分注意事項"
SCORE = "得分"
#: the narrow columns' widths; 評分參考標準 takes what is left of the 17 cm
WIDTHS_CM = {ITEM: 2.2, INDICATOR: 2.5, SUB_INDICATOR: 2.5, NOTES: 3.2, SCORE: 3.0}
SUBTOTAL = "＊小計："
INDICATOR_SCORE = "﹡得分："
CLOSING_LABEL = "優點、建議改進事項："
BLANK_FIELD = "\u3000" * 6  # room to fill a missing field in by hand
BLANK_CLOSING_LINES = 6  # empty lines to write on when there is no closing text
BLANK_SCORE_LINES = ("自評：", "", "審定：", "")
FIELD_GAP = "\u3000\u3000"


# --------------------------------------------------------------------------- the cells


@dataclass(frozen=True)
class FormCell:
    """One cell of a facet's table, before either writer draws it."""

    lines: tuple[str, ...]
    kind: str = "text"  # facet, head, name, text, score
    rows: int = 1  # rows it spans downwards
    cols: int = 1  # columns it spans to the right


#: where a merged cell covers the slot
COVERED = None

Grid = list[list[FormCell | None]]


def _score(value: int | None) -> str:
    return "" if value is None else str(value)


def header_lines(form: SectionForm) -> tuple[str, str]:
    """The two lines of fields under the title, filled in where known."""
    number = BLANK_FIELD if form.number is None else str(form.number)
    section = clean_text(form.section) if form.section else BLANK_FIELD
    date = clean_text(form.assessed_on) if form.assessed_on else BLANK_FIELD
    total = BLANK_FIELD if form.total is None else str(form.total)
    if form.grade:
        total += f"（{clean_text(form.grade)}）"
    assessor = clean_text(form.assessor) if form.assessor else BLANK_FIELD
    first = f"編號：{number}{FIELD_GAP}課室名稱：{section}{FIELD_GAP}考核日期：{date}"
    second = f"總分（滿分{form.full_marks}分）：{total}{FIELD_GAP}考核人員：{assessor}"
    return first, second


def page_header(form: SectionForm) -> str:
    """``115年第4季　規劃課　自行考核項目及評分表`` at the top of every page."""
    parts = [form.period_label, form.section or "", "自行考核項目及評分表"]
    return "\u3000".join(clean_text(part) for part in parts if part)


def columns(facet: FormFacet) -> tuple[str, ...]:
    """The facet's columns: 次評核指標 where it has that level, 評分注意事項 where it has notes
    (as the seed's 創新加值 table), 得分 always."""
    has_subs = any(sub.name for item in facet.items for indicator in item.indicators
                   for sub in indicator.sub_indicators)
    has_notes = any(item.notes for item in facet.items)
    return (ITEM, INDICATOR, *((SUB_INDICATOR,) if has_subs else ()), CRITERIA,
            *((NOTES,) if has_notes else ()), SCORE)


def widths_cm(names: Sequence[str]) -> tuple[float, ...]:
    """Each column's width; they add up to the text width."""
    fixed = sum(WIDTHS_CM[name] for name in names if name != CRITERIA)
    return tuple(round(TEXT_WIDTH_CM - fixed, 2) if name == CRITERIA else WIDTHS_CM[name]
                 for name in names)


def score_lines(question: FormQuestion, *, blank: bool) -> tuple[str, ...]:
    """The 得分 cell: self, verified and the reason; empty lines to write on when blank."""
    if blank:
        return BLANK_SCORE_LINES
    lines = [f"自評：{_score(question.self_score) or '未作答'}",
             f"審定：{_score(question.verified_score)}"]
    if question.returned:
        lines.append("（已退回課室）")
    if question.reason:
        lines.append(f"審定說明：{clean_text(question.reason)}")
    if question.evidence:
        lines.append(f"佐證：{clean_text(question.evidence)}")
    return tuple(lines)


def _named(name: str, points: int, *extra: str) -> tuple[str, ...]:
    return (clean_text(name), f"（{points}分）", *extra)


def facet_grid(facet: FormFacet, *, blank: bool) -> tuple[tuple[str, ...], Grid, Grid]:
    """The facet's columns, its two heading rows (the facet's row and the column headings)
    and a row per question, with merged cells as the seed merges them."""
    names = columns(facet)
    width = len(names)
    heading_rows: Grid = [
        [FormCell(_named(facet.name, facet.max), "facet", cols=2), COVERED,
         FormCell((clean_text(facet.description),), "facet", cols=width - 2),
         *([COVERED] * (width - 3))],
        [FormCell((name,), "head") for name in names],
    ]
    rows: Grid = []
    for item in facet.items:
        item_rows = sum(len(sub.questions) for indicator in item.indicators
                        for sub in indicator.sub_indicators)
        first_of_item = True
        for indicator in item.indicators:
            indicator_rows = sum(len(sub.questions) for sub in indicator.sub_indicators)
            first_of_indicator = True
            for sub in indicator.sub_indicators:
                for index, question in enumerate(sub.questions):
                    cells: dict[str, FormCell | None] = dict.fromkeys(names, COVERED)
                    if first_of_item:
                        cells[ITEM] = FormCell(
                            _named(item.name, item.max, f"{SUBTOTAL}{_score(item.subtotal)}"),
                            "name", rows=item_rows)
                        if NOTES in cells:
                            cells[NOTES] = FormCell(
                                tuple(f"{n}. {clean_text(note)}"
                                      for n, note in enumerate(item.notes, 1)),
                                rows=item_rows)
                    if first_of_indicator:
                        cells[INDICATOR] = FormCell(
                            _named(indicator.name, indicator.max,
                                   f"{INDICATOR_SCORE}{_score(indicator.score)}"),
                            "name", rows=indicator_rows)
                    if SUB_INDICATOR in cells and index == 0:
                        cells[SUB_INDICATOR] = FormCell(
                            _named(sub.name, sub.max) if sub.name else (),
                            "name", rows=len(sub.questions))
                    heading = (clean_text(question.heading),) if question.heading else ()
                    cells[CRITERIA] = FormCell(
                        heading + tuple(clean_text(line) for line in question.criteria))
                    cells[SCORE] = FormCell(score_lines(question, blank=blank), "score")
                    rows.append([cells[name] for name in names])
                    first_of_item = first_of_indicator = False
    return names, heading_rows, rows


def closing_lines(form: SectionForm) -> list[str]:
    text = clean_text(form.strengths_and_suggestions).strip("\n")
    if not text.strip():
        return [""] * BLANK_CLOSING_LINES
    return text.split("\n")


# --------------------------------------------------------------------------------- ODT


_ODT_TITLE = "SqFormTitle"
_ODT_FIELD = "SqFormField"
_ODT_HEAD = "SqFormTableHeading"
_ODT_NAME = "SqFormTableName"
_ODT_TEXT = "SqFormTableText"
_ODT_CLOSING = "SqFormClosing"
_ODT_PAGE_HEADER = "SqFormPageHeader"
_ODT_PAGE_FOOTER = "SqFormPageFooter"
_ODT_KIND = {"facet": _ODT_HEAD, "head": _ODT_HEAD, "name": _ODT_NAME, "text": _ODT_TEXT,
             "score": _ODT_TEXT}


def _odt_paragraph_style(name: str, display: str, *, size_pt: int = CELL_PT,
                         bold: bool = False, align: str = "start", below_cm: float = 0.0,
                         keep_with_next: bool = False) -> str:
    keep = ' fo:keep-with-next="always"' if keep_with_next else ""
    return (
        f'<style:style style:name="{name}" style:display-name="{display}"'
        ' style:family="paragraph" style:parent-style-name="Standard" style:class="text">'
        f'<style:paragraph-properties fo:text-align="{align}" fo:margin-top="0cm"'
        f' fo:margin-bottom="{below_cm}cm"{keep}/>'
        f"{odt_text_props(size_pt, bold=bold)}</style:style>"
    )


def _odt_styles(doc: Document, form: SectionForm) -> None:
    """Fonts, the page with its header and footer, and the named paragraph styles."""
    odt_fonts_and_page(doc)
    doc.insert_style(
        '<style:default-style style:family="paragraph">'
        '<style:paragraph-properties style:text-autospace="ideograph-alpha"'
        ' style:punctuation-wrap="hanging" style:line-break="strict"'
        ' style:writing-mode="page"/>'
        + odt_text_props(
            CELL_PT,
            extra=' fo:language="en" fo:country="US" style:language-asian="zh"'
            ' style:country-asian="TW" fo:hyphenate="false"',
        )
        + "</style:default-style>",
        default=True,
    )
    for style in (
        _odt_paragraph_style(_ODT_TITLE, "評分表標題", size_pt=TITLE_PT, bold=True,
                             align="center", below_cm=0.4),
        _odt_paragraph_style(_ODT_FIELD, "評分表欄位", size_pt=FIELD_PT, below_cm=0.2),
        _odt_paragraph_style(_ODT_HEAD, "評分表表頭", bold=True, align="center"),
        _odt_paragraph_style(_ODT_NAME, "評分表項目", align="center"),
        _odt_paragraph_style(_ODT_TEXT, "評分表內文"),
        _odt_paragraph_style(_ODT_CLOSING, "評分表結語標題", size_pt=FIELD_PT, bold=True),
        _odt_paragraph_style(_ODT_PAGE_HEADER, "評分表頁首", size_pt=SMALL_PT, align="end"),
        _odt_paragraph_style(_ODT_PAGE_FOOTER, "評分表頁尾", size_pt=SMALL_PT, align="center"),
    ):
        doc.insert_style(style)
    header = (f'<style:header><text:p text:style-name="{_ODT_PAGE_HEADER}">'
              f"{_xml(page_header(form))}</text:p></style:header>")
    footer = (f'<style:footer><text:p text:style-name="{_ODT_PAGE_FOOTER}">第 '
              "<text:page-number>1</text:page-number> 頁，共 "
              "<text:page-count>1</text:page-count> 頁</text:p></style:footer>")
    for master in doc.styles.get_elements("//style:master-page"):
        for child in list(master.children):
            if child.tag in ("style:header", "style:footer"):
                master.delete(child)
        master.append(Element.from_tag(header))
        master.append(Element.from_tag(footer))


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _odt_table_styles(doc: Document, name: str, widths: Sequence[float]) -> None:
    doc.insert_style(
        f'<style:style style:name="{name}" style:family="table">'
        f'<style:table-properties style:width="{round(sum(widths), 2)}cm" table:align="left"'
        ' fo:margin-top="0.2cm" fo:margin-bottom="0.2cm"/></style:style>',
        automatic=True,
    )
    for index, column_cm in enumerate(widths):
        doc.insert_style(
            f'<style:style style:name="{name}.C{index}" style:family="table-column">'
            f'<style:table-column-properties style:column-width="{column_cm}cm"/>'
            "</style:style>",
            automatic=True,
        )
    # A row never splits across pages (the seed's rows are whole on every page).
    doc.insert_style(
        f'<style:style style:name="{name}.R" style:family="table-row">'
        '<style:table-row-properties fo:keep-together="always"/></style:style>',
        automatic=True,
    )
    border = "0.5pt solid #000000"
    middle = ' style:vertical-align="middle"'
    for suffix, extra in (("Cell", ' style:vertical-align="top"'), ("Name", middle),
                          ("Head", f'{middle} fo:background-color="#d9d9d9"'),
                          ("Facet", f'{middle} fo:background-color="#f2f2f2"')):
        doc.insert_style(
            f'<style:style style:name="{name}.{suffix}" style:family="table-cell">'
            f'<style:table-cell-properties fo:border="{border}" fo:padding="0.1cm"{extra}/>'
            "</style:style>",
            automatic=True,
        )


_ODT_CELL_SUFFIX = {"facet": "Facet", "head": "Head", "name": "Name", "text": "Cell",
                    "score": "Cell"}


def _odt_row(name: str, slots: Sequence[FormCell | None]) -> Row:
    row = Row(style=f"{name}.R")
    for slot in slots:
        if slot is COVERED:
            Element.append(row, Element.from_tag("<table:covered-table-cell/>"))
            continue
        cell = Cell(style=f"{name}.{_ODT_CELL_SUFFIX[slot.kind]}")
        if slot.rows > 1:
            cell.set_attribute("table:number-rows-spanned", str(slot.rows))
        if slot.cols > 1:
            cell.set_attribute("table:number-columns-spanned", str(slot.cols))
        if any(slot.lines):
            cell.set_attribute("office:value-type", "string")
        for line in slot.lines or ("",):
            cell.append(Paragraph(line, style=_ODT_KIND[slot.kind]))
        row.append(cell)
    return row


def _odt_facet_table(doc: Document, index: int, facet: FormFacet, *, blank: bool) -> Table:
    names, heading_rows, rows = facet_grid(facet, blank=blank)
    widths = widths_cm(names)
    name = f"SqForm{index + 1}"
    _odt_table_styles(doc, name, widths)
    table = Table(clean_text(facet.name), style=name)
    for column in range(len(names)):
        table.append(Element.from_tag(
            f'<table:table-column table:style-name="{name}.C{column}"/>'))
    header_rows = HeaderRows()
    for slots in heading_rows:
        header_rows.append(_odt_row(name, slots))
    table.append(header_rows)
    for slots in rows:
        table.append(_odt_row(name, slots))
    return table


def _odt_closing(doc: Document, form: SectionForm) -> Table:
    name = "SqFormClose"
    _odt_table_styles(doc, name, (TEXT_WIDTH_CM,))
    table = Table(CLOSING_LABEL.rstrip("："), style=name)
    table.append(Element.from_tag(f'<table:table-column table:style-name="{name}.C0"/>'))
    row = Row(style=f"{name}.R")
    cell = Cell(style=f"{name}.Cell")
    cell.set_attribute("office:value-type", "string")
    cell.append(Paragraph(CLOSING_LABEL, style=_ODT_CLOSING))
    for text in closing_lines(form):
        cell.append(Paragraph(text, style=_ODT_TEXT))
    row.append(cell)
    table.append(row)
    return table


def form_odt(form: SectionForm) -> bytes:
    """The scoring form as an OpenDocument text file (ODT)."""
    doc = new_odt(form.title, page_header(form))
    _odt_styles(doc, form)
    body = doc.body
    body.clear()
    body.append(Paragraph(clean_text(form.title), style=_ODT_TITLE))
    for line in header_lines(form):
        body.append(Paragraph(line, style=_ODT_FIELD))
    for index, facet in enumerate(form.facets):
        body.append(_odt_facet_table(doc, index, facet, blank=form.blank))
    body.append(_odt_closing(doc, form))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------------- DOCX


_DOCX_FILL = {"facet": "F2F2F2", "head": "D9D9D9"}


def _docx_lines(cell, lines: Sequence[str], *, size_pt: int = CELL_PT, bold: bool = False,
                center: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Write ``lines`` into a table cell, a paragraph each."""
    for number, line in enumerate(lines or ("",)):
        paragraph = cell.paragraphs[0] if number == 0 else cell.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        if center:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(line)
        run.font.size = Pt(size_pt)
        run.font.bold = bold or None
        docx_fonts(run._r.get_or_add_rPr())


def _docx_row_properties(row_element, *, heading: bool) -> None:  # type: ignore[no-untyped-def]
    """w:cantSplit on every row, w:tblHeader on the heading rows (in the schema's order)."""
    tr_pr = row_element.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))
    if heading:
        tr_pr.append(OxmlElement("w:tblHeader"))


def _docx_table(doc: DocxDocument, widths: Sequence[float], grid: Grid,
                heading_count: int):  # type: ignore[no-untyped-def]
    table = doc.add_table(rows=len(grid), cols=len(widths))
    table.style = doc.styles["Table Grid"]
    table.autofit = False  # w:tblLayout fixed: the widths below hold
    table_width = table._tbl.tblPr.find(qn("w:tblW"))
    if table_width is not None:
        table_width.set(qn("w:type"), "dxa")
        table_width.set(qn("w:w"), str(Cm(sum(widths)).twips))
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
    for row_index, row in enumerate(table.rows):
        _docx_row_properties(row._tr, heading=row_index < heading_count)
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Cm(width)
    # Merge first (python-docx joins the merged cells' paragraphs), then write.
    placed = []
    for row_index, slots in enumerate(grid):
        for column, slot in enumerate(slots):
            if slot is COVERED:
                continue
            cell = table.cell(row_index, column)
            if slot.rows > 1 or slot.cols > 1:
                cell = cell.merge(table.cell(row_index + slot.rows - 1, column + slot.cols - 1))
            placed.append((cell, slot))
    for cell, slot in placed:
        cell.vertical_alignment = (WD_CELL_VERTICAL_ALIGNMENT.TOP if slot.kind in ("text", "score")
                                   else WD_CELL_VERTICAL_ALIGNMENT.CENTER)
        if slot.kind in _DOCX_FILL:
            docx_shade(cell._tc, _DOCX_FILL[slot.kind])
        _docx_lines(cell, slot.lines, bold=slot.kind in ("facet", "head"),
                    center=slot.kind in ("facet", "head", "name"))
    return table


def _docx_page_parts(doc: DocxDocument, form: SectionForm) -> None:
    """The page header with the quarter and the section; 第 N 頁，共 M 頁 in the footer."""
    section = doc.sections[0]
    section.header_distance = Cm(1.0)
    section.footer_distance = Cm(1.0)
    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = header.add_run(page_header(form))
    run.font.size = Pt(SMALL_PT)
    docx_fonts(run._r.get_or_add_rPr())
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for text, field in (("第 ", None), (None, "PAGE"), (" 頁，共 ", None), (None, "NUMPAGES"),
                        (" 頁", None)):
        run = footer.add_run(text or "")
        run.font.size = Pt(SMALL_PT)
        docx_fonts(run._r.get_or_add_rPr())
        if field:
            for kind, instruction in (("begin", None), (None, f" {field} "), ("end", None)):
                if kind:
                    element = OxmlElement("w:fldChar")
                    element.set(qn("w:fldCharType"), kind)
                else:
                    element = OxmlElement("w:instrText")
                    element.set(qn("xml:space"), "preserve")
                    element.text = instruction
                run._r.append(element)


def form_docx(form: SectionForm) -> bytes:
    """The scoring form as a Word document (DOCX)."""
    doc = new_docx()
    doc.core_properties.title = clean_text(form.title)
    doc.core_properties.subject = page_header(form)
    doc.core_properties.language = "zh-TW"
    docx_defaults(doc)
    body = doc.element.body
    for child in list(body):  # the template's empty paragraph; keep the section properties
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    _docx_page_parts(doc, form)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)
    run = title.add_run(clean_text(form.title))
    run.font.size = Pt(TITLE_PT)
    run.font.bold = True
    docx_fonts(run._r.get_or_add_rPr())
    for line in header_lines(form):
        paragraph = doc.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(6)
        run = paragraph.add_run(line)
        run.font.size = Pt(FIELD_PT)
        docx_fonts(run._r.get_or_add_rPr())
    for facet in form.facets:
        names, heading_rows, rows = facet_grid(facet, blank=form.blank)
        _docx_table(doc, widths_cm(names), heading_rows + rows, len(heading_rows))
        doc.add_paragraph().paragraph_format.space_after = Pt(0)  # Word joins adjacent tables
    closing = _docx_table(doc, (TEXT_WIDTH_CM,), [[FormCell((CLOSING_LABEL,))]], 0)
    cell = closing.cell(0, 0)
    cell.paragraphs[0].runs[0].font.bold = True
    for text in closing_lines(form):
        paragraph = cell.add_paragraph()
        run = paragraph.add_run(text)
        run.font.size = Pt(CELL_PT)
        docx_fonts(run._r.get_or_add_rPr())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
