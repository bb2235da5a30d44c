"""填寫自評: the section's self-assessment, one question at a time, as a dialog.

``question`` asks a score: a typed number (``85``, ``８５分``, ``二十五``) records it and moves
on to the next question at once; words after the number (``85 受理後即寄發``) are its
evidence; a measured figure typed where the question takes one (2.4's phone test 92) is
read as that figure. Text, photos and files sent after a score are evidence for the
question just answered, until the next score. ``band`` and ``measure`` are the band
buttons' way to the same score; ``review`` (settled) shows the sheet and takes evidence
for the last answer; ``confirm`` asks before 送出 locks the sheet.

Every answer is written when it is given, so leaving loses nothing; the dialog still asks
("要離開自評嗎？") before a word of another flow takes the person away from a question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from pydantic import BaseModel, ValidationError
from sqlmodel import select

from handlers import texts
from handlers.assessment import (
    PROPOSAL_EVIDENCE_CODES,
    Sheet,
    _member,
    _member_name,
    _size,
    current_sheet,
    file_refusal,
    main_menu_choices,
    parse_score,
    resume_target,
    review_text,
    score_card_of,
    show_help,
    show_locked,
    show_menu,
    show_menu_hint,
    show_overview,
    show_progress,
)
from handlers.dialogs import assess_views as views
from handlers.flow import (
    Button,
    Closed,
    Context,
    Dialog,
    LeavePrompt,
    Refused,
    Select,
    Window,
    start_dialog,
)
from handlers.flow.dialog import OnCommand
from handlers.forms import send_form
from handlers.messages import Attachment as IncomingFile
from handlers.messages import Card, Choice, Outgoing
from handlers.numerals import split_leading_number
from handlers.tokens import Token
from handlers.turn import Turn
from rubric import Question, ScoreError, band_for, band_for_measure, to_halfwidth
from rubric.periods import TAIPEI, format_roc_date_short
from storage.assessments import (
    add_attachment,
    add_evidence_text,
    carry_over,
    fixes_since_return,
    record_score,
    submit_assessment,
)
from storage.evidence import EvidenceStoreError
from storage.models import Answer, AssessmentStatus, Attachment, Member, Proposal, Section
from storage.outbox import member_destinations
from storage.proposals import ADOPTED, adopted_proposals

logger = logging.getLogger(__name__)

_MEASURE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:%|分|件)?$")
CITE_BUTTONS = 3
_SHEET = "assess.sheet"  # Turn.memo: (sheet, read locked)


class AssessData(BaseModel):
    """Where the member is in the sheet."""

    assessment_id: int
    code: str | None = None  # the question asked (its band and measure windows too)
    band: int | None = None  # the band chosen at ``code``
    measure: float | None = None  # the measured figure typed at ``code``
    evidence_for: str | None = None  # the question answered last: evidence goes to it


# --- reading ---------------------------------------------------------------------------------


def _data(ctx: Context) -> AssessData:
    assert isinstance(ctx.data, AssessData)
    return ctx.data


def _sheet_of(ctx: Context, *, lock: bool = False) -> Sheet:
    """The sheet the dialog is on, still editable; else say where the member is and close.

    Read once per event: the step that writes an answer keeps ``sheet.answers`` up to date,
    and the window drawn after it reads the same sheet (a locked read serves both)."""
    turn, data = ctx.turn, _data(ctx)
    memo = turn.memo.get(_SHEET)
    if memo is not None and memo[0].assessment.id == data.assessment_id and (memo[1] or not lock):
        return memo[0]  # type: ignore[no-any-return]
    turn.state.assessment_id = data.assessment_id
    sheet = current_sheet(turn, lock=lock)
    if sheet.assessment.id != data.assessment_id:
        # Another quarter is open now (or the member's section changed).
        turn.replies.clear()
        show_menu(turn, prefix=f"目前應填寫的是 {sheet.heading()}，"
                               f"請按「{texts.FILL}」從那裡繼續。")
        raise Closed
    if not sheet.editable:
        turn.replies.clear()
        show_locked(turn, sheet)
        raise Closed
    turn.memo[_SHEET] = (sheet, lock)
    return sheet


def _question_of(ctx: Context, sheet: Sheet) -> Question:
    code = _data(ctx).code
    if code is None or not sheet.rubric.has_question(code):
        ctx.turn.replies.clear()
        show_menu_hint(ctx.turn, prefix=texts.NO_SUCH_QUESTION)
        raise Closed
    return sheet.rubric.question(code)


def _current_line(ctx: Context, answer: Answer | None) -> str | None:
    if answer is None or answer.self_score is None:
        return None
    when = format_roc_date_short(answer.answered_at.astimezone(TAIPEI).date()) \
        if answer.answered_at else ""
    who = _member_name(ctx.turn, answer.answered_by_member_id)
    return f"目前答案：{answer.self_score} 分（{who}，{when}）"


def _adopted(ctx: Context, sheet: Sheet, code: str) -> list[Proposal]:
    if code not in PROPOSAL_EVIDENCE_CODES or sheet.section.id is None:
        return []
    return list(adopted_proposals(session=ctx.turn.session, section_id=sheet.section.id,
                                  up_to_year=sheet.period.roc_year))


def _cites(ctx: Context, sheet: Sheet) -> tuple[views.Cite, ...]:
    """引用 buttons for the question answered last (6.1–6.3): its adopted proposals."""
    code = _data(ctx).evidence_for
    if code is None or code not in PROPOSAL_EVIDENCE_CODES:
        return ()
    answer = sheet.answers.get(code)
    cited = (answer.evidence_text or "") if answer is not None else ""
    return tuple(views.Cite(code, p.reference, p.id)
                 for p in _adopted(ctx, sheet, code)
                 if p.reference and p.id is not None and p.reference not in cited
                 )[:CITE_BUTTONS]


def _question_view(ctx: Context) -> views.QuestionView:
    sheet = _sheet_of(ctx)
    question = _question_of(ctx, sheet)
    placement = sheet.rubric.placement(question.code)
    answer = sheet.answers.get(question.code)
    return views.QuestionView(
        question=question, number=placement.number, total=len(sheet.rubric.questions),
        breadcrumb=placement.breadcrumb, notes=tuple(placement.item.notes),
        citations=tuple(texts.proposal_citation(p)
                        for p in _adopted(ctx, sheet, question.code)),
        current=_current_line(ctx, answer),
        earlier=sheet.offer(ctx.turn.session, question.code),
        answered=answer is not None and answer.self_score is not None,
        first=_data(ctx).evidence_for is None, brief=bool(ctx.hints.get("brief")),
        cites=_cites(ctx, sheet))


def _band_view(ctx: Context) -> views.BandView:
    sheet = _sheet_of(ctx)
    question = _question_of(ctx, sheet)
    index = _data(ctx).band
    if index is None or not 0 <= index < len(question.bands):
        raise Refused(texts.UNKNOWN_BUTTON)
    band = question.bands[index]
    return views.BandView(question, band, tuple(band_score_picks(band.min, band.max)))


def _measure_view(ctx: Context) -> views.MeasureView:
    sheet = _sheet_of(ctx)
    return views.MeasureView(_question_of(ctx, sheet))


def _low_view(ctx: Context) -> views.LowView:
    sheet = _sheet_of(ctx)
    question = _question_of(ctx, sheet)
    assert question.measure is not None
    value = _data(ctx).measure or 0
    lowest = min(b.measure_min or 0 for b in question.bands)
    return views.LowView(question, str(ctx.hints.get("shown")
                                       or f"{question.measure.name} {value:g}"
                                          f"{question.measure.unit}"),
                         f"{lowest:g}{question.measure.unit}以上")


def _review_view(ctx: Context) -> views.ReviewView:
    sheet = _sheet_of(ctx)
    text = review_text(ctx.turn, sheet)
    card: Card | None = None
    if ctx.hints.get("brief"):
        answered, total = len(sheet.scores()), len(sheet.rubric.questions)
        text = (f"{sheet.heading()}：已作答 {answered}/{total} 題，"
                f"目前合計 {sum(sheet.scores().values())} 分。"
                + (f"請按「{texts.SUBMIT}」送出；還有佐證可繼續傳送。" if answered == total
                   else ""))
    else:  # the card's rows are the heading's figures; the rest goes below them
        detail = text.split("\n", 2)[2].strip("\n") if text.count("\n") >= 2 else ""
        card = _score_card(sheet, note="\n\n".join(p for p in (ctx.prefix, detail) if p))
    return views.ReviewView(text, card, tuple(sheet.unanswered()), _cites(ctx, sheet))


def _score_card(sheet: Sheet, *, note: str | None = None) -> Card:
    card = score_card_of(sheet)
    rows = [(item.name, f"{card.item_scores[item.code]}/{item.max}")
            for item in sheet.rubric.items]
    rows.append(("已作答", f"{len(card.answered)}/{len(sheet.rubric.questions)} 題"))
    rows.append(("合計", f"{card.total} 分"))
    if card.complete:
        rows.append(("等第", card.grade))
    return Card(sheet.heading(), tuple(rows), note=note)


def _confirm_view(ctx: Context) -> views.ConfirmView:
    sheet = _sheet_of(ctx)
    card = score_card_of(sheet)
    return views.ConfirmView(
        sheet.section.name, sheet.period.label,
        tuple((item.name, card.item_scores[item.code], item.max) for item in sheet.rubric.items),
        card.total, card.grade)


def band_score_picks(low: int, high: int) -> list[int]:
    """Scores offered as buttons inside a band: every score of a narrow band, else the ends
    and the round numbers between them (81-120 → 120, 110, 100, 90, 81)."""
    if high - low <= 9:
        return list(range(high, low - 1, -1))
    step = 5 if high - low <= 25 else 10
    inner = [v for v in range(high - high % step, low, -step) if low < v < high]
    return [high, *inner, low]


# --- moving ----------------------------------------------------------------------------------


def _ask(ctx: Context, code: str, *, prefix: str | None = None, brief: bool = False) -> None:
    data = _data(ctx)
    data.code, data.band, data.measure = code, None, None
    ctx.turn.state.question = code  # where 填寫自評 continues once the dialog is left
    ctx.show("question", prefix=prefix, brief=brief)


def _review(ctx: Context, *, prefix: str | None = None, brief: bool = False) -> None:
    data = _data(ctx)
    data.code, data.band, data.measure = None, None, None
    ctx.show("review", prefix=prefix, brief=brief)


def _go_next(ctx: Context, sheet: Sheet, after: str, *, prefix: str | None = None) -> None:
    """The next unanswered question after ``after`` (wrapping), or the review when done."""
    codes = [q.code for q in sheet.rubric.questions]
    position = codes.index(after) if after in codes else -1
    unanswered = set(sheet.unanswered())
    for code in codes[position + 1:] + codes[:position + 1]:
        if code in unanswered and code != after:
            _ask(ctx, code, prefix=prefix)
            return
    if after in unanswered:
        _ask(ctx, after, prefix=(prefix or "") + "\n只剩這題還沒作答。")
        return
    _review(ctx, prefix=((prefix + "\n") if prefix else "")
            + f"全部 {len(codes)} 題都已作答！請檢視後送出。")


def _move_on(ctx: Context, sheet: Sheet, code: str, *, prefix: str) -> None:
    """After a score (or 保留原分數): on to the next question at once; evidence sent before
    the next score is for ``code``. A returned question leads to the next returned one."""
    _data(ctx).evidence_for = code
    returned = sheet.returned_codes()
    if code in returned:
        later = [c for c in returned if c != code]
        if later:
            _ask(ctx, later[0], prefix=prefix)
        else:
            _review(ctx, prefix=f"{prefix}\n退回的題目都已處理，"
                                f"請檢視後按「{texts.SUBMIT}」重新送出。")
        return
    _go_next(ctx, sheet, code, prefix=prefix)


def _redraw_after_evidence(ctx: Context, *, prefix: str) -> None:
    """Evidence was added to the question answered last: show where the person is again."""
    if ctx.window.name in ("question", "review"):
        ctx.show(ctx.window.name, prefix=prefix, brief=True)
    else:
        ctx.redraw(prefix=prefix)


# --- answering -------------------------------------------------------------------------------


def _apply(ctx: Context, sheet: Sheet, question: Question, score: int, *,
           evidence: str | None = None) -> None:
    """Record a score (and the evidence typed with it), tell an earlier answerer it was
    changed, then go on to the next question at once."""
    turn, data = ctx.turn, _data(ctx)
    sheet.check_may_edit(question.code)
    member = _member(turn)
    measure = data.measure if data.code == question.code else None
    change = record_score(session=turn.session, assessment=sheet.assessment,
                          question_code=question.code, score=score, member=member,
                          now=turn.now, measure_value=measure)
    sheet.answers[question.code] = change.answer
    if (change.changed and change.previous_member_id is not None
            and change.previous_member_id != member.id and change.previous_score is not None):
        _tell_overridden(turn, sheet, question, change.previous_member_id,
                         change.previous_score, score)
    band = band_for(question, score)
    where = f"（級距 {band.label}）" if band else ""
    if change.previous_score is not None and change.changed:
        done = f"已將 {question.code} 由 {change.previous_score} 分改為 {score} 分{where}。"
    else:
        done = f"已記錄 {question.code} {question.name}：{score} 分{where}。"
    if evidence:
        sheet.answers[question.code] = add_evidence_text(
            session=turn.session, assessment=sheet.assessment, question_code=question.code,
            text=evidence, member=member, now=turn.now)
        done += f"\n已收到 {question.code} 的佐證：「{texts.quote(evidence)}」。"
    else:
        done += f"\n要補佐證，直接傳文字、照片或檔案，會列為 {question.code} 的佐證。"
    _move_on(ctx, sheet, question.code, prefix=done)


def _tell_overridden(turn: Turn, sheet: Sheet, question: Question, earlier_member_id: int,
                     earlier: int, now_score: int) -> None:
    number = sheet.rubric.placement(question.code).number
    message = Outgoing(
        f"【提醒】{sheet.section.name} {sheet.period.label} 自評第 {number} 題"
        f"（{question.code} {question.name}）已由 {_member(turn).name} 改為 {now_score} 分；"
        f"您先前填的是 {earlier} 分。"
    )
    turn.notify(member_destinations(session=turn.session, member_id=earlier_member_id), message,
                key=f"override:{sheet.assessment.id}:{question.code}:{turn.incoming.channel}:"
                    f"{turn.incoming.event_id}")


def _is_measure(question: Question, number: str, unit: str | None) -> bool:
    """Whether a figure typed at a measured question is its measure rather than a score: its
    unit says so (92%, 14件), or it is above the question's maximum but a measure it can be."""
    measure = question.measure
    assert measure is not None
    if unit is not None and unit != "分" and unit == measure.unit:
        return True
    try:
        value = float(number)
    except ValueError:
        return False
    within = measure.min <= value and (measure.max is None or value <= measure.max)
    return value > question.max and within and unit in (None, measure.unit)


