"""Writers of a section's filled-in scoring form (自行考核項目及評分表) as ODT and DOCX.

Both follow the seed's paper form: the title centred and bold; the header fields 編號,
課室名稱, 考核日期, 總分（滿分1000分） and 考核人員; one table row per question
(題號, 評核項目／指標, 題目, 配分, 自評分數, 審定分數, 佐證摘要); the item subtotals;
and at the end 優點、建議改進事項.
A4 portrait, 2 cm margins, 標楷體 for East Asian text with a Latin fallback font, 12 pt text
and a 14 pt title. The table's header row repeats on every page.

The writers only lay out what :class:`reports.model.SectionForm` holds; they compute nothing
but the form's full marks (the sum of the questions' maxima).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Row, CT_Tc
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Pt
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from odfdo import Cell, Document, Element, HeaderRows, Paragraph, Row, Table

from reports.model import FormLine, SectionForm

EAST_ASIAN_FONT = "標楷體"
LATIN_FONT = "Times New Roman"
TITLE_PT = 14
TEXT_PT = 12
PAGE_WIDTH_CM = 21.0
PAGE_HEIGHT_CM = 29.7
MARGIN_CM = 2.0

COLUMNS = ("題號", "評核項目／指標", "題目", "配分", "自評分數", "審定分數", "佐證摘要")
# Sums to the 17 cm between the margins.
COLUMN_WIDTHS_CM = (1.2, 3.4, 3.4, 1.3, 1.6, 1.6, 4.5)
NUMERIC_COLUMNS = frozenset({0, 3, 4, 5})
SUBTOTAL_CAPTION = "各評核項目小計"
SUBTOTAL_COLUMNS = ("評核項目", "小計", "配分")
SUBTOTAL_WIDTHS_CM = (9.0, 4.0, 4.0)
SUBTOTAL_SUM_LABEL = "合計"
CLOSING_LABEL = "優點、建議改進事項："
DEFAULT_FULL_MARKS = 1000
BLANK_FIELD = "\u3000" * 6  # room to fill a missing field in by hand
BLANK_CLOSING_LINES = 6  # empty lines to write on when there is no closing text
FIELD_GAP = "\u3000\u3000"

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --------------------------------------------------------------------------- shared content


def clean_text(text: str) -> str:
    """``text`` with Windows line ends unified and characters XML cannot hold removed."""
    return _XML_ILLEGAL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _score(value: int | None) -> str:
    return "" if value is None else str(value)


def _full_marks(form: SectionForm) -> int:
    return sum(line.max for line in form.lines) or DEFAULT_FULL_MARKS


def _header_lines(form: SectionForm) -> tuple[str, str]:
    """The two header lines of the paper form, filled in."""
    date = clean_text(form.assessed_on) if form.assessed_on else BLANK_FIELD
    total = BLANK_FIELD if form.total is None else str(form.total)
    if form.grade:
        total += f"（{clean_text(form.grade)}）"
    assessor = clean_text(form.assessor) if form.assessor else BLANK_FIELD
    first = (
        f"編號：{form.number}{FIELD_GAP}課室名稱：{clean_text(form.section)}{FIELD_GAP}考核日期：{date}"
    )
    second = f"總分（滿分{_full_marks(form)}分）：{total}{FIELD_GAP}考核人員：{assessor}"
    return first, second


def _line_cells(line: FormLine) -> tuple[str, ...]:
    return (
        clean_text(line.code),
        clean_text(line.path),
        clean_text(line.question),
        str(line.max),
        _score(line.self_score),
        _score(line.verified_score),
        clean_text(line.evidence),
    )


def _subtotal_rows(form: SectionForm) -> list[tuple[str, str, str]]:
    rows = [(clean_text(item), str(score), str(top)) for item, score, top in form.item_subtotals]
    if rows:
        rows.append(
            (
                SUBTOTAL_SUM_LABEL,
                _score(form.total),
                str(sum(top for _, _, top in form.item_subtotals)),
            )
        )
    return rows


def _closing_lines(form: SectionForm) -> list[str]:
    text = clean_text(form.strengths_and_suggestions).strip("\n")
    if not text.strip():
        return [""] * BLANK_CLOSING_LINES
    return text.split("\n")


# --------------------------------------------------------------------------------- ODT


_ODT_TITLE = "SqFormTitle"
_ODT_FIELD = "SqFormField"
_ODT_HEAD = "SqFormTableHeading"
_ODT_TEXT = "SqFormTableText"
_ODT_NUMBER = "SqFormTableNumber"
_ODT_CAPTION = "SqFormCaption"
_ODT_CLOSING = "SqFormClosing"
_ODT_BODY = "SqFormBody"
_ODT_PAGE_LAYOUT = "Mpm1"  # the template's; the master page "Standard" uses it


def _odt_text_props(size_pt: int, *, bold: bool = False, extra: str = "") -> str:
    weight = (
        ' fo:font-weight="bold" style:font-weight-asian="bold" style:font-weight-complex="bold"'
        if bold
        else ""
    )
    return (
        f"<style:text-properties style:font-name={quoteattr(LATIN_FONT)}"
        f" style:font-name-asian={quoteattr(EAST_ASIAN_FONT)}"
        f" style:font-name-complex={quoteattr(LATIN_FONT)}"
        f' fo:font-size="{size_pt}pt" style:font-size-asian="{size_pt}pt"'
        f' style:font-size-complex="{size_pt}pt"{weight}{extra}/>'
    )


def _odt_paragraph_style(
    name: str,
    display: str,
    *,
    size_pt: int = TEXT_PT,
    bold: bool = False,
    align: str = "start",
    above_cm: float = 0.0,
    below_cm: float = 0.0,
    keep_with_next: bool = False,
) -> str:
    keep = ' fo:keep-with-next="always"' if keep_with_next else ""
    return (
        f'<style:style style:name="{name}" style:display-name="{display}"'
        ' style:family="paragraph" style:parent-style-name="Standard" style:class="text">'
        f'<style:paragraph-properties fo:text-align="{align}" fo:margin-top="{above_cm}cm"'
        f' fo:margin-bottom="{below_cm}cm"{keep}/>'
        f"{_odt_text_props(size_pt, bold=bold)}</style:style>"
    )


def _odt_font_faces() -> list[str]:
    return [
        f"<style:font-face style:name={quoteattr(EAST_ASIAN_FONT)}"
        f" svg:font-family={quoteattr(EAST_ASIAN_FONT)}"
        ' style:font-family-generic="script" style:font-pitch="fixed"/>',
        f"<style:font-face style:name={quoteattr(LATIN_FONT)}"
        f" svg:font-family=\"'{LATIN_FONT}'\""
        ' style:font-family-generic="roman" style:font-pitch="variable"/>',
    ]


def odt_fonts_and_page(doc: Document, *, page_numbers: bool = True) -> None:
    """The two font faces (in styles.xml and content.xml) and the A4 portrait page layout
    that the template's master page "Standard" uses; the scoring form, the annual report and
    the proposal share them."""
    for face in _odt_font_faces():
        doc.insert_style(face, default=True)  # styles.xml
        doc.insert_style(face)  # content.xml
    numbering = ' style:num-format="1"' if page_numbers else ""
    header_footer = "<style:header-style/><style:footer-style/>" if page_numbers else ""
    doc.insert_style(
        f'<style:page-layout style:name="{_ODT_PAGE_LAYOUT}">'
        f'<style:page-layout-properties fo:page-width="{PAGE_WIDTH_CM}cm"'
        f' fo:page-height="{PAGE_HEIGHT_CM}cm" style:print-orientation="portrait"'
        f' fo:margin-top="{MARGIN_CM}cm" fo:margin-bottom="{MARGIN_CM}cm"'
        f' fo:margin-left="{MARGIN_CM}cm" fo:margin-right="{MARGIN_CM}cm"'
        f'{numbering} style:writing-mode="lr-tb"/>'
        f"{header_footer}</style:page-layout>"
    )


def _odt_styles(doc: Document) -> None:
    """Fonts, page layout, default and named paragraph styles (styles.xml)."""
    odt_fonts_and_page(doc)
    doc.insert_style(
        '<style:default-style style:family="paragraph">'
        '<style:paragraph-properties style:text-autospace="ideograph-alpha"'
        ' style:punctuation-wrap="hanging" style:line-break="strict"'
        ' style:writing-mode="page"/>'
        + _odt_text_props(
            TEXT_PT,
            extra=' fo:language="en" fo:country="US" style:language-asian="zh"'
            ' style:country-asian="TW" fo:hyphenate="false"',
        )
        + "</style:default-style>",
        default=True,
    )
    for style in (
        _odt_paragraph_style(
            _ODT_TITLE, "評分表標題", size_pt=TITLE_PT, bold=True, align="center", below_cm=0.4
        ),
        _odt_paragraph_style(_ODT_FIELD, "評分表欄位", below_cm=0.2),
        _odt_paragraph_style(_ODT_HEAD, "評分表表頭", bold=True, align="center"),
        _odt_paragraph_style(_ODT_TEXT, "評分表內文"),
        _odt_paragraph_style(_ODT_NUMBER, "評分表數字", align="center"),
        _odt_paragraph_style(
            _ODT_CAPTION, "評分表小標", bold=True, above_cm=0.4, below_cm=0.2, keep_with_next=True
        ),
        _odt_paragraph_style(
            _ODT_CLOSING,
            "評分表結語標題",
            bold=True,
            above_cm=0.4,
            below_cm=0.2,
            keep_with_next=True,
        ),
        _odt_paragraph_style(_ODT_BODY, "評分表結語"),
    ):
        doc.insert_style(style)


def _odt_table_styles(doc: Document, name: str, widths_cm: Sequence[float]) -> None:
    """Automatic table, column and cell styles (content.xml) for one table."""
    width = round(sum(widths_cm), 2)
    doc.insert_style(
        f'<style:style style:name="{name}" style:family="table">'
        f'<style:table-properties style:width="{width}cm" table:align="left"'
        ' fo:margin-top="0.1cm" fo:margin-bottom="0.1cm"/></style:style>',
        automatic=True,
    )
    for index, column_cm in enumerate(widths_cm):
        doc.insert_style(
            f'<style:style style:name="{name}.C{index}" style:family="table-column">'
            f'<style:table-column-properties style:column-width="{column_cm}cm"/>'
            "</style:style>",
            automatic=True,
        )
    border = "0.5pt solid #000000"
    for suffix, background in (("Cell", ""), ("Head", ' fo:background-color="#d9d9d9"')):
        doc.insert_style(
            f'<style:style style:name="{name}.{suffix}" style:family="table-cell">'
            f'<style:table-cell-properties fo:border="{border}" fo:padding="0.1cm"'
            f' style:vertical-align="middle"{background}/></style:style>',
            automatic=True,
        )


def _odt_cell(text: str, *, cell_style: str, paragraph_style: str, number: bool) -> Cell:
    cell = Cell(style=cell_style)
    if number and text.isdigit():
        cell.set_attribute("office:value-type", "float")
        cell.set_attribute("office:value", text)
    elif text:
        cell.set_attribute("office:value-type", "string")
    cell.append(Paragraph(text, style=paragraph_style))
    return cell


def _odt_table(
    doc: Document,
    name: str,
    display_name: str,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths_cm: Sequence[float],
    numeric: frozenset[int],
) -> Table:
    _odt_table_styles(doc, name, widths_cm)
    table = Table(display_name, style=name)
    for index in range(len(widths_cm)):
        table.append(Element.from_tag(f'<table:table-column table:style-name="{name}.C{index}"/>'))
    header_rows = HeaderRows()
    head = Row()
    for heading in headings:
        head.append(
            _odt_cell(heading, cell_style=f"{name}.Head", paragraph_style=_ODT_HEAD, number=False)
        )
    header_rows.append(head)
    table.append(header_rows)
    for values in rows:
        row = Row()
        for index, text in enumerate(values):
            is_number = index in numeric
            row.append(
                _odt_cell(
                    text,
                    cell_style=f"{name}.Cell",
                    paragraph_style=_ODT_NUMBER if is_number else _ODT_TEXT,
                    number=is_number,
                )
            )
        table.append(row)
    return table


def new_odt(title: str, subject: str) -> Document:
    """An empty zh-TW text document with its title and subject, for every ODT writer."""
    doc = Document("text")
    for part in doc.parts:
        if part.startswith("Thumbnails/"):  # the template's picture, not this document's
            doc.del_part(part)
            doc.manifest.del_full_path(part)
    doc.language = "zh-TW"
    doc.meta.title = clean_text(title)
    doc.meta.subject = clean_text(subject)
    return doc


def form_odt(form: SectionForm) -> bytes:
    """The section's filled-in scoring form as an OpenDocument text file (ODT)."""
    doc = new_odt(form.title, f"{form.section} {form.period_label}")
    _odt_styles(doc)

    body = doc.body
    body.clear()
    body.append(Paragraph(clean_text(form.title), style=_ODT_TITLE))
    for line in _header_lines(form):
        body.append(Paragraph(line, style=_ODT_FIELD))
    body.append(
        _odt_table(
            doc,
            "SqFormTable",
            "評分表",
            COLUMNS,
            [_line_cells(line) for line in form.lines],
            COLUMN_WIDTHS_CM,
            NUMERIC_COLUMNS,
        )
    )
    subtotals = _subtotal_rows(form)
    if subtotals:
        body.append(Paragraph(SUBTOTAL_CAPTION, style=_ODT_CAPTION))
        body.append(
            _odt_table(
                doc,
                "SqSubtotalTable",
                SUBTOTAL_CAPTION,
                SUBTOTAL_COLUMNS,
                subtotals,
                SUBTOTAL_WIDTHS_CM,
                frozenset({1, 2}),
            )
        )
    body.append(Paragraph(CLOSING_LABEL, style=_ODT_CLOSING))
    for text in _closing_lines(form):
        body.append(Paragraph(text, style=_ODT_BODY))

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------------- DOCX


