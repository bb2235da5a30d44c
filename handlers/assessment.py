"""The self-assessment flow: question by question, evidence, review and submission."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlmodel import Session, select

from handlers import texts
from handlers.flow.dialog import Refused
from handlers.messages import Attachment as IncomingFile
from handlers.messages import Card, ChatKind, Choice, Outgoing
from handlers.numerals import split_leading_number
from handlers.state import Mode, State
from handlers.tokens import Token, TokenError
from handlers.turn import Turn
from rubric import (
    Period,
    Question,
    Rubric,
    ScoreError,
    band_for,
    band_for_measure,
    check_score,
    latest_rubric_year,
    load_year,
    score_card,
    to_halfwidth,
)
from rubric.calendar import collecting_cases, open_window
from rubric.periods import TAIPEI, format_roc_date_short
from storage.assessments import (
    EDITABLE,
    EarlierAnswer,
    add_attachment,
    add_evidence_text,
    answers_by_code,
    attachment_counts,
    carry_over,
    earlier_answers,
    find_assessment,
    fixes_since_return,
    get_or_create_assessment,
    lock_assessment,
    record_score,
    submit_assessment,
)
from storage.evidence import EvidenceStoreError
from storage.models import (
    Agency,
    Answer,
    Assessment,
    AssessmentStatus,
    Attachment,
    Member,
    Proposal,
    Section,
)
from storage.org import list_sections
from storage.outbox import member_destinations
from storage.proposals import ADOPTED, adopted_proposals

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


def _sheet(turn: Turn, assessment: Assessment) -> Sheet:
    section = turn.session.get(Section, assessment.section_id)
    assert section is not None and assessment.id is not None
    return Sheet(assessment, section, load_year(assessment.rubric_year),
                 answers_by_code(session=turn.session, assessment_id=assessment.id))


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
    return _sheet(turn, assessment)


def _load(turn: Turn, assessment_id: int, *, lock: bool) -> Assessment | None:
    if lock:
        return lock_assessment(session=turn.session, assessment_id=assessment_id)
    return turn.session.get(Assessment, assessment_id)


def sheet_for_token(turn: Turn, token: Token, *, editing: bool) -> Sheet:
    """The sheet a button names, after checking the member may act on it."""
    try:
        assessment_id = token.int_arg(0)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    section = _member_section(turn)
    assessment = _load(turn, assessment_id, lock=editing)
    if assessment is None or assessment.section_id != section.id:
        logger.warning("refused a token for assessment %s from member %s", assessment_id,
                       _member(turn).id)
        raise Refused(texts.NOT_YOUR_SECTION)
    sheet = _sheet(turn, assessment)
    if editing and not sheet.editable:
        raise Refused(texts.LOCKED)
    return sheet


def question_for_token(sheet: Sheet, token: Token, index: int = 1) -> Question:
    """The question a button names; Refused if the rubric has no such question."""
    try:
        code = token.arg(index)
    except TokenError:
        raise Refused(texts.UNKNOWN_BUTTON) from None
    if not sheet.rubric.has_question(code):
        raise Refused(texts.NO_SUCH_QUESTION)
    return sheet.rubric.question(code)


# --- showing ---------------------------------------------------------------------------------


def _answer_line(turn: Turn, answer: Answer | None) -> str | None:
    if answer is None or answer.self_score is None:
        return None
    who = _member_name(turn, answer.answered_by_member_id)
    when = format_roc_date_short(answer.answered_at.astimezone(TAIPEI).date()) \
        if answer.answered_at else ""
    return f"目前答案：{answer.self_score} 分（{who}，{when}）"


def _member_name(turn: Turn, member_id: int | None) -> str:
    if member_id is None:
        return "—"
    member = turn.session.get(Member, member_id)
    return member.name if member else "—"


def question_text(turn: Turn, sheet: Sheet, question: Question) -> str:
    """The question as shown to staff: place, progress, maximum, bands and criteria."""
    placement = sheet.rubric.placement(question.code)
    total = len(sheet.rubric.questions)
    lines = [
        f"第 {placement.number}/{total} 題　{question.code} {question.name}"
        f"（滿分 {question.max} 分）",
        placement.breadcrumb,
        "",
    ]
    if question.bands:
        lines.append("評分參考標準：")
        for index, band in enumerate(question.bands):
            lines.append(f"{_CIRCLED[index]} {band.label}：{band.criteria}")
        lines.append("未辦理者可給 0 分。")
    else:
        if question.guidance:
            lines.append(question.guidance)
        lines.append("評分參考：")
        lines += [f"{n}. {criterion}" for n, criterion in enumerate(question.criteria, start=1)]
    if placement.item.notes:
        lines.append("評分注意事項：")
        lines += [f"{n}. {note}" for n, note in enumerate(placement.item.notes, start=1)]
    adopted = section_proposals(turn, sheet, question.code)
    if adopted:
        lines.append("本課室已採用的創意提案（可作為佐證）：")
        lines += [f"・{texts.proposal_citation(p)}" for p in adopted]
    current = _answer_line(turn, sheet.answers.get(question.code))
    if current:
        lines += ["", current]
    earlier = sheet.offer(turn.session, question.code)
    if earlier is not None:
        lines += ["", earlier_line(earlier)]
        if earlier.evidence_text:
            lines.append(f"上季佐證：「{_quote(earlier.evidence_text)}」")
        lines.append(f"按「{carry_label(earlier)}」採用（佐證一併沿用，檔案以參照保留），"
                     "或直接輸入本季分數。")
    lines.append("")
    if question.bands:
        lines.append(f"請選擇級距，或直接輸入分數（0-{question.max} 的整數）。")
    else:
        lines.append(f"請直接輸入分數（0-{question.max} 的整數）。")
    if turn.state.evidence_for is None:  # said once, at the first question of a sitting
        lines.append("評分後直接進入下一題，接著傳的文字、照片或檔案都列為本題的佐證；"
                     "也可寫在分數後（例如：85 受理後即寄發收件確認）。")
    return "\n".join(lines)


def section_proposals(turn: Turn, sheet: Sheet, code: str) -> list[Proposal]:
    """The section's adopted (or implemented) proposals, for questions 6.1–6.3."""
    if code not in PROPOSAL_EVIDENCE_CODES or sheet.section.id is None:
        return []
    return list(adopted_proposals(session=turn.session, section_id=sheet.section.id,
                                  up_to_year=sheet.period.roc_year))


