"""The secretariat's decision on a proposal: 採用 at once; 不採用, 已實施 and 請補件 with a
reason, a checkable address or a request typed in the ``note`` window.

The decision buttons sit on the proposal's notice in the secretariat's group (and in each
member's chat): they carry the proposal's mark, so a button of a notice older than the
proposal's last change is refused, and whoever decided first is named.
"""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel

from handlers import texts
from handlers.assessment import main_menu_choices
from handlers.dialogs import decide_views as views
from handlers.flow import Button, Context, Dialog, LeavePrompt, Refused, Window, start_dialog
from handlers.messages import Choice, Outgoing
from handlers.proposals import DECISION_VERBS, _named, _status, decision_choices, mark_of
from handlers.secretariat import _require_desk
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from rubric.periods import format_roc_date
from storage.models import Member, Proposal, ProposalStatus
from storage.outbox import member_destinations
from storage.proposals import DECISIONS, decide_proposal, lock_proposal

logger = logging.getLogger(__name__)

PROMPTS = {
    ProposalStatus.REJECTED: "請輸入不採用的原因（會通知提案人）。",
    ProposalStatus.IMPLEMENTED: "請輸入可查核的網址或服務地址（評分注意事項：有網站或資料庫者應提供"
                                "網址；有特殊服務設施或服務地點者，請提供服務所在位址供查核）。",
    ProposalStatus.MORE_INFO: "請輸入需要提案人補充的內容（會通知提案人）。",
}
TOLD = {
    ProposalStatus.ADOPTED: "經秘書室決定：採用，將納入執行。被採用實施的創新方案列入年度嘉獎。",
    ProposalStatus.REJECTED: "經秘書室決定：不採用。\n原因：{note}",
    ProposalStatus.IMPLEMENTED: "經秘書室確認：已實施。\n查核網址／地址：{note}",
    ProposalStatus.MORE_INFO: "秘書室請您補充資料：{note}\n"
                              f"請按「{texts.PROPOSAL_MORE_INFO_BUTTON}」修改後再送出。",
}
CHECKABLE = re.compile(r"https?://|www\.|[a-z0-9-]+\.(?:gov|org|com|edu|net)|"
                       r"[路街號巷弄段市縣區鄉鎮里村]", re.IGNORECASE)
VERBS = tuple(DECISION_VERBS)


class DecideData(BaseModel):
    """The decision being taken, and the proposal's mark when it began."""

    proposal_id: int
    mark: str
    decision: str


def _member(turn: Turn) -> Member:
    assert turn.member is not None
    return turn.member


def decidable(turn: Turn, proposal_id: int | None, mark: str | None) -> Proposal:
    """The proposal, locked, if it is still where it was when the decision began."""
    _require_desk(turn)
    proposal = lock_proposal(session=turn.session, proposal_id=proposal_id) \
        if proposal_id is not None else None
    if proposal is None or proposal.agency_id != _member(turn).agency_id \
            or proposal.status == ProposalStatus.DRAFT:
        raise Refused(texts.UNKNOWN_BUTTON)
    if mark_of(proposal) != mark:
        logger.info("stale decision on proposal %s (mark %s, now %s)", proposal.id, mark,
                    mark_of(proposal))
        raise Refused(_moved_on(turn, proposal))
    return proposal


def _moved_on(turn: Turn, proposal: Proposal) -> str:
    if proposal.status == ProposalStatus.SUBMITTED:
        return f"提案 {_named(proposal)} 已更新後重新送出，這個按鈕已失效，請使用最新通知的按鈕。"
    who = turn.session.get(Member, proposal.decided_by_member_id) \
        if proposal.decided_by_member_id else None
    when = format_roc_date(proposal.decided_at) if proposal.decided_at else ""
    return (f"提案 {_named(proposal)} 已由{who.name if who else '秘書室'}於{when}決定："
            f"{_status(proposal)}，這個按鈕已失效。")


