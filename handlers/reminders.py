"""Reminders: who gets which reminder, in what words, and sending each exactly once.

What is due is derived from the calendar (``rubric.calendar.plan_year``) and the database,
never from stored jobs. Each (reminder, recipient) is claimed in the sent-log in the same
transaction that queues its messages, so a restart, a second process or a retry never
sends it twice, and an interrupted round resumes with whoever was not reached yet.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, func, select

from handlers import texts
from handlers.messages import Choice, Document, Outgoing
from handlers.tokens import Token
from reports.calendar_ics import window_calendar, window_filename
from rubric import Period, latest_rubric_year, load_year
from rubric.calendar import (
    AUDIENCE_LABELS,
    COUNTDOWN,
    DIGEST,
    KIND_LABELS,
    NUDGE,
    OPENING,
    PHONE_TEST,
    REPORT_CASES,
    PlannedReminder,
    ScheduleConfig,
    WorkCalendar,
    plan_year,
    still_matters,
)
from rubric.periods import TAIPEI, format_roc_date, to_roc_year
from storage.assessments import EDITABLE, answers_by_code, find_assessment
from storage.db import Database
from storage.models import (
    Agency,
    AssessmentStatus,
    Member,
    PhoneCourtesyTest,
    Proposal,
    ProposalStatus,
    ReminderLog,
    Role,
    Section,
)
from storage.org import list_agencies, list_sections
from storage.outbox import Destination, enqueue, member_destinations, secretariat_destinations
from storage.reminders import claim_reminder
from storage.report_cases import list_report_cases

logger = logging.getLogger(__name__)

ICS = "text/calendar"
FILL_BUTTON = Choice(texts.FILL, Token(0, "m", ("fill",)).encode())
CASES_BUTTON = Choice(texts.CASES, Token(0, "m", ("cases",)).encode())


@dataclass
class RoundReport:
    """What one run of :meth:`Reminders.run_due` did."""

    sent: list[str] = field(default_factory=list)  # "key → recipient"
    skipped: list[str] = field(default_factory=list)  # stale reminders' keys
    interrupted: bool = False


class Reminders:
    """Computes and queues due reminders for every agency."""

    def __init__(self, database: Database, config: ScheduleConfig,
                 calendar: WorkCalendar | None = None) -> None:
        self.database = database
        self.config = config
        self.calendar = calendar or WorkCalendar.for_config(config)

    def plan(self, roc_year: int) -> list[PlannedReminder]:
        """The year's reminders."""
        return plan_year(roc_year, self.config, self.calendar)

    def run_due(self, now: datetime, *, budget: int | None = None) -> RoundReport:
        """Queue every reminder whose time has come and that still matters, once per
        recipient. ``budget`` stops after that many recipients (a crash, in tests)."""
        report = RoundReport()
        today = now.astimezone(TAIPEI).date()
        plan = self.plan(to_roc_year(today.year))
        with self.database.transaction() as session:
            agency_ids = [a.id for a in list_agencies(session=session) if a.id is not None]
            # What went out already: checked here first, so a tick does no work for it (the
            # unique key in the sent-log still decides, should two processes race).
            done = {(r.kind, r.period, r.recipient) for r in session.exec(
                select(ReminderLog).where(col(ReminderLog.sent_at) >= now - timedelta(days=400)))}
        for reminder in plan:
            if reminder.fire_at > now:
                continue
            kind, period = reminder.key.split(":", 1)
            if (kind, period, "-skipped-") in done:
                continue
            if not still_matters(reminder, plan, today):
                with self.database.transaction() as session:
                    if claim_reminder(session=session, kind=kind, period=period,
                                      recipient="-skipped-", now=now):
                        logger.info("skipped reminder %s: it no longer matters on %s",
                                    reminder.key, today)
                        report.skipped.append(reminder.key)
                continue
            for agency_id in agency_ids:
                for recipient, destinations, message in self._messages(reminder, agency_id,
                                                                        today):
                    if (kind, period, recipient) in done:
                        continue
                    if budget is not None and len(report.sent) >= budget:
                        report.interrupted = True
                        return report
                    if self._send_once(kind, period, recipient, destinations, message, now,
                                       agency_id):
                        report.sent.append(f"{reminder.key} → {recipient}")
        return report

    def _send_once(self, kind: str, period: str, recipient: str,
                   destinations: Sequence[Destination], message: Outgoing, now: datetime,
                   agency_id: int) -> bool:
        with self.database.transaction() as session:
            if not claim_reminder(session=session, kind=kind, period=period,
                                  recipient=recipient, now=now):
                return False
            for destination in destinations:
                key = hashlib.sha256(
                    f"reminder:{kind}:{period}:{recipient}:{destination}".encode()).hexdigest()
                enqueue(session=session, destination=destination, payload=message.to_payload(),
                        key=key, now=now, agency_id=agency_id)
            return True

    # --- who, and what they are told ---------------------------------------------------------

    def _messages(self, reminder: PlannedReminder, agency_id: int,
                  today: date) -> list[tuple[str, list[Destination], Outgoing]]:
        with self.database.transaction() as session:
            agency = session.get(Agency, agency_id)
            assert agency is not None
            if reminder.kind == OPENING:
                return self._opening(session, agency, reminder)
            if reminder.kind == NUDGE:
                return self._nudges(session, agency, reminder, today)
            if reminder.kind == DIGEST:
                return self._to_secretariat(session, agency, reminder,
                                            self._progress_text(session, agency, reminder,
                                                                today, digest=True))
            if reminder.kind == PHONE_TEST:
                return self._to_secretariat(session, agency, reminder,
                                            _phone_test_text(session, agency, reminder))
            if reminder.kind == REPORT_CASES:
                return self._report_cases(session, agency, reminder)
            if reminder.kind == COUNTDOWN:
                return self._to_secretariat(session, agency, reminder,
                                            self._countdown_text(session, agency, reminder,
                                                                 today))
        return []

    def _to_secretariat(self, session: Session, agency: Agency, reminder: PlannedReminder,
                        text: str | None) -> list[tuple[str, list[Destination], Outgoing]]:
        if text is None:
            return []
        assert agency.id is not None
        destinations = secretariat_destinations(session=session, agency_id=agency.id)
        return [(f"secretariat:{agency.id}", destinations, Outgoing(text))] if destinations \
            else []

    def _opening(self, session: Session, agency: Agency,
                 reminder: PlannedReminder) -> list[tuple[str, list[Destination], Outgoing]]:
        window = reminder.window
        assert window is not None
        found = []
        # The same file for everyone (stamped with the opening day: a resend is identical).
        stamp = datetime.combine(reminder.day, reminder.fire_time, TAIPEI)
        ics = Document(window_filename(window), window_calendar(
            window, agency=agency.name, stamp=stamp), ICS)
        for section, members in _sections_and_members(session, agency):
            # Sent late (the bot was down on the opening day), it still goes only where
            # there is work: not to a section that has submitted or been verified.
            if not _still_open(session, section, window.period):
                continue
            answered, total = _progress(session, section, window.period)
            progress = (f"{section.name}已全部作答，尚未送出，請檢視後送出。"
                        if total and answered == total
                        else f"{section.name}目前已作答 {answered}/{total} 題。")
            for member in members:
                assert member.id is not None
                destinations = member_destinations(session=session, member_id=member.id)
                if not destinations:
                    continue
                text = (f"【自評開始】{window.period.label}服務品質自行考核開始了，"
                        f"請於{format_roc_date(window.due)}前完成並送出。\n{progress}\n"
                        "附上行事曆檔（.ics），開啟即可把填寫期間與截止日加入您的行事曆。")
                found.append((f"member:{member.id}", destinations,
                               Outgoing(text, (FILL_BUTTON,), document=ics)))
        return found

    def _report_cases(self, session: Session, agency: Agency, reminder: PlannedReminder
                      ) -> list[tuple[str, list[Destination], Outgoing]]:
        found = []
        for section, members in _sections_and_members(session, agency):
            assert section.id is not None
            offered = len(list_report_cases(session=session, agency_id=section.agency_id,
                                            roc_year=reminder.roc_year, section_id=section.id))
            text = (f"{report_cases_text(reminder.roc_year)}\n"
                    f"{section.name}目前已提供 {offered} 則。")
            for member in members:
                assert member.id is not None
                destinations = member_destinations(session=session, member_id=member.id)
                if destinations:
                    found.append((f"member:{member.id}", destinations,
                                  Outgoing(text, (CASES_BUTTON,))))
        return found

    def _nudges(self, session: Session, agency: Agency, reminder: PlannedReminder,
                today: date) -> list[tuple[str, list[Destination], Outgoing]]:
        window = reminder.window
        assert window is not None and reminder.offset is not None
        found = []
        heads_too = reminder.offset <= 1
        for section, members in _sections_and_members(session, agency):
            if not _still_open(session, section, window.period):
                continue
            answered, total = _progress(session, section, window.period)
            left = total - answered
            days = (window.due - today).days
            when = "今天截止" if days <= 0 else f"距截止還有 {days} 天"
            state = (f"尚有 {left} 題未作答（已作答 {answered}/{total} 題）" if left
                     else "已全部作答但尚未送出，請檢視後送出")
            text = (f"【提醒】{section.name} {window.period.label}自評{state}，"
                    f"截止日為{format_roc_date(window.due)}（{when}）。")
            for member in members:
                if member.role == Role.SECTION_HEAD and not heads_too:
                    continue
                assert member.id is not None
                destinations = member_destinations(session=session, member_id=member.id)
                if destinations:
                    found.append((f"member:{member.id}", destinations,
                                  Outgoing(text, (FILL_BUTTON,))))
        summary = self._progress_text(session, agency, reminder, today, digest=False)
        if summary is not None:
            found += self._to_secretariat(session, agency, reminder, summary)
        return found

    def _progress_text(self, session: Session, agency: Agency, reminder: PlannedReminder,
                       today: date, *, digest: bool) -> str | None:
        window = reminder.window
        assert window is not None
        lines = []
        for section, _ in _sections_and_members(session, agency, with_members=False):
            assert section.id is not None
            assessment = find_assessment(session=session, section_id=section.id,
                                         roc_year=window.period.roc_year,
                                         quarter=window.period.quarter)
            answered, total = _progress(session, section, window.period)
            if assessment is None:
                status = "未開始"
            else:
                status = texts.STATUS_LABELS.get(AssessmentStatus(assessment.status),
                                                 assessment.status)
            still_open = assessment is None or assessment.status in EDITABLE
            if digest or still_open:
                lines.append(f"{section.name}：{answered}/{total} 題，{status}")
        days = (window.due - today).days
        when = "今天截止" if days <= 0 else f"尚餘 {days} 天"
        head = f"{window.period.label}（截止{format_roc_date(window.due)}，{when}）"
        if digest:
            return f"【每週進度】{head}\n" + "\n".join(lines)
        if not lines:
            return None
        return f"【未完成名單】{head}\n" + "\n".join(lines)

    def _countdown_text(self, session: Session, agency: Agency, reminder: PlannedReminder,
                        today: date) -> str:
        roc_year = reminder.roc_year
        year_end = date(today.year, 12, 31)
        lines = [f"【年度報告倒數】{roc_year}年度提升服務品質績效總報告須於"
                 f"{format_roc_date(year_end)}前陳報水利署，尚餘 {(year_end - today).days} 天。"]
        missing = []
        for quarter in (1, 2, 3, 4):
            period = Period(roc_year, quarter)
            unsent, unverified = [], []
            for section, _ in _sections_and_members(session, agency, with_members=False):
                assert section.id is not None
                assessment = find_assessment(session=session, section_id=section.id,
                                             roc_year=roc_year, quarter=quarter)
                if assessment is None or assessment.status in EDITABLE:
                    unsent.append(section.name)
                elif assessment.status != AssessmentStatus.VERIFIED:
                    unverified.append(section.name)
            parts = []
            if unsent:
                parts.append(f"未送出：{'、'.join(unsent)}")
            if unverified:
                parts.append(f"未審定：{'、'.join(unverified)}")
            if parts:
                missing.append(f"・{period.label}　{'；'.join(parts)}")
        waiting = session.exec(select(func.count()).select_from(Proposal).where(
            Proposal.agency_id == agency.id, Proposal.roc_year == roc_year,
            col(Proposal.status).in_([ProposalStatus.SUBMITTED, ProposalStatus.MORE_INFO]))
        ).one()
        if waiting:
            missing.append(f"・待決定的創意提案：{waiting} 件")
        no_tests = [Period(roc_year, q).label for q in (1, 2, 3, 4)
                    if not _phone_tests(session, agency, Period(roc_year, q))]
        if no_tests:
            missing.append(f"・尚未登錄電話禮貌測試：{'、'.join(no_tests)}")
        lines += ["尚缺：", *missing] if missing else ["各季自評、提案與電話禮貌測試都已完成。"]
        return "\n".join(lines)


