"""Innovation proposals (創意提案) through dispatch on both databases: writing, pasting,
submitting, the secretariat's decisions, the rights each button is checked against."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

from docx import Document as open_docx
from odfdo import Document as open_odt
from sqlmodel import select

from handlers.dispatch import Dispatcher
from handlers.messages import ChatKind, Outgoing
from handlers.proposal_text import (
    has_numbers,
    innovation_kinds,
    match_kind,
    split_proposal,
)
from handlers.tokens import Token
from reports.build import build_annual_table
from storage.models import (
    Agency,
    Answer,
    Attachment,
    AuditEvent,
    ChatBinding,
    Proposal,
    ProposalStatus,
    Role,
)
from storage.org import add_member, create_agency, ensure_demo_agency
from tests.handlers.conftest import Chat

KINDS = innovation_kinds()
AGENCY = "經濟部水利署第十河川局"
ANSWERS = {
    "title": "河川公地申請線上預審",
    "background": "民眾申請河川公地使用須親自到局臨櫃，往返費時。",
    "solution": "建置線上預審系統，民眾上網填寫並上傳圖說。",
    "benefits": "申辦更便利，案件一次補正完成。",
    "external_benefits": "平均申辦時間由 14 天縮短為 5 天，每年約 300 件。",
    "internal_benefits": "每件減少承辦人工 2 小時。",
    "process_integration": "同機關水平整合：管理課與規劃課共用案件資料。",
    "ict_adoption": "導入線上申辦系統與主動通知。",
}
PASTED = """經濟部水利署第十河川局河川巡守志工行動通報
壹、專案總說明
一、個案背景與問題描述
〔詳述個案所欲處理的具體問題，解決該項問題對民眾或其他利害相關者的意義所在〕
河川巡守志工發現違規時須回局填寫紙本通報。
二、採用解決方法：以行動裝置拍照即時通報。
三、實際效益。
通報當日即可派員處理。
貳、創新服務實際績效
（一）外部效益：通報處理時間由 3 天縮短為半天。
(二)內部效益:紙本通報每年減少 600 張。
參、創新服務解決手法
資通訊服務導入：行動通報 App 與雲端案件系統。
肆、附件
https://www.wra10.gov.tw/patrol"""


def step_of(chat: Chat) -> int:
    """The step the latest buttons carry (to forge a token that passes the step check)."""
    return int(chat.choices[0].action.split(":")[0])


def proposals(office) -> list[Proposal]:
    with office.database.transaction() as session:
        return list(session.exec(select(Proposal).order_by(Proposal.id)).all())


def bind_group(office, chat_id: str = "g-1") -> None:
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        session.add(ChatBinding(agency_id=agency.id, channel="console", chat_id=chat_id,
                                role=Role.SECRETARIAT))


def to_group(office, chat_id: str = "g-1") -> list[Outgoing]:
    return [Outgoing.from_payload(m.payload) for m in office.outbox() if m.destination == chat_id]


def told(office, chat: Chat) -> list[Outgoing]:
    return [Outgoing.from_payload(m.payload) for m in office.outbox()
            if m.destination == chat.user_id]


def write_proposal(chat: Chat, answers: dict[str, str] = ANSWERS, kind: str = "服務方法創新",
                   evidence: str = "https://www.wra10.gov.tw/apply") -> None:
    """The guided flow from 創意提案 to the review, typing every field."""
    chat.say("創意提案")
    assert "第 1/10 項　創意服務名稱" in chat.text, chat.text
    chat.say(answers["title"])
    assert "第 2/10 項　創新服務類型" in chat.text
    chat.press(kind)
    for name in ("background", "solution", "benefits", "external_benefits",
                 "internal_benefits", "process_integration", "ict_adoption"):
        chat.say(answers[name])
    assert "第 10/10 項　附件" in chat.text, chat.text
    chat.say(evidence)
    chat.press("完成")
    assert "【提案檢視】草稿（已填 10/10 項）" in chat.text, chat.text


