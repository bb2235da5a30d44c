"""The self-assessment's domain: a section's sheet for the quarter, scores as typed, the
review's text, the locked and read-only views and the menus.

The conversation itself — question by question, evidence, review and 送出 — is the
``assess`` dialog (``handlers/dialogs/assess.py``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlmodel import Session

from handlers import texts
from handlers.flow.dialog import Refused
from handlers.messages import Attachment as IncomingFile
from handlers.messages import ChatKind, Choice
from handlers.turn import Turn
from rubric import (
    Period,
    Question,
    Rubric,
    Scorecard,
    ScoreError,
    check_score,
    latest_rubric_year,
    load_year,
    score_card,
    to_halfwidth,
)
from rubric.calendar import collecting_cases, open_window
from rubric.periods import TAIPEI
from storage.assessments import (
    EDITABLE,
    EarlierAnswer,
    answers_by_code,
    attachment_counts,
    earlier_answers,
    find_assessment,
    get_or_create_assessment,
    lock_assessment,
)
from storage.models import (
    Agency,
    Answer,
    Assessment,
    AssessmentStatus,
    Member,
    Section,
)
from storage.org import list_sections

logger = logging.getLogger(__name__)

_SCORE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*分?$")
_MEASURE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:%|分|件)?$")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
#: Questions where the section's adopted innovation proposals are offered as evidence.
PROPOSAL_EVIDENCE_CODES = ("6.1", "6.2", "6.3")
CITE_BUTTONS = 3


@dataclass
class Sheet:
    """An assessment with what it takes to show it: section, rubric, current answers."""

    assessment: Assessment
    section: Section
    rubric: Rubric
    answers: dict[str, Answer]
    _earlier: dict[str, EarlierAnswer] | None = None

    @property
    def period(self) -> Period:
        """The quarter assessed."""
        return Period(self.assessment.roc_year, self.assessment.quarter)

    @property
    def editable(self) -> bool:
        """Whether the section may still change answers."""
        return self.assessment.status in EDITABLE

    def scores(self) -> dict[str, int]:
        """Self scores of the answered questions."""
        return {c: a.self_score for c, a in self.answers.items() if a.self_score is not None}

    def returned_codes(self) -> list[str]:
        """Questions the secretariat returned for editing (empty: the whole assessment)."""
        if self.assessment.status != AssessmentStatus.RETURNED:
            return []
        return [q.code for q in self.rubric.questions
                if self.answers.get(q.code) is not None and self.answers[q.code].returned]

    def check_may_edit(self, code: str) -> None:
        """Refused unless ``code`` may be changed now (a partial return limits the edits)."""
        returned = self.returned_codes()
        if returned and code not in returned:
            raise Refused(f"秘書室這次退回的題目是：{'、'.join(returned)}；其他題目請維持原答案。")

    def unanswered(self) -> list[str]:
        """Codes of questions without a score, in form order."""
        scores = self.scores()
        return [q.code for q in self.rubric.questions if q.code not in scores]

    def numbered(self, codes: list[str]) -> str:
        """``第 3 題（1.3）、第 4 題（2.1）`` for the questions ``codes``."""
        return "、".join(f"第 {self.rubric.placement(c).number} 題（{c}）" for c in codes)

    def not_yet_submittable(self) -> str | None:
        """Why 送出 is refused (questions unanswered), or None when it may be asked."""
        unanswered = self.unanswered()
        if not unanswered:
            return None
        return (f"尚有 {len(unanswered)} 題未作答，還不能送出：{self.numbered(unanswered)}。"
                "\n未辦理的項目也請明確填 0 分。")

    def question_named(self, target: str) -> str | None:
        """The code of the question ``target`` names: its number (``5``, ``５``) or its code
        (``2.4``); None when it names none."""
        cleaned = to_halfwidth(target).strip()
        questions = self.rubric.questions
        if cleaned.isdigit() and 1 <= int(cleaned) <= len(questions):
            return questions[int(cleaned) - 1].code
        return cleaned if self.rubric.has_question(cleaned) else None

    @property
    def verified(self) -> bool:
        """Whether the secretariat has finished verifying it."""
        return self.assessment.status == AssessmentStatus.VERIFIED

    def verified_scores(self) -> dict[str, int]:
        """The scores that count once verified: the secretariat's, else the self score."""
        scores = self.scores()
        for code, answer in self.answers.items():
            if answer.verified_score is not None and code in scores:
                scores[code] = answer.verified_score
        return scores

    def earlier(self, session: Session) -> dict[str, EarlierAnswer]:
        """Last quarter's answers this sheet may start from (沿用上季): offered while the
        sheet is a draft, for questions of this form whose earlier score it allows."""
        if self._earlier is None:
            self._earlier = {}
            if self.assessment.status == AssessmentStatus.DRAFT and self.section.id is not None:
                before = self.period.previous()
                for code, earlier in earlier_answers(
                        session=session, section_id=self.section.id, roc_year=before.roc_year,
                        quarter=before.quarter, label=before.label).items():
                    if not self.rubric.has_question(code):
                        continue
                    try:
                        check_score(self.rubric.question(code), earlier.score)
                    except ScoreError:
                        continue
                    self._earlier[code] = earlier
        return self._earlier

    def offer(self, session: Session, code: str) -> EarlierAnswer | None:
        """Last quarter's answer to offer at ``code``: only while it is unanswered now."""
        answer = self.answers.get(code)
        if answer is not None and answer.self_score is not None:
            return None
        return self.earlier(session).get(code)

    def carried(self) -> list[str]:
        """Codes whose answer was taken from last quarter, in form order."""
        return [q.code for q in self.rubric.questions
                if self.answers.get(q.code) is not None and self.answers[q.code].carried_from]

    def heading(self) -> str:
        """``規劃課 115年第4季 自評（填寫中）``."""
        return texts.period_heading(self.section.name, self.period, self.assessment.status)


