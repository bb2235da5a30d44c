"""The secretariat's desk: verification (審定), returns (退回), phone-courtesy tests, and the
quarterly and annual tables — in a private chat or the bound group, for secretariat roles."""

from __future__ import annotations

import logging
import re
from datetime import date

from sqlmodel import col, select

from handlers import texts
from handlers.assessment import Refused, Sheet, _sheet, main_menu_choices
from handlers.messages import Choice, Document, Outgoing
from handlers.state import Mode
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from reports.build import build_annual_table, build_quarter_table
from reports.performance import (
    MAX_PAGES,
    RenderError,
    ReportCase,
    build_performance_report,
    chinese_number,
    fit_to_pages,
    performance_docx,
    performance_odt,
)
from rubric import (
    Period,
    Question,
    Rubric,
    ScoreError,
    band_for_measure,
    check_score,
    latest_rubric_year,
    load_year,
    to_halfwidth,
)
from rubric.calendar import open_window
from rubric.periods import TAIPEI, format_roc_date, parse_period
from storage.assessments import attachment_counts, lock_assessment
from storage.errors import NotFound
from storage.models import Agency, Assessment, AssessmentStatus, Attachment, Member
from storage.models import ReportCase as ReportCaseRow
from storage.org import get_section, list_sections
from storage.outbox import member_destinations
from storage.report_cases import (
    REVIEW_HEADING,
    get_report_case,
    list_report_cases,
    set_kept,
    set_pinned,
)
from storage.verification import (
    finish_verification,
    mark_returned,
    phone_tests,
    record_phone_test,
    return_assessment,
    set_verified_score,
)

logger = logging.getLogger(__name__)

PHONE_TEST_MEASURE = "phone_courtesy_test"
VERIFY, VERIFY_NOTES, RETURN_REASON = Mode.VERIFY, Mode.VERIFY_NOTES, Mode.RETURN_REASON
DESK_MODES = (VERIFY, VERIFY_NOTES, RETURN_REASON)
VERIFY_VERBS = ("vc", "vm", "vp", "vn", "vf", "vr", "vs", "va")
_PHONE = re.compile(r"^(?:電話測試|/phonetest)\s+(\S+)\s+(\S+)\s+(\d{1,3})(?:\s+(.+))?$")
ODS = "application/vnd.oasis.opendocument.spreadsheet"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_desk_command(name: str) -> bool:
    """Commands only the secretariat uses."""
    return name in ("verify", "phonetest", "table", "annual", "report")


def _agency(turn: Turn) -> Agency:
    assert turn.member is not None
    agency = turn.session.get(Agency, turn.member.agency_id)
    assert agency is not None
    return agency


def _require_desk(turn: Turn) -> None:
    if not turn.is_secretariat:
        logger.warning("refused a secretariat action from member %s (role %s)",
                       turn.member.id if turn.member else None,
                       turn.member.role if turn.member else None)
        raise Refused(texts.NOT_ALLOWED)


def desk_period(turn: Turn) -> Period:
    """The quarter the desk works on: the open window's, else the current one."""
    today = turn.now.astimezone(TAIPEI).date()
    window = open_window(today, turn.config.schedule, turn.config.calendar)
    return window.period if window is not None else Period.of(today)


# --- verification ----------------------------------------------------------------------------


def start_verify(turn: Turn, section_name: str) -> None:
    """審定 規劃課: walk the section's submitted assessment question by question."""
    _require_desk(turn)
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
    assert assessment.id is not None
    sheet = _sheet(turn, assessment)
    _show_verify(turn, sheet, sheet.rubric.questions[0].code,
                 prefix=f"開始審定 {sheet.section.name} {sheet.period.label} 自評"
                        f"（收件編號 {assessment.reference}）。")