def ask_question(turn: Turn, sheet: Sheet, code: str, *, prefix: str | None = None,
                 brief: bool = False) -> None:
    """Show question ``code`` and wait for its score (``brief``: its heading only, when the
    person has just seen it and sent evidence for the question before)."""
    assert sheet.assessment.id is not None
    question = sheet.rubric.question(code)
    turn.state.at_question(sheet.assessment.id, code)
    aid = sheet.assessment.id
    choices = [turn.choice(band.label, "b", aid, code, i) for i, band in enumerate(question.bands)]
    if question.measure is not None:
        choices.append(turn.choice(f"輸入{question.measure.name}"[:20], "e", aid, code))
    choices.append(turn.choice(texts.ZERO, "s", aid, code, 0))
    choices = [*_cite_choices(turn, sheet), *choices]
    earlier = sheet.offer(turn.session, code)
    if earlier is not None:
        choices.insert(0, turn.choice(carry_label(earlier), "cf", aid, code))
    if sheet.answers.get(code) is not None and sheet.answers[code].self_score is not None:
        choices.append(turn.choice("保留原分數", "n", aid, code))
    choices += [turn.choice(texts.BACK, "p", aid, code), turn.choice(texts.SKIP, "k", aid, code),
                turn.choice(texts.REVIEW, "r", aid), turn.choice(texts.PAUSE, "z")]
    text = question_text(turn, sheet, question)
    if brief:
        placement = sheet.rubric.placement(code)
        text = (f"目前在第 {placement.number}/{len(sheet.rubric.questions)} 題　"
                f"{question.code} {question.name}（滿分 {question.max} 分），請評分；"
                "若還有佐證，可繼續傳送。")
    turn.say(f"{prefix}\n\n{text}" if prefix else text, choices)


def earlier_line(earlier: EarlierAnswer) -> str:
    """``上季（115年第3季）：100 分（審定）；檔案 2 件``."""
    kind = "審定" if earlier.verified else "自評"
    files = f"；檔案 {len(earlier.attachments)} 件" if earlier.attachments else ""
    return f"上季（{earlier.period_label}）：{earlier.score} 分（{kind}）{files}"


def carry_label(earlier: EarlierAnswer) -> str:
    """The button that takes last quarter's answer: 「沿用上季 100 分」."""
    return f"{texts.CARRY} {earlier.score} 分"


