"""年度提升服務品質績效總報告: the annual performance report the seed's last part asks for.

The seed's form: the title, 資料截止時間 (12/31 of the year) under it on the right, then
壹、執行績效 with five headings — each to show 2 or 3 cases (個案事例), quantified where
possible — and 貳、檢討 (problems found, difficulties met, suggestions). Word, at most 3 pages,
A4 portrait, horizontal text, numbering 一、（一）、１、（１）, 標楷體 14 pt, fixed line
height 21 pt. The writers here produce it as DOCX and ODT (the seed asks for ODF too).

What sqbot knows goes under the headings (:func:`build_performance_report`); the cases and
the review are collected from the sections by someone else and passed in.

Where each quantity is placed, and why:

- 一、提升服務品質，深化服務績效 — the quarterly self-assessment itself (per quarter: the
  sections assessed and submitted, their average total and the grades), because it measures
  service quality as a whole; the year's average of the 機關形象 item; and the phone-courtesy
  tests (count, average, best). Phone courtesy belongs to the plan's 營造機關為民服務專業、
  親切之良好形象 (電話禮貌…每3個月至少測試1次) — the conduct of the service itself — and
  not to 三、, which is about learning what the public thinks (satisfaction surveys, opinions).
- 二、便捷服務程序，確保流程透明 — the year's average of the 服務流程 item.
- 三、探查民意趨勢，建立顧客關係 — the year's average of the 顧客關係 item.
- 四、豐富服務資訊，促進網路溝通 — 資訊提供及檢索服務 and 線上服務及電子參與.
- 五、創新服務方式，整合服務資源 — the innovation proposals (submitted, adopted,
  implemented: the office's 組織內部創新提案機制), and the 提供創新服務情形 and
  辦理服務規劃創新整合情形 items.

An item of a future rubric whose name is not in :data:`ITEM_HEADINGS` goes under 一、.

:func:`fit_to_pages` measures the length by rendering both files to PDF with LibreOffice and
counting the pages; 標楷體 is seldom installed where it runs, so LibreOffice substitutes
another CJK font — its ideographs are as wide (one em) and the line height is fixed, so the
page count it gives is the one Word gives with 標楷體.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from xml.sax.saxutils import quoteattr

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from odfdo import Document, Paragraph
from sqlmodel import Session, col, select

from reports.build import build_quarter_table
from reports.documents import (
    EAST_ASIAN_FONT,
    LATIN_FONT,
    PAGE_HEIGHT_CM,
    PAGE_WIDTH_CM,
    clean_text,
    docx_fonts,
    new_odt,
    odt_fonts_and_page,
)
from reports.model import QuarterTable
from rubric import Period
from rubric.periods import format_roc_date
from storage.models import Agency, Member, Proposal, ProposalStatus
from storage.models import ReportCase as ReportCaseRow
from storage.org import list_sections
from storage.report_cases import REVIEW_HEADING, list_report_cases
from storage.verification import phone_tests

HEADINGS = (
    "提升服務品質，深化服務績效",
    "便捷服務程序，確保流程透明",
    "探查民意趨勢，建立顧客關係",
    "豐富服務資訊，促進網路溝通",
    "創新服務方式，整合服務資源",
)
# Which of the five headings each 評核項目 of the rubric supports.
ITEM_HEADINGS = {
    "服務流程": 2,
    "機關形象": 1,
    "顧客關係": 3,
    "資訊提供及檢索服務": 4,
    "線上服務及電子參與": 4,
    "提供創新服務情形": 5,
    "辦理服務規劃創新整合情形": 5,
}
PERFORMANCE_PART = "執行績效"
REVIEW_PART = "檢討"
CUTOFF_LABEL = "資料截止時間："
QUANTITIES_CAPTION = "量化成果（服務品質小幫手紀錄）："
NO_CASES = "（尚未彙整個案事例，請各課室提供2、3個案事例及量化數據。）"
NO_REVIEW = "（尚未彙整：請條列推動過程中發現之問題、遭遇困難及改進建議。）"
MAX_PAGES = 3

TEXT_PT = 14  # 標楷體14號字
LINE_PT = 21  # 行距：固定行高21
MARGIN_CM = 2.0
# (where the label starts, how wide it is), in characters of 14 pt: wrapped lines start
# under the text, after the label.
INDENTS = {
    "part": (0, 2),  # 壹、
    "heading": (0, 2),  # 一、 under 壹、執行績效
    "point": (0, 2),  # 一、 under 貳、檢討
    "l2": (2, 3),  # （一）
    "l3": (5, 2),  # １、
    "l4": (7, 3),  # （１）
}
PARTS = ("壹", "貳")
_CHINESE_DIGITS = "〇一二三四五六七八九"
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# ------------------------------------------------------------------------------- contents


@dataclass(frozen=True)
class ReportCase:
    """A 個案事例 collected from a section for one of the five headings (1-5)."""

    heading: int
    section: str
    text: str
    figures: str = ""  # the quantified result, e.g. 線上申辦率由35%提升至62%
    pinned: bool = False  # the secretariat chose to keep it: never cut to fit the pages

    def __post_init__(self) -> None:
        if not 1 <= self.heading <= len(HEADINGS):
            raise ValueError(f"heading must be 1-{len(HEADINGS)}, not {self.heading}")
        if not self.text.strip():
            raise ValueError("a case needs its text")


@dataclass(frozen=True)
class Quantity:
    """A figure sqbot knows (numbered １、), with optional details (numbered （１）)."""

    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeadingPart:
    """One of the five headings of 壹、執行績效: the figures sqbot knows, then the cases.

    Cases keep the order they were given in: earlier means more important (see
    :func:`fit_to_pages`).
    """

    number: int  # 1-5
    title: str  # 提升服務品質，深化服務績效
    quantities: tuple[Quantity, ...]
    cases: tuple[ReportCase, ...]


@dataclass(frozen=True)
class PerformanceReport:
    """The annual performance report's contents; the writers only lay them out."""

    title: str  # 經濟部水利署第十河川局115年度提升服務品質績效總報告
    agency: str
    roc_year: int
    cutoff: str  # 115年12月31日
    headings: tuple[HeadingPart, ...]  # the five headings of 壹、執行績效, in order
    review: tuple[str, ...]  # 貳、檢討: problems, difficulties, suggestions, one per point

    @property
    def cases(self) -> tuple[ReportCase, ...]:
        """Every case, heading by heading."""
        return tuple(case for part in self.headings for case in part.cases)


