"""審定: the secretariat walks a submitted assessment question by question.

確認 keeps the self score, a typed number (with an optional reason) sets the verified
score, 標記退回 marks a question for the section to change; 完成審定 locks the verification
with the 優點、建議改進事項, 退回課室 returns it with a reason. Typed labels work as presses
(「確認」 is 「確認 10 分」), and a word of another dialog asks before leaving.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlmodel import col, select

from handlers import texts
from handlers.assessment import Sheet, _sheet, main_menu_choices
from handlers.dialogs import verify_views as views
from handlers.flow import (
    Button,
    Closed,
    Context,
    Dialog,
    LeavePrompt,
    Refused,
    Window,
    start_dialog,
)
from handlers.flow.dialog import OnCommand
from handlers.messages import Choice, Document, Outgoing
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from rubric import Question, ScoreError, band_for_measure, check_score, to_halfwidth
from rubric.periods import TAIPEI, format_roc_date
from storage.assessments import attachment_counts, lock_assessment
from storage.errors import NotFound
from storage.models import Agency, Answer, Assessment, AssessmentStatus, Attachment, Member
from storage.org import get_section, list_sections
from storage.outbox import member_destinations
from storage.verification import (
    finish_verification,
    mark_returned,
    phone_tests,
    return_assessment,
    set_verified_score,
)

logger = logging.getLogger(__name__)

PHONE_TEST_MEASURE = "phone_courtesy_test"
_VERIFIED = re.compile(r"^\s*(\d{1,4})\s*分?\s*(.*)$", re.DOTALL)


class VerifyData(BaseModel):
    """Where the secretariat is in the walk."""

    assessment_id: int
    code: str


# --- reading ---------------------------------------------------------------------------------


def require_desk(turn: Turn) -> None:
    """Refused unless the member acts for the secretariat."""
    if not turn.is_secretariat:
        logger.warning("refused a secretariat action from member %s (role %s)",
                       turn.member.id if turn.member else None,
                       turn.member.role if turn.member else None)
        raise Refused(texts.NOT_ALLOWED)


def _agency(turn: Turn) -> Agency:
    assert turn.member is not None
    agency = turn.session.get(Agency, turn.member.agency_id)
    assert agency is not None
    return agency


def _sheet_of(ctx: Context, *, lock: bool = False) -> Sheet:
    """The assessment being verified; Refused (and the walk closed) when it is no longer
    waiting for verification — another clerk may have finished or returned it."""
    data = ctx.data
    assert isinstance(data, VerifyData)
    turn = ctx.turn
    require_desk(turn)
    assessment = lock_assessment(session=turn.session, assessment_id=data.assessment_id) \
        if lock else turn.session.get(Assessment, data.assessment_id)
    if assessment is None or assessment.agency_id != _agency(turn).id \
            or assessment.status != AssessmentStatus.SUBMITTED:
        ctx.close()
        turn.state.to_menu()
        turn.replies.clear()
        turn.say("這份自評已不在待審定狀態。", main_menu_choices(turn))
        raise Closed
    return _sheet(turn, assessment)


def _question_view(ctx: Context) -> views.QuestionView:
    sheet = _sheet_of(ctx)
    data = ctx.data
    assert isinstance(data, VerifyData)
    code = data.code if sheet.rubric.has_question(data.code) else sheet.rubric.questions[0].code
    question = sheet.rubric.question(code)
    answer = sheet.answers.get(code)
    placement = sheet.rubric.placement(code)
    files = attachment_counts(session=ctx.turn.session,
                              assessment_id=sheet.assessment.id or 0).get(code, 0)
    phone = question.measure is not None and question.measure.kind == PHONE_TEST_MEASURE
    return views.QuestionView(
        section=sheet.section.name, number=placement.number, total=len(sheet.rubric.questions),
        code=code, name=question.name, max=question.max, breadcrumb=placement.breadcrumb,
        self_score=answer.self_score if answer else None,
        evidence_text=answer.evidence_text if answer else None, files=files,
        verified_score=answer.verified_score if answer else None,
        comment=answer.reviewer_comment if answer else None,
        returned=bool(answer and answer.returned),
        bands=tuple(b.label for b in question.bands),
        phone_hint=tuple(_phone_band_hint(ctx.turn, sheet, question)) if phone else (),
        measured=measured_figure(question, answer))


def measured_figure(question: Question, answer: Answer | None) -> str | None:
    """The measured figure the section gave with its score: ``電話禮貌測試分數 92分``."""
    if answer is None or answer.measure_value is None or question.measure is None:
        return None
    return f"{question.measure.name} {answer.measure_value:g}{question.measure.unit}"


def _sheet_view(ctx: Context) -> views.SheetView:
    sheet = _sheet_of(ctx)
    codes = [q.code for q in sheet.rubric.questions]
    return views.SheetView(section=sheet.section.name, period=sheet.period.label,
                           reference=sheet.assessment.reference, first_code=codes[0],
                           last_code=codes[-1], unreviewed=tuple(unreviewed(sheet)))


def unreviewed(sheet: Sheet) -> list[str]:
    """Questions the secretariat has not confirmed or scored since the sheet was (re)submitted:
    a question reviewed before a return, then changed, is to be looked at again."""
    submitted = sheet.assessment.submitted_at
    left = []
    for question in sheet.rubric.questions:
        answer = sheet.answers.get(question.code)
        if answer is None or answer.self_score is None:
            continue
        seen = answer.reviewed_at
        if seen is None or (submitted is not None and _aware(seen) < _aware(submitted)):
            left.append(question.code)
    return left


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _phone_band_hint(turn: Turn, sheet: Sheet, question: Question) -> list[str]:
    tests = [t for t in phone_tests(session=turn.session, agency_id=sheet.assessment.agency_id,
                                    first_day=sheet.period.first_day,
                                    last_day=sheet.period.last_day)
             if t.section_id == sheet.section.id]
    if not tests:
        return ["本季尚未登錄此課室的電話禮貌測試。"]
    average = sum(t.score for t in tests) / len(tests)
    band = band_for_measure(question, average)
    shown = "、".join(f"{t.person_tested} {t.score} 分" for t in tests)
    proposal = f"建議級距 {band.label}" if band else "未達最低級距，建議 0 分"
    return [f"本季電話禮貌測試：{shown}（平均 {average:g} 分）→ {proposal}"]


# --- opening ---------------------------------------------------------------------------------


def start(turn: Turn, section_name: str) -> None:
    """審定 規劃課: the section's newest submitted assessment, from its first question."""
    require_desk(turn)
    agency = _agency(turn)
    try:
        section = get_section(session=turn.session, agency=agency, name=section_name.strip())
    except NotFound:
        names = "、".join(s.name for s in list_sections(session=turn.session, agency=agency))
        raise Refused(f"找不到課室「{section_name}」。可審定的課室：{names}") from None
    assessment = turn.session.exec(
        select(Assessment).where(Assessment.section_id == section.id,
                                 Assessment.status == AssessmentStatus.SUBMITTED)
        .order_by(col(Assessment.roc_year).desc(), col(Assessment.quarter).desc())).first()
    if assessment is None:
        raise Refused(f"{section.name}目前沒有待審定（已送出）的自評。")
    _open(turn, assessment)


