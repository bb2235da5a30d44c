"""The deadlines as iCalendar: what a calendar program reads back (RFC 5545 rules checked
by a small reader here: folded lines, escaped text, dates, the alarm)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from reports.calendar_ics import Event, calendar, escape, fold, window_calendar
from rubric import Period
from rubric.calendar import ScheduleConfig, WorkCalendar, assessment_window

STAMP = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def unfold(content: bytes) -> list[str]:
    text = content.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")  # CRLF only
    raw = text.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in raw)
    lines: list[str] = []
    for line in raw:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def events(content: bytes) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    depth_alarm = False
    for line in unfold(content):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif line == "BEGIN:VALARM":
            depth_alarm = True
        elif line == "END:VALARM":
            depth_alarm = False
        elif current is not None:
            name, _, value = line.partition(":")
            current[("ALARM-" if depth_alarm else "") + name] = value
    return found


def test_folding_never_cuts_a_character_and_text_is_escaped():
    line = "DESCRIPTION:" + "服務品質，" * 40
    folded = fold(line)
    assert "".join(part.removeprefix(" ") for part in folded.split("\r\n")) == line
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_a_quarter_is_its_open_days_and_a_due_day_with_an_alarm_the_day_before():
    window = assessment_window(Period(115, 4), ScheduleConfig(), WorkCalendar())
    (open_days, due) = events(window_calendar(window, agency="第十河川局", stamp=STAMP))
    assert open_days["SUMMARY"] == "115年第4季服務品質自行考核（填寫期間）"
    assert open_days["DTSTART;VALUE=DATE"] == f"{window.opens:%Y%m%d}"
    assert open_days["DTEND;VALUE=DATE"] == f"{window.due + timedelta(days=1):%Y%m%d}"
    assert due["SUMMARY"] == "115年第4季自評截止"
    assert due["DTSTART;VALUE=DATE"] == f"{window.due:%Y%m%d}"
    assert due["ALARM-TRIGGER"] == "-PT15H"  # 09:00 the day before
    assert "115年12月" in due["ALARM-DESCRIPTION"]
    assert open_days["UID"] != due["UID"] and due["DTSTAMP"] == "20261201T010000Z"


def test_timed_events_are_in_taipei_time():
    from datetime import time

    content = calendar([Event("x@sqbot", "提醒", date(2026, 12, 1), at=time(9, 0))],
                       name="測試", stamp=STAMP)
    (event,) = events(content)
    assert event["DTSTART;TZID=Asia/Taipei"] == "20261201T090000"
    assert "TZID:Asia/Taipei" in unfold(content) and "TZOFFSETTO:+0800" in unfold(content)