def open_from_notice(turn: Turn, token: Token) -> None:
    """The 開始審定 button under a submission notice."""
    _require_desk(turn)
    assessment = turn.session.get(Assessment, token.int_arg(0))
    if assessment is None or assessment.agency_id != _agency(turn).id:
        raise Refused(texts.UNKNOWN_BUTTON)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise Refused("這份自評已不在待審定狀態。")
    sheet = _sheet(turn, assessment)
    _show_verify(turn, sheet, sheet.rubric.questions[0].code,
                 prefix=f"開始審定 {sheet.section.name} {sheet.period.label} 自評"
                        f"（收件編號 {assessment.reference}）。")


def _show_verify(turn: Turn, sheet: Sheet, code: str, *, prefix: str | None = None) -> None:
    assert sheet.assessment.id is not None
    question = sheet.rubric.question(code)
    answer = sheet.answers.get(code)
    placement = sheet.rubric.placement(code)
    turn.state.at_question(sheet.assessment.id, code, VERIFY)
    total = len(sheet.rubric.questions)
    lines = [f"【審定】{sheet.section.name} 第 {placement.number}/{total} 題　"
             f"{code} {question.name}（滿分 {question.max} 分）", placement.breadcrumb]
    self_score = answer.self_score if answer else None
    lines.append(f"自評：{self_score if self_score is not None else '未作答'} 分")
    if answer is not None and answer.evidence_text:
        lines.append(f"佐證：{answer.evidence_text}")
    if answer is not None and answer.verified_score is not None:
        lines.append(f"審定分數：{answer.verified_score} 分"
                     + (f"（{answer.reviewer_comment}）" if answer.reviewer_comment else ""))
    if answer is not None and answer.returned:
        lines.append("（已標記退回）")
    if question.bands:
        lines.append("級距：" + "；".join(f"{b.label}" for b in question.bands))
    if question.measure is not None and question.measure.kind == PHONE_TEST_MEASURE:
        lines += _phone_band_hint(turn, sheet, question)
    lines.append("請按「確認」採用自評分數，或輸入審定分數（可加說明，例如：15 缺少佐證）。")
    aid = sheet.assessment.id
    choices = []
    if self_score is not None:
        choices.append(turn.choice(f"確認 {self_score} 分", "vc", aid, code))
    files = attachment_counts(session=turn.session, assessment_id=aid).get(code, 0)
    if files:
        lines.insert(3, f"佐證檔案：{files} 件")
        choices.append(turn.choice(f"看附件（{files}）", "va", aid, code))
    marked = answer is not None and answer.returned
    choices += [turn.choice("取消退回標記" if marked else "標記退回", "vm", aid, code),
                turn.choice(texts.BACK, "vp", aid, code), turn.choice(texts.NEXT, "vn", aid, code),
                turn.choice("完成審定", "vf", aid), turn.choice("退回課室", "vr", aid)]
    text = "\n".join(lines)
    turn.say(f"{prefix}\n\n{text}" if prefix else text, choices)


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


def _verify_sheet(turn: Turn, token: Token) -> Sheet:
    _require_desk(turn)
    assessment = lock_assessment(session=turn.session, assessment_id=token.int_arg(0))
    if assessment is None or assessment.agency_id != _agency(turn).id:
        raise Refused(texts.UNKNOWN_BUTTON)
    if assessment.status != AssessmentStatus.SUBMITTED:
        raise Refused("這份自評已不在待審定狀態。")
    return _sheet(turn, assessment)