def report_cases_text(roc_year: int) -> str:
    """The call for the sections' cases of the year (the first working day of December)."""
    return (f"【年度案例】{roc_year}年度提升服務品質績效總報告開始彙整（資料截止時間："
            f"{roc_year}年12月31日）。請就「壹、執行績效」五個項目各列舉2、3個個案事例，"
            "並儘量以量化數據說明成果；「貳、檢討」請條列發現之問題、遭遇困難及改進建議。"
            f"請按「{texts.CASES}」逐項填寫。")


def _phone_test_text(session: Session, agency: Agency, reminder: PlannedReminder) -> str:
    period = reminder.period
    assert period is not None
    count = _phone_tests(session, agency, period)
    recorded = f"目前已登錄 {count} 次測試。" if count else "目前尚未登錄任何測試。"
    return (f"【電話禮貌測試】依計畫每3個月至少測試1次。{period.label}"
            f"（{format_roc_date(period.first_day)}至{format_roc_date(period.last_day)}）"
            f"{recorded}")


def _phone_tests(session: Session, agency: Agency, period: Period) -> int:
    return int(session.exec(select(func.count()).select_from(PhoneCourtesyTest).where(
        PhoneCourtesyTest.agency_id == agency.id,
        col(PhoneCourtesyTest.tested_on) >= period.first_day,
        col(PhoneCourtesyTest.tested_on) <= period.last_day)).one())