# --- finding the sheet -----------------------------------------------------------------------


def open_period(turn: Turn, section: Section) -> Period:
    """The quarter a section should be filling in now.

    A quarter is assessed in its window (Q1–Q3 right after the quarter ends, Q4 in
    December; see ``rubric.calendar``). While the previous quarter's window is open (or in
    its grace days) and that quarter is not submitted, it is the one shown; otherwise the
    current quarter is, so a section can also prepare early.
    """
    today = turn.now.astimezone(TAIPEI).date()
    current = Period.of(today)
    window = open_window(today, turn.config.schedule, turn.config.calendar)
    if window is not None and window.period != current and section.id is not None:
        earlier = find_assessment(session=turn.session, section_id=section.id,
                                  roc_year=window.period.roc_year,
                                  quarter=window.period.quarter)
        if earlier is None or earlier.status in EDITABLE:
            return window.period
    return current


def _member_section(turn: Turn) -> Section:
    member = turn.member
    assert member is not None
    if member.section_id is None:
        raise Refused(texts.NO_SECTION)
    section = turn.session.get(Section, member.section_id)
    assert section is not None
    return section


def _rubric_year(turn: Turn, period: Period) -> int:
    agency = turn.session.get(Agency, _member(turn).agency_id)
    if agency is not None and agency.rubric_year is not None:
        return agency.rubric_year
    return latest_rubric_year(period.roc_year)


def _member(turn: Turn) -> Member:
    assert turn.member is not None
    return turn.member


def _sheet(turn: Turn, assessment: Assessment, *, fresh: bool = False) -> Sheet:
    section = turn.session.get(Section, assessment.section_id)
    assert section is not None and assessment.id is not None
    return Sheet(assessment, section, load_year(assessment.rubric_year),
                 answers_by_code(session=turn.session, assessment_id=assessment.id,
                                 fresh=fresh))


def current_sheet(turn: Turn, *, lock: bool = False) -> Sheet:
    """The sheet the member is on (or their section's open one)."""
    section = _member_section(turn)
    assessment: Assessment | None = None
    if turn.state.assessment_id is not None:
        assessment = _load(turn, turn.state.assessment_id, lock=lock)
        if assessment is not None and assessment.section_id != section.id:
            assessment = None
    period = open_period(turn, section)
    # Stay on another quarter's sheet only while the secretariat has returned it for edits.
    if assessment is None or (Period(assessment.roc_year, assessment.quarter) != period
                              and assessment.status != AssessmentStatus.RETURNED):
        assessment = get_or_create_assessment(
            session=turn.session, section=section, roc_year=period.roc_year,
            quarter=period.quarter, rubric_year=_rubric_year(turn, period), now=turn.now)
        if lock:
            assert assessment.id is not None
            assessment = _load(turn, assessment.id, lock=True)
            assert assessment is not None
    return _sheet(turn, assessment, fresh=lock)


