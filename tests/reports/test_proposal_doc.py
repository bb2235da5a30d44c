"""The proposal document (reports.proposal_doc), read back with independent readers.

ODT is read with odfdo, DOCX with python-docx: the 附錄1 headings in order, every field's
text, the attachments, 標楷體 for East Asian text, 14 pt on a fixed 21 pt line and the A4
portrait page are checked in what the reader finds.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document as open_docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Pt
from odfdo import Document, Paragraph, Style

from reports.proposal_doc import (
    ProposalDocument,
    build_proposal_document,
    proposal_docx,
    proposal_odt,
)
from storage.models import Attachment, Member
from storage.proposals import (
    add_proposal_attachment,
    create_proposal,
    submit_proposal,
    update_proposal,
)

FONT = "標楷體"
HEADINGS = ["壹、專案總說明", "一、個案背景與問題描述", "二、採用解決方法", "三、實際效益。",
            "貳、創新服務實際績效", "一、外部效益", "二、內部效益",
            "參、創新服務解決手法", "一、流程整合", "二、資通訊服務導入", "肆、附件"]
FULL = ProposalDocument(
    agency="經濟部水利署第十河川局",
    title="河川公地申請線上預審",
    kind="服務方法創新",
    section="規劃課",
    proposer="王小明",
    reference="115-P-0003",
    submitted_on="115年11月27日",
    background="民眾須親自到局臨櫃。\n資料不齊常需往返 & 補件 <2 次>。",
    solution="建置線上預審系統。",
    benefits="案件多能一次補正完成。",
    external_benefits="平均申辦時間由 14 天縮短為 5 天。",
    internal_benefits="每件減少承辦人工 2 小時。",
    process_integration="同機關水平整合。",
    ict_adoption="導入線上申辦系統。",
    evidence_note="https://www.wra10.gov.tw/apply",
    attachments=("預審系統畫面.png", "統計表.pdf"),
)
EXPECTED = [
    "經濟部水利署第十河川局河川公地申請線上預審",
    "提案編號：115-P-0003\u3000創新服務類型：服務方法創新\u3000提案課室：規劃課"
    "\u3000提案人：王小明\u3000提案日期：115年11月27日",
    "壹、專案總說明", "一、個案背景與問題描述", "民眾須親自到局臨櫃。",
    "資料不齊常需往返 & 補件 <2 次>。", "二、採用解決方法", "建置線上預審系統。",
    "三、實際效益。", "案件多能一次補正完成。", "貳、創新服務實際績效", "一、外部效益",
    "平均申辦時間由 14 天縮短為 5 天。", "二、內部效益", "每件減少承辦人工 2 小時。",
    "參、創新服務解決手法", "一、流程整合", "同機關水平整合。", "二、資通訊服務導入",
    "導入線上申辦系統。", "肆、附件", "https://www.wra10.gov.tw/apply", "附件檔案：",
    "１、預審系統畫面.png", "２、統計表.pdf", "※各單位可視需要參考本附錄格式書寫「創意服務計畫」。",
]
EMPTY = ProposalDocument(agency="經濟部水利署第十河川局")


def _odt_paragraphs(data: bytes) -> list[str]:
    return [p.text_recursive for p in Document(io.BytesIO(data)).body.get_paragraphs()]


def _docx_paragraphs(data: bytes) -> list[str]:
    return [p.text for p in open_docx(io.BytesIO(data)).paragraphs]


@pytest.mark.parametrize("read", [
    lambda doc: _odt_paragraphs(proposal_odt(doc)),
    lambda doc: _docx_paragraphs(proposal_docx(doc)),
], ids=["odt", "docx"])
def test_the_template_filled_in(read):
    assert read(FULL) == EXPECTED


@pytest.mark.parametrize("read", [
    lambda doc: _odt_paragraphs(proposal_odt(doc)),
    lambda doc: _docx_paragraphs(proposal_docx(doc)),
], ids=["odt", "docx"])
def test_an_empty_draft_is_the_seeds_template_with_its_guidance(read):
    """As 附錄1 prints it: the seed's headings (貳 and 參 without sub-headings nobody filled),
    each part's 〔…〕 guidance, and the closing ※ note."""
    assert read(EMPTY) == [
        "經濟部水利署第十河川局創意服務名稱",
        "壹、專案總說明",
        "一、個案背景與問題描述",
        "〔詳述個案所欲處理的具體問題，解決該項問題對民眾或其他利害相關者的意義所在及解決問題的"
        "行政過程或機制等〕",
        "二、採用解決方法", "〔說明採取何種解決方法〕",
        "三、實際效益。", "〔說明專案執行實際績效〕",
        "貳、創新服務實際績效",
        "〔敘明執行創新服務專案的外部效益及內部效益；內容宜具體，儘量以量化數據表達〕",
        "參、創新服務解決手法",
        "〔敘明如何透過『流程整合』及『資通訊服務導入』等各種解決手法，提供便民服務〕",
        "肆、附件", "〔提供佐證資料，如相關民意調查、統計資料等，並以精簡方式呈現〕",
        "※各單位可視需要參考本附錄格式書寫「創意服務計畫」。",
    ]


