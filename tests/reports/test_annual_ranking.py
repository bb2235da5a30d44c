"""The annual ranking the seed asks for (「依業務需求將第1至4季自行考核結果彙總計算」), on
both databases: all four quarters count, only verified scores win, ties broken as stated.

The old default averaged only the quarters a section submitted and counted self scores, so
a section with one self-scored quarter of 1,000 beat one verified at 857 in all four.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from reports.build import build_annual_table
from reports.tables import annual_csv, annual_json
from rubric import load_year
from storage.models import Agency, Answer, Assessment, AssessmentStatus, Section
from storage.org import ensure_demo_agency
from storage.verification import record_phone_test

RUBRIC = load_year(105)
NOW = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)


def scores_for(total: int) -> dict[str, int]:
    """Scores of the 25 questions adding up to ``total`` (filled from the first question)."""
    left, scores = total, {}
    for question in RUBRIC.questions:
        scores[question.code] = min(question.max, left)
        left -= scores[question.code]
    assert left == 0
    return scores


def put(session, section: Section, quarter: int, total: int, *, verified: bool) -> None:
    assessment = Assessment(agency_id=section.agency_id, section_id=section.id or 0,
                            roc_year=115, quarter=quarter, rubric_year=105,
                            status=AssessmentStatus.VERIFIED if verified
                            else AssessmentStatus.SUBMITTED, submitted_at=NOW,
                            assessed_on=date(2026, 12, 28) if verified else None)
    session.add(assessment)
    session.flush()
    for code, score in scores_for(total).items():
        session.add(Answer(assessment_id=assessment.id or 0, question_code=code,
                           self_score=score, verified_score=score if verified else None))


@pytest.fixture
def year(database):
    with database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        sections = {s.name: s for s in session.exec(select(Section)).all()}
        for quarter in (1, 2, 3, 4):  # 工務課: verified 857 in all four
            put(session, sections["工務課"], quarter, 857, verified=True)
        put(session, sections["規劃課"], 4, 1000, verified=False)  # one self-scored quarter
        for quarter, total in ((1, 900), (2, 850), (3, 840), (4, 838)):  # 857 too, Q4 lower
            put(session, sections["管理課"], quarter, total, verified=True)
        for quarter in (1, 2, 3):
            put(session, sections["資產課"], quarter, 950, verified=True)
        put(session, sections["資產課"], 4, 990, verified=False)  # the best, not verified
        for name, score, day in (("王小明", 96, 3), ("趙工程師", 100, 5), ("趙工程師", 80, 8),
                                 ("錢專員", 91, 10), ("錢專員", 93, 11)):
            record_phone_test(session=session, section=sections["工務課"],
                              tested_on=date(2026, day, 1), person_tested=name, score=score,
                              recorded_by=None, now=NOW)
        agency_id = agency.id
    with database.transaction() as session:
        agency = session.get(Agency, agency_id)
        return build_annual_table(session, agency, 115)


def test_only_four_verified_quarters_are_ranked_and_ties_go_to_the_fourth(year):
    rows = {row.section: row for row in year.rows}
    works, management = rows["工務課"], rows["管理課"]
    assert (works.aggregate, management.aggregate) == (857.0, 857.0)
    assert (works.rank, management.rank) == (1, 2)  # the same year: 工務課 scored more in Q4
    assert year.best_sections == ("工務課",)
    planning = rows["規劃課"]
    assert (planning.rank, planning.aggregate) == (None, None)
    assert planning.standing == "未完成（缺第1季、第2季、第3季）"
    assets = rows["資產課"]
    assert assets.aggregate == 960.0 and assets.rank is None  # higher, but partly self-scored
    assert assets.standing == "含自評（第4季）" and assets.verified == (True, True, True, False)
    assert "四季皆經秘書室審定者始列名次" in year.rules and "第4季總分高者為先" in year.rules


def test_rows_keep_the_offices_order(year, database):
    with database.transaction() as session:
        office = [s.name for s in session.exec(select(Section).order_by(Section.position))
                  if s.assessed]
    assert [row.section for row in year.rows] == office  # not resorted by score


def test_the_phone_commendation_is_the_years_average_of_people_tested_twice(year):
    # 王小明 scored 96 once; 趙工程師 averaged 90 over two; 錢專員 92 over two.
    assert year.best_phone == (("錢專員", "工務課", 92.0, 2),)


def test_the_files_say_how_the_year_was_decided(year):
    document = annual_json(year)
    assert document["rules"] == year.rules
    assets = next(r for r in document["rows"] if r["section"] == "資產課")
    assert assets["standing"] == "含自評（第4季）" and assets["verified"][3] is False
    assert document["awards"]["best_phone"] == [
        {"person": "錢專員", "section": "工務課", "average": 92.0, "tests": 2}]
    csv_text = annual_csv(year)
    assert ",857," in csv_text and "857.0" not in csv_text  # one way to write 857
