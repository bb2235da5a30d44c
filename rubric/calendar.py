"""The assessment calendar: Taiwanese working days, each quarter's window, and the year's
reminders — all derived, nothing stored.

A reminder that falls on a weekend or a public holiday moves to the previous working day
when it is a deadline (a due day, a nudge, the report countdown) and to the next working
day when it is an opening. The office adds its own closed days and make-up working days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import holidays

from rubric.periods import TAIPEI, Period, to_gregorian_year


@dataclass(frozen=True)
class ScheduleConfig:
    """The calendar's settings (defaults follow the seed)."""

    window_days: int = 14
    q4_opens_on: tuple[int, int] = (12, 1)
    q4_due_on: tuple[int, int] = (12, 20)
    nudge_days: tuple[int, ...] = (7, 3, 1, 0)
    report_countdown: tuple[tuple[int, int], ...] = ((12, 1), (12, 15), (12, 24), (12, 30))
    report_cases_on: tuple[int, int] = (12, 1)  # the sections' cases for the annual report
    reminder_time: time = time(9, 0)
    extra_closed: frozenset[date] = field(default_factory=frozenset)
    extra_working: frozenset[date] = field(default_factory=frozenset)
    grace_days: int = 7  # a late section may still submit this long after the due day


class WorkCalendar:
    """Taiwan's working days (the ``holidays`` package) with the office's own exceptions."""

    def __init__(self, *, extra_closed: Iterable[date] = (),
                 extra_working: Iterable[date] = ()) -> None:
        self._holidays = holidays.country_holidays("TW", language="zh_TW")
        self.extra_closed = frozenset(extra_closed)
        self.extra_working = frozenset(extra_working)

    @classmethod
    def for_config(cls, config: ScheduleConfig) -> WorkCalendar:
        """The calendar with ``config``'s closed and make-up working days."""
        return cls(extra_closed=config.extra_closed, extra_working=config.extra_working)

    def is_working_day(self, day: date) -> bool:
        """Whether the office is open on ``day``."""
        if day in self.extra_working:
            return True
        if day in self.extra_closed:
            return False
        return bool(self._holidays.is_working_day(day))

    def closed_because(self, day: date) -> str | None:
        """Why ``day`` is not a working day (the holiday's name, 週末, 機關休息日), or None."""
        if self.is_working_day(day):
            return None
        if day in self.extra_closed:
            return "機關休息日"
        name = self._holidays.get(day)
        return str(name) if name else "週末"

    def on_or_after(self, day: date) -> date:
        """``day`` or the first working day after it (for openings)."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        """``day`` or the last working day before it (for deadlines)."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day


@dataclass(frozen=True)
class Window:
    """When a quarter's self-assessment is open: from ``opens`` to ``due`` (inclusive)."""

    period: Period
    opens: date
    due: date

    def contains(self, day: date) -> bool:
        """Whether ``day`` is inside the window."""
        return self.opens <= day <= self.due


def assessment_window(period: Period, config: ScheduleConfig, calendar: WorkCalendar) -> Window:
    """Q1–Q3: open on the first working day after the quarter, due ``window_days`` later;
    Q4: open from the first working day of December, due by 12/20 (so the annual report
    makes 12/31). Due days move back to a working day, openings forward."""
    year = to_gregorian_year(period.roc_year)
    if period.quarter == 4:
        opens = calendar.on_or_after(date(year, *config.q4_opens_on))
        due = calendar.on_or_before(date(year, *config.q4_due_on))
    else:
        opens = calendar.on_or_after(period.last_day + timedelta(days=1))
        due = calendar.on_or_before(opens + timedelta(days=config.window_days))
    return Window(period, opens, max(due, opens))


def open_window(day: date, config: ScheduleConfig, calendar: WorkCalendar) -> Window | None:
    """The window ``day`` falls in (including the grace days after the due day), if any."""
    current = Period.of(day)
    for period in (current.previous(), current):
        window = assessment_window(period, config, calendar)
        if window.opens <= day <= window.due + timedelta(days=config.grace_days):
            return window
    return None


# --- the year's reminders ---------------------------------------------------------------------

OPENING = "opening"
NUDGE = "nudge"
DIGEST = "digest"
COUNTDOWN = "countdown"
PHONE_TEST = "phone_test"
REPORT_CASES = "report_cases"

AUDIENCE_LABELS = {
    "members": "各課室全體同仁",
    "open_sections": "尚未送出課室的同仁",
    "secretariat": "秘書室",
}
KIND_LABELS = {OPENING: "自評開始", NUDGE: "截止提醒", DIGEST: "每週進度",
               COUNTDOWN: "年度報告倒數", PHONE_TEST: "電話禮貌測試提醒",
               REPORT_CASES: "年度案例徵集"}


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder of the year's plan."""

    kind: str
    day: date
    audience: str
    key: str  # stable and unique in the year: what the sent-log records
    window: Window | None = None
    offset: int | None = None  # nudges: days before the due day
    roc_year: int = 0
    moved_from: date | None = None  # the nominal day, when a holiday moved it
    fire_time: time = time(9, 0)

    @property
    def fire_at(self) -> datetime:
        """When it goes out, aware (Asia/Taipei)."""
        return datetime.combine(self.day, self.fire_time, tzinfo=TAIPEI)

    @property
    def period(self) -> Period | None:
        """The quarter it is about (None for the annual countdown)."""
        return self.window.period if self.window else None


