"""The proposal (創意提案) conversation and the secretariat's decisions on proposals.

A bound member writes a proposal field by field along the seed's 附錄1 template (or pastes
a whole one in one message), reviews it and submits it. The secretariat gets a card with
the proposal attached as ODT and DOCX and decides: 採用, 不採用 (with a reason), 已實施 (with
the URL or address where it can be checked) or 請補件 (the proposer edits and resubmits).
The proposer is told each decision.

The proposer's buttons carry the conversation step (a press from an older message is
stale). Decision buttons travel on cards through the outbox, so they carry no step but the
proposal's *mark* — its status and the moment it reached it — and are refused once the
proposal has moved on: a decided proposal cannot be decided twice by a stale button.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from handlers import texts
from handlers.assessment import Refused, main_menu_choices
from handlers.messages import Card, Choice, Document, Outgoing
from handlers.proposal_text import (
    FIELD_BY_NAME,
    FIELD_NAMES,
    FIELDS,
    innovation_kinds,
    match_kind,
)
from handlers.secretariat import _require_desk
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from reports.proposal_doc import (
    CLOSING_NOTE,
    ProposalDocument,
    build_proposal_document,
    outline,
    proposal_docx,
    proposal_odt,
)
from rubric import Period, latest_rubric_year, load_year, to_halfwidth
from rubric.periods import format_roc_date
from storage.errors import NotFound
from storage.models import Agency, Attachment, Member, Proposal, ProposalStatus, Section
from storage.org import get_section, list_sections
from storage.proposals import (
    DECISIONS,
    EDITABLE,
    get_proposal,
    list_proposals,
    lock_proposal,
    proposal_attachments,
    submit_proposal,
)

logger = logging.getLogger(__name__)

ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#: One letter per status in tokens and marks.
STATUS_CODES = {"d": ProposalStatus.DRAFT, "s": ProposalStatus.SUBMITTED,
                "m": ProposalStatus.MORE_INFO, "a": ProposalStatus.ADOPTED,
                "j": ProposalStatus.REJECTED, "i": ProposalStatus.IMPLEMENTED}
_CODE_OF = {status: code for code, status in STATUS_CODES.items()}
#: The decision buttons, in the order shown: verb → (label, decision).
DECISION_VERBS: dict[str, tuple[str, ProposalStatus]] = {
    "pa": (texts.ADOPT, ProposalStatus.ADOPTED),
    "pj": (texts.REJECT, ProposalStatus.REJECTED),
    "pi": (texts.IMPLEMENTED, ProposalStatus.IMPLEMENTED),
    "pm": (texts.ASK_MORE, ProposalStatus.MORE_INFO),
}
STEPLESS_VERBS = ("po",)  # 補充提案 on a notice (the decisions are handlers.dialogs.decide)
VERBS = ("pl", "pv")  # the lists' buttons (writing is handlers.dialogs.propose)
_FILENAME_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
LIST_BUTTONS = 5


def _member(turn: Turn) -> Member:
    assert turn.member is not None
    return turn.member


def _agency(turn: Turn) -> Agency:
    agency = turn.session.get(Agency, _member(turn).agency_id)
    assert agency is not None
    return agency


def _kinds(turn: Turn) -> tuple[str, ...]:
    agency = _agency(turn)
    year = agency.rubric_year or latest_rubric_year(Period.of(turn.now).roc_year)
    return innovation_kinds(load_year(year))


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _title(proposal: Proposal) -> str:
    return proposal.title or "（未命名）"


def _named(proposal: Proposal) -> str:
    """``115-P-0003「河川公地線上預審」`` (a draft has no number yet)."""
    return f"{proposal.reference or ''}「{_title(proposal)}」"


def _status(proposal: Proposal) -> str:
    return texts.PROPOSAL_STATUS_LABELS.get(ProposalStatus(proposal.status), proposal.status)


def mark_of(proposal: Proposal) -> str:
    """The proposal's status and the second it reached it (``s1795741200``)."""
    status = ProposalStatus(proposal.status)
    when = proposal.submitted_at if status == ProposalStatus.SUBMITTED else proposal.decided_at
    return f"{_CODE_OF[status]}{int(when.timestamp()) if when else 0}"