def open_from_notice(turn: Turn, token: Token) -> None:
    """The 開始審定 button under a submission notice."""
    require_desk(turn)
    try:
        assessment_id = token.int_arg(0)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    assessment = turn.session.get(Assessment, assessment_id)
    if assessment is None or assessment.agency_id != _agency(turn).id:
        raise Refused(texts.UNKNOWN_BUTTON)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise Refused("這份自評已不在待審定狀態。")
    _open(turn, assessment)


def _open(turn: Turn, assessment: Assessment) -> None:
    """From the first question not yet reviewed since the (re)submission."""
    assert assessment.id is not None
    sheet = _sheet(turn, assessment)
    turn.state.to_menu()
    left = unreviewed(sheet)
    answered = [q.code for q in sheet.rubric.questions
                if (a := sheet.answers.get(q.code)) is not None and a.self_score is not None]
    first = sheet.rubric.questions[0].code
    opening = (f"開始審定 {sheet.section.name} {sheet.period.label} 自評"
               f"（收件編號 {assessment.reference}）。")
    if left and left[0] != first and len(left) < len(answered):
        opening = (f"繼續審定 {sheet.section.name} {sheet.period.label} 自評"
                   f"（收件編號 {assessment.reference}）：已審定 {len(answered) - len(left)} 題，"
                   f"從 {left[0]} 繼續；輸入「跳到 1」可從頭看。")
        first = left[0]
    start_dialog(turn, DIALOG, VerifyData(assessment_id=assessment.id, code=first),
                 prefix=opening)