def handle_verify_action(turn: Turn, token: Token) -> None:
    """The buttons of the verification walk."""
    sheet = _verify_sheet(turn, token)
    codes = [q.code for q in sheet.rubric.questions]
    member = turn.member
    assert member is not None
    if token.verb in ("vf", "vr"):
        if token.verb == "vf":
            turn.state.mode = VERIFY_NOTES
            turn.say("請輸入本次考核的「優點、建議改進事項」（輸入「略過」則留白）。",
                     [turn.choice(texts.SKIP, "vs", sheet.assessment.id or 0)])
        else:
            turn.state.mode = RETURN_REASON
            turn.say("請輸入退回原因（會通知該課室）。")
        turn.state.assessment_id = sheet.assessment.id
        return
    if token.verb == "vs":
        _finish(turn, sheet, None)
        return
    code = token.arg(1)
    if code not in codes:
        raise Refused(texts.NO_SUCH_QUESTION)
    position = codes.index(code)
    if token.verb == "vc":
        answer = sheet.answers.get(code)
        if answer is None or answer.self_score is None:
            raise Refused("這題沒有自評分數，請輸入審定分數。")
        set_verified_score(session=turn.session, assessment=sheet.assessment, question_code=code,
                           score=answer.self_score, reviewer=member, now=turn.now)
        _after_score(turn, sheet, position, f"{code} 審定 {answer.self_score} 分。")
    elif token.verb == "vm":
        answer = sheet.answers.get(code)
        marked = not (answer is not None and answer.returned)
        sheet.answers[code] = mark_returned(session=turn.session, assessment=sheet.assessment,
                                            question_code=code, returned=marked,
                                            reviewer=member, now=turn.now)
        _show_verify(turn, sheet, code, prefix=f"{code} " + ("已標記退回。" if marked
                                                              else "已取消退回標記。"))
    elif token.verb == "vp":
        _show_verify(turn, sheet, codes[max(position - 1, 0)])
    elif token.verb == "va":
        _send_attachments(turn, sheet, code)
    elif token.verb == "vn":
        _after_score(turn, sheet, position, None)


def navigate_verify(turn: Turn, name: str, arg: str = "") -> bool:
    """上一題 / 下一題 / 略過 / 跳到 N typed during the walk; True if it was taken."""
    if turn.state.mode != VERIFY or turn.state.assessment_id is None \
            or turn.state.question is None or not turn.is_secretariat:
        return False
    assessment = turn.session.get(Assessment, turn.state.assessment_id)
    if assessment is None or assessment.status != AssessmentStatus.SUBMITTED:
        return False
    sheet = _sheet(turn, assessment)
    codes = [q.code for q in sheet.rubric.questions]
    position = codes.index(turn.state.question) if turn.state.question in codes else 0
    if name == "back":
        _show_verify(turn, sheet, codes[max(position - 1, 0)])
    elif name in ("next", "skip"):
        _after_score(turn, sheet, position, None)
    elif name == "goto":
        target = to_halfwidth(arg).strip()
        if target.isdigit() and 1 <= int(target) <= len(codes):
            _show_verify(turn, sheet, codes[int(target) - 1])
        elif target in codes:
            _show_verify(turn, sheet, target)
        else:
            _show_verify(turn, sheet, codes[position],
                         prefix=f"請輸入 1 到 {len(codes)} 的題號或題目代碼。")
    else:
        return False
    return True


def _send_attachments(turn: Turn, sheet: Sheet, code: str) -> None:
    """The evidence files of a question, sent again for the reviewer."""
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
        name = attachment.filename or f"{code}-{index}"
        document = Document(name, content, attachment.mime_type)
        is_picture = attachment.mime_type.startswith("image/")
        turn.replies.append(Outgoing(f"{code} 附件 {index}/{len(files)}",
                                     picture=document if is_picture else None,
                                     document=None if is_picture else document))
    _show_verify(turn, sheet, code, prefix=f"已傳送 {code} 的 {len(files)} 個附件。")


def _after_score(turn: Turn, sheet: Sheet, position: int, prefix: str | None) -> None:
    codes = [q.code for q in sheet.rubric.questions]
    if position + 1 < len(codes):
        _show_verify(turn, sheet, codes[position + 1], prefix=prefix)
        return
    aid = sheet.assessment.id or 0
    turn.say(f"{prefix or ''}\n已看完全部題目。請按「完成審定」或「退回課室」。".strip(),
             [turn.choice("完成審定", "vf", aid), turn.choice("退回課室", "vr", aid),
              turn.choice(texts.BACK, "vp", aid, codes[-1])])