def _load(turn: Turn, assessment_id: int, *, lock: bool) -> Assessment | None:
    if lock:
        return lock_assessment(session=turn.session, assessment_id=assessment_id)
    return turn.session.get(Assessment, assessment_id)


# --- answering -------------------------------------------------------------------------------


def parse_score(text: str, question: Question, *, low: int | None = None,
                high: int | None = None) -> int:
    """A typed score (``85``, ``８５``, ``85分``); Refused with what is allowed otherwise."""
    lo = 0 if low is None else low
    hi = question.max if high is None else high
    allowed = f"{lo} 到 {hi} 之間的整數"
    cleaned = to_halfwidth(text).strip()
    match = _SCORE.match(cleaned)
    if not cleaned:
        raise Refused(f"請輸入分數：{allowed}。")
    if not match:
        raise Refused(f"「{texts.quote(text)}」不是分數。請輸入 {allowed}（例如 {hi}），"
                      "或選擇下方的選項。")
    if "." in match.group(1):
        raise Refused(f"分數需為整數，不接受小數。請輸入 {allowed}。")
    score = int(match.group(1))
    if not lo <= score <= hi:
        where = "這個級距" if low is not None else "本題"
        raise Refused(f"{score} 分不在{where}的範圍內。請輸入 {allowed}。")
    try:
        return check_score(question, score)
    except ScoreError as exc:
        raise Refused(f"{score} 分不是本題允許的分數（{exc.allowed}）。") from None


def file_refusal(attachment: IncomingFile, limit: int, what: str) -> str | None:
    """Why the file cannot be kept (too large, or its bytes never came), or None."""
    if attachment.store_failed:
        return None  # keeping it raises EvidenceStoreError: the store's failure is told
    if attachment.too_large:
        return (f"檔案太大（超過 {_size(limit)}），{what}上限為 {_size(limit)}，未被保存。"
                "請壓縮後再傳，或改傳雲端連結。")
    if attachment.size > limit:
        return (f"檔案太大（{_size(attachment.size)}），{what}上限為 {_size(limit)}。"
                "請壓縮後再傳，或改傳雲端連結。")
    if not attachment.received:
        return "檔案未能從平台取得，未被保存，請再傳一次。"
    return None


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


# --- resuming --------------------------------------------------------------------------------


def resume_target(turn: Turn, sheet: Sheet) -> str | None:
    """Where 填寫自評 continues: the question being answered, else the first unanswered."""
    unanswered = sheet.unanswered()
    code = turn.state.question
    if (turn.state.assessment_id == sheet.assessment.id and code is not None
            and sheet.rubric.has_question(code) and code in unanswered):
        return code
    return unanswered[0] if unanswered else None


# --- review and submission -------------------------------------------------------------------


def score_card_of(sheet: Sheet) -> Scorecard:
    """Item subtotals, total and grade of the self scores."""
    return score_card(sheet.rubric, sheet.scores())


def _member_name(turn: Turn, member_id: int | None) -> str:
    if member_id is None:
        return "—"
    member = turn.session.get(Member, member_id)
    return member.name if member else "—"


def review_text(turn: Turn, sheet: Sheet) -> str:
    """Item subtotals so far, unanswered questions, and who answered what."""
    scores = sheet.scores()
    card = score_card(sheet.rubric, scores)
    files = attachment_counts(session=turn.session, assessment_id=sheet.assessment.id or 0)
    total = len(sheet.rubric.questions)
    lines = [sheet.heading(),
             f"已作答 {len(card.answered)}/{total} 題，目前合計 {card.total} 分。", ""]
    names: dict[int | None, str] = {}
    for item in sheet.rubric.items:
        lines.append(f"【{item.name}】{card.item_scores[item.code]}/{item.max} 分")
        for question in item.all_questions():
            answer = sheet.answers.get(question.code)
            if answer is None or answer.self_score is None:
                lines.append(f"　{question.code} {question.name}：未作答")
                continue
            who = names.setdefault(answer.answered_by_member_id,
                                   _member_name(turn, answer.answered_by_member_id))
            extras = []
            if answer.measure_value is not None and question.measure is not None:
                extras.append(f"{question.measure.name} {answer.measure_value:g}"
                              f"{question.measure.unit}")
            if answer.evidence_text:
                extras.append("文字佐證")
            if files.get(question.code):
                extras.append(f"檔案 {files[question.code]} 件")
            extra = f"，{'、'.join(extras)}" if extras else ""
            if sheet.verified and answer.verified_score is not None \
                    and answer.verified_score != answer.self_score:
                why = f"（{answer.reviewer_comment}）" if answer.reviewer_comment else ""
                lines.append(f"　{question.code} {question.name}：自評 {answer.self_score} 分，"
                             f"審定 {answer.verified_score} 分{why}（{who}{extra}）")
                continue
            carried = f"，沿用{answer.carried_from}" if answer.carried_from else ""
            lines.append(f"　{question.code} {question.name}：{answer.self_score} 分"
                         f"（{who}{extra}{carried}）")
    unanswered = sheet.unanswered()
    if unanswered:
        lines += ["", f"未作答 {len(unanswered)} 題：{sheet.numbered(unanswered)}"]
    else:
        lines += ["", f"總分 {card.total} 分，等第「{card.grade}」。"]
    if sheet.verified:
        lines.append(_verified_line(sheet))
    return "\n".join(lines)