# --- steps -----------------------------------------------------------------------------------


def _codes(sheet: Sheet) -> list[str]:
    return [q.code for q in sheet.rubric.questions]


def _move(ctx: Context, sheet: Sheet, offset: int, *, prefix: str | None = None) -> None:
    data = ctx.data
    assert isinstance(data, VerifyData)
    codes = _codes(sheet)
    position = codes.index(data.code) if data.code in codes else 0
    target = position + offset
    if target >= len(codes):
        ctx.show("end", prefix=prefix)
        return
    data.code = codes[max(target, 0)]
    ctx.show("question", prefix=prefix)


def _confirm(ctx: Context, args: tuple[str, ...]) -> None:
    sheet = _sheet_of(ctx, lock=True)
    data = ctx.data
    assert isinstance(data, VerifyData) and ctx.turn.member is not None
    answer = sheet.answers.get(data.code)
    if answer is None or answer.self_score is None:
        raise Refused("這題沒有自評分數，請輸入審定分數。")
    set_verified_score(session=ctx.turn.session, assessment=sheet.assessment,
                       question_code=data.code, score=answer.self_score,
                       reviewer=ctx.turn.member, now=ctx.turn.now)
    _move(ctx, sheet, 1, prefix=f"{data.code} 審定 {answer.self_score} 分。")


def _score_text(ctx: Context, text: str) -> None:
    sheet = _sheet_of(ctx, lock=True)
    data = ctx.data
    assert isinstance(data, VerifyData) and ctx.turn.member is not None
    question = sheet.rubric.question(data.code)
    match = _VERIFIED.match(to_halfwidth(text))
    if match is None:
        raise Refused(f"請輸入 0 到 {question.max} 的整數作為審定分數（可加說明，例如："
                      f"{min(15, question.max)} 缺少佐證），或按下方按鈕。")
    try:
        score = check_score(question, int(match.group(1)))
    except ScoreError as exc:
        raise Refused(f"{match.group(1)} 分不是本題允許的分數（{exc.allowed}）。") from None
    comment = match.group(2).strip() or None
    set_verified_score(session=ctx.turn.session, assessment=sheet.assessment,
                       question_code=data.code, score=score, reviewer=ctx.turn.member,
                       now=ctx.turn.now, comment=comment)
    _move(ctx, sheet, 1, prefix=f"{data.code} 審定 {score} 分。")


def _mark(ctx: Context, args: tuple[str, ...]) -> None:
    sheet = _sheet_of(ctx, lock=True)
    data = ctx.data
    assert isinstance(data, VerifyData) and ctx.turn.member is not None
    answer = sheet.answers.get(data.code)
    marked = not (answer is not None and answer.returned)
    mark_returned(session=ctx.turn.session, assessment=sheet.assessment,
                  question_code=data.code, returned=marked, reviewer=ctx.turn.member,
                  now=ctx.turn.now)
    ctx.redraw(prefix=f"{data.code} " + ("已標記退回。" if marked else "已取消退回標記。"))