def report_cases_day(roc_year: int, config: ScheduleConfig, calendar: WorkCalendar) -> date:
    """The first working day of December (by default): from it the sections are asked for
    their cases of the year for the 績效總報告."""
    return calendar.on_or_after(date(to_gregorian_year(roc_year), *config.report_cases_on))


def collecting_cases(day: date, config: ScheduleConfig, calendar: WorkCalendar) -> bool:
    """Whether ``day`` is in the season of collecting cases: from :func:`report_cases_day`
    to the end of the year."""
    roc_year = Period.of(day).roc_year
    return report_cases_day(roc_year, config, calendar) <= day <= Period(roc_year, 4).last_day


def plan_year(roc_year: int, config: ScheduleConfig,
              calendar: WorkCalendar) -> list[PlannedReminder]:
    """Every reminder of ROC year ``roc_year``, in time order."""
    planned: list[PlannedReminder] = []
    at = config.reminder_time

    def add(kind: str, nominal: date, actual: date, audience: str, key: str, **extra: object
            ) -> None:
        planned.append(PlannedReminder(
            kind=kind, day=actual, audience=audience, key=key, roc_year=roc_year,
            moved_from=nominal if nominal != actual else None, fire_time=at,
            **extra))  # type: ignore[arg-type]

    for quarter in (1, 2, 3, 4):
        window = assessment_window(Period(roc_year, quarter), config, calendar)
        label = window.period.short_label
        nominal_open = (date(to_gregorian_year(roc_year), *config.q4_opens_on) if quarter == 4
                        else window.period.last_day + timedelta(days=1))
        add(OPENING, nominal_open, window.opens, "members", f"{OPENING}:{label}",
            window=window)
        for offset in sorted(set(config.nudge_days), reverse=True):
            nominal = window.due - timedelta(days=offset)
            actual = calendar.on_or_before(nominal)
            if actual <= window.opens and offset:
                continue  # a nudge on the opening day would only repeat the opening
            add(NUDGE, nominal, actual, "open_sections", f"{NUDGE}-{offset}:{label}",
                window=window, offset=offset)
        monday = window.opens + timedelta(days=(7 - window.opens.weekday()) % 7 or 7)
        while monday < window.due:
            actual = calendar.on_or_after(monday)
            if actual < window.due:
                add(DIGEST, monday, actual, "secretariat", f"{DIGEST}:{label}:{monday}",
                    window=window)
            monday += timedelta(days=7)
        # Mid-quarter, so the quarter's phone-courtesy test is done before it is assessed.
        middle = date(to_gregorian_year(roc_year), 3 * quarter - 1, 1)
        add(PHONE_TEST, middle, calendar.on_or_after(middle), "secretariat",
            f"{PHONE_TEST}:{label}", window=window)
    year = to_gregorian_year(roc_year)
    for month, day in config.report_countdown:
        nominal = date(year, month, day)
        add(COUNTDOWN, nominal, calendar.on_or_before(nominal), "secretariat",
            f"{COUNTDOWN}:{roc_year}:{month:02d}-{day:02d}")
    cases_nominal = date(year, *config.report_cases_on)
    add(REPORT_CASES, cases_nominal, report_cases_day(roc_year, config, calendar), "members",
        f"{REPORT_CASES}:{roc_year}")
    return sorted(planned, key=lambda r: (r.day, r.kind, r.key))


def still_matters(reminder: PlannedReminder, plan: list[PlannedReminder], today: date) -> bool:
    """Whether a reminder whose time has come (perhaps while the bot was down) is still worth
    sending ``today``: an opening until the due day; a nudge, digest or countdown only while
    no later one of its kind has come due; a phone-test reminder within its quarter; the
    call for the report's cases until the end of the year."""
    if reminder.kind == PHONE_TEST:
        return reminder.period is not None and today <= reminder.period.last_day
    if reminder.kind == REPORT_CASES:
        return today <= date(to_gregorian_year(reminder.roc_year), 12, 31)
    if reminder.kind == COUNTDOWN:
        year_end = date(to_gregorian_year(reminder.roc_year), 12, 31)
        later = [r for r in plan if r.kind == COUNTDOWN and reminder.day < r.day <= today]
        return today <= year_end and not later
    window = reminder.window
    if window is None or today > window.due:
        return False
    if reminder.kind == OPENING:
        return True
    later = [r for r in plan if r.kind == reminder.kind and r.window == window
             and reminder.day < r.day <= today]
    return not later
