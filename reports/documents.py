"""What every document sqbot writes shares: A4 portrait with 2 cm margins, 標楷體 for East
Asian text with a Latin fallback, zh-TW, and text cleaned of what XML cannot hold. Used by
the scoring form (reports.forms), the 附錄1 proposal and the annual performance report."""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tc
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Pt
from odfdo import Document

EAST_ASIAN_FONT = "標楷體"
LATIN_FONT = "Times New Roman"
TEXT_PT = 12
PAGE_WIDTH_CM = 21.0
PAGE_HEIGHT_CM = 29.7
MARGIN_CM = 2.0
#: the width between the margins
TEXT_WIDTH_CM = PAGE_WIDTH_CM - 2 * MARGIN_CM
_ODT_PAGE_LAYOUT = "Mpm1"  # the template's; the master page "Standard" uses it

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with Windows line ends unified and characters XML cannot hold removed."""
    return _XML_ILLEGAL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def odt_text_props(size_pt: int = TEXT_PT, *, bold: bool = False, extra: str = "") -> str:
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


def odt_font_faces() -> list[str]:
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
    for face in odt_font_faces():
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


def docx_defaults(doc: DocxDocument) -> None:
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


def docx_shade(cell_element: CT_Tc, fill: str) -> None:
    tc_pr = cell_element.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tc_pr.insert_element_before(shading, *_TC_PR_AFTER_SHD)
