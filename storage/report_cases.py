"""個案事例 for the annual 績效總報告: what each section offers under the five headings of
壹、執行績效 (1-5) and as points of 貳、檢討 (heading 0), and which ones the secretariat keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, func, select

from storage.models import Member, ReportCase, Section

#: 壹、執行績效 asks for 2 or 3 cases per heading; a section may offer at most this many.
MAX_PER_HEADING = 3
REVIEW_HEADING = 0
HEADING_NUMBERS = (1, 2, 3, 4, 5)


def add_report_case(*, session: Session, member: Member, roc_year: int, heading: int,
                    text: str, now: datetime, figures: str | None = None) -> ReportCase | None:
    """A new case of ``member``'s section (``member`` must belong to a section); None when the
    section already offers ``MAX_PER_HEADING`` under ``heading``. The count is taken under a
    lock on the section's row, so two members writing at once cannot both add the last one."""
    if member.section_id is None:
        raise ValueError("only a member of a section can offer a case")
    if heading != REVIEW_HEADING and heading not in HEADING_NUMBERS:
        raise ValueError(f"heading must be 0-5, not {heading}")
    session.exec(select(Section.id).where(Section.id == member.section_id)
                 .with_for_update()).one()
    if count_report_cases(session=session, section_id=member.section_id, roc_year=roc_year,
                          heading=heading) >= MAX_PER_HEADING:
        return None
    case = ReportCase(agency_id=member.agency_id, section_id=member.section_id,
                      roc_year=roc_year, heading=heading, text=text.strip(),
                      figures=(figures or "").strip() or None, member_id=member.id,
                      created_at=now)
    session.add(case)
    session.flush()
    return case


def get_report_case(*, session: Session, case_id: int) -> ReportCase | None:
    """The case with this id, if any."""
    return session.get(ReportCase, case_id)


def set_figures(*, session: Session, case: ReportCase, figures: str | None) -> ReportCase:
    """The case's quantified result (None or blank: none)."""
    case.figures = (figures or "").strip() or None
    session.add(case)
    session.flush()
    return case


def set_kept(*, session: Session, case: ReportCase, kept: bool) -> ReportCase:
    """Whether the case goes into the report."""
    case.kept = kept
    session.add(case)
    session.flush()
    return case


def set_pinned(*, session: Session, case: ReportCase, pinned: bool) -> ReportCase:
    """Pin a case in the report (the secretariat's 保留), or let it be cut again."""
    case.pinned = pinned
    session.add(case)
    return case


def delete_report_case(*, session: Session, case: ReportCase) -> None:
    """Remove a case."""
    session.delete(case)
    session.flush()


def count_report_cases(*, session: Session, section_id: int, roc_year: int,
                       heading: int) -> int:
    """How many cases the section has under ``heading`` this year."""
    return int(session.exec(select(func.count()).select_from(ReportCase).where(
        ReportCase.section_id == section_id, ReportCase.roc_year == roc_year,
        ReportCase.heading == heading)).one())


def list_report_cases(*, session: Session, agency_id: int, roc_year: int,
                      section_id: int | None = None, kept: bool | None = None
                      ) -> Sequence[ReportCase]:
    """The year's cases, by heading (檢討 last) and then in the order they were written."""
    query = select(ReportCase).where(ReportCase.agency_id == agency_id,
                                     ReportCase.roc_year == roc_year)
    if section_id is not None:
        query = query.where(ReportCase.section_id == section_id)
    if kept is not None:
        query = query.where(col(ReportCase.kept).is_(kept))
    cases = session.exec(query.order_by(col(ReportCase.id))).all()
    return sorted(cases, key=lambda c: (c.heading == REVIEW_HEADING, c.heading, c.id or 0))