# --- reading a proposal ----------------------------------------------------------------------


def _files(turn: Turn, proposal: Proposal) -> Sequence[Attachment]:
    return proposal_attachments(session=turn.session, proposal_id=proposal.id or 0)


def _filled(turn: Turn, proposal: Proposal, name: str) -> bool:
    if (getattr(proposal, name) or "").strip():
        return True
    return name == "evidence_note" and bool(_files(turn, proposal))


def missing_fields(turn: Turn, proposal: Proposal) -> list[str]:
    """The template's fields not filled in yet, in order (附件: no note and no file)."""
    return [name for name in FIELD_NAMES if not _filled(turn, proposal, name)]


def unmet(proposal: Proposal) -> list[str]:
    """What a proposal needs before it can be submitted (the labels of the fields)."""
    def empty(name: str) -> bool:
        return not (getattr(proposal, name) or "").strip()

    needed = [FIELD_BY_NAME[n].label for n in ("title", "kind", "background", "solution",
                                                "benefits") if empty(n)]
    if empty("external_benefits") and empty("internal_benefits"):
        needed.append("外部效益或內部效益（至少一項）")
    if empty("process_integration") and empty("ict_adoption"):
        needed.append("流程整合或資通訊服務導入（至少一項）")
    return needed


def summary_of(proposal: Proposal, limit: int = 160) -> str:
    """One paragraph: the first sentence of the background, the solution and the benefits."""
    sentences = []
    for name in ("background", "solution", "benefits"):
        text = (getattr(proposal, name) or "").strip()
        if not text:
            continue
        first = re.split(r"(?<=[。！？!?])|\n", text, maxsplit=1)[0].strip()
        sentences.append(first if first.endswith(("。", "！", "？")) else f"{first}。")
    summary = "".join(sentences) or "（提案內容尚未填寫）"
    return summary if len(summary) <= limit else summary[:limit - 1] + "…"


def _stem(proposal: Proposal) -> str:
    return _FILENAME_UNSAFE.sub("_", f"{proposal.reference or '草稿'}_{_title(proposal)}")[:60]


def _rendered(document: ProposalDocument, named: str, stem: str) -> list[Outgoing]:
    """The proposal as ODT and DOCX, one message each (no database needed)."""
    return [Outgoing(f"{named}提案全文（ODT）",
                     document=Document(f"{stem}.odt", proposal_odt(document), ODT)),
            Outgoing(f"{named}提案全文（DOCX）",
                     document=Document(f"{stem}.docx", proposal_docx(document), DOCX))]


def _documents(turn: Turn, proposal: Proposal) -> list[Outgoing]:
    """The proposal as ODT and DOCX for the outbox: queued in the transaction that queues its
    notice, so the notice never goes out without its files."""
    return _rendered(build_proposal_document(turn.session, proposal), _named(proposal),
                     _stem(proposal))


# --- finding the proposal a message or button is about ---------------------------------------


def _own(turn: Turn, proposal_id: int | None, *, editing: bool) -> Proposal:
    """The member's own proposal; Refused if it is someone else's (or not editable)."""
    proposal = None
    if proposal_id is not None:
        proposal = lock_proposal(session=turn.session, proposal_id=proposal_id) if editing \
            else get_proposal(session=turn.session, proposal_id=proposal_id)
    if proposal is None or proposal.proposer_member_id != _member(turn).id:
        logger.warning("refused proposal %s to member %s", proposal_id, _member(turn).id)
        raise Refused(texts.NOT_YOUR_PROPOSAL)
    if editing and proposal.status not in EDITABLE:
        if proposal.status == ProposalStatus.SUBMITTED:
            raise Refused(texts.PROPOSAL_LOCKED)
        raise Refused(f"提案 {_named(proposal)} 秘書室已決定：{_status(proposal)}，無法再修改。")
    return proposal