def carry_earlier(turn: Turn, sheet: Sheet, question: Question) -> None:
    """沿用上季: last quarter's answer becomes this one, with its evidence; then on."""
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
    _move_on(turn, sheet, question.code,
             prefix=f"已沿用{earlier.period_label}的 {question.code}：{earlier.score} 分"
                    f"{with_evidence}。要補本季的佐證，直接傳文字、照片或檔案。")


def ask_band_score(turn: Turn, sheet: Sheet, question: Question, band_index: int,
                   *, prefix: str | None = None) -> None:
    """Ask for the exact score inside the chosen band."""
    assert sheet.assessment.id is not None
    band = question.bands[band_index]
    turn.state.mode = Mode.BAND
    turn.state.band = band_index
    aid = sheet.assessment.id
    values = band_score_picks(band.min, band.max)
    choices = [turn.choice(f"{value}分", "s", aid, question.code, value) for value in values]
    choices += [turn.choice(texts.BAND_BACK, "q", aid, question.code),
                turn.choice(texts.PAUSE, "z")]
    lines = [f"{question.code} {question.name}：{band.label}", band.criteria, "",
             f"請選擇 {band.min} 到 {band.max} 之間的分數，或直接輸入。"]
    text = "\n".join(lines)
    turn.say(f"{prefix}\n\n{text}" if prefix else text, choices)


def band_score_picks(low: int, high: int) -> list[int]:
    """Scores offered as buttons inside a band: every score of a narrow band, else the ends
    and the round numbers between them (81-120 → 120, 110, 100, 90, 81)."""
    if high - low <= 9:
        return list(range(high, low - 1, -1))
    step = 5 if high - low <= 25 else 10
    inner = [v for v in range(high - high % step, low, -step) if low < v < high]
    return [high, *inner, low]


def ask_measure(turn: Turn, sheet: Sheet, question: Question) -> None:
    """Ask for the objective measure (e.g. the phone-test score) of a question."""
    assert question.measure is not None and sheet.assessment.id is not None
    measure = question.measure
    turn.state.mode = Mode.MEASURE
    allowed = f"{measure.min:g}-{measure.max:g}{measure.unit}" if measure.max is not None \
        else f"{measure.min:g}{measure.unit}以上"
    thresholds = "；".join(f"{b.measure_min:g}{measure.unit}以上 → {b.label}"
                          for b in question.bands if b.measure_min is not None)
    turn.say(
        f"請輸入{measure.name}（{allowed}）。\n"
        f"對照：{thresholds}。",
        [turn.choice(texts.BAND_BACK, "q", sheet.assessment.id, question.code),
         turn.choice(texts.PAUSE, "z")],
    )


def _cite_choices(turn: Turn, sheet: Sheet) -> list[Choice]:
    """引用 buttons for the question just answered (6.1–6.3): its adopted proposals."""
    code = turn.state.evidence_for
    if code is None or code not in PROPOSAL_EVIDENCE_CODES or sheet.assessment.id is None:
        return []
    answer = sheet.answers.get(code)
    cited = answer.evidence_text or "" if answer is not None else ""
    offered = [p for p in section_proposals(turn, sheet, code)
               if p.reference and p.reference not in cited][:CITE_BUTTONS]
    return [turn.choice(f"{code} 引用 {p.reference}", "pq", sheet.assessment.id, code, p.id)
            for p in offered]


def evidence_target(turn: Turn, sheet: Sheet) -> Question | None:
    """The question evidence sent now belongs to: the one answered last, until the next score."""
    code = turn.state.evidence_for
    if code is None or turn.state.assessment_id != sheet.assessment.id \
            or not sheet.rubric.has_question(code):
        return None
    return sheet.rubric.question(code)


def _move_on(turn: Turn, sheet: Sheet, code: str, *, prefix: str) -> None:
    """After a score (or 保留原分數): on to the next question at once; evidence sent before
    the next score is for ``code``. A returned question leads to the next returned one."""
    returned = sheet.returned_codes()
    if code in returned:
        later = [c for c in returned if c != code]
        turn.state.evidence_for = code
        if later:
            ask_question(turn, sheet, later[0], prefix=prefix)
        else:
            show_review(turn, sheet, prefix=f"{prefix}\n退回的題目都已處理，"
                                             f"請檢視後按「{texts.SUBMIT}」重新送出。")
        turn.state.evidence_for = code
        return
    turn.state.evidence_for = code
    go_next(turn, sheet, code, prefix=prefix)
    turn.state.evidence_for = code


