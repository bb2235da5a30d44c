"""Documents' contents from the database and the rubric (see reports.model for the shapes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, select

from reports.model import (
    AnnualRow,
    AnnualTable,
    FormFacet,
    FormIndicator,
    FormItem,
    FormQuestion,
    FormSubIndicator,
    ItemColumn,
    QuarterTable,
    SectionForm,
    TableRow,
)
from rubric import Period, Question, Rubric, grade_for, latest_rubric_year, load_year, score_card
from rubric.periods import TAIPEI, format_roc_date, format_roc_year_month
from storage.assessments import answers_by_code, attachment_counts, find_assessment
from storage.models import (
    Agency,
    Answer,
    Assessment,
    AssessmentStatus,
    Member,
    Proposal,
    ProposalStatus,
    Section,
)
from storage.org import list_sections
from storage.quarter_notes import get_follow_up
from storage.verification import phone_tests

QUARTER_NAMES = {1: "一", 2: "二", 3: "三", 4: "四"}
STATUS = {AssessmentStatus.DRAFT: "未送出", AssessmentStatus.SUBMITTED: "自評已送出",
          AssessmentStatus.RETURNED: "已退回", AssessmentStatus.VERIFIED: "已審定"}


def grade_scale_text(rubric: Rubric) -> str:
    """優=900分以上；甲=899-800分；… as the seed's table writes it."""
    parts = []
    steps = list(rubric.grades)
    for index, step in enumerate(steps):
        if index == 0:
            parts.append(f"{step.grade}={step.min}分以上")
        elif step.min == 0:
            parts.append(f"{step.grade}={steps[index - 1].min - 1}分以下")
        else:
            parts.append(f"{step.grade}={steps[index - 1].min - 1}-{step.min}分")
    return "；".join(parts)


def _rubric_for(agency: Agency, roc_year: int) -> Rubric:
    return load_year(agency.rubric_year or latest_rubric_year(roc_year))


def section_scores(session: Session, assessment: Assessment,
                   rubric: Rubric) -> tuple[dict[str, int], bool]:
    """The scores that count for a submitted assessment: verified where the secretariat
    verified it, else the section's own (and whether they are verified)."""
    assert assessment.id is not None
    answers = answers_by_code(session=session, assessment_id=assessment.id)
    verified = assessment.status == AssessmentStatus.VERIFIED
    scores: dict[str, int] = {}
    for code, answer in answers.items():
        if not rubric.has_question(code):
            continue
        value = answer.verified_score if verified and answer.verified_score is not None \
            else answer.self_score
        if value is not None:
            scores[code] = value
    return scores, verified


def adopted_in(session: Session, agency: Agency, period: Period) -> list[Proposal]:
    """The 創意服務 plans adopted (or implemented) during ``period``, oldest first: the
    quarterly table's 附件."""
    start = datetime.combine(period.first_day, time(0), TAIPEI)
    end = datetime.combine(period.last_day + timedelta(days=1), time(0), TAIPEI)
    return list(session.exec(select(Proposal).where(
        Proposal.agency_id == agency.id,
        col(Proposal.status).in_([ProposalStatus.ADOPTED, ProposalStatus.IMPLEMENTED]),
        col(Proposal.decided_at) >= start, col(Proposal.decided_at) < end)
        .order_by(col(Proposal.decided_at), col(Proposal.id))).all())