def handle_desk_text(turn: Turn, text: str) -> bool:
    """Typed input while verifying; True if it was taken."""
    mode = turn.state.mode
    if mode not in DESK_MODES or turn.state.assessment_id is None or not turn.is_secretariat:
        return False
    assessment = lock_assessment(session=turn.session, assessment_id=turn.state.assessment_id)
    if assessment is None or assessment.status != AssessmentStatus.SUBMITTED:
        turn.state.to_menu()
        return False
    sheet = _sheet(turn, assessment)
    if mode == VERIFY_NOTES:
        cleaned = text.strip()
        _finish(turn, sheet, None if cleaned in ("略過", "/skip", "") else cleaned)
        return True
    if mode == RETURN_REASON:
        reason = text.strip()
        if not reason:
            turn.say("請輸入退回原因。")
            return True
        _return(turn, sheet, reason)
        return True
    code = turn.state.question
    if code is None or not sheet.rubric.has_question(code):
        return False
    question = sheet.rubric.question(code)
    match = re.match(r"^\s*(\d{1,4})\s*分?\s*(.*)$", to_halfwidth(text))
    if match is None:
        _show_verify(turn, sheet, code, prefix=f"請輸入 0 到 {question.max} 的整數作為審定分數，"
                                               "或按下方按鈕。")
        return True
    try:
        score = check_score(question, int(match.group(1)))
    except ScoreError as exc:
        _show_verify(turn, sheet, code, prefix=f"{match.group(1)} 分不是本題允許的分數"
                                               f"（{exc.allowed}）。")
        return True
    assert turn.member is not None
    comment = match.group(2).strip() or None
    set_verified_score(session=turn.session, assessment=assessment, question_code=code,
                       score=score, reviewer=turn.member, now=turn.now, comment=comment)
    codes = [q.code for q in sheet.rubric.questions]
    _after_score(turn, sheet, codes.index(code), f"{code} 審定 {score} 分。")
    return True


def _finish(turn: Turn, sheet: Sheet, notes: str | None) -> None:
    assert turn.member is not None
    today = turn.now.astimezone(TAIPEI).date()
    finish_verification(session=turn.session, assessment=sheet.assessment, assessor=turn.member,
                        assessed_on=today, strengths_and_suggestions=notes, now=turn.now)
    from reports.build import section_scores
    from rubric import score_card

    scores, _ = section_scores(turn.session, sheet.assessment, sheet.rubric)
    card = score_card(sheet.rubric, scores)
    turn.state.to_menu()
    summary = (f"{sheet.section.name} {sheet.period.label} 自評已審定：總分 {card.total} 分，"
               f"等第「{card.grade}」。考核人員：{turn.member.name}，考核日期："
               f"{format_roc_date(today)}。")
    turn.say(summary, main_menu_choices(turn))
    _tell_section(turn, sheet, f"【審定完成】{summary}"
                  + (f"\n優點、建議改進事項：{notes}" if notes else ""), "verified")


def _return(turn: Turn, sheet: Sheet, reason: str) -> None:
    assert turn.member is not None
    marked = return_assessment(session=turn.session, assessment=sheet.assessment,
                               reviewer=turn.member, reason=reason, now=turn.now)
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


# --- phone tests and tables ------------------------------------------------------------------