def _sections_and_members(session: Session, agency: Agency, *, with_members: bool = True
                          ) -> list[tuple[Section, list[Member]]]:
    found = []
    for section in list_sections(session=session, agency=agency):
        if not section.assessed:
            continue
        members: list[Member] = []
        if with_members:
            members = list(session.exec(select(Member).where(
                Member.section_id == section.id, col(Member.active).is_(True),
                col(Member.role).in_([Role.STAFF, Role.SECTION_HEAD, Role.SECRETARIAT]))
                .order_by(col(Member.id))).all())
        found.append((section, members))
    return found


def _still_open(session: Session, section: Section, period: Period) -> bool:
    assert section.id is not None
    assessment = find_assessment(session=session, section_id=section.id,
                                 roc_year=period.roc_year, quarter=period.quarter)
    return assessment is None or assessment.status in EDITABLE


def _progress(session: Session, section: Section, period: Period) -> tuple[int, int]:
    assert section.id is not None
    total = len(load_year(latest_rubric_year(period.roc_year)).questions)
    assessment = find_assessment(session=session, section_id=section.id,
                                 roc_year=period.roc_year, quarter=period.quarter)
    if assessment is None or assessment.id is None:
        return 0, total
    total = len(load_year(assessment.rubric_year).questions)
    answered = sum(1 for a in answers_by_code(session=session,
                                              assessment_id=assessment.id).values()
                   if a.self_score is not None)
    return answered, total


