"""The assessment calendar: windows and reminders on Taiwanese working days."""

from datetime import date, time

from rubric.calendar import (
    COUNTDOWN,
    DIGEST,
    NUDGE,
    OPENING,
    PHONE_TEST,
    REPORT_CASES,
    ScheduleConfig,
    WorkCalendar,
    assessment_window,
    collecting_cases,
    open_window,
    plan_year,
    still_matters,
)
from rubric.periods import Period

CONFIG = ScheduleConfig()
CALENDAR = WorkCalendar()


def test_taiwanese_holidays_and_weekends():
    assert not CALENDAR.is_working_day(date(2026, 10, 9))  # 國慶日（補假）
    assert CALENDAR.closed_because(date(2026, 10, 9)) == "國慶日（補假）"
    assert CALENDAR.closed_because(date(2026, 12, 20)) == "週末"
    assert CALENDAR.is_working_day(date(2026, 12, 18))


def test_the_office_adds_closed_and_make_up_days():
    calendar = WorkCalendar(extra_closed=[date(2026, 12, 18)], extra_working=[date(2026, 12, 19)])
    assert calendar.closed_because(date(2026, 12, 18)) == "機關休息日"
    assert calendar.is_working_day(date(2026, 12, 19))  # a make-up Saturday


def test_windows_of_115():
    windows = {q: assessment_window(Period(115, q), CONFIG, CALENDAR) for q in (1, 2, 3, 4)}
    assert (windows[1].opens, windows[1].due) == (date(2026, 4, 1), date(2026, 4, 15))
    assert (windows[3].opens, windows[3].due) == (date(2026, 10, 1), date(2026, 10, 15))
    # Q4 is due by 12/20, a Sunday in 2026: it moves back to Friday 12/18.
    assert (windows[4].opens, windows[4].due) == (date(2026, 12, 1), date(2026, 12, 18))


def test_an_opening_on_a_closed_day_moves_forward_and_a_due_day_back():
    calendar = WorkCalendar(extra_closed=[date(2026, 4, 1), date(2026, 4, 15)])
    window = assessment_window(Period(115, 1), CONFIG, calendar)
    assert window.opens == date(2026, 4, 2)
    assert window.due == date(2026, 4, 16)  # 4/2 + 14 = 4/16, a working day
    calendar = WorkCalendar(extra_closed=[date(2026, 4, 15)])
    assert assessment_window(Period(115, 1), CONFIG, calendar).due == date(2026, 4, 14)


def test_open_window_includes_grace_days():
    assert open_window(date(2026, 10, 20), CONFIG, CALENDAR).period == Period(115, 3)
    assert open_window(date(2026, 11, 2), CONFIG, CALENDAR) is None
    assert open_window(date(2026, 12, 2), CONFIG, CALENDAR).period == Period(115, 4)


def test_plan_of_115():
    plan = plan_year(115, CONFIG, CALENDAR)
    by_key = {r.key: r for r in plan}
    assert by_key["opening:115Q4"].day == date(2026, 12, 1)
    assert by_key["nudge-7:115Q4"].day == date(2026, 12, 11)
    assert by_key["nudge-0:115Q4"].day == date(2026, 12, 18)
    # A nudge on a Sunday moves back to Friday; a Monday holiday moves the digest to Tuesday.
    assert (by_key["nudge-3:115Q1"].day, by_key["nudge-3:115Q1"].moved_from) == \
        (date(2026, 4, 10), date(2026, 4, 12))
    assert by_key["digest:115Q1:2026-04-06"].day == date(2026, 4, 7)
    assert [r.day for r in plan if r.kind == COUNTDOWN] == [
        date(2026, 12, 1), date(2026, 12, 15), date(2026, 12, 24), date(2026, 12, 30)]
    assert [r.day for r in plan if r.kind == PHONE_TEST] == [
        date(2026, 2, 2), date(2026, 5, 4), date(2026, 8, 3), date(2026, 11, 2)]
    # The sections are asked for the report's cases on the first working day of December.
    assert [(r.key, r.day, r.audience) for r in plan if r.kind == REPORT_CASES] == [
        ("report_cases:115", date(2026, 12, 1), "members")]
    assert sum(r.kind == OPENING for r in plan) == 4
    assert sum(r.kind == NUDGE for r in plan) == 16
    assert all(r.fire_time == time(9, 0) for r in plan)
    assert len({r.key for r in plan}) == len(plan)
    assert all(len(r.key.split(":", 1)[1]) <= 16 for r in plan)


def test_custom_nudges_and_time():
    config = ScheduleConfig(nudge_days=(2,), reminder_time=time(8, 30), window_days=10)
    plan = plan_year(115, config, CALENDAR)
    assert [r.key for r in plan if r.kind == NUDGE] == [
        "nudge-2:115Q1", "nudge-2:115Q2", "nudge-2:115Q3", "nudge-2:115Q4"]
    assert plan[0].fire_at.hour == 8 and plan[0].fire_at.minute == 30


def test_what_still_matters_after_a_gap():
    plan = plan_year(115, CONFIG, CALENDAR)
    by_key = {r.key: r for r in plan}
    # Down from 4/7 to 4/11: the 7-day nudge is superseded by the 3-day one.
    assert not still_matters(by_key["nudge-7:115Q1"], plan, date(2026, 4, 11))
    assert still_matters(by_key["nudge-3:115Q1"], plan, date(2026, 4, 11))
    # The opening still matters until the due day, not after.
    assert still_matters(by_key["opening:115Q1"], plan, date(2026, 4, 15))
    assert not still_matters(by_key["opening:115Q1"], plan, date(2026, 4, 16))
    assert not still_matters(by_key["countdown:115:12-01"], plan, date(2026, 12, 16))
    assert still_matters(by_key["phone_test:115Q4"], plan, date(2026, 12, 31))
    assert not still_matters(by_key[f"{DIGEST}:115Q4:2026-12-07"], plan, date(2026, 12, 19))
    assert still_matters(by_key["report_cases:115"], plan, date(2026, 12, 31))


def test_the_season_of_cases_starts_on_the_first_working_day_of_december():
    # 2027-12-01 is a Wednesday; the office closes it: the season opens on Thursday.
    calendar = WorkCalendar(extra_closed=[date(2027, 12, 1)])
    plan = plan_year(116, CONFIG, calendar)
    cases = next(r for r in plan if r.kind == REPORT_CASES)
    assert (cases.day, cases.moved_from) == (date(2027, 12, 2), date(2027, 12, 1))
    assert not collecting_cases(date(2027, 12, 1), CONFIG, calendar)
    assert collecting_cases(date(2027, 12, 2), CONFIG, calendar)
    assert collecting_cases(date(2027, 12, 31), CONFIG, calendar)
    assert not collecting_cases(date(2027, 11, 30), CONFIG, calendar)
    assert not collecting_cases(date(2028, 1, 3), CONFIG, calendar)