def cite_proposal(turn: Turn, sheet: Sheet, question: Question, proposal_id: int) -> None:
    """引用: an adopted proposal of the section becomes evidence text of 6.1–6.3."""
    proposal = turn.session.get(Proposal, proposal_id)
    if proposal is None or proposal.section_id != sheet.section.id \
            or proposal.status not in ADOPTED or question.code not in PROPOSAL_EVIDENCE_CODES:
        raise Refused(texts.UNKNOWN_BUTTON)
    sheet.check_may_edit(question.code)
    answer = sheet.answers.get(question.code)
    if answer is None or answer.self_score is None:
        raise Refused(texts.EVIDENCE_FIRST_SCORE)
    sheet.answers[question.code] = add_evidence_text(
        session=turn.session, assessment=sheet.assessment, question_code=question.code,
        text=f"創意提案 {texts.proposal_citation(proposal)}", member=_member(turn), now=turn.now)
    _redraw_after_evidence(
        turn, sheet, prefix=f"已將創意提案 {proposal.reference} 列為 {question.code} 的佐證。")


def _redraw_after_evidence(turn: Turn, sheet: Sheet, *, prefix: str) -> None:
    """Evidence was added to the question answered last: show where the person is again."""
    state = turn.state
    code = state.question
    if state.mode in (Mode.QUESTION, Mode.BAND, Mode.MEASURE) and code is not None \
            and sheet.rubric.has_question(code) and state.assessment_id == sheet.assessment.id:
        question = sheet.rubric.question(code)
        if state.mode == Mode.BAND and state.band is not None \
                and state.band < len(question.bands):
            ask_band_score(turn, sheet, question, state.band, prefix=prefix)
        elif state.mode == Mode.MEASURE:
            turn.say(prefix)
            ask_measure(turn, sheet, question)
        else:
            ask_question(turn, sheet, code, prefix=prefix, brief=True)
        return
    show_review(turn, sheet, prefix=prefix, brief=True)


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
        raise Refused(f"「{_quote(text)}」不是分數。請輸入 {allowed}（例如 {hi}），"
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


def _quote(text: str) -> str:
    text = text.strip().replace("\n", " ")
    return text if len(text) <= 20 else text[:20] + "…"


def apply_score(turn: Turn, sheet: Sheet, question: Question, score: int,
                measure: float | None = None, evidence: str | None = None) -> None:
    """Record a score (and the evidence typed with it), tell an earlier answerer it was
    changed, then go on to the next question at once."""
    sheet.check_may_edit(question.code)
    member = _member(turn)
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
        done += f"\n已收到 {question.code} 的佐證：「{_quote(evidence)}」。"
    else:
        done += f"\n要補佐證，直接傳文字、照片或檔案，會列為 {question.code} 的佐證。"
    _move_on(turn, sheet, question.code, prefix=done)


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


def handle_text(turn: Turn, text: str) -> None:
    """A message that is not a command: a score (with its evidence), a measure, evidence for
    the question answered last, or a stray word."""
    mode = turn.state.mode
    if mode == Mode.CONFIRM_SUBMIT:
        sheet = current_sheet(turn)
        turn.say(f"請按「{texts.CONFIRM}」送出，或按「{texts.CANCEL}」返回。",
                 _confirm_choices(turn, sheet))
        return
    at_review = mode == Mode.IDLE and turn.state.evidence_for is not None
    if not at_review and (mode not in (Mode.QUESTION, Mode.BAND, Mode.MEASURE)
                          or turn.state.question is None):
        show_menu_hint(turn)
        return
    sheet = current_sheet(turn, lock=True)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    if at_review:
        target = evidence_target(turn, sheet)
        if target is None:
            show_menu_hint(turn)
            return
        _evidence_text(turn, sheet, target, text)
        return
    code = turn.state.question
    assert code is not None
    if sheet.assessment.id != turn.state.assessment_id or not sheet.rubric.has_question(code):
        resume(turn)
        return
    question = sheet.rubric.question(code)
    try:
        if mode == Mode.MEASURE:
            _measure_text(turn, sheet, question, text)
        elif mode == Mode.BAND and turn.state.band is not None \
                and turn.state.band < len(question.bands):
            band = question.bands[turn.state.band]
            leading = split_leading_number(text)
            typed, rest = (f"{leading[0]}分", leading[2]) if leading else (text, "")
            score = parse_score(typed, question, low=band.min, high=band.max)
            apply_score(turn, sheet, question, score, turn.state.measure, evidence=rest or None)
        else:
            _question_text(turn, sheet, question, text)
    except Refused as refusal:
        _ask_again(turn, sheet, question, refusal.message)


def _question_text(turn: Turn, sheet: Sheet, question: Question, text: str) -> None:
    """At a question: ``85``, ``二十五``, ``85 受理後…`` score it (a measured figure such as a
    phone-test 92 is offered as its band); other words are evidence for the last answer."""
    leading = split_leading_number(text)
    if leading is not None:
        number, unit, rest = leading
        measure = question.measure
        if measure is not None and not rest and _is_measure(question, number, unit):
            _measure_text(turn, sheet, question, number,
                          offered=float(number) > question.max and unit in (None, "分"))
            return
        if unit not in (None, "分"):
            parse_score(text, question)  # 85% at a question that has no such measure: refused
        score = parse_score(f"{number}{unit if unit == '分' else ''}", question)
        apply_score(turn, sheet, question, score, evidence=rest or None)
        return
    target = evidence_target(turn, sheet)
    if target is None or not text.strip():
        parse_score(text, question)  # refused: says what a score is
        return
    _evidence_text(turn, sheet, target, text)


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


def _ask_again(turn: Turn, sheet: Sheet, question: Question, message: str) -> None:
    if turn.state.mode == Mode.BAND and turn.state.band is not None:
        ask_band_score(turn, sheet, question, turn.state.band, prefix=message)
    elif turn.state.mode == Mode.MEASURE:
        turn.say(message)
        ask_measure(turn, sheet, question)
    else:
        ask_question(turn, sheet, question.code, prefix=message)


def _measure_text(turn: Turn, sheet: Sheet, question: Question, text: str, *,
                  offered: bool = False) -> None:
    """The question's objective measure: it names the band, whose score is then picked.
    ``offered``: the figure was typed as if a score, so say how it was read."""
    measure = question.measure
    assert measure is not None
    match = _MEASURE.match(to_halfwidth(text).strip())
    allowed = f"{measure.min:g}-{measure.max:g}{measure.unit}" if measure.max is not None \
        else f"{measure.min:g}{measure.unit}以上"
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
    if band is None:
        lowest = min(b.measure_min or 0 for b in question.bands)
        turn.state.at_question(sheet.assessment.id or 0, question.code)
        turn.state.measure = value
        assert sheet.assessment.id is not None
        turn.say(f"{shown}，未達最低級距（{lowest:g}{measure.unit}以上），本題建議給 0 分。",
                 [turn.choice(texts.ZERO, "s", sheet.assessment.id, question.code, 0),
                  turn.choice("重新輸入", "e", sheet.assessment.id, question.code),
                  turn.choice(texts.BAND_BACK, "q", sheet.assessment.id, question.code)])
        return
    index = question.bands.index(band)
    turn.state.at_question(sheet.assessment.id or 0, question.code)
    turn.state.measure = value
    ask_band_score(turn, sheet, question, index,
                   prefix=f"{shown}，對應級距 {band.label}。")


def _evidence_text(turn: Turn, sheet: Sheet, question: Question, text: str) -> None:
    cleaned = text.strip()
    sheet.check_may_edit(question.code)
    if not cleaned:
        raise Refused("請傳送文字說明、照片或檔案作為佐證。")
    sheet.answers[question.code] = add_evidence_text(
        session=turn.session, assessment=sheet.assessment, question_code=question.code,
        text=cleaned, member=_member(turn), now=turn.now)
    _redraw_after_evidence(
        turn, sheet, prefix=f"已收到 {question.code} 的佐證：「{_quote(cleaned)}」。")


def takes_file(state: State) -> bool:
    """Whether a file sent now could be evidence (at a question, or just after a score)."""
    in_question = state.mode in (Mode.QUESTION, Mode.BAND, Mode.MEASURE) \
        and state.question is not None
    return in_question or (state.mode == Mode.IDLE and bool(state.evidence_for))


def handle_attachment(turn: Turn) -> None:
    """A photo or file: evidence for the question answered last (until the next score)."""
    attachment = turn.incoming.attachment
    assert attachment is not None
    in_question = turn.state.mode in (Mode.QUESTION, Mode.BAND, Mode.MEASURE) \
        and turn.state.question is not None
    if not takes_file(turn.state):
        show_menu_hint(turn, prefix="目前沒有正在填答的題目，檔案未被保存。")
        return
    sheet = current_sheet(turn, lock=True)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    question = evidence_target(turn, sheet)
    if question is None:
        if in_question and turn.state.question and sheet.rubric.has_question(turn.state.question):
            ask_question(turn, sheet, turn.state.question, prefix=texts.EVIDENCE_FIRST_SCORE)
        else:
            show_menu_hint(turn, prefix="目前沒有正在填答的題目，檔案未被保存。")
        return
    code = question.code
    sheet.check_may_edit(code)
    refusal = file_refusal(attachment, turn.config.max_evidence_bytes, "佐證檔案")
    if refusal is not None:
        _redraw_after_evidence(turn, sheet, prefix=refusal)
        return
    try:
        digest, path = turn.keep_file(attachment)
    except EvidenceStoreError:
        logger.exception("evidence store failed for assessment %s", sheet.assessment.id)
        _tell_secretariat_store_failed(turn, sheet, question)
        _redraw_after_evidence(turn, sheet, prefix=texts.EVIDENCE_STORE_FAILED)
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
        turn, sheet, prefix=f"已收到{kind}{name}（{_size(attachment.size)}），列為 {code} 的佐證。")