def build_quarter_table(session: Session, agency: Agency, period: Period,
                        *, follow_up: str | None = None) -> QuarterTable:
    """第N季自行考核結果統計表 of ``agency``; ``follow_up`` (考核結果處理情形) defaults to
    what the secretariat set for the quarter."""
    if follow_up is None:
        follow_up = get_follow_up(session=session, agency_id=agency.id or 0,
                                  roc_year=period.roc_year, quarter=period.quarter)
    names = {s.id: s.name for s in list_sections(session=session, agency=agency)}
    attachments = tuple(
        f"{p.reference or ''}「{p.title or '（未命名）'}」（{names.get(p.section_id, '')}）"
        for p in adopted_in(session, agency, period))
    rubric = _rubric_for(agency, period.roc_year)
    items = tuple(ItemColumn(i.code, i.name, i.max) for i in rubric.items)
    rows = []
    number = 0
    for section in list_sections(session=session, agency=agency):
        if not section.assessed or section.id is None:
            continue
        number += 1
        assessment = find_assessment(session=session, section_id=section.id,
                                     roc_year=period.roc_year, quarter=period.quarter)
        if assessment is None or assessment.status == AssessmentStatus.DRAFT:
            rows.append(TableRow(number, section.name, (None,) * len(items), None, None, False,
                                 "未送出", None))
            continue
        scores, verified = section_scores(session, assessment, load_year(assessment.rubric_year))
        card = score_card(rubric, scores)
        when = assessment.assessed_on if verified and assessment.assessed_on else (
            assessment.submitted_at.astimezone(TAIPEI).date() if assessment.submitted_at
            else None)
        rows.append(TableRow(
            number, section.name, tuple(card.item_scores[i.code] for i in rubric.items),
            card.total, card.grade, verified,
            STATUS.get(AssessmentStatus(assessment.status), assessment.status),
            format_roc_year_month(when) if when else None))
    return QuarterTable(
        title=(f"{agency.name}{period.roc_year}年度第{QUARTER_NAMES[period.quarter]}季"
               f"（{period.months_label}）提升服務品質自行考核結果統計表"),
        agency=agency.name, period_label=period.label, items=items,
        grade_scale=grade_scale_text(rubric),
        grade_bands=tuple((g.grade, g.min) for g in rubric.grades), total_max=rubric.total,
        rows=tuple(rows), follow_up=follow_up, attachments=attachments)


QUARTER_WORDS = ("第1季", "第2季", "第3季", "第4季")
#: The phone test commendation goes to people tested at least this often in the year.
PHONE_TESTS_NEEDED = 2


def ranking_rules(method: str) -> str:
    """The rules the annual table applies, as printed under its title."""
    word = {"average": "平均", "sum": "合計"}[method]
    return (f"年度成績為第1至4季總分之{word}，四季皆須送出；四季皆經秘書室審定者始列名次，"
            "含自評分數者列出但不排名。同分時以第4季總分高者為先，再同分者並列。"
            f"電話禮貌最佳人員為全年測試平均分數最高者（全年受測{PHONE_TESTS_NEEDED}次以上者"
            f"優先；無人受測{PHONE_TESTS_NEEDED}次以上時，以全部受測者比較），同分者並列。")