def docx_fonts(r_pr: BaseOxmlElement) -> None:
    """Set the Latin, East Asian and complex-script fonts on a ``w:rPr`` element."""
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        r_pr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:cs"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    fonts.set(qn("w:hint"), "eastAsia")


def _docx_defaults(doc: DocxDocument) -> None:
    """Page, fonts and language of the whole document."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Cm(PAGE_WIDTH_CM)
    section.page_height = Cm(PAGE_HEIGHT_CM)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Cm(MARGIN_CM))

    styles_root = doc.styles.element
    r_pr = styles_root.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if r_pr is not None:
        docx_fonts(r_pr)
        lang = r_pr.find(qn("w:lang"))
        if lang is None:
            lang = OxmlElement("w:lang")
            r_pr.append(lang)
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-TW")

    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT
    normal.font.size = Pt(TEXT_PT)
    docx_fonts(normal.element.get_or_add_rPr())
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)


def _docx_paragraph(
    paragraph: DocxParagraph,
    text: str,
    *,
    size_pt: int = TEXT_PT,
    bold: bool = False,
    center: bool = False,
) -> DocxParagraph:
    """Fill ``paragraph`` with one run of ``text`` in the form's fonts."""
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)  # "\n" becomes w:br, "\t" w:tab
    run.font.size = Pt(size_pt)
    run.font.bold = bold or None
    docx_fonts(run._r.get_or_add_rPr())
    return paragraph