def _verified_line(sheet: Sheet) -> str:
    """審定後總分 …: what counts after the secretariat's verification."""
    card = score_card(sheet.rubric, sheet.verified_scores())
    return (f"秘書室審定後總分 {card.total} 分，等第「{card.grade}」"
            "（以上為自評分數，審定調整的題目已註明）。")


def show_locked(turn: Turn, sheet: Sheet) -> None:
    """A submitted (or verified) assessment: read-only."""
    status = sheet.assessment.status
    card = score_card(sheet.rubric, sheet.scores())
    submitted_at = sheet.assessment.submitted_at
    if status == AssessmentStatus.SUBMITTED and submitted_at is not None:
        detail = (f"已於 {texts.roc_datetime(submitted_at)} 送出"
                  f"（收件編號 {sheet.assessment.reference}）")
    else:
        detail = "已經秘書室審定"
    turn.state.to_menu()
    turn.state.assessment_id = sheet.assessment.id
    assert sheet.assessment.id is not None
    turn.say(f"{sheet.section.name} {sheet.period.label} 自評{detail}，總分 {card.total} 分，"
             f"等第「{card.grade}」。\n秘書室退回前僅能檢視，無法修改。",
             [turn.menu_choice(texts.REVIEW, "review"), turn.menu_choice(texts.MENU, "menu")])


# --- menus and progress ----------------------------------------------------------------------


#: The menu entries of the secretariat's bound group: the desk's, nobody's own assessment.
DESK_ENTRIES = ("overview", "table", "proposals", "help", "menu")


def desk_menu_choices(turn: Turn) -> list[Choice]:
    """The desk's buttons, as shown in the secretariat's group."""
    return [turn.menu_choice(texts.OVERVIEW, "overview"),
            turn.menu_choice(texts.TABLE, "table"),
            turn.menu_choice(texts.PROPOSALS, "proposals"),
            turn.menu_choice(texts.HELP, "help")]


def main_menu_choices(turn: Turn) -> list[Choice]:
    """The main menu's buttons (extra entries for the secretariat; in the secretariat's
    group only the desk's)."""
    if turn.incoming.chat_kind == ChatKind.GROUP:
        return desk_menu_choices(turn)
    choices = [turn.menu_choice(texts.FILL, "fill"),
               turn.menu_choice(texts.MY_PROGRESS, "progress"),
               turn.menu_choice(texts.PROPOSE, "propose")]
    if _asked_for_cases(turn):
        choices.append(turn.menu_choice(texts.CASES, "cases"))
    if turn.is_secretariat:
        choices.append(turn.menu_choice(texts.OVERVIEW, "overview"))
        choices.append(turn.menu_choice(texts.PROPOSALS, "proposals"))
    choices.append(turn.menu_choice(texts.HELP, "help"))
    return choices


def _asked_for_cases(turn: Turn) -> bool:
    """From the first working day of December the sections are asked for the report's cases;
    the menu offers 年度案例 then to members of an assessed section."""
    today = turn.now.astimezone(TAIPEI).date()
    if not collecting_cases(today, turn.config.schedule, turn.config.calendar):
        return False
    member = turn.member
    section = turn.session.get(Section, member.section_id) \
        if member is not None and member.section_id is not None else None
    return section is not None and section.assessed