def record_phone(turn: Turn, text: str) -> None:
    """電話測試 課室 受測者 分數 [備註]."""
    _require_desk(turn)
    match = _PHONE.match(to_halfwidth(text).strip())
    if match is None:
        raise Refused("格式：電話測試 課室 受測人員 分數 [備註]，例如：電話測試 規劃課 王小明 92")
    section_name, person, score_text, note = match.groups()
    score = int(score_text)
    if score > 100:
        raise Refused("電話禮貌測試分數為 0 到 100。")
    agency = _agency(turn)
    try:
        section = get_section(session=turn.session, agency=agency, name=section_name)
    except NotFound:
        raise Refused(f"找不到課室「{section_name}」。") from None
    assert turn.member is not None
    today = turn.now.astimezone(TAIPEI).date()
    record_phone_test(session=turn.session, section=section, tested_on=today,
                      person_tested=person, score=score, recorded_by=turn.member,
                      now=turn.now, tester=turn.member.name, note=note)
    question = _rubric_of(agency, today).question_measured_by(PHONE_TEST_MEASURE)
    hint = ""
    if question is not None:
        band = band_for_measure(question, score)
        hint = f"，對應「{question.name}」級距 {band.label}" if band else "，未達最低級距"
    turn.state.to_menu()
    turn.say(f"已登錄電話禮貌測試：{section.name} {person} {score} 分"
             f"（{format_roc_date(today)}，測試人員 {turn.member.name}）{hint}。",
             main_menu_choices(turn))


def _rubric_of(agency: Agency, today: date) -> Rubric:
    roc_year = Period.of(today).roc_year
    return load_year(agency.rubric_year or latest_rubric_year(roc_year))


def send_table(turn: Turn, arg: str) -> None:
    """總表 [115年第4季]: summary text, the chart, and the ODS and XLSX files."""
    _require_desk(turn)
    try:
        period = parse_period(arg) if arg.strip() else desk_period(turn)
    except ValueError:
        raise Refused("請用「總表 115年第4季」或「總表 115Q4」指定期別。") from None
    from reports.charts import quarter_chart_png
    from reports.tables import quarter_ods, quarter_xlsx

    table = build_quarter_table(turn.session, _agency(turn), period)
    lines = [table.title, table.grade_scale, ""]
    for row in table.rows:
        if row.total is None:
            lines.append(f"{row.number}. {row.section}：{row.status}")
        else:
            mark = "" if row.verified else "（自評）"
            lines.append(f"{row.number}. {row.section}：{row.total} 分，{row.grade}{mark}")
    turn.state.to_menu()
    turn.say("\n".join(lines), main_menu_choices(turn))
    name = f"{period.short_label}自行考核結果統計表"
    turn.replies.append(Outgoing(f"{period.label}各課室總分圖", picture=Document(
        f"{name}.png", quarter_chart_png(table), "image/png")))
    turn.replies.append(Outgoing(f"{name}（ODS）", document=Document(
        f"{name}.ods", quarter_ods(table), ODS)))
    turn.replies.append(Outgoing(f"{name}（XLSX）", document=Document(
        f"{name}.xlsx", quarter_xlsx(table), XLSX)))


def send_annual(turn: Turn, arg: str) -> None:
    """年度 [115]: Q1–Q4 aggregated, ranking, commendations, trend chart, files."""
    _require_desk(turn)
    cleaned = to_halfwidth(arg).strip().removesuffix("年").removesuffix("年度")
    roc_year = int(cleaned) if cleaned.isdigit() else desk_period(turn).roc_year
    from reports.charts import annual_trend_png
    from reports.tables import annual_ods, annual_xlsx

    table = build_annual_table(turn.session, _agency(turn), roc_year)
    lines = [table.title, ""]
    for row in table.rows:
        shown = "—" if row.aggregate is None else f"{row.aggregate:.1f}"
        quarters = "／".join("—" if t is None else str(t) for t in row.quarter_totals)
        lines.append(f"{row.rank or '—'}. {row.section}：{shown}（{quarters}）{row.grade or ''}")
    lines += ["", "【嘉獎乙次】", f"成績最優課室：{'、'.join(table.best_sections) or '—'}"]
    phone = "、".join(f"{p}（{s}，{score:g} 分）" for p, s, score in table.best_phone)
    lines.append(f"電話禮貌最佳人員：{phone or '—'}")
    adopted = "、".join(f"{t}（{p}，{s}）" for t, p, s in table.adopted_proposals)
    lines.append(f"創新方案被採用實施者：{adopted or '—'}")
    turn.state.to_menu()
    turn.say("\n".join(lines), main_menu_choices(turn))
    name = f"{roc_year}年度自行考核成績彙總表"
    turn.replies.append(Outgoing(f"{roc_year}年度各季趨勢圖", picture=Document(
        f"{roc_year}年度趨勢圖.png", annual_trend_png(table), "image/png")))
    turn.replies.append(Outgoing(f"{name}（ODS）", document=Document(f"{name}.ods",
                                                                 annual_ods(table), ODS)))
    turn.replies.append(Outgoing(f"{name}（XLSX）", document=Document(f"{name}.xlsx",
                                                                  annual_xlsx(table), XLSX)))