def _docx_repeat_header(row_element: CT_Row) -> None:
    tr_pr = row_element.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


# What follows w:shd inside w:tcPr (schema order).
_TC_PR_AFTER_SHD = (
    "w:noWrap",
    "w:tcMar",
    "w:textDirection",
    "w:tcFitText",
    "w:vAlign",
    "w:hideMark",
    "w:headers",
    "w:cellIns",
    "w:cellDel",
    "w:cellMerge",
    "w:tcPrChange",
)


def _docx_shade(cell_element: CT_Tc, fill: str) -> None:
    tc_pr = cell_element.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tc_pr.insert_element_before(shading, *_TC_PR_AFTER_SHD)


def _docx_table(
    doc: DocxDocument,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths_cm: Sequence[float],
    numeric: frozenset[int],
) -> DocxTable:
    table = doc.add_table(rows=1, cols=len(headings))
    table.style = doc.styles["Table Grid"]
    table.autofit = False  # w:tblLayout fixed: the widths below hold
    table_width = table._tbl.tblPr.find(qn("w:tblW"))
    if table_width is not None:
        table_width.set(qn("w:type"), "dxa")
        table_width.set(qn("w:w"), str(Cm(sum(widths_cm)).twips))
    for column, width in zip(table.columns, widths_cm, strict=True):
        column.width = Cm(width)

    head = table.rows[0]
    _docx_repeat_header(head._tr)
    for cell, heading, width in zip(head.cells, headings, widths_cm, strict=True):
        cell.width = Cm(width)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        _docx_shade(cell._tc, "D9D9D9")
        _docx_paragraph(cell.paragraphs[0], heading, bold=True, center=True)
    for values in rows:
        cells = table.add_row().cells
        for index, (cell, text, width) in enumerate(zip(cells, values, widths_cm, strict=True)):
            cell.width = Cm(width)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            _docx_paragraph(cell.paragraphs[0], text, center=index in numeric)
    return table