def show_menu(turn: Turn, *, prefix: str | None = None) -> None:
    """選單."""
    turn.state.to_menu()
    member = _member(turn)
    text = f"{member.name}您好，請選擇功能："
    turn.say(f"{prefix}\n{text}" if prefix else text, main_menu_choices(turn))


def show_menu_hint(turn: Turn, *, prefix: str | None = None) -> None:
    """A message that fits no step: the menu, with how to get help."""
    hint = f"請選擇下方功能，或輸入「{texts.HELP}」查看可用的指令。"
    turn.state.to_menu()
    turn.say(f"{prefix}\n{hint}" if prefix else hint, main_menu_choices(turn))


def show_help(turn: Turn) -> None:
    """說明."""
    turn.state.to_menu()
    if turn.incoming.chat_kind == ChatKind.GROUP:  # the secretariat's group: the desk's help
        turn.say(texts.desk_help(turn.incoming.command_suffix), main_menu_choices(turn))
        return
    turn.say(texts.help_text(turn.is_secretariat), main_menu_choices(turn))


def show_progress(turn: Turn) -> None:
    """我的進度: the section's open assessment in one glance."""
    sheet = current_sheet(turn)
    scores = sheet.scores()
    card = score_card(sheet.rubric, scores)
    total = len(sheet.rubric.questions)
    assert sheet.assessment.id is not None
    lines = [f"{sheet.heading()}",
             f"已作答 {len(card.answered)}/{total} 題，目前合計 {card.total} 分。"]
    if card.complete:
        lines.append(f"總分 {card.total} 分，等第「{card.grade}」。")
    if sheet.verified:
        verified = score_card(sheet.rubric, sheet.verified_scores())
        lines.append(f"秘書室已審定：審定後總分 {verified.total} 分，等第「{verified.grade}」。")
        changed = [f"{q.code} {a.self_score}→{a.verified_score}"
                   + (f"：{a.reviewer_comment}" if a.reviewer_comment else "")
                   for q in sheet.rubric.questions
                   if (a := sheet.answers.get(q.code)) is not None
                   and a.verified_score is not None and a.verified_score != a.self_score]
        lines += ["審定調整：", *changed] if changed else ["各題均採自評分數。"]
    turn.state.to_menu()
    turn.state.assessment_id = sheet.assessment.id
    choices = [turn.menu_choice(texts.FILL if sheet.editable else texts.MENU,
                                "fill" if sheet.editable else "menu"),
               turn.menu_choice(texts.REVIEW, "review")]
    turn.say("\n".join(lines), choices)


def show_overview(turn: Turn) -> None:
    """各課室進度 (secretariat): every section's answered count and status this quarter."""
    if not turn.is_secretariat:
        show_progress(turn)  # 進度 from anyone else: their own section's
        return
    member = _member(turn)
    agency = turn.session.get(Agency, member.agency_id)
    assert agency is not None
    period = desk_period(turn)  # one quarter for every section, named in the heading
    lines: list[str] = []
    not_started: list[str] = []
    for section in list_sections(session=turn.session, agency=agency):
        if not section.assessed or section.id is None:
            continue
        assessment = find_assessment(session=turn.session, section_id=section.id,
                                     roc_year=period.roc_year, quarter=period.quarter)
        if assessment is None or assessment.id is None:
            not_started.append(section.name)
            continue
        rubric = load_year(assessment.rubric_year)
        answered = sum(1 for a in answers_by_code(session=turn.session,
                                                  assessment_id=assessment.id).values()
                       if a.self_score is not None)
        status = texts.STATUS_LABELS.get(AssessmentStatus(assessment.status), assessment.status)
        last = texts.roc_datetime(assessment.updated_at)
        lines.append(f"{section.name}：{answered}/{len(rubric.questions)} 題，{status}"
                     f"（最後更新 {last}）")
    if not_started:
        lines.append(f"尚未開始：{'、'.join(not_started)}")
    turn.state.to_menu()
    turn.say(f"各課室自評進度（{period.label}）\n" + "\n".join(lines), main_menu_choices(turn))


def desk_period(turn: Turn) -> Period:
    """The quarter the secretariat follows: the one being collected while its window is open
    (Q3 in early October, whoever has already submitted it), else the current one."""
    today = turn.now.astimezone(TAIPEI).date()
    window = open_window(today, turn.config.schedule, turn.config.calendar)
    return window.period if window is not None else Period.of(today)