def _tell_secretariat_store_failed(turn: Turn, sheet: Sheet, question: Question) -> None:
    turn.notify_secretariat(
        sheet.assessment.agency_id,
        Outgoing(f"【系統通知】{sheet.section.name} 上傳 {question.code} 的佐證檔案時，"
                 "佐證儲存區寫入失敗（可能是磁碟空間不足），請通知系統管理者。"),
        key=f"store-failed:{turn.incoming.channel}:{turn.incoming.event_id}")


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


# --- moving around ---------------------------------------------------------------------------


def resume(turn: Turn) -> None:
    """填寫自評: continue where the member (or section) left off."""
    sheet = current_sheet(turn)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    returned = sheet.returned_codes()
    if returned:
        reason, _ = fixes_since_return(session=turn.session, assessment=sheet.assessment,
                                       codes=())
        asked = f"\n退回原因：{reason}" if reason else ""
        ask_question(turn, sheet, returned[0],
                     prefix=f"{sheet.heading()}\n秘書室退回，請修改：{'、'.join(returned)}，"
                            f"改好後按「{texts.SUBMIT}」重新送出。{asked}\n"
                            "可修改分數，或按「保留原分數」後補傳佐證。")
        return
    code = resume_target(turn, sheet)
    unanswered = sheet.unanswered()
    if code is None:
        show_review(turn, sheet, prefix="本季 25 題都已作答，可以檢視後送出。")
        return
    answered = len(sheet.rubric.questions) - len(unanswered)
    intro = (f"{sheet.heading()}\n已作答 {answered}/{len(sheet.rubric.questions)} 題。"
             if answered else f"{sheet.heading()}\n開始填寫，共 {len(sheet.rubric.questions)} 題。")
    earlier = sheet.earlier(turn.session)
    offered = [c for c in unanswered if c in earlier]
    if offered:
        label = next(iter(earlier.values())).period_label
        intro += (f"\n可從上季開始：{label}已答的 {len(offered)} 題，每題會列出上季分數與佐證，"
                  f"按「{texts.CARRY}」採用，或直接輸入本季分數（不會自動帶入）。")
    ask_question(turn, sheet, code, prefix=intro)