def submitted(office, name: str = "王小明", **extra) -> Chat:
    chat = office.chat(name)
    write_proposal(chat, **extra)
    chat.press("送出提案")
    assert "創意提案已送出" in chat.text, chat.text
    return chat


# --- the splitter and the kinds (no database) ------------------------------------------------


def test_the_kinds_are_the_criteria_of_6_1():
    assert KINDS == ("跨機關整合", "服務流程便捷", "服務項目改造", "服務方法創新", "服務評價回饋",
                     "公私協力或異業結盟", "在地化特色服務", "其他創新服務樣態")
    assert match_kind("4", KINDS) == match_kind("第４種", KINDS) == "服務方法創新"
    assert match_kind("公私協力", KINDS) == "公私協力或異業結盟"
    assert match_kind("其他", KINDS) == "其他創新服務樣態"
    assert match_kind("9", KINDS) is None and match_kind("服務", KINDS) is None


def test_split_the_template_with_numbering_and_guidance():
    pasted = split_proposal(PASTED, KINDS, agency=AGENCY)
    assert pasted.is_proposal
    assert pasted.fields == {
        "title": "河川巡守志工行動通報",
        "background": "河川巡守志工發現違規時須回局填寫紙本通報。",
        "solution": "以行動裝置拍照即時通報。",
        "benefits": "通報當日即可派員處理。",
        "external_benefits": "通報處理時間由 3 天縮短為半天。",
        "internal_benefits": "紙本通報每年減少 600 張。",
        "ict_adoption": "行動通報 App 與雲端案件系統。",
        "evidence_note": "https://www.wra10.gov.tw/patrol",
    }


def test_split_without_numbering_in_halfwidth_punctuation():
    text = ("名稱: 防汛資訊主動推播\n類型: 5\n背景與問題描述: 民眾不知道何時會淹水\n"
            "解決方法: 以 LINE 推播水位\n實際效益: 訂閱 1200 人\n外部效益: 減少詢問電話 40%\n"
            "內部效益: 值班人力減少 1 人\n流程整合: 與縣府災害應變中心共用資料\n"
            "資通訊服務導入: 雲端推播平台\n附件: 宜蘭縣員山鄉某路 1 號")
    pasted = split_proposal(text, KINDS)
    assert pasted.fields["title"] == "防汛資訊主動推播"
    assert pasted.fields["kind"] == "服務評價回饋"
    assert pasted.fields["background"] == "民眾不知道何時會淹水"
    assert pasted.fields["process_integration"] == "與縣府災害應變中心共用資料"
    assert pasted.fields["evidence_note"] == "宜蘭縣員山鄉某路 1 號"
    assert len(pasted.fields) == 10


def test_split_fullwidth_brackets_and_containers_holding_text():
    text = ("【壹．專案總說明】\n本案源自民眾陳情。\n（一）個案背景：堤防步道照明不足。\n"
            "貳、創新服務實際績效\n夜間使用人次增加 3 成。\n"
            "參、創新服務解決手法\n與鄉公所合作維護。\n")
    pasted = split_proposal(text, KINDS)
    assert pasted.fields == {
        "background": "本案源自民眾陳情。\n堤防步道照明不足。",
        "external_benefits": "夜間使用人次增加 3 成。",
        "process_integration": "與鄉公所合作維護。",
    }


def test_text_before_the_first_heading_is_the_name_if_short_else_background():
    short = split_proposal("堤防夜間照明改善\n背景：步道太暗\n解決方法：裝設太陽能燈", KINDS)
    assert short.fields["title"] == "堤防夜間照明改善"
    long_opening = "本局轄區堤防步道長約十二公里，夜間照明不足，" * 3
    long = split_proposal(f"{long_opening}\n解決方法：裝設太陽能燈\n實際效益：夜間人次增加", KINDS)
    assert "title" not in long.fields
    assert long.fields["background"] == long_opening