def describe(reminder: PlannedReminder) -> tuple[str, str, str]:
    """(kind label, audience, a sample of the wording) for ``sqbot schedule show``."""
    window = reminder.window
    if reminder.kind == OPENING and window is not None:
        text = (f"【自評開始】{window.period.label}服務品質自行考核開始了，"
                f"請於{format_roc_date(window.due)}前完成並送出。")
    elif reminder.kind == NUDGE and window is not None:
        days = (window.due - reminder.day).days
        when = "今天截止" if days <= 0 else f"距截止還有 {days} 天"
        text = (f"【提醒】（課室）{window.period.label}自評尚有 N 題未作答，"
                f"截止日為{format_roc_date(window.due)}（{when}）。")
    elif reminder.kind == DIGEST and window is not None:
        text = f"【每週進度】{window.period.label}（截止{format_roc_date(window.due)}）各課室進度"
    elif reminder.kind == REPORT_CASES:
        text = report_cases_text(reminder.roc_year)
    elif reminder.kind == PHONE_TEST and reminder.period is not None:
        text = f"【電話禮貌測試】依計畫每3個月至少測試1次。{reminder.period.label}的測試登錄情形"
    else:
        text = (f"【年度報告倒數】{reminder.roc_year}年度提升服務品質績效總報告須於"
                f"{reminder.roc_year}年12月31日前陳報水利署；列出尚缺的自評、提案與測試。")
    label = KIND_LABELS[reminder.kind]
    audience = AUDIENCE_LABELS[reminder.audience]
    if reminder.kind == NUDGE:
        heads = "同仁與課室主管" if (reminder.offset or 0) <= 1 else "同仁"
        audience = f"尚未送出課室的{heads}；秘書室另收未完成名單"
        when = f"截止前 {reminder.offset} 日" if reminder.offset else "截止日"
        label = f"{label}（{when}）"
    return label, audience, text