# --- the annual performance report -----------------------------------------------------------

REPORT_VERBS = ("rk", "rt", "rr")
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REPORT_BUTTONS = 6


def _report_year(turn: Turn, arg: str) -> int:
    cleaned = to_halfwidth(arg).strip().removesuffix("年度").removesuffix("年").strip()
    if not cleaned:
        return Period.of(turn.now).roc_year
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 999:
        raise Refused(f"請用「{texts.REPORT} 115」指定年度。")
    return int(cleaned)


def _case_label(case: ReportCaseRow, sections: dict[int | None, str], length: int = 8) -> str:
    """``規劃課一「線上預審…」`` for buttons."""
    text = " ".join(case.text.split())
    text = text if len(text) <= length else f"{text[:length]}…"
    number = "檢討" if case.heading == 0 else chinese_number(case.heading)
    return f"{sections.get(case.section_id, '')}{number}「{text}」"


def send_report(turn: Turn, arg: str) -> None:
    """年度報告 [115]: the draft 績效總報告 from the database and the kept cases, within 3 pages."""
    _require_desk(turn)
    _build_report(turn, _report_year(turn, arg))


def _build_report(turn: Turn, roc_year: int) -> None:
    agency = _agency(turn)
    assert agency.id is not None
    sections = {s.id: s.name for s in list_sections(session=turn.session, agency=agency)}
    rows = list_report_cases(session=turn.session, agency_id=agency.id, roc_year=roc_year)
    kept = [row for row in rows if row.kept]
    case_rows = [row for row in kept if row.heading != REVIEW_HEADING]
    review_rows = [row for row in kept if row.heading == REVIEW_HEADING]
    cases = [ReportCase(row.heading, sections.get(row.section_id, ""), row.text,
                        row.figures or "", pinned=row.pinned) for row in case_rows]
    review = [f"{sections.get(row.section_id, '')}：{' '.join(row.text.split())}"
              for row in review_rows]
    report = build_performance_report(turn.session, agency, roc_year, cases, review)
    lines = [report.title, f"資料截止時間：{report.cutoff}",
             f"列入個案事例 {len(case_rows)} 件、檢討 {len(review_rows)} 點"
             f"（秘書室設為不列入 {len(rows) - len(kept)} 則）。"]
    turn.state.to_menu()
    left_out = [row for row in rows if not row.kept]

    def render() -> None:
        """Fit to three pages and write the files: LibreOffice takes seconds, so this runs
        after the commit, holding no database lock."""
        notes = list(lines)
        dropped: list[ReportCaseRow] = []
        try:
            fitted, messages = fit_to_pages(report, MAX_PAGES)
        except RenderError as exc:
            logger.warning("the report's pages could not be counted: %s", exc)
            fitted = report
            notes.append(f"無法執行 PDF 頁數檢查（LibreOffice：{exc}），以下為未經刪減的草稿，"
                         f"請自行確認不超過{MAX_PAGES}頁。")
        else:
            if not messages:
                notes.append(f"已確認不超過{MAX_PAGES}頁（DOCX、ODT）。")
            else:
                present = {id(case) for case in fitted.cases}
                dropped = [row for row, case in zip(case_rows, cases, strict=True)
                           if id(case) not in present]
                notes += [f"超過{MAX_PAGES}頁，已刪減：", *(f"・{m}" for m in messages)]
                if dropped:
                    notes.append("如要保留被刪減的案例，請按「保留」並選擇改為刪除哪一件，"
                                 f"再按「{texts.REPORT_REBUILD}」。")
        choices = [turn.choice(f"保留 {_case_label(row, sections)}", "rk", row.id, roc_year)
                   for row in dropped[:REPORT_BUTTONS]]
        choices += [turn.choice(f"恢復 {_case_label(row, sections)}", "rt", row.id, roc_year)
                    for row in left_out[:REPORT_BUTTONS]]
        choices += [turn.choice(texts.REPORT_REBUILD, "rr", roc_year),
                    turn.menu_choice(texts.MENU, "menu")]
        turn.say("\n".join(notes), choices)
        name = f"{roc_year}年度提升服務品質績效總報告"
        turn.replies.append(Outgoing(f"{name}（ODT）", document=Document(
            f"{name}.odt", performance_odt(fitted), ODT)))
        turn.replies.append(Outgoing(f"{name}（DOCX）", document=Document(
            f"{name}.docx", performance_docx(fitted), DOCX)))

    turn.defer(render)


