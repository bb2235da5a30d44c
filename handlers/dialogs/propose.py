"""創意提案: a member writes an innovation proposal in the 附錄1 template, as a dialog.

``drafts`` chooses among the member's open proposals; ``field`` asks one of the template's
ten fields (the kind with its 8 buttons; 附件 takes files too); ``more`` invites numbers
after benefits written without any; ``review`` shows the whole proposal with 送出提案 (or
繼續填寫 to what it still needs) and 修改內容; ``edit`` has a button per field. A whole
proposal pasted in any window is split into the fields, and only the missing ones are
asked. A file sent in any window of a proposal is kept under 肆、附件.

The drafts list is settled (a word of elsewhere just goes there); writing asks before
leaving ("要離開創意提案嗎？"), and everything written is kept either way.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from handlers import proposals, texts
from handlers.assessment import _size, file_refusal, main_menu_choices
from handlers.dialogs import propose_views as views
from handlers.flow import Button, Closed, Context, Dialog, LeavePrompt, Refused, Select, Window
from handlers.flow import start_dialog as open_dialog
from handlers.flow.dialog import OnCommand
from handlers.messages import Attachment as IncomingFile
from handlers.proposal_text import (
    FIELD_BY_NAME,
    FIELD_NAMES,
    FIELDS,
    QUANTIFIED,
    TITLE_MAX,
    PastedProposal,
    has_numbers,
    match_kind,
    split_proposal,
)
from handlers.turn import Turn
from rubric import Period, to_halfwidth
from storage.evidence import EvidenceStoreError
from storage.models import Attachment, Proposal, ProposalStatus
from storage.proposals import (
    add_proposal_attachment,
    create_proposal,
    open_proposals,
    update_proposal,
)

logger = logging.getLogger(__name__)

LIST_BUTTONS = proposals.LIST_BUTTONS


class ProposeData(BaseModel):
    """The proposal being written and the field on screen."""

    proposal_id: int | None = None
    field: str | None = None
    note: str | None = None  # said above the 「more」 window (已記錄外部效益。)


def _data(ctx: Context) -> ProposeData:
    assert isinstance(ctx.data, ProposeData)
    return ctx.data


def _proposal(ctx: Context, *, editing: bool = True) -> Proposal:
    """The member's proposal being written; closed with the reason when it can no longer
    be (decided meanwhile, or not theirs)."""
    try:
        return proposals._own(ctx.turn, _data(ctx).proposal_id, editing=editing)
    except Refused as refusal:
        ctx.close()
        ctx.turn.state.to_menu()
        ctx.turn.replies.clear()
        ctx.turn.say(refusal.message, main_menu_choices(ctx.turn))
        raise Closed from None


# --- getters ---------------------------------------------------------------------------------


def _drafts_view(ctx: Context) -> views.DraftsView:
    turn = ctx.turn
    assert turn.member is not None and turn.member.id is not None
    drafts = open_proposals(session=turn.session, proposer_member_id=turn.member.id)
    titles = [proposals._quote(proposals._title(p), 8) for p in drafts[:LIST_BUTTONS]]
    numbered = len(set(titles)) < len(titles)  # two untitled drafts: a label names one
    buttons = tuple(
        (f"繼續 {n}「{titles[n - 1]}」" if numbered else f"繼續「{titles[n - 1]}」", str(p.id))
        for n, p in enumerate(drafts[:LIST_BUTTONS], start=1))
    lines = tuple(f"{n}. {proposals.draft_line(turn, p)}" for n, p in enumerate(drafts, start=1))
    return views.DraftsView(lines, buttons)


def _field_view(ctx: Context) -> views.FieldView:
    proposal = _proposal(ctx)
    name = _data(ctx).field
    if name not in FIELD_NAMES:
        raise Refused(texts.UNKNOWN_BUTTON)
    assert name is not None
    index = FIELD_NAMES.index(name)
    current = (getattr(proposal, name) or "").strip()
    files = tuple(f.filename or "（未命名）" for f in proposals._files(ctx.turn, proposal)) \
        if name == "evidence_note" else ()
    onward = texts.PROPOSAL_DONE if name == "evidence_note" \
        else texts.PROPOSAL_KEEP if current else texts.SKIP
    return views.FieldView(
        index=index, count=len(FIELDS), name=name, label=FIELDS[index].label,
        prompt=texts.PROPOSAL_PROMPTS[name],
        kinds=proposals._kinds(ctx.turn) if name == "kind" else (),
        current=proposals._quote(current, 60) if current else "", files=files, onward=onward)


def _more_view(ctx: Context) -> views.MoreView:
    _proposal(ctx)
    name = _data(ctx).field
    if name not in FIELD_NAMES:
        raise Refused(texts.UNKNOWN_BUTTON)
    assert name is not None
    return views.MoreView(FIELD_NAMES.index(name), _data(ctx).note or "")


def _review_view(ctx: Context) -> views.ReviewView:
    proposal = _proposal(ctx, editing=False)
    missing = proposals.missing_fields(ctx.turn, proposal)
    needed = proposals.unmet(proposal)
    first = next((FIELD_NAMES.index(n) for n in FIELD_NAMES if n in missing), 0)
    return views.ReviewView(proposals.review_text(ctx.turn, proposal), ready=not needed,
                            first_missing=first)


def _edit_view(ctx: Context) -> views.EditView:
    _proposal(ctx, editing=False)
    return views.EditView(tuple(field.label for field in FIELDS))


# --- moving ----------------------------------------------------------------------------------


def _ask(ctx: Context, name: str, *, prefix: str | None = None) -> None:
    _data(ctx).field = name
    ctx.show("field", prefix=prefix)


def _review(ctx: Context, *, prefix: str | None = None) -> None:
    _data(ctx).field = None
    ctx.show("review", prefix=prefix)


def _go_next(ctx: Context, after: str | None, *, prefix: str | None = None) -> None:
    """The next field still missing after ``after``; the review when none is left."""
    missing = proposals.missing_fields(ctx.turn, _proposal(ctx))
    start_at = FIELD_NAMES.index(after) + 1 if after in FIELD_NAMES else 0
    for name in FIELD_NAMES[start_at:]:
        if name in missing:
            _ask(ctx, name, prefix=prefix)
            return
    _review(ctx, prefix=prefix)


def _where(turn: Turn, proposal: Proposal, prefix: str | None) -> tuple[str, str | None,
                                                                     str | None]:
    """(window, field, prefix) where writing ``proposal`` goes on: a draft's first missing
    field, else its review; a proposal sent back, its review with the secretariat's
    request."""
    if proposal.status == ProposalStatus.MORE_INFO:
        request = f"秘書室請您補充：{proposal.decision_note}" if proposal.decision_note \
            else "秘書室請您補充資料。"
        return "review", None, (f"{request}\n請按「{texts.PROPOSAL_EDIT}」修改，"
                                f"改好後按「{texts.PROPOSAL_SUBMIT}」重新送出。")
    missing = proposals.missing_fields(turn, proposal)
    if missing:
        return "field", missing[0], prefix or f"繼續填寫提案「{proposals._title(proposal)}」。"
    return "review", None, prefix


def _resume(ctx: Context, *, prefix: str | None = None) -> None:
    window, name, said = _where(ctx.turn, _proposal(ctx), prefix)
    _data(ctx).field = name
    ctx.show(window, prefix=said)


def _save(ctx: Context, proposal: Proposal, values: dict[str, str | None]) -> None:
    turn = ctx.turn
    assert turn.member is not None
    update_proposal(session=turn.session, proposal=proposal, values=values,
                    member=turn.member, now=turn.now)


# --- steps -----------------------------------------------------------------------------------


def _take_paste(turn: Turn, proposal: Proposal, pasted: PastedProposal) -> str:
    """Fill the proposal from a pasted text; what was taken and what is still missing."""
    assert turn.member is not None
    values: dict[str, str | None] = dict(pasted.fields)
    update_proposal(session=turn.session, proposal=proposal, values=values, member=turn.member,
                    now=turn.now)
    taken = "、".join(FIELD_BY_NAME[n].label for n in FIELD_NAMES if n in values)
    notes = [f"已從貼上的內容填入 {len(values)} 項：{taken}。" if values
             else "貼上的內容沒有可用的段落。"]
    if pasted.unknown_kind:
        kind = proposals._quote(pasted.unknown_kind, 20)
        notes.append(f"類型「{kind}」不是 8 種創新服務類型之一，請重新選擇。")
    if pasted.long_title:
        notes.append(f"名稱超過 {TITLE_MAX} 字，請另外輸入較短的名稱。")
    missing = proposals.missing_fields(turn, proposal)
    if missing:
        labels = "、".join(FIELD_BY_NAME[n].label for n in missing)
        notes.append(f"還缺 {len(missing)} 項：{labels}。")
    return "\n".join(notes)


def _pasted(ctx: Context, text: str) -> bool:
    """A whole proposal pasted: split into the fields. False when the text is none."""
    pasted = split_proposal(text, proposals._kinds(ctx.turn),
                            agency=proposals._agency(ctx.turn).name)
    if not pasted.is_proposal:
        return False
    _go_next(ctx, None, prefix=_take_paste(ctx.turn, _proposal(ctx), pasted))
    return True


def _answer(ctx: Context, text: str) -> None:
    """A typed answer to the field being asked."""
    if _pasted(ctx, text):
        return
    proposal = _proposal(ctx)
    name = _data(ctx).field
    assert name is not None
    cleaned = text.strip()
    label = FIELD_BY_NAME[name].label
    if not cleaned:
        raise Refused(f"請輸入{label}，或按「{texts.SKIP}」。")
    if name == "title":
        if len(cleaned) > TITLE_MAX or "\n" in cleaned:
            raise Refused(f"名稱請在 {TITLE_MAX} 字以內、寫成一行；詳細內容請寫在後面的項目。")
        _save(ctx, proposal, {"title": cleaned})
        _go_next(ctx, name, prefix=f"已記錄創意服務名稱：「{cleaned}」。")
    elif name == "kind":
        kind = match_kind(cleaned, proposals._kinds(ctx.turn))
        if kind is None:
            raise Refused(f"「{proposals._quote(cleaned, 20)}」不是這 8 種類型之一，"
                          "請按下方按鈕或輸入編號 1-8。")
        _save(ctx, proposal, {"kind": kind})
        _go_next(ctx, name, prefix=f"已記錄創新服務類型：{kind}。")
    elif name == "evidence_note":
        old = (proposal.evidence_note or "").strip()
        _save(ctx, proposal, {"evidence_note": f"{old}\n{cleaned}" if old else cleaned})
        _ask(ctx, name, prefix=f"已記錄附件說明：{proposals._quote(cleaned)}")
    else:
        _save(ctx, proposal, {name: cleaned})
        if name in QUANTIFIED and not has_numbers(cleaned):
            _data(ctx).note = f"已記錄{label}。"
            ctx.show("more")
            return
        _go_next(ctx, name, prefix=f"已記錄{label}。")


def _add_numbers(ctx: Context, text: str) -> None:
    """The quantified addition to a benefits field."""
    if _pasted(ctx, text):
        return
    proposal = _proposal(ctx)
    name = _data(ctx).field
    assert name is not None
    cleaned = text.strip()
    if cleaned:
        old = (getattr(proposal, name) or "").strip()
        _save(ctx, proposal, {name: f"{old}\n{cleaned}" if old else cleaned})
    _go_next(ctx, name, prefix=f"已補充{FIELD_BY_NAME[name].label}。" if cleaned else None)


def _review_text(ctx: Context, text: str) -> None:
    """Text at the review: a pasted proposal fills it; anything else is told what to press."""
    if not _pasted(ctx, text):
        raise Refused(f"請按「{texts.PROPOSAL_SUBMIT}」送出，或按「{texts.PROPOSAL_EDIT}」修改。")


def _file(ctx: Context, attachment: IncomingFile) -> None:
    """A photo or file while writing: kept under 肆、附件."""
    turn = ctx.turn
    assert turn.member is not None
    proposal = _proposal(ctx)
    refusal = file_refusal(attachment, turn.config.max_evidence_bytes, "附件")
    if refusal is not None:
        raise Refused(refusal)
    try:
        digest, path = turn.keep_file(attachment)
    except EvidenceStoreError:
        logger.exception("evidence store failed for proposal %s", proposal.id)
        raise Refused(texts.EVIDENCE_STORE_FAILED) from None
    add_proposal_attachment(
        session=turn.session, proposal=proposal, member=turn.member, now=turn.now,
        attachment=Attachment(channel=turn.incoming.channel,
                              platform_file_id=attachment.platform_file_id,
                              filename=attachment.filename, mime_type=attachment.mime_type,
                              size=attachment.size, sha256=digest, stored_path=path))
    kind = "照片" if attachment.kind == "photo" else "檔案"
    name = f"「{attachment.filename}」" if attachment.filename else ""
    ctx.redraw(prefix=f"已收到{kind}{name}（{_size(attachment.size)}），列入「肆、附件」。")


def _onward(ctx: Context, *_: object) -> None:
    """略過 / 保留原內容 / 完成 / 下一項: on to the next field still missing."""
    _go_next(ctx, _data(ctx).field)


def _back(ctx: Context, *_: object) -> None:
    """上一項: the field before (the last one from the review)."""
    name = _data(ctx).field
    position = FIELD_NAMES.index(name) if name in FIELD_NAMES else len(FIELDS)
    _ask(ctx, FIELD_NAMES[max(position - 1, 0)])


def _pick_kind(ctx: Context, args: tuple[str, ...]) -> None:
    kinds = proposals._kinds(ctx.turn)
    kind = kinds[int(args[0])]
    _save(ctx, _proposal(ctx), {"kind": kind})
    _go_next(ctx, "kind", prefix=f"已記錄創新服務類型：{kind}。")


def _to_review(ctx: Context, *_: object) -> None:
    _review(ctx)


def _continue(ctx: Context, *_: object) -> None:
    """繼續填寫 at the review: the first field it still needs."""
    missing = proposals.missing_fields(ctx.turn, _proposal(ctx))
    _ask(ctx, next((n for n in FIELD_NAMES if n in missing), FIELD_NAMES[0]))


def _to_edit(ctx: Context, *_: object) -> None:
    _data(ctx).field = None
    ctx.show("edit")


def _edit_field(ctx: Context, args: tuple[str, ...]) -> None:
    _ask(ctx, FIELD_NAMES[int(args[0])])


def _submit(ctx: Context, *_: object) -> None:
    """送出提案: refused while something it needs is missing; else numbered and sent."""
    proposal = _proposal(ctx)
    needed = proposals.unmet(proposal)
    if needed:
        raise Refused(f"還不能送出，請先填寫：{'、'.join(needed)}。")
    ctx.close()
    proposals.submit(ctx.turn, proposal)


def _pause(ctx: Context, *_: object) -> None:
    """暫停: the draft is kept; say how to come back."""
    proposal = _proposal(ctx, editing=False)
    ctx.close()
    turn = ctx.turn
    turn.state.to_menu()
    turn.say(f"提案草稿「{proposals._title(proposal)}」已儲存。隨時輸入「{texts.PROPOSE}」或按下方按鈕"
             "即可繼續。", main_menu_choices(turn))


def _to_menu(ctx: Context, *_: object) -> None:
    """選單: what was written stays; the main menu."""
    ctx.close()
    ctx.turn.state.to_menu()
    from handlers.assessment import show_menu

    show_menu(ctx.turn)


def _new(ctx: Context, *_: object) -> None:
    """新提案: a new draft, at its name."""
    turn = ctx.turn
    assert turn.member is not None
    proposal = create_proposal(session=turn.session, proposer=turn.member,
                               roc_year=Period.of(turn.now).roc_year, now=turn.now)
    _data(ctx).proposal_id = proposal.id
    _ask(ctx, "title", prefix=texts.PROPOSAL_INTRO)


def _choose(ctx: Context, args: tuple[str, ...]) -> None:
    """繼續「…」: one of the drafts."""
    _data(ctx).proposal_id = int(args[0])
    _resume(ctx)


def _goto(ctx: Context, arg: str) -> None:
    """跳到 N: the N-th field of the template."""
    number = to_halfwidth(arg).strip()
    if number.isdigit() and 1 <= int(number) <= len(FIELDS):
        _ask(ctx, FIELD_NAMES[int(number) - 1])
        return
    _review(ctx, prefix=f"請輸入 1 到 {len(FIELDS)} 的項次，例如：跳到 3。")


def _submit_word(ctx: Context, arg: str) -> None:
    """送出 / 確認 typed: at the review it submits; elsewhere the review is shown first."""
    if ctx.window.name == "review":
        _submit(ctx)
        return
    _review(ctx, prefix=f"請確認以下內容，再按「{texts.PROPOSAL_SUBMIT}」。")


def _skip_word(ctx: Context, arg: str) -> None:
    if ctx.window.name in ("review", "edit"):
        _review(ctx)
    else:
        _onward(ctx)


def _resume_word(ctx: Context, arg: str) -> None:
    """創意提案 typed while writing: where the proposal stands."""
    _resume(ctx)


# --- opening ---------------------------------------------------------------------------------


def _open(turn: Turn, data: ProposeData, *, window: str, prefix: str | None = None) -> None:
    turn.state.to_menu()
    open_dialog(turn, DIALOG, data, window=window, prefix=prefix)


def start(turn: Turn) -> None:
    """創意提案: continue the member's draft, choose among several, or begin a new one."""
    assert turn.member is not None and turn.member.id is not None
    drafts = open_proposals(session=turn.session, proposer_member_id=turn.member.id)
    empty = [p for p in drafts if p.status == ProposalStatus.DRAFT
             and len(proposals.missing_fields(turn, p)) == len(FIELDS)]
    if not drafts:
        proposal = create_proposal(session=turn.session, proposer=turn.member,
                                   roc_year=Period.of(turn.now).roc_year, now=turn.now)
        _open(turn, ProposeData(proposal_id=proposal.id, field="title"), window="field",
              prefix=texts.PROPOSAL_INTRO)
    elif len(drafts) == 1 and empty:
        _open(turn, ProposeData(proposal_id=drafts[0].id, field="title"), window="field",
              prefix=texts.PROPOSAL_INTRO)
    else:
        _open(turn, ProposeData(), window="drafts")