def _question_text(ctx: Context, text: str) -> None:
    """At a question: ``85``, ``二十五``, ``85 受理後…`` score it (a measured figure such as a
    phone-test 92 is offered as its band); other words are evidence for the last answer."""
    sheet = _sheet_of(ctx, lock=True)
    question = _question_of(ctx, sheet)
    leading = split_leading_number(text)
    if leading is not None:
        number, unit, rest = leading
        if question.measure is not None and not rest and _is_measure(question, number, unit):
            _take_measure(ctx, sheet, question, number,
                          offered=float(number) > question.max and unit in (None, "分"))
            return
        if unit not in (None, "分"):
            parse_score(text, question)  # 85% at a question that has no such measure: refused
        score = parse_score(f"{number}{unit if unit == '分' else ''}", question)
        _apply(ctx, sheet, question, score, evidence=rest or None)
        return
    target = _evidence_target(ctx, sheet)
    if target is None or not text.strip():
        parse_score(text, question)  # refused: says what a score is
        return
    _evidence_text(ctx, sheet, target, text)


def _band_text(ctx: Context, text: str) -> None:
    """Inside a band: a score in it, with its evidence after it."""
    sheet = _sheet_of(ctx, lock=True)
    question = _question_of(ctx, sheet)
    index = _data(ctx).band
    assert index is not None
    chosen = question.bands[index]
    leading = split_leading_number(text)
    if leading is None and _evidence_target(ctx, sheet) is not None and text.strip():
        _evidence_text(ctx, sheet, _evidence_target(ctx, sheet), text)  # type: ignore[arg-type]
        return
    typed, rest = (f"{leading[0]}分", leading[2]) if leading else (text, "")
    score = parse_score(typed, question, low=chosen.min, high=chosen.max)
    _apply(ctx, sheet, question, score, evidence=rest or None)