def handle_press(turn: Turn, token: Token) -> None:
    """採用 / 不採用 / 已實施 / 請補件 pressed on a notice."""
    try:
        proposal_id, mark = token.int_arg(0), token.arg(1)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    proposal = decidable(turn, proposal_id, mark)
    decision = DECISION_VERBS[token.verb][1]
    if proposal.status not in DECISIONS[decision]:
        raise Refused(texts.UNKNOWN_BUTTON)
    turn.state.to_menu()
    if decision == ProposalStatus.ADOPTED:
        decide(turn, proposal, decision, None)
        return
    assert proposal.id is not None
    start_dialog(turn, DIALOG, DecideData(proposal_id=proposal.id, mark=mark,
                                          decision=decision.value))


def decide(turn: Turn, proposal: Proposal, decision: ProposalStatus, note: str | None) -> None:
    """Record the decision, say so, and tell the proposer."""
    member = _member(turn)
    decide_proposal(session=turn.session, proposal=proposal, decision=decision, member=member,
                    now=turn.now, note=note)
    turn.state.to_menu()
    proposer = turn.session.get(Member, proposal.proposer_member_id) \
        if proposal.proposer_member_id else None
    told = f"已通知提案人 {proposer.name}。" if proposer else ""
    detail = f"\n{note}" if note else ""
    turn.say(f"已決定：{_named(proposal)}，{_status(proposal)}。{told}{detail}",
             [*decision_choices(proposal), turn.menu_choice(texts.PROPOSALS, "proposals"),
              turn.menu_choice(texts.MENU, "menu")])
    if proposer is None or proposer.id is None:
        return
    message = f"【提案決定】您的創意提案 {_named(proposal)}" \
        + TOLD[decision].format(note=note or "")
    choices: tuple[Choice, ...] = ()
    if decision == ProposalStatus.MORE_INFO:
        choices = (Choice(texts.PROPOSAL_MORE_INFO_BUTTON,
                          Token(0, "po", (str(proposal.id),)).encode()),)
    turn.notify(member_destinations(session=turn.session, member_id=proposer.id),
                Outgoing(message, choices), key=f"proposal:{proposal.id}:{mark_of(proposal)}:told")


# --- the dialog ------------------------------------------------------------------------------


def _data(ctx: Context) -> DecideData:
    assert isinstance(ctx.data, DecideData)
    return ctx.data


def _decision(ctx: Context) -> ProposalStatus:
    decision = ProposalStatus(_data(ctx).decision)
    if decision not in PROMPTS:
        raise Refused(texts.UNKNOWN_BUTTON)
    return decision


def _note_view(ctx: Context) -> views.NoteView:
    decision = _decision(ctx)
    proposal = ctx.turn.session.get(Proposal, _data(ctx).proposal_id)
    label = next(label for label, status in DECISION_VERBS.values() if status == decision)
    return views.NoteView(named=_named(proposal) if proposal else "", label=label,
                          prompt=PROMPTS[decision])


def _note(ctx: Context, text: str) -> None:
    """The reason, URL or request typed after 不採用, 已實施 or 請補件."""
    decision = _decision(ctx)
    turn = ctx.turn
    try:
        proposal = decidable(turn, _data(ctx).proposal_id, _data(ctx).mark)
    except Refused as moved_on:  # decided by someone else meanwhile: nothing to redraw
        ctx.close()
        turn.state.to_menu()
        turn.say(moved_on.message, main_menu_choices(turn))
        return
    note = text.strip()
    if not note:
        raise Refused("請輸入內容。")
    if decision == ProposalStatus.IMPLEMENTED and not CHECKABLE.search(note):
        raise Refused("這看起來不像網址或地址。")
    ctx.close()
    decide(turn, proposal, decision, note)


def _cancel(ctx: Context, *_: object) -> None:
    ctx.close()
    ctx.turn.state.to_menu()
    from handlers.assessment import show_menu

    show_menu(ctx.turn, prefix="已取消。")


DIALOG = Dialog(
    "decide",
    data=DecideData,
    leave=LeavePrompt("要放棄這項提案決定嗎？", "繼續決定", "放棄"),
    commands={"cancel": _cancel, "menu": _cancel},
    reopened_by=VERBS,
    windows=(
        Window("note", getter=_note_view, render=views.note, on_text=_note,
               widgets=(Button("cancel", texts.CANCEL, _cancel),)),
    ),
)