@pytest.mark.parametrize("read", [
    lambda doc: _odt_paragraphs(proposal_odt(doc)),
    lambda doc: _docx_paragraphs(proposal_docx(doc)),
], ids=["odt", "docx"])
def test_sub_headings_of_貳_and_參_only_where_filled(read):
    one = replace(EMPTY, internal_benefits="每件減少承辦人工 2 小時。", ict_adoption="線上申辦。")
    paragraphs = read(one)
    assert "二、內部效益" in paragraphs and "一、外部效益" not in paragraphs
    assert "二、資通訊服務導入" in paragraphs and "一、流程整合" not in paragraphs


def test_characters_xml_cannot_hold_are_dropped():
    messy = ProposalDocument(agency="機關", title="甲\x00乙", background="第一行\r\n第二行\x0b")
    for paragraphs in (_odt_paragraphs(proposal_odt(messy)),
                       _docx_paragraphs(proposal_docx(messy))):
        assert paragraphs[0] == "機關甲乙"
        assert paragraphs[3:5] == ["第一行", "第二行"]


def test_odt_is_a_clean_package():
    with zipfile.ZipFile(io.BytesIO(proposal_odt(FULL))) as package:
        first = package.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert package.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        assert not any(name.startswith("Thumbnails/") for name in package.namelist())


def test_odt_fonts_sizes_and_page():
    doc = Document(io.BytesIO(proposal_odt(FULL)))
    paragraphs = [c for c in doc.body.children if isinstance(c, Paragraph)]

    def style_of(paragraph: Paragraph) -> Style:
        style = doc.get_style("paragraph", paragraph.style)
        assert isinstance(style, Style)
        return style

    title, text = style_of(paragraphs[0]), style_of(paragraphs[4])
    title_props = title.get_properties(area="text") or {}
    assert title_props["fo:font-weight"] == "bold" and title_props["fo:font-size"] == "16pt"
    assert (title.get_properties(area="paragraph") or {})["fo:text-align"] == "center"
    for style in (title, text, style_of(paragraphs[2])):
        assert (style.get_properties(area="text") or {})["style:font-name-asian"] == FONT
    text_props = text.get_properties(area="text") or {}
    assert text_props["fo:font-size"] == text_props["style:font-size-asian"] == "14pt"
    assert (text.get_properties(area="paragraph") or {})["fo:line-height"] == "21pt"
    heading = style_of(paragraphs[2]).get_properties(area="text") or {}
    assert heading["fo:font-weight"] == "bold"
    master = doc.styles.get_element("//style:master-page[@style:name='Standard']")
    assert master is not None
    layout = doc.get_style("page-layout", str(master.get_attribute("style:page-layout-name")))
    page = layout.get_properties() or {}  # type: ignore[union-attr]
    assert (page["fo:page-width"], page["fo:page-height"]) == ("21.0cm", "29.7cm")
    assert page["style:print-orientation"] == "portrait"