def test_one_heading_or_plain_words_are_not_a_pasted_proposal():
    assert not split_proposal("外部效益：每年節省 300 小時", KINDS).is_proposal
    assert not split_proposal("背景說明如下\n民眾需要臨櫃辦理", KINDS).headings
    unknown = split_proposal("名稱：甲\n類型：不知道\n背景：乙", KINDS)
    assert unknown.unknown_kind == "不知道" and "kind" not in unknown.fields


def test_quantities_are_recognised():
    assert has_numbers("由 14 天縮短為 5 天") and has_numbers("減少三成") and has_numbers("１２件")
    assert not has_numbers("民眾免再往返，更加便利")
    assert has_numbers("1,200人次") and has_numbers("由35%提升至62%")
    # A case's ordinal or a year says nothing of how much (issue #14).
    assert not has_numbers("案例3：櫃台增設引導標示") and not has_numbers("115年起實施")


# --- writing a proposal ----------------------------------------------------------------------


def test_guided_proposal_is_submitted_with_a_reference_and_a_card(office):
    bind_group(office)
    chat = office.chat("王小明")
    write_proposal(chat)
    review = chat.text
    for heading in ("壹、專案總說明", "一、個案背景與問題描述", "貳、創新服務實際績效",
                    "參、創新服務解決手法", "二、資通訊服務導入", "肆、附件"):
        assert heading in review
    assert "經濟部水利署第十河川局河川公地申請線上預審" in review
    chat.press("送出提案")
    assert "提案編號：115-P-0001" in chat.text and "115年11月27日" in chat.text
    (row,) = proposals(office)
    assert row.status == ProposalStatus.SUBMITTED and row.reference == "115-P-0001"
    assert row.roc_year == 115 and row.kind == "服務方法創新"
    assert {name: getattr(row, name) for name in ANSWERS} == ANSWERS
    assert row.evidence_note == "https://www.wra10.gov.tw/apply"
    card, odt, docx = to_group(office)
    for part in ("【創意提案】115-P-0001", "創意服務名稱：河川公地申請線上預審",
                 "創新服務類型：服務方法創新", "提案課室：規劃課", "提案人：王小明",
                 "摘要：民眾申請河川公地使用須親自到局臨櫃，往返費時。建置線上預審系統"):
        assert part in card.text, card.text
    assert [c.label for c in card.choices] == ["採用", "不採用", "已實施", "請補件"]
    assert card.card is not None and ("課室", "規劃課") in card.card.rows
    assert odt.document is not None and odt.document.filename.endswith(".odt")
    assert docx.document is not None and docx.document.filename.endswith(".docx")
    paragraphs = [p.text for p in open_docx(io.BytesIO(docx.document.content)).paragraphs]
    assert paragraphs[0] == "經濟部水利署第十河川局河川公地申請線上預審"
    assert ANSWERS["internal_benefits"] in paragraphs and "肆、附件" in paragraphs
    odt_text = [p.text_recursive for p in
                open_odt(io.BytesIO(odt.document.content)).body.get_paragraphs()]
    assert odt_text == paragraphs


def test_every_field_can_be_skipped_and_the_draft_survives_a_restart(office, clock):
    chat = office.chat("王小明")
    chat.say("提案")
    chat.say("堤防夜間照明改善")
    chat.press("略過")  # kind
    assert "第 3/10 項" in chat.text
    chat.say("上一項")
    assert "第 2/10 項" in chat.text
    chat.say("2")
    chat.say("步道夜間太暗。")
    chat.say("略過")
    chat.say("暫停")
    assert "已儲存" in chat.text
    # Days later, in a new process: nothing of the conversation is kept in memory.
    clock.set(clock.now + timedelta(days=5))
    later = Chat(Dispatcher(office.database, office.dispatcher.config, clock=clock),
                 chat.channel, chat.user_id, events=itertools.count(1000))
    later.say("創意提案")
    assert "「堤防夜間照明改善」草稿，已填 3/10 項" in later.text
    later.press("繼續「堤防夜間照明改善」")
    assert "第 4/10 項　採用解決方法" in later.text, later.text
    later.say("檢視")
    assert "送出前還需要填寫：採用解決方法、實際效益" in later.text
    assert "送出提案" not in [c.label for c in later.choices]
    later.say("送出")  # refused while required fields are missing
    assert "還不能送出，請先填寫：採用解決方法、實際效益" in later.text
    assert proposals(office)[0].status == ProposalStatus.DRAFT