def build_annual_table(session: Session, agency: Agency, roc_year: int, *,
                       method: str = "average") -> AnnualTable:
    """Q1–Q4 per section, aggregated, ranked, with the seed's three commendations.

    All four quarters count: a section with a quarter not submitted is 未完成 and has no
    year's result; only a section verified in all four can be ranked and commended (one
    whose self scores would otherwise beat verified ones is listed, marked, unranked).
    """
    if method not in ("average", "sum"):
        raise ValueError(f"method must be average or sum, not {method!r}")
    rubric = _rubric_for(agency, roc_year)
    quarters = [build_quarter_table(session, agency, Period(roc_year, q)) for q in (1, 2, 3, 4)]
    rows: list[AnnualRow] = []
    for index, first in enumerate(quarters[0].rows):
        totals = tuple(q.rows[index].total for q in quarters)
        verified = tuple(q.rows[index].verified for q in quarters)
        missing = [QUARTER_WORDS[n] for n, t in enumerate(totals) if t is None]
        aggregate: float | None = None
        grade = None
        standing = ""
        if missing:
            standing = f"未完成（缺{'、'.join(missing)}）"
        else:
            present = [t for t in totals if t is not None]
            aggregate = sum(present) / 4 if method == "average" else float(sum(present))
            grade = grade_for(rubric, int(sum(present) / 4))
            unverified = [QUARTER_WORDS[n] for n, v in enumerate(verified) if not v]
            if unverified:
                standing = f"含自評（{'、'.join(unverified)}）"
        rows.append(AnnualRow(first.section, totals, aggregate, None, grade,  # type: ignore[arg-type]
                              verified, standing))  # type: ignore[arg-type]
    eligible = sorted((r for r in rows if not r.standing and r.aggregate is not None),
                      key=lambda r: (-(r.aggregate or 0), -(r.quarter_totals[3] or 0)))
    ranks: dict[str, int] = {}
    for position, entry in enumerate(eligible, start=1):
        before = eligible[position - 2] if position > 1 else None
        tied = before is not None and (before.aggregate, before.quarter_totals[3]) == (
            entry.aggregate, entry.quarter_totals[3])
        ranks[entry.section] = ranks[before.section] if tied and before else position
    final = tuple(dataclasses.replace(r, rank=ranks.get(r.section)) for r in rows)
    best = tuple(r.section for r in final if r.rank == 1)
    year = Period(roc_year, 1)
    tests = phone_tests(session=session, agency_id=agency.id or 0, first_day=year.first_day,
                        last_day=Period(roc_year, 4).last_day)
    sections = {s.id: s.name for s in list_sections(session=session, agency=agency)}
    people: dict[tuple[str, str], list[int]] = {}
    for test in tests:
        people.setdefault((test.person_tested, sections.get(test.section_id, "")),
                          []).append(test.score)
    often = {who: scores for who, scores in people.items() if len(scores) >= PHONE_TESTS_NEEDED}
    pool = often or people
    averages = {who: round(sum(scores) / len(scores), 2) for who, scores in pool.items()}
    top = max(averages.values(), default=None)
    best_phone = tuple((person, section, average, len(pool[(person, section)]))
                       for (person, section), average in averages.items() if average == top)
    proposals = session.exec(select(Proposal).where(
        Proposal.agency_id == agency.id, Proposal.roc_year == roc_year,
        col(Proposal.status).in_([ProposalStatus.ADOPTED, ProposalStatus.IMPLEMENTED]))
        .order_by(col(Proposal.id))).all()
    adopted = []
    for proposal in proposals:
        proposer = session.get(Member, proposal.proposer_member_id) \
            if proposal.proposer_member_id else None
        adopted.append((proposal.title or "（未命名）", proposer.name if proposer else "",
                        sections.get(proposal.section_id, "")))
    return AnnualTable(
        title=f"{agency.name}{roc_year}年度提升服務品質自行考核年度成績彙總表",
        agency=agency.name, roc_year=roc_year, method=method, rows=final,
        best_sections=best, best_phone=best_phone, adopted_proposals=tuple(adopted),
        rules=ranking_rules(method),
        grade_bands=tuple((g.grade, g.min) for g in rubric.grades))


def form_title(agency_name: str, roc_year: int) -> str:
    """The scoring form's title with the year in it, as the seed heads it; the quarter goes in
    the page header."""
    return f"{agency_name}{roc_year}年度提升服務品質自行考核項目及評分表"


def _criteria_lines(question: Question) -> tuple[str, ...]:
    """The 評分參考標準 of a question line by line, as the seed prints them."""
    lines: list[str] = []
    for band in question.bands:
        lines.append(band.label)
        lines.extend(part for part in band.criteria.split("\n") if part.strip())
    if question.guidance:
        lines.append(question.guidance)
    if len(question.criteria) == 1 and not question.guidance:
        lines.append(question.criteria[0])
    elif question.criteria:
        lines.extend(f"{number}. {text}" for number, text in enumerate(question.criteria, 1))
    return tuple(lines)