def form_docx(form: SectionForm) -> bytes:
    """The section's filled-in scoring form as a Word document (DOCX)."""
    doc = new_docx()
    doc.core_properties.title = clean_text(form.title)
    doc.core_properties.subject = f"{clean_text(form.section)} {clean_text(form.period_label)}"
    doc.core_properties.language = "zh-TW"
    _docx_defaults(doc)

    body = doc.element.body
    for child in list(body):  # the template's empty paragraph; keep the section properties
        if child.tag != qn("w:sectPr"):
            body.remove(child)

    title = _docx_paragraph(
        doc.add_paragraph(), clean_text(form.title), size_pt=TITLE_PT, bold=True, center=True
    )
    title.paragraph_format.space_after = Pt(12)
    for line in _header_lines(form):
        _docx_paragraph(doc.add_paragraph(), line).paragraph_format.space_after = Pt(6)
    _docx_table(
        doc,
        COLUMNS,
        [_line_cells(line) for line in form.lines],
        COLUMN_WIDTHS_CM,
        NUMERIC_COLUMNS,
    )
    subtotals = _subtotal_rows(form)
    if subtotals:
        caption = _docx_paragraph(doc.add_paragraph(), SUBTOTAL_CAPTION, bold=True)
        caption.paragraph_format.space_before = Pt(12)
        caption.paragraph_format.space_after = Pt(6)
        caption.paragraph_format.keep_with_next = True
        _docx_table(doc, SUBTOTAL_COLUMNS, subtotals, SUBTOTAL_WIDTHS_CM, frozenset({1, 2}))
    closing = _docx_paragraph(doc.add_paragraph(), CLOSING_LABEL, bold=True)
    closing.paragraph_format.space_before = Pt(12)
    closing.paragraph_format.space_after = Pt(6)
    closing.paragraph_format.keep_with_next = True
    for text in _closing_lines(form):
        _docx_paragraph(doc.add_paragraph(), text)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