def resume(turn: Turn, proposal: Proposal, *, prefix: str | None = None) -> None:
    """Continue writing ``proposal`` (the member's own, editable) where it stands."""
    window, name, said = _where(turn, proposal, prefix)
    _open(turn, ProposeData(proposal_id=proposal.id, field=name), window=window, prefix=said)


def paste_new(turn: Turn, text: str) -> bool:
    """A whole proposal pasted at the menu starts a new draft; False if it is not one."""
    pasted = split_proposal(text, proposals._kinds(turn), agency=proposals._agency(turn).name)
    if not pasted.is_proposal:
        return False
    assert turn.member is not None
    proposal = create_proposal(session=turn.session, proposer=turn.member,
                               roc_year=Period.of(turn.now).roc_year, now=turn.now)
    notes = _take_paste(turn, proposal, pasted)
    missing = proposals.missing_fields(turn, proposal)
    _open(turn, ProposeData(proposal_id=proposal.id, field=missing[0] if missing else None),
          window="field" if missing else "review", prefix=notes)
    return True


# --- the dialog ------------------------------------------------------------------------------


_REVIEW = Button("rev", texts.PROPOSAL_REVIEW, _to_review)
_PAUSE = Button("pause", texts.PAUSE, _pause)
_MENU = Button("menu", texts.MENU, _to_menu)
_COMMANDS: dict[str, OnCommand] = {
    "skip": _skip_word, "next": _skip_word, "back": lambda ctx, arg: _back(ctx),
    "goto": _goto, "review": lambda ctx, arg: _review(ctx), "submit": _submit_word,
    "confirm": _submit_word, "pause": lambda ctx, arg: _pause(ctx),
    "cancel": lambda ctx, arg: _pause(ctx), "propose": _resume_word,
    "menu": lambda ctx, arg: _to_menu(ctx),
}