def _token_proposal(turn: Turn, token: Token, *, editing: bool) -> Proposal:
    try:
        proposal_id = token.int_arg(0)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    return _own(turn, proposal_id, editing=editing)


def _token_index(token: Token, size: int) -> int:
    try:
        index = token.int_arg(1)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    if index >= size:
        raise Refused(texts.UNKNOWN_BUTTON)
    return index


def draft_line(turn: Turn, proposal: Proposal) -> str:
    """``「…」草稿，已填 3/10 項`` (or what the secretariat asked for)."""
    filled = len(FIELDS) - len(missing_fields(turn, proposal))
    if proposal.status == ProposalStatus.MORE_INFO:
        return (f"{_named(proposal)} 待補件：{_quote(proposal.decision_note or '', 30)}")
    return f"「{_title(proposal)}」草稿，已填 {filled}/{len(FIELDS)} 項"


# --- review and submission -------------------------------------------------------------------


def review_text(turn: Turn, proposal: Proposal) -> str:
    """The whole proposal as 附錄1 lays it out, with its status and what is missing."""
    if proposal.status == ProposalStatus.DRAFT:
        filled = len(FIELDS) - len(missing_fields(turn, proposal))
        head = f"【提案檢視】草稿（已填 {filled}/{len(FIELDS)} 項）"
    else:
        head = f"【提案檢視】{proposal.reference}（{_status(proposal)}）"
    body = [block.text for block in outline(build_proposal_document(turn.session, proposal))
            if block.text != CLOSING_NOTE]  # the form's own note, not the chat's
    lines = [head, *body]
    decision = _decision_line(turn, proposal)
    if decision:
        lines += ["", decision]
    if proposal.status in EDITABLE and proposal.proposer_member_id == _member(turn).id:
        needed = unmet(proposal)
        optional = [FIELD_BY_NAME[n].label for n in missing_fields(turn, proposal)
                    if FIELD_BY_NAME[n].label not in needed]
        lines.append("")
        if needed:
            lines.append(f"送出前還需要填寫：{'、'.join(needed)}。")
        else:
            lines.append(f"內容已可送出，請確認後按「{texts.PROPOSAL_SUBMIT}」。")
        if optional and needed != optional:
            lines.append(f"尚未填寫（可補充）：{'、'.join(optional)}。")
    return "\n".join(lines)


def _decision_line(turn: Turn, proposal: Proposal) -> str | None:
    if proposal.decided_at is None or proposal.status in (ProposalStatus.DRAFT,
                                                          ProposalStatus.SUBMITTED):
        return None
    who = turn.session.get(Member, proposal.decided_by_member_id) \
        if proposal.decided_by_member_id else None
    line = (f"秘書室決定：{_status(proposal)}（{format_roc_date(proposal.decided_at)}"
            f"{'，' + who.name if who else ''}）")
    return f"{line}\n{proposal.decision_note}" if proposal.decision_note else line


def show_review(turn: Turn, proposal: Proposal, *, prefix: str | None = None) -> None:
    """The whole proposal: the member's own editable one opens where it is written
    (handlers.dialogs.propose); any other is shown as it stands, with the way on."""
    if proposal.status in EDITABLE and proposal.proposer_member_id == _member(turn).id:
        from handlers.dialogs import propose

        propose.resume(turn, proposal, prefix=prefix)
        return
    text = review_text(turn, proposal)
    turn.state.to_menu()
    turn.state.proposal_id = proposal.id
    turn.say(f"{prefix}\n\n{text}" if prefix else text,
             [turn.menu_choice(texts.PROPOSALS, "proposals"), turn.menu_choice(texts.MENU, "menu")])