def test_benefits_without_numbers_are_questioned(office):
    chat = office.chat("王小明")
    chat.say("創意提案")
    chat.say("跳到 6")
    assert "第 6/10 項　外部效益" in chat.text and "量化數據" in chat.text
    chat.say("民眾免再往返")
    assert "內容沒有看到數字" in chat.text
    chat.say("每年約 300 件")
    assert "已補充外部效益" in chat.text and "第 7/10 項　內部效益" in chat.text
    assert proposals(office)[0].external_benefits == "民眾免再往返\n每年約 300 件"


def test_a_pasted_proposal_fills_the_fields_and_only_the_missing_are_asked(office):
    chat = office.chat("王小明")
    chat.say(PASTED)  # at the menu: a new draft
    assert "已從貼上的內容填入 8 項" in chat.text, chat.text
    assert "還缺 2 項：創新服務類型、流程整合" in chat.text
    assert "第 2/10 項　創新服務類型" in chat.text
    chat.press("服務方法創新")
    assert "第 8/10 項　流程整合" in chat.text
    chat.press("略過")
    assert "【提案檢視】" in chat.text and "內容已可送出" in chat.text
    row = proposals(office)[0]
    assert row.title == "河川巡守志工行動通報" and row.kind == "服務方法創新"
    assert row.process_integration is None and row.ict_adoption.startswith("行動通報")


def test_a_paste_during_the_flow_replaces_what_it_holds(office):
    chat = office.chat("王小明")
    chat.say("創意提案")
    chat.say("舊名稱")
    chat.say("名稱：新名稱\n類型：在地化特色服務\n背景：轄區多觀光河段")
    assert "已從貼上的內容填入 3 項" in chat.text
    assert "第 4/10 項　採用解決方法" in chat.text
    row = proposals(office)[0]
    assert (row.title, row.kind, row.background) == ("新名稱", "在地化特色服務", "轄區多觀光河段")


def test_files_join_the_attachments_at_any_field(office):
    chat = office.chat("王小明")
    chat.say("創意提案")
    chat.send_file(b"\x89PNG site photo", filename="現場.png", mime_type="image/png",
                   kind="photo")
    assert "已收到照片「現場.png」" in chat.text and "第 1/10 項" in chat.text
    chat.send_file(b"x" * (2 * 1024 * 1024), filename="big.pdf")
    assert "檔案太大" in chat.text
    with office.database.transaction() as session:
        files = session.exec(select(Attachment)).all()
    assert [(f.filename, f.proposal_id, f.answer_id) for f in files] == [
        ("現場.png", proposals(office)[0].id, None)]


# --- the secretariat's decisions -------------------------------------------------------------


def test_adopt_then_implemented_with_an_address_and_the_proposer_is_told(office):
    bind_group(office)
    staff = submitted(office)
    secretary = office.chat("陳秘書")
    card = to_group(office)[0]
    secretary.act(card.choices[0].action)  # 採用
    assert "已決定：115-P-0001「河川公地申請線上預審」，採用" in secretary.text
    assert secretary.choices[0].label == "已實施"
    secretary.press("已實施")
    secretary.say("下週完成")
    assert "不像網址或地址" in secretary.text
    secretary.say("https://www.wra10.gov.tw/apply")
    row = proposals(office)[0]
    assert row.status == ProposalStatus.IMPLEMENTED
    assert row.decision_note == "https://www.wra10.gov.tw/apply"
    assert row.decided_by_member_id == office.member("陳秘書").id
    notices = [m.text for m in told(office, staff)]
    assert any("經秘書室決定：採用" in t for t in notices)
    assert any("已實施" in t and "https://www.wra10.gov.tw/apply" in t for t in notices)
    with office.database.transaction() as session:
        agency = session.exec(select(Agency)).one()
        table = build_annual_table(session, agency, 115)
    assert table.adopted_proposals == (("河川公地申請線上預審", "王小明", "規劃課"),)