def chinese_number(n: int) -> str:
    """一 … 九十九, as 一、 and （一） are numbered."""
    if not 1 <= n <= 99:
        raise ValueError(f"only 1-99 can be numbered, not {n}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CHINESE_DIGITS[ones]
    head = "" if tens == 1 else _CHINESE_DIGITS[tens]
    return f"{head}十{_CHINESE_DIGITS[ones] if ones else ''}"


def fullwidth_number(n: int) -> str:
    """１, ２, … １０: the full-width digits of １、 and （１）."""
    return str(n).translate(_FULLWIDTH)


def _number(value: float) -> str:
    """832 for 832.0, 822.5, 89.7 for 89.666…"""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _quarter_detail(table: QuarterTable, period: Period) -> str:
    quarter = period.quarter
    label = f"第{chinese_number(quarter)}季（{period.months_label}）"
    done = [row for row in table.rows if row.total is not None]
    if not done:
        return f"{label}：尚無課室送出自評。"
    verified = sum(1 for row in done if row.verified)
    average = sum(row.total or 0 for row in done) / len(done)
    grades = "、".join(
        f"{grade}{count}個"
        for grade, _ in table.grade_bands
        if (count := sum(1 for row in done if row.grade == grade))
    )
    return (
        f"{label}：送出{len(done)}個課室（已審定{verified}個），平均總分{_number(average)}分；"
        f"等第{grades}。"
    )


def _assessment_quantities(
    roc_year: int, tables: Sequence[QuarterTable]
) -> dict[int, list[Quantity]]:
    """The quarters under 一、 and each item's year average under its heading."""
    placed: dict[int, list[Quantity]] = {n: [] for n in range(1, len(HEADINGS) + 1)}
    sections = len(tables[0].rows) if tables else 0
    placed[1].append(
        Quantity(
            f"各季自行考核（受考核課室{sections}個）：",
            tuple(
                _quarter_detail(table, Period(roc_year, index + 1))
                for index, table in enumerate(tables)
            ),
        )
    )
    done = [row for table in tables for row in table.rows if row.total is not None]
    for index, item in enumerate(tables[0].items if tables else ()):
        scores = [s for row in done if (s := row.item_scores[index]) is not None]
        if scores:
            text = (
                f"自行考核「{item.name}」項目：全年平均{_number(sum(scores) / len(scores))}分"
                f"（滿分{item.max}分，{len(scores)}份考核）。"
            )
        else:
            text = f"自行考核「{item.name}」項目：本年度尚無送出之考核。"
        placed[ITEM_HEADINGS.get(item.name, 1)].append(Quantity(text))
    return placed


def _phone_quantity(session: Session, agency: Agency, roc_year: int) -> Quantity:
    tests = phone_tests(
        session=session,
        agency_id=agency.id or 0,
        first_day=Period(roc_year, 1).first_day,
        last_day=Period(roc_year, 4).last_day,
    )
    if not tests:
        return Quantity("電話禮貌測試：本年度尚無測試紀錄。")
    names = {s.id: s.name for s in list_sections(session=session, agency=agency)}
    best = max(t.score for t in tests)
    who = "、".join(
        dict.fromkeys(
            f"{names.get(t.section_id, '')}{t.person_tested}" for t in tests if t.score == best
        )
    )
    average = sum(t.score for t in tests) / len(tests)
    return Quantity(
        f"電話禮貌測試：全年測試{len(tests)}人次，平均{_number(average)}分，最高{best}分（{who}）。"
    )


def _proposal_quantity(session: Session, agency: Agency, roc_year: int) -> Quantity:
    proposals = session.exec(
        select(Proposal)
        .where(
            Proposal.agency_id == agency.id,
            Proposal.roc_year == roc_year,
            Proposal.status != ProposalStatus.DRAFT,
        )
        .order_by(col(Proposal.id))
    ).all()
    adopted = [
        p for p in proposals if p.status in (ProposalStatus.ADOPTED, ProposalStatus.IMPLEMENTED)
    ]
    implemented = sum(1 for p in adopted if p.status == ProposalStatus.IMPLEMENTED)
    names = {s.id: s.name for s in list_sections(session=session, agency=agency)}
    details = []
    for proposal in adopted:
        proposer = (
            session.get(Member, proposal.proposer_member_id)
            if proposal.proposer_member_id
            else None
        )
        state = "已實施" if proposal.status == ProposalStatus.IMPLEMENTED else "已採用"
        by = f"{names.get(proposal.section_id, '')}{proposer.name if proposer else ''}"
        details.append(f"{proposal.title or '（未命名）'}（{by}，{state}）。")
    return Quantity(
        f"創意服務提案（組織內部創新提案機制）：全年提出{len(proposals)}件，"
        f"獲採用{len(adopted)}件，其中已實施{implemented}件。",
        tuple(details),
    )


def build_performance_report(
    session: Session,
    agency: Agency,
    roc_year: int,
    cases: Sequence[ReportCase],
    review: Sequence[str],
) -> PerformanceReport:
    """The year's report: the quantities from the database placed under their headings
    (see the module's docstring), the collected ``cases`` under theirs, in the order given,
    and ``review`` under 貳、檢討.

    Per quarter the assessment figures are those of :func:`reports.build.build_quarter_table`
    (verified scores where verified, else the section's own); proposals are the year's rows
    that were submitted (any status but draft), adopted (adopted or implemented) and
    implemented; phone tests are those dated within the year.
    """
    tables = [build_quarter_table(session, agency, Period(roc_year, q)) for q in (1, 2, 3, 4)]
    placed = _assessment_quantities(roc_year, tables)
    placed[1].append(_phone_quantity(session, agency, roc_year))
    placed[5].insert(0, _proposal_quantity(session, agency, roc_year))
    headings = tuple(
        HeadingPart(
            number,
            title,
            tuple(placed[number]),
            tuple(case for case in cases if case.heading == number),
        )
        for number, title in enumerate(HEADINGS, start=1)
    )
    return PerformanceReport(
        title=f"{agency.name}{roc_year}年度提升服務品質績效總報告",
        agency=agency.name,
        roc_year=roc_year,
        cutoff=format_roc_date(Period(roc_year, 4).last_day),
        headings=headings,
        review=tuple(point.strip() for point in review if point.strip()),
    )


# -------------------------------------------------------------------------------- outline


@dataclass(frozen=True)
class OutlineLine:
    """One paragraph of the report: its kind (title, cutoff, part, heading, l2, l3, l4, point),
    its number (壹、 一、 （一） １、 （１）) and its text."""

    kind: str
    label: str
    text: str

    @property
    def full_text(self) -> str:
        """The paragraph as it reads: the number, then the text."""
        return f"{self.label}{self.text}"


def _clean(text: str) -> str:
    """``text`` made safe for XML, without surrounding blanks."""
    return clean_text(text).strip()


def _sentence(text: str) -> str:
    text = _clean(text)
    return text if not text or text[-1] in "。！？；」）.!?" else f"{text}。"


def case_text(case: ReportCase) -> str:
    """A case as its paragraph reads after the number: 規劃課：…。量化成果：…。"""
    text = _sentence(case.text)
    if case.figures.strip():
        text += f"量化成果：{_sentence(case.figures)}"
    return f"{_clean(case.section)}：{text}" if case.section.strip() else text


def outline(report: PerformanceReport) -> list[OutlineLine]:
    """Every paragraph of the report, numbered 壹、 一、（一）、１、（１） as the seed asks."""
    lines = [
        OutlineLine("title", "", _clean(report.title)),
        OutlineLine("cutoff", "", f"{CUTOFF_LABEL}{_clean(report.cutoff)}"),
        OutlineLine("part", f"{PARTS[0]}、", PERFORMANCE_PART),
    ]
    for part in report.headings:
        lines.append(OutlineLine("heading", f"{chinese_number(part.number)}、", part.title))
        second = 0
        if part.quantities:
            second += 1
            lines.append(OutlineLine("l2", f"（{chinese_number(second)}）", QUANTITIES_CAPTION))
            for third, quantity in enumerate(part.quantities, start=1):
                lines.append(
                    OutlineLine("l3", f"{fullwidth_number(third)}、", _clean(quantity.text))
                )
                for fourth, detail in enumerate(quantity.details, start=1):
                    lines.append(
                        OutlineLine("l4", f"（{fullwidth_number(fourth)}）", _clean(detail))
                    )
        for case in part.cases:
            second += 1
            lines.append(OutlineLine("l2", f"（{chinese_number(second)}）", case_text(case)))
        if not part.cases:
            second += 1
            lines.append(OutlineLine("l2", f"（{chinese_number(second)}）", NO_CASES))
    lines.append(OutlineLine("part", f"{PARTS[1]}、", REVIEW_PART))
    for number, point in enumerate(report.review or (NO_REVIEW,), start=1):
        lines.append(OutlineLine("point", f"{chinese_number(number)}、", _sentence(point)))
    return lines


def _indent_pt(kind: str) -> tuple[int, int]:
    """(left indent, first-line indent) in points: a hanging number."""
    start, label = INDENTS.get(kind, (0, 0))
    return (start + label) * TEXT_PT, -label * TEXT_PT


def _bold(kind: str) -> bool:
    return kind in ("title", "part", "heading")


# ------------------------------------------------------------------------------------ ODT


_ODT_STYLES = {
    "title": "SqPerfTitle",
    "cutoff": "SqPerfCutoff",
    "part": "SqPerfPart",
    "heading": "SqPerfHeading",
    "point": "SqPerfPoint",
    "l2": "SqPerfLevel2",
    "l3": "SqPerfLevel3",
    "l4": "SqPerfLevel4",
}
_ODT_DISPLAY = {
    "title": "績效報告標題",
    "cutoff": "資料截止時間",
    "part": "壹貳",
    "heading": "一、",
    "point": "檢討一、",
    "l2": "（一）",
    "l3": "１、",
    "l4": "（１）",
}


def _odt_text_props(*, bold: bool = False, extra: str = "") -> str:
    weight = (
        ' fo:font-weight="bold" style:font-weight-asian="bold" style:font-weight-complex="bold"'
        if bold
        else ""
    )
    return (
        f"<style:text-properties style:font-name={quoteattr(LATIN_FONT)}"
        f" style:font-name-asian={quoteattr(EAST_ASIAN_FONT)}"
        f" style:font-name-complex={quoteattr(LATIN_FONT)}"
        f' fo:font-size="{TEXT_PT}pt" style:font-size-asian="{TEXT_PT}pt"'
        f' style:font-size-complex="{TEXT_PT}pt"{weight}{extra}/>'
    )


def _odt_paragraph_props(kind: str) -> str:
    """fo:line-height with a length is ODF's fixed (exact) line height."""
    left, first = _indent_pt(kind)
    align = {"title": "center", "cutoff": "end"}.get(kind, "justify")
    return (
        f'<style:paragraph-properties fo:line-height="{LINE_PT}pt" fo:text-align="{align}"'
        f' fo:margin-left="{left}pt" fo:margin-right="0pt" fo:text-indent="{first}pt"'
        ' fo:margin-top="0pt" fo:margin-bottom="0pt"'
        + (' fo:keep-with-next="always"' if kind in ("part", "heading", "title") else "")
        + "/>"
    )


def _odt_styles(doc: Document) -> None:
    odt_fonts_and_page(doc)
    doc.insert_style(
        '<style:default-style style:family="paragraph">'
        f'<style:paragraph-properties fo:line-height="{LINE_PT}pt"'
        ' style:text-autospace="ideograph-alpha" style:punctuation-wrap="hanging"'
        ' style:line-break="strict" style:writing-mode="lr-tb"/>'
        + _odt_text_props(
            extra=' fo:language="en" fo:country="US" style:language-asian="zh"'
            ' style:country-asian="TW" fo:hyphenate="false"'
        )
        + "</style:default-style>",
        default=True,
    )
    for kind, name in _ODT_STYLES.items():
        doc.insert_style(
            f'<style:style style:name="{name}" style:display-name="{_ODT_DISPLAY[kind]}"'
            ' style:family="paragraph" style:parent-style-name="Standard" style:class="text">'
            f"{_odt_paragraph_props(kind)}{_odt_text_props(bold=_bold(kind))}</style:style>"
        )


def performance_odt(report: PerformanceReport) -> bytes:
    """The report as an OpenDocument text file (ODT)."""
    doc = new_odt(_clean(report.title), f"{report.roc_year}年度提升服務品質績效總報告")
    _odt_styles(doc)
    body = doc.body
    body.clear()
    for line in outline(report):
        body.append(Paragraph(line.full_text, style=_ODT_STYLES[line.kind]))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------------- DOCX


def _docx_defaults(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Cm(PAGE_WIDTH_CM)
    section.page_height = Cm(PAGE_HEIGHT_CM)
    for side in ("top_margin", "bottom_margin", "left_margin", "right_margin"):
        setattr(section, side, Cm(MARGIN_CM))
    section.header_distance = Cm(1.0)
    section.footer_distance = Cm(1.0)
    r_pr = doc.styles.element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
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
    fmt = normal.paragraph_format
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PT)


def performance_docx(report: PerformanceReport) -> bytes:
    """The report as a Word document (DOCX)."""
    doc = new_docx()
    doc.core_properties.title = _clean(report.title)
    doc.core_properties.subject = f"{report.roc_year}年度提升服務品質績效總報告"
    doc.core_properties.language = "zh-TW"
    _docx_defaults(doc)
    body = doc.element.body
    for child in list(body):  # the template's empty paragraph; keep the section properties
        if child.tag != qn("w:sectPr"):
            body.remove(child)
    alignments = {
        "title": WD_ALIGN_PARAGRAPH.CENTER,
        "cutoff": WD_ALIGN_PARAGRAPH.RIGHT,
    }
    for line in outline(report):
        paragraph = doc.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.alignment = alignments.get(line.kind, WD_ALIGN_PARAGRAPH.JUSTIFY)
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(LINE_PT)
        fmt.space_before = Pt(0)
        fmt.space_after = Pt(0)
        left, first = _indent_pt(line.kind)
        fmt.left_indent = Pt(left)
        fmt.first_line_indent = Pt(first)
        fmt.keep_with_next = line.kind in ("title", "part", "heading") or None
        run = paragraph.add_run(line.full_text)  # "\n" becomes w:br
        run.font.size = Pt(TEXT_PT)
        run.font.bold = _bold(line.kind) or None
        docx_fonts(run._r.get_or_add_rPr())
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ------------------------------------------------------------------- measuring by rendering


class RenderError(RuntimeError):
    """LibreOffice is missing or could not turn a document into a PDF."""


RENDER_TIMEOUT_S = 300.0
_PDF_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b(.*?)\bendobj", re.S)
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def office_binary() -> str | None:
    """The LibreOffice program (``soffice`` or ``libreoffice``) on PATH, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


#: Kai faces close to 標楷體 in Debian's packages (fonts-arphic-ukai, fonts-arphic-bkai00mp).
KAI_FAMILIES = ("AR PL UKai TW", "AR PL KaitiM Big5", "AR PL UKai CN")
#: Names 標楷體 goes by on the machines the seed's forms are written on.
BIAUKAI_NAMES = ("標楷體", "DFKai-SB", "BiauKai")


def kai_profile(profile: Path) -> None:
    """Start LibreOffice's profile with a font replacement table: 標楷體 (by any of its
    names) drawn with a Kai face from Debian's packages where 標楷體 itself is not installed,
    so the page count measures a 楷書 face close to the real one instead of the sans serif
    LibreOffice falls back to. (fontconfig aliases are not enough: LibreOffice applies its
    own CJK substitutions first.)"""
    pairs = "".join(
        f'<node oor:name="_{n}" oor:op="replace">'
        '<prop oor:name="Always" oor:op="fuse"><value>true</value></prop>'
        '<prop oor:name="OnScreenOnly" oor:op="fuse"><value>false</value></prop>'
        f'<prop oor:name="ReplaceFont" oor:op="fuse"><value>{name}</value></prop>'
        f'<prop oor:name="SubstituteFont" oor:op="fuse"><value>{KAI_FAMILIES[0]}</value></prop>'
        "</node>" for n, name in enumerate(BIAUKAI_NAMES))
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Office.Common/Font/Substitution">'
        '<prop oor:name="Replacement" oor:op="fuse"><value>true</value></prop></item>'
        '<item oor:path="/org.openoffice.Office.Common/Font/Substitution/FontPairs">'
        f"{pairs}</item></oor:items>", encoding="utf-8")


def render_pdfs(
    documents: Mapping[str, bytes], *, timeout: float = RENDER_TIMEOUT_S
) -> dict[str, bytes]:
    """Each document (file name with its .odt or .docx suffix → content) as a PDF, keyed by
    the same name, from one headless LibreOffice run with a profile of its own (so runs in
    parallel do not clash). Names must differ in more than their suffix."""
    program = office_binary()
    if program is None:
        raise RenderError("LibreOffice (soffice) is not installed: cannot count pages")
    stems = [Path(name).stem for name in documents]
    if len(set(stems)) != len(stems):
        raise ValueError("document names must differ in more than their suffix")
    with tempfile.TemporaryDirectory(prefix="sqbot-render-") as scratch:
        root = Path(scratch)
        sources = root / "in"
        sources.mkdir()
        paths = []
        for name, content in documents.items():
            path = sources / Path(name).name
            path.write_bytes(content)
            paths.append(path)
        command = [
            program,
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(root / "out"),
            *map(str, paths),
        ]
        kai_profile(root / "profile")
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RenderError(f"LibreOffice took longer than {timeout:.0f} s") from exc
        result = {}
        for name, path in zip(documents, paths, strict=True):
            pdf = root / "out" / f"{path.stem}.pdf"
            if not pdf.exists():
                problem = done.stderr.decode("utf-8", "replace").strip()[-500:]
                raise RenderError(f"LibreOffice did not render {name}: {problem}")
            result[name] = pdf.read_bytes()
    return result


def pdf_page_count(pdf: bytes) -> int:
    """How many pages a PDF has: its ``/Type /Page`` objects. Enough for LibreOffice's
    PDFs, which keep objects uncompressed; a PDF whose objects sit in compressed object
    streams is refused rather than miscounted."""
    if not pdf.startswith(b"%PDF"):
        raise ValueError("not a PDF")
    pages = sum(1 for m in _PDF_OBJECT.finditer(pdf) if _PDF_PAGE.search(m.group(1)))
    if pages == 0:
        raise ValueError("no page objects found (compressed object streams are not read)")
    return pages


def page_counts(
    reports: Sequence[PerformanceReport], *, formats: Sequence[str] = ("docx", "odt")
) -> list[dict[str, int]]:
    """Pages of each report in each format, from one LibreOffice run."""
    writers = {"docx": performance_docx, "odt": performance_odt}
    documents = {
        f"r{index:03d}-{fmt}.{fmt}": writers[fmt](report)
        for index, report in enumerate(reports)
        for fmt in formats
    }
    pdfs = render_pdfs(documents)
    return [
        {fmt: pdf_page_count(pdfs[f"r{index:03d}-{fmt}.{fmt}"]) for fmt in formats}
        for index in range(len(reports))
    ]


# ------------------------------------------------------------------------ fitting to pages


@dataclass(frozen=True)
class _Drop:
    kind: str  # "case" or "review"
    heading: int  # 1-5 for a case
    index: int  # the case's index in its heading, or the review point's index


@dataclass(frozen=True)
class StoredReport:
    """The draft report from the database: the kept cases and 檢討 points under their
    headings, and the case rows behind them (for the secretariat's 保留/恢復 buttons)."""

    report: PerformanceReport
    case_rows: tuple[ReportCaseRow, ...]
    cases: tuple[ReportCase, ...]  # the report's cases, one per row of ``case_rows``
    review_count: int
    left_out: tuple[ReportCaseRow, ...]  # the secretariat set these 不列入
    sections: Mapping[int | None, str]


def report_from_storage(session: Session, agency: Agency, roc_year: int) -> StoredReport:
    """The 績效總報告 draft of ``roc_year`` with every case and 檢討 point the sections gave
    and the secretariat kept (the chat's 年度報告 and ``sqbot report annual-performance``)."""
    assert agency.id is not None
    sections = {s.id: s.name for s in list_sections(session=session, agency=agency)}
    rows = list_report_cases(session=session, agency_id=agency.id, roc_year=roc_year)
    kept = [row for row in rows if row.kept]
    case_rows = tuple(row for row in kept if row.heading != REVIEW_HEADING)
    review_rows = [row for row in kept if row.heading == REVIEW_HEADING]
    cases = [ReportCase(row.heading, sections.get(row.section_id, ""), row.text,
                        row.figures or "", pinned=row.pinned) for row in case_rows]
    review = [f"{sections.get(row.section_id, '')}：{' '.join(row.text.split())}"
              for row in review_rows]
    report = build_performance_report(session, agency, roc_year, cases, review)
    return StoredReport(report, case_rows, tuple(cases), len(review_rows),
                        tuple(row for row in rows if not row.kept), sections)


def _drop_order(report: PerformanceReport) -> list[_Drop]:
    """What to leave out, first to last.

    1. Cases beyond the first of a heading: always from the heading that has the most left
       (the later heading on a tie), and there from the section with the most cases still in
       the report — so the cuts are spread over the sections instead of emptying one — the
       last such case without figures, else its last.
    2. Review points beyond the first, from the last.
    3. The last case of each heading: those without figures first, later headings first.

    Cases the secretariat pinned (保留) are never in it.
    """
    left = {part.number: [i for i, case in enumerate(part.cases) if not case.pinned]
            for part in report.headings}
    cases = {part.number: part.cases for part in report.headings}

    def pick(number: int) -> int:
        remaining: dict[str, int] = {}
        for n, indexes in left.items():
            for i in indexes:
                remaining[cases[n][i].section] = remaining.get(cases[n][i].section, 0) + 1
        here = {cases[number][i].section for i in left[number]}
        most = max(here, key=lambda name: (remaining[name], name))
        candidates = [i for i in left[number] if cases[number][i].section == most]
        plain = [i for i in candidates if not cases[number][i].figures.strip()]
        return (plain or candidates)[-1]

    order: list[_Drop] = []
    while crowded := [(len(v), n) for n, v in left.items() if len(v) > 1]:
        number = max(crowded)[1]
        index = pick(number)
        left[number].remove(index)
        order.append(_Drop("case", number, index))
    order.extend(_Drop("review", 0, i) for i in range(len(report.review) - 1, 0, -1))
    singles = sorted(
        ((bool(cases[n][v[0]].figures.strip()), -n, v[0]) for n, v in left.items() if v),
    )
    order.extend(_Drop("case", -negative, index) for _, negative, index in singles)
    return order


def _without(report: PerformanceReport, drops: Sequence[_Drop]) -> PerformanceReport:
    gone_cases = {(d.heading, d.index) for d in drops if d.kind == "case"}
    gone_review = {d.index for d in drops if d.kind == "review"}
    headings = tuple(
        replace(
            part,
            cases=tuple(
                case for i, case in enumerate(part.cases) if (part.number, i) not in gone_cases
            ),
        )
        for part in report.headings
    )
    review = tuple(p for i, p in enumerate(report.review) if i not in gone_review)
    return replace(report, headings=headings, review=review)


def _excerpt(text: str, length: int = 20) -> str:
    text = _clean(text).replace("\n", " ")
    return text if len(text) <= length else f"{text[:length]}…"


def _describe(report: PerformanceReport, drop: _Drop) -> str:
    """刪除「一、提升服務品質，深化服務績效」（三）規劃課案例：「…」 — numbered as in the
    report before shortening."""
    if drop.kind == "review":
        return (
            f"刪除「{PARTS[1]}、{REVIEW_PART}」第{chinese_number(drop.index + 1)}點："
            f"「{_excerpt(report.review[drop.index])}」"
        )
    part = report.headings[drop.heading - 1]
    case = part.cases[drop.index]
    label = chinese_number(drop.index + 1 + (1 if part.quantities else 0))
    return (
        f"刪除「{chinese_number(part.number)}、{part.title}」（{label}）"
        f"{_clean(case.section)}案例：「{_excerpt(case.text)}」"
    )


FIT_BATCH = 6  # candidates rendered per LibreOffice run while searching


def fit_to_pages(
    report: PerformanceReport,
    max_pages: int = MAX_PAGES,
    *,
    formats: Sequence[str] = ("docx", "odt"),
) -> tuple[PerformanceReport, list[str]]:
    """The report within ``max_pages`` in every one of ``formats``, and what was left out
    (one zh-TW line per case or review point, for the secretariat); ``[]`` if it fits.

    Pages are counted in PDFs rendered by LibreOffice. Material is left out in the order of
    :func:`_drop_order` — the lowest priority first, one case per heading kept as long as
    possible (a case given earlier outranks one given later, a case with figures one
    without) — and the fewest drops that fit are found by rendering a few candidates per
    LibreOffice run. The quantities sqbot knows are never dropped; if the report still
    does not fit with every droppable thing gone, that is returned with a last line saying
    so. Raises :class:`RenderError` without LibreOffice.
    """
    order = _drop_order(report)
    pages: dict[int, int] = {}

    def measure(counts: Sequence[int]) -> None:
        todo = [k for k in counts if k not in pages]
        if todo:
            results = page_counts([_without(report, order[:k]) for k in todo], formats=formats)
            pages.update({k: max(r.values()) for k, r in zip(todo, results, strict=True)})

    measure([0])
    if pages[0] <= max_pages:
        return report, []
    low, high = 0, len(order)  # pages(low) is too many; the answer is in (low, high]
    while high - low > 0:
        span = high - low
        measure(sorted({low + math.ceil(span * i / FIT_BATCH) for i in range(1, FIT_BATCH + 1)}))
        fitting = [k for k in range(low + 1, high + 1) if k in pages and pages[k] <= max_pages]
        if not fitting:
            low = high
            break
        high = min(fitting)
        low = max(k for k in pages if k < high)
        if high - low <= 1:
            break
    chosen = high if pages.get(high, max_pages + 1) <= max_pages else len(order)
    messages = [_describe(report, drop) for drop in order[:chosen]]
    if pages[chosen] > max_pages:
        messages.append(
            f"刪減後仍有{pages[chosen]}頁，超過{max_pages}頁的上限：請精簡文字後再產生。"
        )
    return _without(report, order[:chosen]), messages