def _report_case(turn: Turn, token: Token) -> tuple[ReportCaseRow, int]:
    case = get_report_case(session=turn.session, case_id=token.int_arg(0))
    roc_year = token.int_arg(1)
    if case is None or case.agency_id != _agency(turn).id or case.roc_year != roc_year:
        raise Refused("找不到這件案例（可能已被課室刪除）。")
    return case, roc_year


def handle_report_action(turn: Turn, token: Token) -> None:
    """保留 (a dropped case instead of another), 改刪 / 恢復 (toggle kept), 再產生報告."""
    _require_desk(turn)
    try:
        if token.verb == "rr":
            _build_report(turn, token.int_arg(0))
            return
        case, roc_year = _report_case(turn, token)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    agency = _agency(turn)
    assert agency.id is not None
    sections = {s.id: s.name for s in list_sections(session=turn.session, agency=agency)}
    turn.state.to_menu()
    rebuild = turn.choice(texts.REPORT_REBUILD, "rr", roc_year)
    if token.verb == "rk":
        # 保留: the secretariat wants this one in; rebuilding must not cut it again.
        set_pinned(session=turn.session, case=case, pinned=True)
        others = [row for row in list_report_cases(session=turn.session, agency_id=agency.id,
                                                   roc_year=roc_year, kept=True)
                  if row.id != case.id and row.heading != REVIEW_HEADING]
        # The same heading first: that is where the room is made.
        others.sort(key=lambda row: (row.heading != case.heading, row.heading, row.id or 0))
        turn.say(f"要保留 {_case_label(case, sections, 20)}，請選擇改為不列入報告的案例：",
                 [*(turn.choice(f"改刪 {_case_label(row, sections)}", "rt", row.id, roc_year)
                    for row in others[:REPORT_BUTTONS * 2 - 1]), rebuild])
        return
    set_kept(session=turn.session, case=case, kept=not case.kept)
    if not case.kept:
        set_pinned(session=turn.session, case=case, pinned=False)
    done = "恢復列入報告" if case.kept else "設為不列入報告"
    turn.say(f"已將 {_case_label(case, sections, 20)} {done}。按「{texts.REPORT_REBUILD}」"
             "重新產生報告。",
             [turn.choice(("改回不列入 " if case.kept else "恢復 ") + _case_label(case, sections),
                          "rt", case.id, roc_year), rebuild, turn.menu_choice(texts.MENU, "menu")])