def test_a_stale_card_button_cannot_decide_twice(office):
    bind_group(office)
    submitted(office)
    office.add_member("李秘書", "秘書室", Role.SECRETARIAT)
    first, second = office.chat("陳秘書"), office.chat("李秘書")
    card = to_group(office)[0]
    adopt, reject = card.choices[0].action, card.choices[1].action
    first.act(adopt)
    second.act(reject)
    assert "已由陳秘書於115年11月27日決定：採用，這個按鈕已失效" in second.text
    second.act(adopt)
    assert "這個按鈕已失效" in second.text
    assert proposals(office)[0].status == ProposalStatus.ADOPTED
    with office.database.transaction() as session:
        actions = [e.action for e in session.exec(select(AuditEvent).where(
            AuditEvent.action.like("proposal.%"), AuditEvent.action != "proposal.edit")).all()]
    assert actions == ["proposal.submit", "proposal.adopted"]


def test_a_reason_started_on_a_proposal_decided_meanwhile_is_refused(office):
    bind_group(office)
    submitted(office)
    office.add_member("李秘書", "秘書室", Role.SECRETARIAT)
    first, second = office.chat("陳秘書"), office.chat("李秘書")
    card = to_group(office)[0]
    second.act(card.choices[1].action)  # 不採用: asks for the reason
    first.act(card.choices[0].action)  # 採用, meanwhile
    second.say("經費不足")
    assert "這個按鈕已失效" in second.text
    row = proposals(office)[0]
    assert row.status == ProposalStatus.ADOPTED and row.decision_note is None


def test_more_information_then_resubmitted_under_the_same_number(office):
    bind_group(office)
    staff = submitted(office)
    secretary = office.chat("陳秘書")
    card = to_group(office)[0]
    secretary.act(card.choices[3].action)  # 請補件
    secretary.say("請補充每年受理件數的統計來源")
    assert proposals(office)[0].status == ProposalStatus.MORE_INFO
    notice = told(office, staff)[-1]
    assert "秘書室請您補充資料：請補充每年受理件數的統計來源" in notice.text
    secretary.say("提案清單 待補件")
    secretary.press("開啟 115-P-0001")
    assert "【提案檢視】115-P-0001（待補件）" in secretary.text
    assert "秘書室決定：待補件" in secretary.text
    assert [c.label for c in secretary.choices] == ["提案清單", "選單"]  # nothing to edit
    staff.act(notice.choices[0].action)  # 補充提案
    assert "秘書室請您補充：請補充每年受理件數的統計來源" in staff.text
    staff.press("修改內容")
    staff.press("外部效益")
    staff.say("依本局收文系統統計，每年約 300 件，平均由 14 天縮短為 5 天。")
    assert "【提案檢視】115-P-0001（待補件）" in staff.text
    staff.press("送出提案")
    assert "補件後重新送出" in staff.text and "115-P-0001" in staff.text
    row = proposals(office)[0]
    assert row.status == ProposalStatus.SUBMITTED and row.reference == "115-P-0001"
    cards = [m for m in to_group(office) if m.text.startswith("【創意提案】")]
    assert len(cards) == 2 and "補件後重新送出" in cards[1].text
    secretary.act(cards[0].choices[0].action)  # the first card's 採用: stale
    assert "已更新後重新送出" in secretary.text
    secretary.act(cards[1].choices[0].action)
    assert proposals(office)[0].status == ProposalStatus.ADOPTED
    staff.act(notice.choices[0].action)  # 補充提案 once more: no longer editable
    assert "秘書室已決定：採用，無法再修改" in staff.text