DIALOG = Dialog(
    "propose",
    data=ProposeData,
    leave=LeavePrompt("要離開創意提案嗎？已填寫的內容都會保留。", "繼續填寫", "離開"),
    commands=_COMMANDS,
    reopened_by=("po",),
    windows=(
        Window("drafts", getter=_drafts_view, render=views.drafts, settled=True,
               commands={"propose": lambda ctx, arg: ctx.redraw()},
               widgets=(Select("cont", lambda v: list(v.buttons), _choose),
                        Button("new", texts.PROPOSAL_NEW, _new), _MENU)),
        Window("field", getter=_field_view, render=views.field, on_text=_answer, on_file=_file,
               widgets=(Select("kind", lambda v: [(k, str(n)) for n, k in enumerate(v.kinds)],
                               _pick_kind),
                        Button("on", lambda v: v.onward, _onward),
                        Button("back", texts.PROPOSAL_BACK, _back, when=lambda v: v.index > 0),
                        _REVIEW, _PAUSE)),
        Window("more", getter=_more_view,
               render=views.more, on_text=_add_numbers, on_file=_file,
               widgets=(Button("on", texts.PROPOSAL_NEXT, _onward),
                        Button("back", texts.PROPOSAL_BACK, _back), _REVIEW, _PAUSE)),
        Window("review", getter=_review_view, render=views.review, on_text=_review_text,
               on_file=_file,
               widgets=(Button("send", texts.PROPOSAL_SUBMIT, _submit, when=lambda v: v.ready),
                        Button("cont", texts.CONTINUE, _continue, when=lambda v: not v.ready),
                        Button("edit", texts.PROPOSAL_EDIT, _to_edit), _PAUSE, _MENU)),
        Window("edit", getter=_edit_view, render=views.edit, on_text=_review_text,
               on_file=_file,
               widgets=(Select("field", lambda v: [(label, str(n))
                                                   for n, label in enumerate(v.labels)],
                               _edit_field), _REVIEW)),
    ),
)