def go_next(turn: Turn, sheet: Sheet, after: str, *, prefix: str | None = None) -> None:
    """The next unanswered question after ``after`` (wrapping), or the review when done."""
    codes = [q.code for q in sheet.rubric.questions]
    position = codes.index(after) if after in codes else -1
    unanswered = set(sheet.unanswered())
    for code in codes[position + 1:] + codes[:position + 1]:
        if code in unanswered and code != after:
            ask_question(turn, sheet, code, prefix=prefix)
            return
    if after in unanswered:
        ask_question(turn, sheet, after, prefix=(prefix or "") + "\n只剩這題還沒作答。")
        return
    show_review(turn, sheet, prefix=((prefix + "\n") if prefix else "")
                + f"全部 {len(codes)} 題都已作答！請檢視後送出。")


def keep_score(turn: Turn, sheet: Sheet, code: str) -> None:
    """保留原分數: the answer stands; evidence sent next is still for this question."""
    answer = sheet.answers.get(code)
    if answer is None or answer.self_score is None:
        go_next(turn, sheet, code)
        return
    _move_on(turn, sheet, code, prefix=f"{code} 保留原分數 {answer.self_score} 分。"
                                       f"要補佐證，直接傳文字、照片或檔案，會列為 {code} 的佐證。")


def go_back(turn: Turn, sheet: Sheet, code: str) -> None:
    """The question before ``code``."""
    codes = [q.code for q in sheet.rubric.questions]
    position = codes.index(code)
    if position == 0:
        ask_question(turn, sheet, code, prefix="已經是第一題了。")
        return
    ask_question(turn, sheet, codes[position - 1])