def test_decisions_in_the_bound_group(office):
    bind_group(office)
    staff = submitted(office)
    secretary = office.chat("陳秘書")
    for chat in (secretary, staff):
        chat.chat_kind, chat.chat_id = ChatKind.GROUP, "g-1"
    card = to_group(office)[0]
    assert staff.act(card.choices[0].action) == []  # not the secretariat: the group is quiet
    secretary.act(card.choices[1].action)
    secretary.say("與既有線上申辦系統重複")
    assert "不採用" in secretary.text
    row = proposals(office)[0]
    assert row.status == ProposalStatus.REJECTED and row.decision_note == "與既有線上申辦系統重複"
    secretary.say("提案清單 不採用")
    assert "【不採用】1 件" in secretary.text


# --- rights ----------------------------------------------------------------------------------


def test_only_the_secretariat_decides(office):
    bind_group(office)
    staff = submitted(office)
    card = to_group(office)[0]
    staff.act(card.choices[0].action)
    assert "您的角色無法使用這項功能" in staff.text
    assert proposals(office)[0].status == ProposalStatus.SUBMITTED


def test_another_agencys_secretariat_cannot_decide(office):
    bind_group(office)
    submitted(office)
    with office.database.transaction() as session:
        other = create_agency(session=session, name="經濟部水利署第一河川局")
        add_member(session=session, agency=other, name="外局秘書", role=Role.SECRETARIAT)
    outsider = office.chat("外局秘書")
    outsider.act(to_group(office)[0].choices[0].action)
    assert "無法辨識這個按鈕" in outsider.text
    assert proposals(office)[0].status == ProposalStatus.SUBMITTED
    outsider.say("提案清單")
    assert "共 0 件" in outsider.text


def test_a_member_edits_only_their_own_draft(office):
    owner = office.chat("王小明")
    owner.say("創意提案")
    owner.say("王小明的提案")
    theirs = proposals(office)[0].id
    other = office.chat("林課長")
    other.say("創意提案")
    # Buttons forged with another's proposal: the window never drew them, so the engine
    # calls them unknown and asks its own question again; nothing of theirs changes.
    for verb, args in (("cont", (theirs,)), ("on", (theirs,)), ("field", (theirs, 0)),
                       ("send", (theirs,)), ("rev", (theirs,))):
        other.act(Token(step_of(other), verb, tuple(str(a) for a in args)).encode())
        assert "無法辨識這個按鈕" in other.text, (verb, other.text)
        assert "第 1/10 項" in other.text, (verb, other.text)
    other.act(Token(0, "po", (str(theirs),)).encode())  # a notice's 開啟 button
    assert "這份提案不是您提出的" in other.text
    assert proposals(office)[0].title == "王小明的提案"
    assert proposals(office)[0].status == ProposalStatus.DRAFT


def test_old_flow_buttons_are_stale(office):
    chat = office.chat("王小明")
    chat.say("創意提案")
    old = chat.choice("略過").action
    chat.say("新名稱")
    chat.act(old)
    assert "這個按鈕已經過期" in chat.text
    assert "第 2/10 項" in chat.text  # the step being asked is shown again


def test_every_button_fits_telegram(office):
    bind_group(office)
    submitted(office)
    secretary = office.chat("陳秘書")
    secretary.say("提案清單")
    actions = [c.action for c in secretary.choices]
    actions += [c["action"] for m in office.outbox() for c in m.payload["choices"]]
    assert actions and all(len(a.encode()) <= 64 for a in actions)


# --- 提案清單 ---------------------------------------------------------------------------------