def form_facets(rubric: Rubric, answers: Mapping[str, Answer], files: Mapping[str, int],
                 scores: Mapping[str, int] | None) -> tuple[FormFacet, ...]:
    """The rubric's tree with what was scored on each question; ``scores`` are those that
    count (verified, else self) for ﹡得分 and ＊小計, None where no subtotal is printed."""

    def question_of(question: Question, cell_name: str, shared: bool) -> FormQuestion:
        answer = answers.get(question.code)
        evidence = (answer.evidence_text or "").strip() if answer else ""
        if files.get(question.code):
            evidence = f"{evidence}（檔案 {files[question.code]} 件）".strip()
        heading = f"※ {question.name}（{question.max}分）：" \
            if shared or question.name != cell_name else ""
        return FormQuestion(
            code=question.code, name=question.name, max=question.max, heading=heading,
            criteria=_criteria_lines(question),
            self_score=answer.self_score if answer else None,
            verified_score=answer.verified_score if answer else None,
            reason=(answer.reviewer_comment or "").strip() if answer else "",
            returned=bool(answer and answer.returned), evidence=evidence)

    def total(questions: Sequence[Question]) -> int | None:
        return None if scores is None else sum(scores.get(q.code, 0) for q in questions)

    facets = []
    for facet in rubric.facets:
        items = []
        for item in facet.items:
            indicators = []
            for indicator in item.indicators:
                if indicator.sub_indicators:
                    numbered = len(indicator.sub_indicators) > 1
                    subs = tuple(FormSubIndicator(
                        name=f"{n}.{sub.name}" if numbered else sub.name, max=sub.max,
                        questions=tuple(question_of(q, sub.name, len(sub.questions) > 1)
                                        for q in sub.questions))
                        for n, sub in enumerate(indicator.sub_indicators, 1))
                else:
                    questions = indicator.questions or ()
                    subs = (FormSubIndicator(None, indicator.max, tuple(
                        question_of(q, indicator.name, len(questions) > 1)
                        for q in questions)),)
                indicators.append(FormIndicator(indicator.name, indicator.max,
                                                total(indicator.all_questions()), subs))
            items.append(FormItem(item.code, item.name, item.max, total(item.all_questions()),
                                  tuple(item.notes), tuple(indicators)))
        facets.append(FormFacet(f"{facet.name}構面", facet.max, facet.description,
                                tuple(items)))
    return tuple(facets)


def build_section_form(session: Session, assessment: Assessment) -> SectionForm:
    """The filled-in 自行考核項目及評分表 of one section and quarter."""
    assert assessment.id is not None
    section = session.get(Section, assessment.section_id)
    agency = session.get(Agency, assessment.agency_id)
    assert section is not None and agency is not None
    rubric = load_year(assessment.rubric_year)
    period = Period(assessment.roc_year, assessment.quarter)
    answers = answers_by_code(session=session, assessment_id=assessment.id)
    files = attachment_counts(session=session, assessment_id=assessment.id)
    submitted = assessment.status != AssessmentStatus.DRAFT
    scores, _ = section_scores(session, assessment, rubric)
    card = score_card(rubric, scores)
    assessor = session.get(Member, assessment.assessor_member_id) \
        if assessment.assessor_member_id else None
    return SectionForm(
        title=form_title(agency.name, assessment.roc_year),
        number=section.position, section=section.name, period_label=period.label,
        assessed_on=format_roc_date(assessment.assessed_on) if assessment.assessed_on else None,
        total=card.total if submitted else None, grade=card.grade if submitted else None,
        assessor=assessor.name if assessor else None,
        facets=form_facets(rubric, answers, files, scores if submitted else None),
        full_marks=rubric.total,
        strengths_and_suggestions=assessment.strengths_and_suggestions or "")


def blank_section_form(agency: Agency, roc_year: int, *, quarter: int | None = None,
                       section: Section | None = None) -> SectionForm:
    """The scoring form with nothing filled in but the year (the quarter and the section
    when given), for printing and for inspections on site: the agency's form of that year,
    else the newest earlier one, as the other documents use."""
    rubric = _rubric_for(agency, roc_year)
    agency_name = agency.name
    return SectionForm(
        title=form_title(agency_name, roc_year),
        number=section.position if section else None,
        section=section.name if section else None,
        period_label=Period(roc_year, quarter).label if quarter else f"{roc_year}年度",
        assessed_on=None, total=None, grade=None, assessor=None,
        facets=form_facets(rubric, {}, {}, None), full_marks=rubric.total, blank=True)