def _measure_text(ctx: Context, text: str) -> None:
    sheet = _sheet_of(ctx, lock=True)
    _take_measure(ctx, sheet, _question_of(ctx, sheet), text)


def _take_measure(ctx: Context, sheet: Sheet, question: Question, text: str, *,
                  offered: bool = False) -> None:
    """The question's measured figure names the band, whose score is then picked.
    ``offered``: the figure was typed as if a score, so say how it was read."""
    measure = question.measure
    assert measure is not None
    match = _MEASURE.match(to_halfwidth(text).strip())
    allowed = views.measure_range(question)
    if not match:
        raise Refused(f"請輸入{measure.name}的數字（{allowed}）。")
    value = float(match.group(1))
    try:
        band = band_for_measure(question, value)
    except ScoreError:
        raise Refused(f"{value:g} 超出{measure.name}的範圍（{allowed}）。") from None
    shown = f"{measure.name} {value:g}{measure.unit}"
    if offered:
        shown = (f"{value:g} 超過本題滿分 {question.max} 分，視為{measure.name}："
                 f"{value:g}{measure.unit}")
    data = _data(ctx)
    data.code, data.measure = question.code, value
    if band is None:
        data.band = None
        ctx.show("low", shown=shown)
        return
    data.band = question.bands.index(band)
    ctx.show("band", prefix=f"{shown}，對應級距 {band.label}。")