def goto(turn: Turn, target: str) -> None:
    """跳到 N: by number (1–25) or by code (2.4)."""
    sheet = current_sheet(turn)
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    total = len(sheet.rubric.questions)
    cleaned = to_halfwidth(target).strip()
    code: str | None = None
    if cleaned.isdigit() and 1 <= int(cleaned) <= total:
        code = sheet.rubric.questions[int(cleaned) - 1].code
    elif sheet.rubric.has_question(cleaned):
        code = cleaned
    if code is None:
        message = (f"沒有「{_quote(target)}」這一題。請輸入 1 到 {total} 的題號（例如：跳到 5），"
                   "或題目代碼（例如：跳到 2.4）。")
        if turn.state.question and sheet.rubric.has_question(turn.state.question) \
                and turn.state.mode != Mode.IDLE:
            ask_question(turn, sheet, turn.state.question, prefix=message)
        else:
            show_menu_hint(turn, prefix=message)
        return
    ask_question(turn, sheet, code)


def resume_target(turn: Turn, sheet: Sheet) -> str | None:
    """Where 填寫自評 continues: the question being answered, else the first unanswered."""
    unanswered = sheet.unanswered()
    code = turn.state.question
    if (turn.state.assessment_id == sheet.assessment.id and code is not None
            and sheet.rubric.has_question(code) and code in unanswered):
        return code
    return unanswered[0] if unanswered else None


def pause(turn: Turn) -> None:
    """暫停: everything is saved; say how to come back."""
    where = ""
    if turn.member is not None and turn.member.section_id is not None:
        sheet = current_sheet(turn)
        target = resume_target(turn, sheet) if sheet.editable else None
        if target is not None:
            number = sheet.rubric.placement(target).number
            where = f"下次從第 {number} 題（{target}）繼續。"
    turn.state.to_menu()
    turn.say(f"已暫停，您的答案都已儲存。{where}隨時輸入「{texts.FILL}」或按下方按鈕即可繼續。",
             main_menu_choices(turn))


def cancel(turn: Turn) -> None:
    """取消: leave the current step (a band choice, a measure, a submission) for the question."""
    if turn.state.mode == Mode.CONFIRM_SUBMIT:
        sheet = current_sheet(turn)
        turn.state.to_menu()
        show_review(turn, sheet, prefix="已取消送出，答案都保留著。")
        return
    if turn.state.mode in (Mode.BAND, Mode.MEASURE) and turn.state.question:
        sheet = current_sheet(turn)
        if sheet.rubric.has_question(turn.state.question):
            ask_question(turn, sheet, turn.state.question, prefix="已取消。")
            return
    turn.state.to_menu()
    show_menu(turn, prefix="已取消。")


# --- review and submission -------------------------------------------------------------------


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
        numbers = "、".join(f"第 {sheet.rubric.placement(c).number} 題（{c}）" for c in unanswered)
        lines += ["", f"未作答 {len(unanswered)} 題：{numbers}"]
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


def _score_card(sheet: Sheet, *, note: str | None = None) -> Card:
    """Item subtotals, total and grade as a card (``note``: what the message says beyond)."""
    card = score_card(sheet.rubric, sheet.scores())
    rows = [(item.name, f"{card.item_scores[item.code]}/{item.max}")
            for item in sheet.rubric.items]
    total = len(sheet.rubric.questions)
    rows.append(("已作答", f"{len(card.answered)}/{total} 題"))
    rows.append(("合計", f"{card.total} 分"))
    if card.complete:
        rows.append(("等第", card.grade))
    return Card(sheet.heading(), tuple(rows), note=note)