def test_docx_fonts_sizes_and_page():
    doc = open_docx(io.BytesIO(proposal_docx(FULL)))
    title = doc.paragraphs[0]
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert all(run.bold and run.font.size == Pt(16) for run in title.runs)
    for paragraph in doc.paragraphs[1:]:
        layout = paragraph.paragraph_format
        assert layout.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert layout.line_spacing == Pt(21)
        for run in paragraph.runs:
            assert run.font.size == Pt(14)
            fonts = run._r.rPr.find(qn("w:rFonts"))
            assert fonts.get(qn("w:eastAsia")) == FONT
    headings = [p for p in doc.paragraphs if p.text in HEADINGS]
    assert len(headings) == len(HEADINGS) and all(r.bold for p in headings for r in p.runs)
    body_text = doc.paragraphs[4]
    assert body_text.paragraph_format.first_line_indent == Pt(28)
    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert section.page_width is not None and round(section.page_width.cm, 1) == 21.0
    assert section.page_height is not None and round(section.page_height.cm, 1) == 29.7


def test_built_from_the_database(office):
    with office.database.transaction() as session:
        member = session.get(Member, office.member("王小明").id)
        assert member is not None
        now = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
        proposal = create_proposal(session=session, proposer=member, roc_year=115, now=now)
        update_proposal(session=session, proposal=proposal, member=member, now=now,
                        values={"title": "河川公地申請線上預審", "kind": "服務方法創新",
                                "background": "民眾須親自到局臨櫃。"})
        add_proposal_attachment(session=session, proposal=proposal, member=member, now=now,
                                attachment=Attachment(channel="console", filename="畫面.png",
                                                      mime_type="image/png", size=3,
                                                      sha256="0" * 64))
        submit_proposal(session=session, proposal=proposal, member=member, roc_year=115,
                        now=now)
        document = build_proposal_document(session, proposal)
    assert document == ProposalDocument(
        agency="經濟部水利署第十河川局", title="河川公地申請線上預審", kind="服務方法創新",
        section="規劃課", proposer="王小明", reference="115-P-0001",
        submitted_on="115年11月27日", background="民眾須親自到局臨櫃。",
        attachments=("畫面.png",))


OFFICE = shutil.which("libreoffice") or shutil.which("soffice")
HAS_WRITER = OFFICE is not None and any(
    (Path(OFFICE).resolve().parent / name).exists() for name in ("libswlo.so", "libswlo.dylib")
)


@pytest.mark.skipif(OFFICE is None or not HAS_WRITER,
                    reason="LibreOffice Writer (libreoffice/soffice with libswlo) is not installed")
@pytest.mark.parametrize(("suffix", "writer"), [("odt", proposal_odt), ("docx", proposal_docx)])
def test_libreoffice_converts_to_pdf(tmp_path: Path, suffix, writer) -> None:
    source = tmp_path / f"proposal.{suffix}"
    source.write_bytes(writer(FULL))
    subprocess.run([str(OFFICE), f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "proposal.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")


def test_the_command_writes_a_submitted_proposal(office, database_url, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bot.cli import app
    from tests.handlers.test_proposals import submitted

    submitted(office)  # 王小明's proposal, 115-P-0001
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner, env = CliRunner(), {"DATABASE_URL": database_url}
    result = runner.invoke(app, ["report", "proposal", "115-p-0001", "--format", "docx"],
                           env=env)
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.glob("115-P-0001_*.docx")
    paragraphs = _docx_paragraphs(written.read_bytes())
    assert paragraphs[0] == "經濟部水利署第十河川局河川公地申請線上預審"
    assert "提案編號：115-P-0001" in paragraphs[1]
    assert paragraphs[-1] == "※各單位可視需要參考本附錄格式書寫「創意服務計畫」。"
    missing = runner.invoke(app, ["report", "proposal", "115-P-0099"], env=env)
    assert missing.exit_code == 1 and "找不到提案編號 115-P-0099" in missing.output
