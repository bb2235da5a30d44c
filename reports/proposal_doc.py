"""An innovation proposal (創意提案) as ODT and DOCX, laid out like the seed's 附錄1.

The template: the title 「(機關)創意服務名稱」, then 壹、專案總說明 (一、個案背景與問題描述,
二、採用解決方法, 三、實際效益), 貳、創新服務實際績效 (外部效益, 內部效益), 參、創新服務
解決手法 (流程整合, 資通訊服務導入) and 肆、附件. Below the title a line gives the reference
number, the kind of innovation, the section, the proposer and the day it was submitted.
A4 portrait, 標楷體 for East Asian text, 14 pt with a fixed 21 pt line height (the seed's
format for its written reports), a 16 pt bold title.

:func:`build_proposal_document` reads one proposal from the database; the writers
(:func:`proposal_odt`, :func:`proposal_docx`) only lay out a :class:`ProposalDocument`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from docx import Document as new_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.shared import Pt
from odfdo import Document, Paragraph
from sqlmodel import Session

from reports.documents import (
    clean_text,
    docx_defaults,
    docx_fonts,
    new_odt,
    odt_fonts_and_page,
    odt_text_props,
)
from rubric.periods import format_roc_date
from storage.models import Agency, Member, Proposal, Section
from storage.proposals import proposal_attachments

TITLE_PT = 16
TEXT_PT = 14
LINE_HEIGHT_PT = 21
EMPTY = "（未填寫）"
PLACEHOLDER_TITLE = "創意服務名稱"
#: 壹、貳、參: each heading with its numbered parts and the field each part shows, as the
#: seed's 附錄1 writes them (壹's three parts are the seed's own, 「三、實際效益。」 with its
#: full stop; 貳 and 參 have none in the seed, so theirs are shown only where filled in).
PARTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("壹、專案總說明", (("一、個案背景與問題描述", "background"),
                      ("二、採用解決方法", "solution"),
                      ("三、實際效益。", "benefits"))),
    ("貳、創新服務實際績效", (("一、外部效益", "external_benefits"),
                          ("二、內部效益", "internal_benefits"))),
    ("參、創新服務解決手法", (("一、流程整合", "process_integration"),
                          ("二、資通訊服務導入", "ict_adoption"))),
)
#: The seed's own sub-headings: always shown; the others only where the proposer wrote.
SEED_SECTIONS = {"background", "solution", "benefits"}
#: The seed's 〔…〕 guidance, shown where a draft has nothing yet.
GUIDANCE = {
    "background": "〔詳述個案所欲處理的具體問題，解決該項問題對民眾或其他利害相關者的意義所在及"
                  "解決問題的行政過程或機制等〕",
    "solution": "〔說明採取何種解決方法〕",
    "benefits": "〔說明專案執行實際績效〕",
    "貳、創新服務實際績效": "〔敘明執行創新服務專案的外部效益及內部效益；內容宜具體，儘量以量化數據"
                    "表達〕",
    "參、創新服務解決手法": "〔敘明如何透過『流程整合』及『資通訊服務導入』等各種解決手法，提供便民"
                    "服務〕",
    "肆、附件": "〔提供佐證資料，如相關民意調查、統計資料等，並以精簡方式呈現〕",
}
CLOSING_NOTE = "※各單位可視需要參考本附錄格式書寫「創意服務計畫」。"
ATTACHMENTS_HEADING = "肆、附件"
FILES_LABEL = "附件檔案："
_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class ProposalDocument:
    """What the proposal document shows; empty strings are fields not filled in."""

    agency: str
    title: str = ""
    kind: str = ""
    section: str = ""
    proposer: str = ""
    reference: str | None = None
    submitted_on: str | None = None  # ROC date, 115年11月27日
    background: str = ""
    solution: str = ""
    benefits: str = ""
    external_benefits: str = ""
    internal_benefits: str = ""
    process_integration: str = ""
    ict_adoption: str = ""
    evidence_note: str = ""
    attachments: tuple[str, ...] = field(default=())  # file names

    @property
    def heading(self) -> str:
        """The title line: the agency followed by the service's name, as in 附錄1."""
        title = self.title.strip() or PLACEHOLDER_TITLE
        return title if title.startswith(self.agency) else f"{self.agency}{title}"

    @property
    def details(self) -> str:
        """Reference, kind, section, proposer and date on one line (what is known of them)."""
        parts = [("提案編號", self.reference), ("創新服務類型", self.kind),
                 ("提案課室", self.section), ("提案人", self.proposer),
                 ("提案日期", self.submitted_on)]
        return "\u3000".join(f"{label}：{value}" for label, value in parts if value)


@dataclass(frozen=True)
class Block:
    """One paragraph of the document: its role (title, details, part, section, text) and text."""

    role: str
    text: str


def _lines(text: str, guidance: str = EMPTY) -> list[str]:
    lines = [line.rstrip() for line in clean_text(text).strip("\n").split("\n")]
    return lines if any(line.strip() for line in lines) else [guidance]


def _filled(doc: ProposalDocument, name: str) -> bool:
    return bool(clean_text(getattr(doc, name)).strip())