def submit(turn: Turn, proposal: Proposal) -> None:
    """送出提案: number it, give the receipt, send the card and the files to the secretariat."""
    needed = unmet(proposal)
    if needed:  # the dialog checks first; a second member of the draft cannot clear it
        raise Refused(f"還不能送出，請先填寫：{'、'.join(needed)}。")
    member = _member(turn)
    again = proposal.reference is not None
    reference = submit_proposal(session=turn.session, proposal=proposal, member=member,
                                roc_year=Period.of(turn.now).roc_year, now=turn.now)
    when = texts.roc_datetime(turn.now)
    section = turn.session.get(Section, proposal.section_id) if proposal.section_id else None
    section_name = section.name if section else "—"
    turn.state.to_menu()
    turn.state.proposal_id = proposal.id
    rows = (("提案編號", reference), ("創意服務名稱", _title(proposal)),
            ("創新服務類型", proposal.kind or "—"), ("送出時間", when))
    turn.say("\n".join(["創意提案已送出" + ("（補件後重新送出）" if again else ""),
                        *(f"{label}：{value}" for label, value in rows), "",
                        "秘書室決定後會通知您（採用、不採用、已實施或請補件）。"]),
             main_menu_choices(turn),
             card=Card(f"創意提案 {reference}" + ("（補件後重新送出）" if again else ""),
                       rows, "秘書室決定後會通知您（採用、不採用、已實施或請補件）。", note=""))
    summary = summary_of(proposal)
    notice = Outgoing(
        "\n".join([f"【創意提案】{reference}" + ("（補件後重新送出）" if again else ""),
                   f"創意服務名稱：{_title(proposal)}",
                   f"創新服務類型：{proposal.kind or '—'}",
                   f"提案課室：{section_name}",
                   f"提案人：{member.name}（{when} 送出）",
                   f"摘要：{summary}",
                   "提案全文如附（ODT、DOCX）。"]),
        choices=decision_choices(proposal),
        card=Card(f"【創意提案】{reference}" + ("（補件後重新送出）" if again else ""),
                  (("名稱", _title(proposal)), ("類型", proposal.kind or "—"),
                   ("課室", section_name), ("提案人", member.name), ("送出時間", when)),
                  f"摘要：{summary}\n提案全文如附（ODT、DOCX）。", note=""),
        meta={"kind": "proposal", "proposal_id": proposal.id})
    key = f"proposal:{proposal.id}:{mark_of(proposal)}"
    turn.notify_secretariat(proposal.agency_id, notice, key=key)
    for number, document in enumerate(_documents(turn, proposal), start=1):
        turn.notify_secretariat(proposal.agency_id, document, key=f"{key}:file{number}")


# --- the secretariat's decisions -------------------------------------------------------------


def decision_choices(proposal: Proposal) -> tuple[Choice, ...]:
    """The decisions that can be taken now, as buttons bound to the proposal's mark."""
    mark = mark_of(proposal)
    return tuple(Choice(label, Token(0, verb, (str(proposal.id), mark)).encode())
                 for verb, (label, decision) in DECISION_VERBS.items()
                 if proposal.status in DECISIONS[decision])


def handle_stepless(turn: Turn, token: Token) -> None:
    """補充提案 on a notice: the proposer's proposal that was sent back, to change."""
    from handlers.dialogs import propose

    propose.resume(turn, _token_proposal(turn, token, editing=True))


# --- buttons of the lists --------------------------------------------------------------------


def handle_action(turn: Turn, token: Token) -> None:
    """A button of 提案清單 (the step was checked by the dispatcher)."""
    if token.verb == "pl":
        _list_button(turn, token)
    elif token.verb == "pv":
        view(turn, token)
    else:  # pragma: no cover - the dispatcher sends only VERBS here
        raise Refused(texts.UNKNOWN_BUTTON)