def _evidence_target(ctx: Context, sheet: Sheet) -> Question | None:
    """The question evidence sent now belongs to: the one answered last, until the next score."""
    code = _data(ctx).evidence_for
    if code is None or not sheet.rubric.has_question(code):
        return None
    return sheet.rubric.question(code)


def _evidence_text(ctx: Context, sheet: Sheet, question: Question, text: str) -> None:
    cleaned = text.strip()
    sheet.check_may_edit(question.code)
    if not cleaned:
        raise Refused("請傳送文字說明、照片或檔案作為佐證。")
    sheet.answers[question.code] = add_evidence_text(
        session=ctx.turn.session, assessment=sheet.assessment, question_code=question.code,
        text=cleaned, member=_member(ctx.turn), now=ctx.turn.now)
    _redraw_after_evidence(
        ctx, prefix=f"已收到 {question.code} 的佐證：「{texts.quote(cleaned)}」。")


def _review_text(ctx: Context, text: str) -> None:
    """At the review: words are evidence for the last answer; else the menu's hint."""
    sheet = _sheet_of(ctx, lock=True)
    target = _evidence_target(ctx, sheet)
    if target is None:
        ctx.close()
        show_menu_hint(ctx.turn)
        return
    _evidence_text(ctx, sheet, target, text)


def _file(ctx: Context, attachment: IncomingFile) -> None:
    """A photo or file: evidence for the question answered last (until the next score)."""
    turn = ctx.turn
    sheet = _sheet_of(ctx, lock=True)
    question = _evidence_target(ctx, sheet)
    if question is None:
        if ctx.window.name == "review":
            ctx.close()
            show_menu_hint(turn, prefix="目前沒有正在填答的題目，檔案未被保存。")
            return
        raise Refused(texts.EVIDENCE_FIRST_SCORE)
    code = question.code
    sheet.check_may_edit(code)
    refusal = file_refusal(attachment, turn.config.max_evidence_bytes, "佐證檔案")
    if refusal is not None:
        _redraw_after_evidence(ctx, prefix=refusal)
        return
    try:
        digest, path = turn.keep_file(attachment)
    except EvidenceStoreError:
        logger.exception("evidence store failed for assessment %s", sheet.assessment.id)
        turn.notify_secretariat(
            sheet.assessment.agency_id,
            Outgoing(f"【系統通知】{sheet.section.name} 上傳 {code} 的佐證檔案時，"
                     "佐證儲存區寫入失敗（可能是磁碟空間不足），請通知系統管理者。"),
            key=f"store-failed:{turn.incoming.channel}:{turn.incoming.event_id}")
        _redraw_after_evidence(ctx, prefix=texts.EVIDENCE_STORE_FAILED)
        return
    add_attachment(session=turn.session, assessment=sheet.assessment, question_code=code,
                   attachment=Attachment(
                       channel=turn.incoming.channel, platform_file_id=attachment.platform_file_id,
                       filename=attachment.filename, mime_type=attachment.mime_type,
                       size=attachment.size, sha256=digest, stored_path=path),
                   member=_member(turn), now=turn.now)
    kind = "照片" if attachment.kind == "photo" else "檔案"
    name = f"「{attachment.filename}」" if attachment.filename else ""
    _redraw_after_evidence(
        ctx, prefix=f"已收到{kind}{name}（{_size(attachment.size)}），列為 {code} 的佐證。")