def outline(doc: ProposalDocument) -> list[Block]:
    """The document's paragraphs in order, shared by both writers and the chat's review:
    the seed's headings, a part's 〔…〕 guidance where nothing is written yet, and the
    closing ※ note."""
    blocks = [Block("title", clean_text(doc.heading))]
    if doc.details:
        blocks.append(Block("details", clean_text(doc.details)))
    for part, sections in PARTS:
        blocks.append(Block("part", part))
        shown = [(heading, name) for heading, name in sections
                 if name in SEED_SECTIONS or _filled(doc, name)]
        if not shown:
            blocks.append(Block("text", GUIDANCE[part]))
        for heading, name in shown:
            blocks.append(Block("section", heading))
            blocks += [Block("text", line)
                       for line in _lines(getattr(doc, name), GUIDANCE.get(name, EMPTY))]
    blocks.append(Block("part", ATTACHMENTS_HEADING))
    if doc.evidence_note.strip() or not doc.attachments:
        blocks += [Block("text", line)
                   for line in _lines(doc.evidence_note, GUIDANCE[ATTACHMENTS_HEADING])]
    if doc.attachments:
        blocks.append(Block("text", FILES_LABEL))
        blocks += [Block("text", f"{str(n).translate(_FULLWIDTH_DIGITS)}、{clean_text(name)}")
                   for n, name in enumerate(doc.attachments, start=1)]
    blocks.append(Block("details", CLOSING_NOTE))
    return blocks


def build_proposal_document(session: Session, proposal: Proposal) -> ProposalDocument:
    """The document of one proposal, with its proposer, section and attached files."""
    agency = session.get(Agency, proposal.agency_id)
    section = session.get(Section, proposal.section_id) if proposal.section_id else None
    proposer = session.get(Member, proposal.proposer_member_id) \
        if proposal.proposer_member_id else None
    files = proposal_attachments(session=session, proposal_id=proposal.id or 0)
    return ProposalDocument(
        agency=agency.name if agency else "",
        title=proposal.title or "", kind=proposal.kind or "",
        section=section.name if section else "", proposer=proposer.name if proposer else "",
        reference=proposal.reference,
        submitted_on=format_roc_date(proposal.submitted_at) if proposal.submitted_at else None,
        background=proposal.background or "", solution=proposal.solution or "",
        benefits=proposal.benefits or "", external_benefits=proposal.external_benefits or "",
        internal_benefits=proposal.internal_benefits or "",
        process_integration=proposal.process_integration or "",
        ict_adoption=proposal.ict_adoption or "", evidence_note=proposal.evidence_note or "",
        attachments=tuple(f.filename or f"附件{n}" for n, f in enumerate(files, start=1)))


# --------------------------------------------------------------------------------- ODT

#: role → (style name, display name, size, bold, centred, first-line indent in pt)
_ODT_STYLES: dict[str, tuple[str, str, int, bool, bool, int]] = {
    "title": ("SqProposalTitle", "提案標題", TITLE_PT, True, True, 0),
    "details": ("SqProposalDetails", "提案資料", TEXT_PT, False, False, 0),
    "part": ("SqProposalPart", "提案大標", TEXT_PT, True, False, 0),
    "section": ("SqProposalSection", "提案小標", TEXT_PT, True, False, 0),
    "text": ("SqProposalText", "提案內文", TEXT_PT, False, False, 2 * TEXT_PT),
}


def _odt_styles(doc: Document) -> None:
    odt_fonts_and_page(doc, page_numbers=False)
    doc.insert_style(
        '<style:default-style style:family="paragraph">'
        '<style:paragraph-properties style:punctuation-wrap="hanging"'
        ' style:line-break="strict" style:writing-mode="page"/>'
        + odt_text_props(TEXT_PT, extra=' style:language-asian="zh" style:country-asian="TW"')
        + "</style:default-style>", default=True)
    for name, display, size, bold, centred, indent in _ODT_STYLES.values():
        align = "center" if centred else "justify"
        below = "0.4cm" if centred else "0cm"
        doc.insert_style(
            f'<style:style style:name="{name}" style:display-name={quoteattr(display)}'
            ' style:family="paragraph" style:parent-style-name="Standard">'
            f'<style:paragraph-properties fo:text-align="{align}" fo:margin-bottom="{below}"'
            f' fo:line-height="{LINE_HEIGHT_PT if size == TEXT_PT else size + 8}pt"'
            f' fo:text-indent="{indent}pt"/>'
            f"{odt_text_props(size, bold=bold)}</style:style>")


def proposal_odt(doc: ProposalDocument) -> bytes:
    """The proposal as an OpenDocument text file (ODT)."""
    odt = new_odt(doc.heading, doc.reference or "創意提案")
    _odt_styles(odt)
    body = odt.body
    body.clear()
    for block in outline(doc):
        body.append(Paragraph(block.text, style=_ODT_STYLES[block.role][0]))
    out = io.BytesIO()
    odt.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------------- DOCX


def proposal_docx(doc: ProposalDocument) -> bytes:
    """The proposal as a Word document (DOCX)."""
    docx = new_docx()
    docx.core_properties.title = clean_text(doc.heading)
    docx.core_properties.subject = doc.reference or "創意提案"
    docx.core_properties.language = "zh-TW"
    docx_defaults(docx)
    docx.styles["Normal"].font.size = Pt(TEXT_PT)
    body = docx.element.body
    for child in list(body):  # the template's empty paragraph; keep the section properties
        if child.tag.endswith("}sectPr"):
            continue
        body.remove(child)
    for block in outline(doc):
        _, _, size, bold, centred, indent = _ODT_STYLES[block.role]
        paragraph = docx.add_paragraph()
        layout = paragraph.paragraph_format
        layout.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        layout.line_spacing = Pt(LINE_HEIGHT_PT if size == TEXT_PT else size + 8)
        if centred:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            layout.space_after = Pt(12)
        else:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        if indent:
            layout.first_line_indent = Pt(indent)
        if block.role in ("part", "section"):
            layout.keep_with_next = True
        run = paragraph.add_run(block.text)
        run.font.size = Pt(size)
        run.font.bold = bold or None
        docx_fonts(run._r.get_or_add_rPr())
    out = io.BytesIO()
    docx.save(out)
    return out.getvalue()