def view(turn: Turn, token: Token) -> None:
    """開啟 a proposal from a list: one's own, or any submitted one for the secretariat."""
    try:
        proposal = get_proposal(session=turn.session, proposal_id=token.int_arg(0))
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    member = _member(turn)
    own = proposal is not None and proposal.proposer_member_id == member.id
    if proposal is None or proposal.agency_id != member.agency_id or not (
            own or (turn.is_secretariat and proposal.status != ProposalStatus.DRAFT)):
        raise Refused(texts.NOT_YOUR_PROPOSAL)
    show_review(turn, proposal)
    if own and proposal.status in EDITABLE:
        return
    if turn.is_secretariat:
        choices = decision_choices(proposal)
        if choices:
            turn.replies[-1] = Outgoing(turn.replies[-1].text,
                                        (*choices, *turn.replies[-1].choices))
        document = build_proposal_document(turn.session, proposal)
        named, stem = _named(proposal), _stem(proposal)
        # Written out after the commit, from the document's plain data: no lock held.
        turn.defer(lambda: turn.replies.extend(_rendered(document, named, stem)))


# --- 提案清單 ---------------------------------------------------------------------------------

_STATUS_WORDS = {
    "待決定": ProposalStatus.SUBMITTED, "已送出": ProposalStatus.SUBMITTED,
    "待補件": ProposalStatus.MORE_INFO, "補件": ProposalStatus.MORE_INFO,
    "補件中": ProposalStatus.MORE_INFO, "採用": ProposalStatus.ADOPTED,
    "已採用": ProposalStatus.ADOPTED, "不採用": ProposalStatus.REJECTED,
    "已實施": ProposalStatus.IMPLEMENTED, "實施": ProposalStatus.IMPLEMENTED,
}
_LISTED = (ProposalStatus.SUBMITTED, ProposalStatus.MORE_INFO, ProposalStatus.ADOPTED,
           ProposalStatus.IMPLEMENTED, ProposalStatus.REJECTED)
_LIST_USAGE = ("格式：提案清單 [年度] [狀態] [課室] [類型]，例如：提案清單 115 待決定 規劃課。"
               "狀態：待決定、待補件、採用、已實施、不採用；「全部」列出所有年度。")


@dataclass(frozen=True)
class ListFilter:
    """Which proposals 提案清單 shows."""

    roc_year: int | None
    statuses: tuple[ProposalStatus, ...] = _LISTED
    section: Section | None = None
    kind: str | None = None

    def describe(self) -> str:
        """``115年度；待決定；規劃課``."""
        parts = [f"{self.roc_year}年度" if self.roc_year else "全部年度"]
        if self.statuses != _LISTED:
            parts.append("、".join(texts.PROPOSAL_STATUS_LABELS[s] for s in self.statuses))
        if self.section is not None:
            parts.append(self.section.name)
        if self.kind:
            parts.append(self.kind)
        return "；".join(parts)


def parse_filter(turn: Turn, arg: str) -> ListFilter:
    """提案清單's words: a year (115, 115年), 全部, a status, a section, a kind."""
    roc_year: int | None = Period.of(turn.now).roc_year
    statuses: list[ProposalStatus] = []
    section: Section | None = None
    kind: str | None = None
    agency = _agency(turn)
    for word in re.split(r"[\s、,，]+", to_halfwidth(arg).strip()):
        if not word:
            continue
        year = re.fullmatch(r"(\d{2,3})年?度?", word)
        if year:
            roc_year = int(year.group(1))
        elif word in ("全部", "所有", "全部年度"):
            roc_year = None
        elif word in _STATUS_WORDS:
            statuses.append(_STATUS_WORDS[word])
        elif (found := _section_named(turn, agency, word)) is not None:
            section = found
        elif (named := match_kind(word, _kinds(turn))) is not None:
            kind = named
        else:
            raise Refused(f"看不懂「{_quote(word, 20)}」。{_LIST_USAGE}")
    return ListFilter(roc_year, tuple(dict.fromkeys(statuses)) or _LISTED, section, kind)


def _section_named(turn: Turn, agency: Agency, name: str) -> Section | None:
    try:
        return get_section(session=turn.session, agency=agency, name=name)
    except NotFound:
        return None