def _attachments(ctx: Context, args: tuple[str, ...]) -> None:
    """The evidence files of the question, sent again for the reviewer."""
    sheet = _sheet_of(ctx)
    data = ctx.data
    assert isinstance(data, VerifyData)
    turn, code = ctx.turn, data.code
    answer = sheet.answers.get(code)
    files = [] if answer is None else turn.session.exec(
        select(Attachment).where(Attachment.answer_id == answer.id)
        .order_by(col(Attachment.id))).all()
    for index, attachment in enumerate(files, start=1):
        if attachment.stored_path is None:
            turn.replies.append(Outgoing(f"附件 {index}：檔案未能保存（{attachment.filename}）"))
            continue
        try:
            content = turn.config.evidence.read(attachment.stored_path)
        except OSError:
            turn.replies.append(Outgoing(f"附件 {index}：佐證儲存區找不到這個檔案。"))
            continue
        document = Document(attachment.filename or f"{code}-{index}", content,
                            attachment.mime_type)
        is_picture = attachment.mime_type.startswith("image/")
        turn.replies.append(Outgoing(f"{code} 附件 {index}/{len(files)}",
                                     picture=document if is_picture else None,
                                     document=None if is_picture else document))
    ctx.redraw(prefix=f"已傳送 {code} 的 {len(files)} 個附件。")


def _back(ctx: Context, *_: object) -> None:
    sheet = _sheet_of(ctx)
    if ctx.window.name == "question":
        _move(ctx, sheet, -1)
    else:
        data = ctx.data
        assert isinstance(data, VerifyData)
        data.code = _codes(sheet)[-1]
        ctx.show("question")


def _next(ctx: Context, *_: object) -> None:
    _move(ctx, _sheet_of(ctx), 1)


def _goto(ctx: Context, arg: str) -> None:
    sheet = _sheet_of(ctx)
    data = ctx.data
    assert isinstance(data, VerifyData)
    code = sheet.question_named(arg)
    if code is None:
        raise Refused(f"請輸入 1 到 {len(sheet.rubric.questions)} 的題號或題目代碼。")
    data.code = code
    ctx.show("question")


def _to_notes(ctx: Context, *_: object) -> None:
    _sheet_of(ctx)
    ctx.show("notes")


def _to_unreviewed(ctx: Context, *_: object) -> None:
    """返回審定 from 完成審定: the first question not looked at yet."""
    sheet = _sheet_of(ctx)
    data = ctx.data
    assert isinstance(data, VerifyData)
    left = unreviewed(sheet)
    data.code = left[0] if left else sheet.rubric.questions[0].code
    ctx.show("question")


def _to_reason(ctx: Context, *_: object) -> None:
    _sheet_of(ctx)
    ctx.show("reason")


def _leave(ctx: Context, *_: object) -> None:
    """取消 / 選單 typed in the walk: the verified scores so far are kept."""
    ctx.close()
    ctx.turn.state.to_menu()
    ctx.turn.say("已離開審定，已審定的分數都保留著；輸入「審定 課室」可繼續。",
                 main_menu_choices(ctx.turn))


def _notes_text(ctx: Context, text: str) -> None:
    cleaned = text.strip()
    _finish(ctx, None if cleaned in ("", "/skip") else cleaned)


def _skip_notes(ctx: Context, *_: object) -> None:
    _finish(ctx, None)


def _finish(ctx: Context, notes: str | None) -> None:
    sheet = _sheet_of(ctx, lock=True)
    turn = ctx.turn
    assert turn.member is not None
    today = turn.now.astimezone(TAIPEI).date()
    finish_verification(session=turn.session, assessment=sheet.assessment, assessor=turn.member,
                        assessed_on=today, strengths_and_suggestions=notes, now=turn.now)
    from reports.build import section_scores
    from rubric import score_card

    scores, _ = section_scores(turn.session, sheet.assessment, sheet.rubric)
    card = score_card(sheet.rubric, scores)
    ctx.close()
    turn.state.to_menu()
    summary = (f"{sheet.section.name} {sheet.period.label} 自評已審定：總分 {card.total} 分，"
               f"等第「{card.grade}」。考核人員：{turn.member.name}，考核日期："
               f"{format_roc_date(today)}。")
    turn.say(summary, main_menu_choices(turn))
    changed = changed_lines(sheet)
    _tell_section(turn, sheet, "\n".join([
        f"【審定完成】{summary}",
        *(["審定調整：", *changed] if changed else ["各題均採自評分數。"]),
        *([f"優點、建議改進事項：{notes}"] if notes else [])]), "verified",
        choices=(Choice(texts.MY_PROGRESS, Token(0, "m", ("progress",)).encode()),))