def test_the_list_by_status_year_section_and_kind(office):
    staff = submitted(office)
    office.add_member("張技士", "工務課")
    submitted(office, "張技士", answers={**ANSWERS, "title": "堤防步道照明"},
              kind="在地化特色服務")
    secretary = office.chat("陳秘書")
    secretary.say("提案清單")
    assert "創意提案清單（115年度；共 2 件）" in secretary.text
    assert "115-P-0002「堤防步道照明」 工務課 張技士｜在地化特色服務" in secretary.text
    secretary.say("提案清單 工務課")
    assert "共 1 件" in secretary.text and "堤防步道照明" in secretary.text
    secretary.say("提案清單 服務方法創新")
    assert "共 1 件" in secretary.text and "河川公地申請線上預審" in secretary.text
    secretary.say("提案清單 114")
    assert "共 0 件" in secretary.text
    secretary.say("提案清單 已實施")
    assert "共 0 件" in secretary.text
    secretary.press("待決定")
    assert "【待決定】2 件" in secretary.text
    secretary.press("開啟 115-P-0001")
    assert "【提案檢視】115-P-0001（待決定）" in secretary.text
    assert [r.document.filename.rsplit(".", 1)[1] for r in secretary.last if r.document] == [
        "odt", "docx"]
    secretary.say("提案清單 甲乙丙")
    assert "看不懂「甲乙丙」" in secretary.text
    staff.say("提案清單")
    assert "我的創意提案（共 1 件）" in staff.text and "堤防步道照明" not in staff.text


# --- adopted proposals as evidence of 6.1–6.3 ------------------------------------------------


def test_adopted_proposals_are_offered_in_6_1_to_6_3(office):
    bind_group(office)
    staff = submitted(office)
    secretary = office.chat("陳秘書")
    secretary.act(to_group(office)[0].choices[0].action)
    staff.say("填寫自評")
    staff.say("跳到 6.1")
    assert "本課室已採用的創意提案（可作為佐證）" in staff.text
    assert "115-P-0001「河川公地申請線上預審」（採用）" in staff.text
    staff.say("40")  # on to 6.2 at once; the citation is offered for the answer just given
    staff.press("6.1 引用 115-P-0001")
    assert "已將創意提案 115-P-0001 列為 6.1 的佐證" in staff.text
    assert "第 21/25 題" in staff.text  # still at 6.2
    assert "6.1 引用 115-P-0001" not in [c.label for c in staff.choices]
    with office.database.transaction() as session:
        answer = session.exec(select(Answer).where(Answer.question_code == "6.1")).one()
    assert answer.evidence_text == "創意提案 115-P-0001「河川公地申請線上預審」（採用）"
    staff.say("跳到 5.1")
    assert "創意提案" not in staff.text
    office.add_member("張技士", "工務課")
    other = office.chat("張技士")
    other.say("填寫自評")
    other.say("跳到 6.1")
    assert "本課室已採用的創意提案" not in other.text


def test_references_count_up_within_the_year(office, clock):
    submitted(office)
    submitted(office, "林課長")
    clock.set(clock.now + timedelta(days=40))  # 116年1月
    submitted(office, "陳秘書")
    assert [(p.reference, p.roc_year) for p in proposals(office)] == [
        ("115-P-0001", 115), ("115-P-0002", 115), ("116-P-0001", 116)]


def test_two_untitled_drafts_get_buttons_a_typed_label_can_tell_apart(office):
    """Found by the fuzz test: two drafts without a title were both 「繼續「（未命名）」」,
    so typing the label could only ever continue the first."""
    chat = office.chat("王小明")
    chat.say("創意提案")
    chat.press("略過")  # no title
    chat.press("服務流程便捷")  # but something chosen
    chat.say("暫停")
    chat.say("創意提案")
    chat.press("新提案")
    chat.say("暫停")
    chat.say("創意提案")
    labels = [c.label for c in chat.choices if c.label.startswith("繼續")]
    assert labels == ["繼續 1「（未命名）」", "繼續 2「（未命名）」"]
    chat.say("繼續 2「（未命名）」")  # typed
    typed = [r.text for r in chat.last]
    chat.say("暫停")
    chat.say("創意提案")
    chat.press("繼續 2「（未命名）」")  # pressed
    assert typed == [r.text for r in chat.last]
    assert "第 1/10 項" in typed[-1]  # the empty second draft, from its first field