def show_list(turn: Turn, arg: str = "") -> None:
    """提案清單: the office's proposals for the secretariat, one's own for anyone else."""
    if not turn.is_secretariat:
        _own_list(turn)
        return
    _office_list(turn, parse_filter(turn, arg))


def _list_button(turn: Turn, token: Token) -> None:
    _require_desk(turn)
    try:
        code, year = token.arg(0), token.int_arg(1)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    if code != "all" and code not in STATUS_CODES:
        raise Refused(texts.UNKNOWN_BUTTON)
    statuses = _LISTED if code == "all" else (STATUS_CODES[code],)
    _office_list(turn, ListFilter(year or None, statuses))


def _office_list(turn: Turn, wanted: ListFilter) -> None:
    _require_desk(turn)
    agency = _agency(turn)
    assert agency.id is not None
    found = list_proposals(session=turn.session, agency_id=agency.id, statuses=wanted.statuses,
                           roc_year=wanted.roc_year,
                           section_id=wanted.section.id if wanted.section else None,
                           kind=wanted.kind)
    sections = {s.id: s.name for s in list_sections(session=turn.session, agency=agency)}
    names = {m.id: m.name for m in (turn.session.get(Member, p.proposer_member_id)
                                    for p in found if p.proposer_member_id) if m}
    lines = [f"創意提案清單（{wanted.describe()}；共 {len(found)} 件）"]
    for status in wanted.statuses:
        group = [p for p in found if p.status == status]
        if not group:
            continue
        lines.append(f"【{texts.PROPOSAL_STATUS_LABELS[status]}】{len(group)} 件")
        for proposal in group:
            when = proposal.decided_at if status != ProposalStatus.SUBMITTED \
                else proposal.submitted_at
            lines.append(f"・{_named(proposal)} {sections.get(proposal.section_id, '—')} "
                         f"{names.get(proposal.proposer_member_id, '—')}｜{proposal.kind or '—'}"
                         f"｜{format_roc_date(when) if when else ''}")
    if not found:
        lines.append("目前沒有符合的提案。")
    turn.state.to_menu()
    order = {status: n for n, status in enumerate(_LISTED)}
    openable = sorted(found, key=lambda p: (order.get(ProposalStatus(p.status), 9), p.id or 0))
    choices = [turn.choice(f"開啟 {p.reference}", "pv", p.id) for p in openable[:LIST_BUTTONS]]
    year = wanted.roc_year or 0
    choices += [turn.choice(texts.PROPOSAL_STATUS_LABELS[s], "pl", _CODE_OF[s], year)
                for s in _LISTED if (s,) != wanted.statuses]
    if wanted.statuses != _LISTED:
        choices.append(turn.choice("全部狀態", "pl", "all", year))
    turn.say("\n".join(lines), [*choices, turn.menu_choice(texts.MENU, "menu")])


def _own_list(turn: Turn) -> None:
    member = _member(turn)
    assert member.id is not None
    mine = list_proposals(session=turn.session, agency_id=member.agency_id,
                          proposer_member_id=member.id)
    lines = [f"我的創意提案（共 {len(mine)} 件）"]
    choices: list[Choice] = []
    for proposal in reversed(mine):
        if proposal.status in EDITABLE:
            lines.append(f"・{draft_line(turn, proposal)}")
        else:
            decided = f"（{format_roc_date(proposal.decided_at)}）" if proposal.decided_at else ""
            lines.append(f"・{_named(proposal)}：{_status(proposal)}{decided}")
        if len(choices) < LIST_BUTTONS:
            choices.append(turn.choice(f"開啟 {proposal.reference or _quote(_title(proposal), 8)}",
                                       "pv", proposal.id))
    if not mine:
        lines.append(f"還沒有提案。按「{texts.PROPOSAL_NEW}」提出第一份創意提案。")
    turn.state.to_menu()
    turn.say("\n".join(lines), [*choices, turn.choice(texts.PROPOSAL_NEW, "pw"),
                                turn.menu_choice(texts.MENU, "menu")])