def changed_lines(sheet: Sheet) -> list[str]:
    """``1.2 55→40：缺少佐證`` for each question whose verified score differs."""
    lines = []
    for question in sheet.rubric.questions:
        answer = sheet.answers.get(question.code)
        if answer is None or answer.verified_score is None \
                or answer.verified_score == answer.self_score:
            continue
        reason = f"：{answer.reviewer_comment}" if answer.reviewer_comment else ""
        before = "—" if answer.self_score is None else answer.self_score
        lines.append(f"{question.code} {before}→{answer.verified_score}{reason}")
    return lines


def _reason_text(ctx: Context, text: str) -> None:
    reason = text.strip()
    if not reason:
        raise Refused("請輸入退回原因。")
    sheet = _sheet_of(ctx, lock=True)
    turn = ctx.turn
    assert turn.member is not None
    marked = return_assessment(session=turn.session, assessment=sheet.assessment,
                               reviewer=turn.member, reason=reason, now=turn.now)
    ctx.close()
    turn.state.to_menu()
    which = ("、".join(marked) + " 題") if marked else "全部題目"
    turn.say(f"已將 {sheet.section.name} {sheet.period.label} 自評退回（{which}）。",
             main_menu_choices(turn))
    _tell_section(turn, sheet, f"【退回】{sheet.section.name} {sheet.period.label} 自評已由秘書室"
                  f"退回，請修改{which}後重新送出。\n原因：{reason}", "returned",
                  choices=(Choice(texts.FILL, Token(0, "m", ("fill",)).encode()),))


def _tell_section(turn: Turn, sheet: Sheet, text: str, what: str,
                  choices: tuple[Choice, ...] = ()) -> None:
    members = turn.session.exec(select(Member).where(
        Member.section_id == sheet.section.id, col(Member.active).is_(True))).all()
    for member in members:
        assert member.id is not None
        turn.notify(member_destinations(session=turn.session, member_id=member.id),
                    Outgoing(text, choices),
                    key=f"{what}:{sheet.assessment.id}:{sheet.assessment.version}:{member.id}")


# --- the dialog ------------------------------------------------------------------------------


_WALK: dict[str, OnCommand] = {"back": _back, "next": _next, "skip": _next,
         "goto": _goto}
_LEAVE: dict[str, OnCommand] = {"cancel": _leave, "menu": _leave}


DIALOG = Dialog(
    "verify",
    data=VerifyData,
    leave=LeavePrompt("要離開審定嗎？已審定的分數都會保留。", "繼續審定", "離開"),
    commands=_LEAVE,
    reopened_by=("vo",),
    windows=(
        Window(
            "question", getter=_question_view, render=views.question,
            widgets=(
                Button("ok", lambda v: f"確認 {v.self_score} 分", _confirm,
                       when=lambda v: v.self_score is not None),
                Button("files", lambda v: f"看附件（{v.files}）", _attachments,
                       when=lambda v: v.files > 0),
                Button("mark", lambda v: "取消退回標記" if v.returned else "標記退回",
                       _mark),
                Button("prev", texts.BACK, _back),
                Button("next", texts.NEXT, _next),
                Button("done", "完成審定", _to_notes),
                Button("ret", "退回課室", _to_reason),
            ),
            on_text=_score_text,
            commands={**_WALK, "confirm": lambda ctx, _: _confirm(ctx, ())},
        ),
        Window(
            "end", getter=_sheet_view, render=views.end,
            widgets=(Button("done", "完成審定", _to_notes),
                     Button("ret", "退回課室", _to_reason),
                     Button("prev", texts.BACK, _back)),
            commands={"back": _back, "goto": _goto},
        ),
        Window(
            "notes", getter=_sheet_view, render=views.notes,
            widgets=(Button("skip", texts.SKIP, _skip_notes),
                     Button("back", "返回審定", _to_unreviewed, when=lambda v: bool(v.unreviewed))),
            on_text=_notes_text,
            commands={"skip": _skip_notes},
        ),
        Window(
            "reason", getter=_sheet_view, render=views.reason,
            widgets=(Button("back", "返回審定", _back),),
            on_text=_reason_text,
        ),
    ),
)