# --- buttons ---------------------------------------------------------------------------------


def _pick_band(ctx: Context, args: tuple[str, ...]) -> None:
    _data(ctx).band = int(args[0])
    _data(ctx).measure = None
    ctx.show("band")


def _pick_score(ctx: Context, args: tuple[str, ...]) -> None:
    sheet = _sheet_of(ctx, lock=True)
    _apply(ctx, sheet, _question_of(ctx, sheet), int(args[0]))


def _zero(ctx: Context, _: tuple[str, ...]) -> None:
    _pick_score(ctx, ("0",))


def _to_measure(ctx: Context, _: tuple[str, ...]) -> None:
    _data(ctx).band = None
    ctx.show("measure")


def _to_question(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    code = _data(ctx).code
    assert code is not None
    _ask(ctx, code)


def _carry(ctx: Context, _: tuple[str, ...]) -> None:
    """沿用上季: last quarter's answer becomes this one, with its evidence; then on."""
    turn = ctx.turn
    sheet = _sheet_of(ctx, lock=True)
    question = _question_of(ctx, sheet)
    earlier = sheet.offer(turn.session, question.code)
    if earlier is None:
        raise Refused(texts.STALE_BUTTON)
    sheet.check_may_edit(question.code)
    change = carry_over(session=turn.session, assessment=sheet.assessment,
                        question_code=question.code, earlier=earlier, member=_member(turn),
                        now=turn.now)
    sheet.answers[question.code] = change.answer
    taken = []
    if earlier.evidence_text:
        taken.append("文字佐證")
    if earlier.attachments:
        taken.append(f"檔案 {len(earlier.attachments)} 件")
    with_evidence = f"，並沿用{'、'.join(taken)}" if taken else ""
    _move_on(ctx, sheet, question.code,
             prefix=f"已沿用{earlier.period_label}的 {question.code}：{earlier.score} 分"
                    f"{with_evidence}。要補本季的佐證，直接傳文字、照片或檔案。")


def _cite(ctx: Context, args: tuple[str, ...]) -> None:
    """引用 115-P-0003: an adopted proposal as evidence of the question answered last."""
    turn = ctx.turn
    sheet = _sheet_of(ctx, lock=True)
    question = _evidence_target(ctx, sheet)
    proposal = turn.session.get(Proposal, int(args[0]))
    if question is None or proposal is None or proposal.section_id != sheet.section.id \
            or proposal.status not in ADOPTED:
        raise Refused(texts.UNKNOWN_BUTTON)
    sheet.check_may_edit(question.code)
    sheet.answers[question.code] = add_evidence_text(
        session=turn.session, assessment=sheet.assessment, question_code=question.code,
        text=f"創意提案 {texts.proposal_citation(proposal)}", member=_member(turn), now=turn.now)
    _redraw_after_evidence(
        ctx, prefix=f"已將創意提案 {proposal.reference} 列為 {question.code} 的佐證。")


def _keep(ctx: Context, _: tuple[str, ...]) -> None:
    """保留原分數: the answer stands; evidence sent next is for this question."""
    sheet = _sheet_of(ctx)
    code = _question_of(ctx, sheet).code
    answer = sheet.answers.get(code)
    if answer is None or answer.self_score is None:
        _go_next(ctx, sheet, code)
        return
    asked = ""
    if code in sheet.returned_codes():
        reason, _fixes = fixes_since_return(session=ctx.turn.session, assessment=sheet.assessment,
                                       codes=())
        asked = f"\n秘書室退回原因：{reason}" if reason else ""
    _move_on(ctx, sheet, code, prefix=f"{code} 保留原分數 {answer.self_score} 分。"
                                      f"要補佐證，直接傳文字、照片或檔案，會列為 {code} 的佐證。"
                                      f"{asked}")


def _back(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    sheet = _sheet_of(ctx)
    code = _question_of(ctx, sheet).code
    codes = [q.code for q in sheet.rubric.questions]
    position = codes.index(code)
    if position == 0:
        _ask(ctx, code, prefix="已經是第一題了。")
        return
    _ask(ctx, codes[position - 1])


def _skip(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    sheet = _sheet_of(ctx)
    _go_next(ctx, sheet, _question_of(ctx, sheet).code)


def _to_review(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    _review(ctx)


def _continue(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    sheet = _sheet_of(ctx)
    unanswered = sheet.unanswered()
    if not unanswered:
        _review(ctx, prefix="本季 25 題都已作答，可以檢視後送出。")
        return
    _ask(ctx, unanswered[0])


def _submit(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    """送出: refused while questions are unanswered; else the totals to confirm."""
    sheet = _sheet_of(ctx)
    refusal = sheet.not_yet_submittable()
    if refusal is not None:
        _review(ctx, prefix=refusal)
        return
    _data(ctx).code = None
    ctx.show("confirm")


def _confirm(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    """確認送出: lock the assessment, give the receipt, notify the secretariat."""
    sheet = _sheet_of(ctx, lock=True)
    if sheet.unanswered():
        _submit(ctx)
        return
    ctx.close()
    confirm_submit(ctx.turn, sheet)


def _cancel_submit(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    _review(ctx, prefix="已取消送出，答案都保留著。")


def _confirm_text(ctx: Context, text: str) -> None:
    raise Refused(f"請按「{texts.CONFIRM}」送出，或按「{texts.CANCEL}」返回。")


def _pause(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    """暫停: everything is saved; say how to come back."""
    turn = ctx.turn
    sheet = _sheet_of(ctx)
    target = resume_target(turn, sheet)
    where = ""
    if target is not None:
        where = f"下次從第 {sheet.rubric.placement(target).number} 題（{target}）繼續。"
    ctx.close()
    turn.state.to_menu()
    turn.say(f"已暫停，您的答案都已儲存。{where}隨時輸入「{texts.FILL}」或按下方按鈕即可繼續。",
             main_menu_choices(turn))


def _to_menu(ctx: Context, _: tuple[str, ...] | str = ()) -> None:
    ctx.close()
    show_menu(ctx.turn)


def _cancel(ctx: Context, _: str = "") -> None:
    """取消: from a band or a measure back to the question; from a question to the menu."""
    if ctx.window.name in ("band", "measure", "low"):
        code = _data(ctx).code
        assert code is not None
        _ask(ctx, code, prefix="已取消。")
        return
    if ctx.window.name == "confirm":
        _cancel_submit(ctx)
        return
    ctx.close()
    show_menu(ctx.turn, prefix="已取消。")


def _goto(ctx: Context, target: str) -> None:
    """跳到 N: by number (1–25) or by code (2.4)."""
    sheet = _sheet_of(ctx)
    code = sheet.question_named(target)
    if code is None:
        raise Refused(_no_such_question(sheet, target))
    _ask(ctx, code)


def _no_such_question(sheet: Sheet, target: str) -> str:
    return (f"沒有「{texts.quote(target)}」這一題。請輸入 1 到 {len(sheet.rubric.questions)} "
            "的題號（例如：跳到 5），或題目代碼（例如：跳到 2.4）。")


def _rescore(ctx: Context, _: str = "") -> None:
    if ctx.window.name in ("review", "confirm"):
        _continue(ctx)
        return
    _to_question(ctx)


def _relative(move: OnCommand) -> OnCommand:
    """上一題 / 略過 typed at the review or the confirmation: where 填寫自評 would go."""
    def command(ctx: Context, arg: str) -> None:
        if ctx.window.name in ("review", "confirm"):
            _continue(ctx)
            return
        move(ctx, arg)
    return command


def _glance(show: Callable[[Turn], None]) -> OnCommand:
    """我的進度 / 說明 while answering: shown at once (the answers are all saved), and
    填寫自評 under it comes back here."""
    def command(ctx: Context, _: str) -> None:
        ctx.close()
        show(ctx.turn)
    return command


def _form(ctx: Context, arg: str) -> None:
    """評分表 typed at a question: the files come, and 填寫自評 under them comes back."""
    ctx.close()
    send_form(ctx.turn, arg)


def _fill(ctx: Context, _: str = "") -> None:
    """填寫自評 typed inside the dialog: from where it continues, with the sheet's heading;
    evidence sent next is still for the question answered last."""
    kept = _data(ctx)
    ctx.close()
    resume(ctx.turn, kept=kept)


# --- opening ---------------------------------------------------------------------------------


def resume(turn: Turn, *, prefix: str | None = None, kept: AssessData | None = None) -> None:
    """填寫自評: continue where the member (or section) left off. Pressed or typed while the
    dialog is open (``kept``: its data, by default the open document's), evidence sent next
    stays with the question answered last."""
    kept = kept or _open_data(turn)
    sheet = current_sheet(turn)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    assert sheet.assessment.id is not None
    evidence_for = kept.evidence_for \
        if kept is not None and kept.assessment_id == sheet.assessment.id else None
    data = AssessData(assessment_id=sheet.assessment.id, evidence_for=evidence_for)
    heading = f"{prefix}\n{sheet.heading()}" if prefix else sheet.heading()
    returned = sheet.returned_codes()
    if returned:
        reason, _ = fixes_since_return(session=turn.session, assessment=sheet.assessment,
                                       codes=())
        asked = f"\n退回原因：{reason}" if reason else ""
        data.code = turn.state.question = returned[0]
        start_dialog(turn, DIALOG, data, window="question",
                     prefix=f"{heading}\n秘書室退回，請修改：{'、'.join(returned)}，"
                            f"改好後按「{texts.SUBMIT}」重新送出。{asked}\n"
                            "可修改分數，或按「保留原分數」後補傳佐證。")
        return
    code = resume_target(turn, sheet)
    unanswered = sheet.unanswered()
    if code is None:
        start_dialog(turn, DIALOG, data, window="review",
                     prefix="本季 25 題都已作答，可以檢視後送出。")
        return
    total = len(sheet.rubric.questions)
    answered = total - len(unanswered)
    intro = (f"{heading}\n已作答 {answered}/{total} 題。" if answered
             else f"{heading}\n開始填寫，共 {total} 題。")
    earlier = sheet.earlier(turn.session)
    offered = [c for c in unanswered if c in earlier]
    if offered:
        label = next(iter(earlier.values())).period_label
        intro += (f"\n可從上季開始：{label}已答的 {len(offered)} 題，每題會列出上季分數與佐證，"
                  f"按「{texts.CARRY}」採用，或直接輸入本季分數（不會自動帶入）。")
    data.code = turn.state.question = code
    start_dialog(turn, DIALOG, data, window="question", prefix=intro)


def _open_data(turn: Turn) -> AssessData | None:
    """The data of this dialog when it is the one open now."""
    document = turn.state.dialog
    if not document or document.get("name") != DIALOG.name:
        return None
    try:
        return AssessData.model_validate(document.get("data") or {})
    except ValidationError:
        return None


def show_review(turn: Turn) -> None:
    """檢視 from the menu: the review window of an editable sheet, else the read-only text."""
    sheet = current_sheet(turn)
    assert sheet.assessment.id is not None
    if not sheet.editable:
        turn.state.to_menu()
        turn.state.assessment_id = sheet.assessment.id
        turn.say(review_text(turn, sheet), main_menu_choices(turn))
        return
    start_dialog(turn, DIALOG, AssessData(assessment_id=sheet.assessment.id), window="review")


def goto(turn: Turn, target: str) -> None:
    """跳到 N typed from the menu: opens the dialog there."""
    sheet = current_sheet(turn)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    code = sheet.question_named(target)
    if code is None:
        show_menu_hint(turn, prefix=_no_such_question(sheet, target))
        return
    assert sheet.assessment.id is not None
    turn.state.question = code
    start_dialog(turn, DIALOG, AssessData(assessment_id=sheet.assessment.id, code=code),
                 window="question")


def request_submit(turn: Turn) -> None:
    """送出 typed from the menu: the confirmation, or the review saying what is missing."""
    sheet = current_sheet(turn)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    assert sheet.assessment.id is not None
    data = AssessData(assessment_id=sheet.assessment.id)
    refusal = sheet.not_yet_submittable()
    if refusal is not None:
        start_dialog(turn, DIALOG, data, window="review", prefix=refusal)
        return
    start_dialog(turn, DIALOG, data, window="confirm")


def confirm_submit(turn: Turn, sheet: Sheet) -> None:
    """Lock the assessment, give the receipt, notify the secretariat and the section."""
    member = _member(turn)
    card = score_card_of(sheet)
    resubmitted = sheet.assessment.status == AssessmentStatus.RETURNED
    fixed = _fix_lines(turn, sheet) if resubmitted else []
    carried = sheet.carried()
    carried_line = (f"沿用上季：{'、'.join(carried)}（共 {len(carried)} 題，"
                    f"{sheet.answers[carried[0]].carried_from}）" if carried else "")
    reference = submit_assessment(session=turn.session, assessment=sheet.assessment,
                                  member=member, now=turn.now)
    when = texts.roc_datetime(turn.now)
    turn.state.to_menu()
    turn.state.assessment_id = sheet.assessment.id
    receipt_card = Card(
        f"收件確認{'（退回後重新送出）' if resubmitted else ''} {reference}", (
            ("課室", sheet.section.name), ("期別", sheet.period.label), ("送出時間", when),
            ("送出人", member.name), ("總分", f"{card.total} 分"), ("等第", card.grade)),
        "本季自評已鎖定，秘書室審定後會通知您。", note=carried_line)
    turn.say(
        "\n".join([
            "收件確認（退回後重新送出）" if resubmitted else "收件確認",
            f"收件編號：{reference}",
            f"課室：{sheet.section.name}",
            f"期別：{sheet.period.label}",
            f"送出時間：{when}",
            f"送出人：{member.name}",
            f"總分：{card.total} 分",
            f"等第：{card.grade}",
            *([carried_line] if carried_line else []),
            "",
            "本季自評已鎖定，秘書室審定後會通知您。",
        ]),
        main_menu_choices(turn),
        card=receipt_card,
    )
    heading = "【重新送出】" if resubmitted else "【自評送出】"
    notice = Outgoing(
        "\n".join([f"{heading}{sheet.section.name} {sheet.period.label}", *fixed,
                   f"總分 {card.total} 分，等第「{card.grade}」",
                   f"送出人：{member.name}（{when}）",
                   *([carried_line] if carried_line else []),
                   f"收件編號：{reference}" + ("（同原送出）" if resubmitted else "")]),
        choices=(Choice("開始審定", Token(0, "vo", (str(sheet.assessment.id),)).encode()),),
        meta={"kind": "submission", "assessment_id": sheet.assessment.id},
    )
    key = f"submitted:{reference}" + (f":v{sheet.assessment.version}" if resubmitted else "")
    turn.notify_secretariat(sheet.assessment.agency_id, notice, key=key)
    # The rest of the section learns it is done (they stop being asked for answers).
    for other in _section_members(turn, sheet.section):
        if other.id != member.id and other.id is not None:
            turn.notify(member_destinations(session=turn.session, member_id=other.id),
                        Outgoing(f"{sheet.section.name} {sheet.period.label} 自評已由 "
                                 f"{member.name} 送出（總分 {card.total} 分，"
                                 f"等第「{card.grade}」）。"),
                        key=f"{key}:member:{other.id}")


def _fix_lines(turn: Turn, sheet: Sheet) -> list[str]:
    """For the 【重新送出】 notice: why it was returned and what the section changed."""
    codes = sheet.returned_codes() or [q.code for q in sheet.rubric.questions]
    reason, fixes = fixes_since_return(session=turn.session, assessment=sheet.assessment,
                                       codes=codes)
    lines = [f"秘書室退回原因：{reason}"] if reason else []
    changes = []
    for fix in fixes:
        evidence = "，補充佐證" if fix.evidence_added else ""
        if fix.before != fix.after:
            changes.append(f"{fix.code} {fix.before}→{fix.after} 分{evidence}")
        elif fix.evidence_added or sheet.returned_codes():
            changes.append(f"{fix.code} 維持 {fix.after} 分{evidence}")
    lines.append("修改：" + ("；".join(changes) if changes else "未修改分數"))
    return lines


def _section_members(turn: Turn, section: Section) -> list[Member]:
    return list(turn.session.exec(
        select(Member).where(Member.section_id == section.id, Member.active == True)  # noqa: E712
    ).all())


# --- the dialog ------------------------------------------------------------------------------


def _cite_select() -> Select:
    return Select("pq", lambda v: [(c.label, str(c.proposal_id)) for c in v.cites], _cite)


_PAUSE = Button("z", texts.PAUSE, _pause)
_BAND_BACK = Button("q", texts.BAND_BACK, _to_question)

_COMMANDS: dict[str, OnCommand] = {
    "pause": _pause, "cancel": _cancel, "menu": _to_menu, "start": _to_menu, "bind": _to_menu,
    "goto": _goto, "review": _to_review, "submit": _submit, "fill": _fill,
    "confirm": lambda ctx, arg: _submit(ctx), "rescore": _rescore,
    "back": _relative(_back), "skip": _relative(_skip), "next": _relative(_skip),
    "progress": _glance(show_progress), "overview": _glance(show_overview),
    "help": _glance(show_help), "form": _form,
}

DIALOG = Dialog(
    "assess",
    data=AssessData,
    leave=LeavePrompt("要離開自評嗎？您的答案都已儲存。", texts.CONTINUE, "離開"),
    commands=_COMMANDS,
    reopened_by=("m",),
    windows=(
        Window(
            "question", getter=_question_view, render=views.question,
            widgets=(
                Button("cf", lambda v: views.carry_label(v.earlier), _carry,
                       when=lambda v: v.earlier is not None),
                _cite_select(),
                Select("b", lambda v: [(band.label, str(i))
                                       for i, band in enumerate(v.question.bands)], _pick_band),
                Button("e", lambda v: v.measure_label or "", _to_measure,
                       when=lambda v: v.measure_label is not None),
                Button("zero", texts.ZERO, _zero),
                Button("n", "保留原分數", _keep, when=lambda v: v.answered),
                Button("p", texts.BACK, _back),
                Button("k", texts.SKIP, _skip),
                Button("r", texts.REVIEW, _to_review),
                _PAUSE,
            ),
            on_text=_question_text, on_file=_file,
        ),
        Window(
            "band", getter=_band_view, render=views.band,
            widgets=(Select("s", lambda v: [(f"{p}分", str(p)) for p in v.picks], _pick_score),
                     _BAND_BACK, _PAUSE),
            on_text=_band_text, on_file=_file,
        ),
        Window(
            "measure", getter=_measure_view, render=views.measure,
            widgets=(_BAND_BACK, _PAUSE),
            on_text=_measure_text, on_file=_file,
        ),
        Window(
            "low", getter=_low_view, render=views.low,
            widgets=(Button("zero", texts.ZERO, _zero),
                     Button("e", "重新輸入", _to_measure), _BAND_BACK),
            on_text=_question_text, on_file=_file,  # a score (0), a new figure, or evidence
        ),
        Window(
            "review", getter=_review_view, render=views.review, settled=True,
            widgets=(
                _cite_select(),
                Button("g", texts.CONTINUE, _continue, when=lambda v: bool(v.unanswered)),
                Button("u", texts.SUBMIT, _submit, when=lambda v: not v.unanswered),
                Button("menu", texts.MENU, _to_menu),
            ),
            on_text=_review_text, on_file=_file,
            takes_file=lambda data: data.evidence_for is not None,
        ),
        Window(
            "confirm", getter=_confirm_view, render=views.confirm,
            widgets=(Button("c", texts.CONFIRM, _confirm),
                     Button("x", texts.CANCEL, _cancel_submit)),
            on_text=_confirm_text,
            commands={"confirm": _confirm, "submit": lambda ctx, arg: ctx.redraw()},
        ),
    ),
)