def show_review(turn: Turn, sheet: Sheet, *, prefix: str | None = None,
                brief: bool = False) -> None:
    """檢視: the review, with the way on (``brief``: only where the sheet stands, after
    evidence sent at the review, which was just shown)."""
    assert sheet.assessment.id is not None
    text = review_text(turn, sheet)
    if brief:
        answered = len(sheet.scores())
        total = len(sheet.rubric.questions)
        text = (f"{sheet.heading()}：已作答 {answered}/{total} 題，"
                f"目前合計 {sum(sheet.scores().values())} 分。"
                + (f"請按「{texts.SUBMIT}」送出；還有佐證可繼續傳送。" if answered == total
                   else ""))
    if not sheet.editable:
        turn.state.to_menu()
        turn.say(text, main_menu_choices(turn))
        return
    evidence = turn.state.evidence_for if turn.state.assessment_id == sheet.assessment.id \
        else None
    turn.state.to_menu()
    turn.state.assessment_id = sheet.assessment.id
    turn.state.evidence_for = evidence  # a file sent at the review is for the last answer
    aid = sheet.assessment.id
    choices: list[Choice] = _cite_choices(turn, sheet)
    if sheet.unanswered():
        choices.append(turn.choice(texts.CONTINUE, "g", aid, sheet.unanswered()[0]))
    else:
        choices.append(turn.choice(texts.SUBMIT, "u", aid))
    choices.append(turn.menu_choice(texts.MENU, "menu"))
    card = None
    if not brief:  # the card's rows are the heading's figures; the rest goes below them
        detail = text.split("\n", 2)[2].strip("\n") if text.count("\n") >= 2 else ""
        card = _score_card(sheet, note="\n\n".join(p for p in (prefix, detail) if p))
    turn.say(f"{prefix}\n\n{text}" if prefix else text, choices, card=card)


def _confirm_choices(turn: Turn, sheet: Sheet) -> list[Choice]:
    assert sheet.assessment.id is not None
    return [turn.choice(texts.CONFIRM, "c", sheet.assessment.id),
            turn.choice(texts.CANCEL, "x")]


def request_submit(turn: Turn, sheet: Sheet) -> None:
    """送出: refuse while questions are unanswered; else show totals and ask to confirm."""
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    unanswered = sheet.unanswered()
    if unanswered:
        numbers = "、".join(f"第 {sheet.rubric.placement(c).number} 題（{c}）" for c in unanswered)
        show_review(turn, sheet, prefix=f"尚有 {len(unanswered)} 題未作答，還不能送出：{numbers}。"
                                        "\n未辦理的項目也請明確填 0 分。")
        return
    card = score_card(sheet.rubric, sheet.scores())
    lines = [f"即將送出 {sheet.section.name} {sheet.period.label} 自評：", ""]
    lines += [f"{item.name}：{card.item_scores[item.code]}/{item.max} 分"
              for item in sheet.rubric.items]
    lines += ["", f"總分：{card.total} 分", f"等第：{card.grade}", "",
              "送出後將無法修改（秘書室退回後才能再修改）。確定送出嗎？"]
    turn.state.to_menu()
    turn.state.assessment_id = sheet.assessment.id
    turn.state.mode = Mode.CONFIRM_SUBMIT
    turn.say("\n".join(lines), _confirm_choices(turn, sheet))


def confirm_submit(turn: Turn, sheet: Sheet) -> None:
    """確認送出: lock the assessment, give the receipt, notify the secretariat."""
    if not sheet.editable:
        show_locked(turn, sheet)
        return
    if sheet.unanswered():  # someone may have cleared an answer in between
        request_submit(turn, sheet)
        return
    member = _member(turn)
    card = score_card(sheet.rubric, sheet.scores())
    resubmitted = sheet.assessment.status == AssessmentStatus.RETURNED
    fixed = _fix_lines(turn, sheet) if resubmitted else []
    carried = sheet.carried()
    carried_line = (f"沿用上季：{'、'.join(carried)}（共 {len(carried)} 題，"
                    f"{sheet.answers[carried[0]].carried_from}）" if carried else "")
    reference = submit_assessment(session=turn.session, assessment=sheet.assessment,
                                  member=member, now=turn.now)
    when = texts.roc_datetime(turn.now)
    turn.state.to_menu()
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
             [turn.choice(texts.REVIEW, "r", sheet.assessment.id),
              turn.menu_choice(texts.MENU, "menu")])


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
               turn.choice(texts.REVIEW, "r", sheet.assessment.id)]
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
