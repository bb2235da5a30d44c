"""評分表 in the chat: a section's scoring form of a quarter as ODT and DOCX, drawn after the
commit; staff get their own section's, the secretariat any section's; a quarter not started
gives the blank form."""

from __future__ import annotations

import io
import zipfile

from handlers.messages import ChatKind
from storage.models import ChatBinding, Role
from storage.org import ensure_demo_agency
from tests.handlers.test_flows import answer_all


def documents(replies) -> dict[str, bytes]:
    return {r.document.filename: r.document.content for r in replies if r.document}


def odt_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.read("content.xml").decode("utf-8")


def test_staff_get_their_sections_form_in_the_middle_of_a_question(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("88 受理後即寄發收件確認")
    replies = chat.say("評分表")
    assert "規劃課 115年第4季 自行考核項目及評分表（ODT、DOCX）隨後傳送" in replies[0].text
    files = documents(replies)
    assert sorted(files) == ["115Q4規劃課評分表.docx", "115Q4規劃課評分表.odt"]
    content = odt_text(files["115Q4規劃課評分表.odt"])
    assert "規劃課" in content and "88" in content and "受理後即寄發收件確認" in content
    assert files["115Q4規劃課評分表.docx"][:2] == b"PK"
    replies = chat.say("填寫自評")  # and back to the question after the files
    assert "第 2/25 題" in chat.text


def test_a_quarter_not_started_gives_the_blank_form(office):
    chat = office.chat("王小明")
    replies = chat.say("評分表 115年第2季")
    assert "規劃課 115年第2季 尚未開始自評，傳送空白評分表" in replies[0].text
    assert sorted(documents(replies)) == ["115Q2規劃課空白評分表.docx",
                                          "115Q2規劃課空白評分表.odt"]


def test_staff_cannot_have_another_sections_form(office):
    office.add_member("張技士", "工務課")
    works = office.chat("張技士")
    works.say("填寫自評")
    works.say("100")
    chat = office.chat("王小明")
    replies = chat.say("評分表 工務課")
    assert "您只能下載本課室的評分表（規劃課）" in chat.text
    assert documents(replies) == {}


def test_the_secretariat_names_the_section_also_in_its_group(office):
    staff = office.chat("王小明")
    answer_all(staff)
    secretary = office.chat("陳秘書")
    replies = secretary.say("評分表 規劃課 115年第4季")
    assert sorted(documents(replies)) == ["115Q4規劃課評分表.docx", "115Q4規劃課評分表.odt"]
    replies = secretary.say("評分表 不存在課")
    assert "找不到課室「不存在課」" in secretary.text and documents(replies) == {}
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        session.add(ChatBinding(agency_id=agency.id, channel="console", chat_id="g-1",
                                role=Role.SECRETARIAT))
    secretary.chat_kind, secretary.chat_id = ChatKind.GROUP, "g-1"
    replies = secretary.say("/form 規劃課")
    assert sorted(documents(replies)) == ["115Q4規劃課評分表.docx", "115Q4規劃課評分表.odt"]
