"""The deadlines as iCalendar files (RFC 5545), for people's own calendars.

Two documents: a quarter's window (the days it is open, the due day with an alarm the day
before at 09:00) sent with each 自評開始 reminder, and a year's whole reminder plan
(``sqbot schedule show --format ics``) for the secretariat's calendar — every reminder an
event on its working day at its time, Asia/Taipei. Written by hand: the format is small, and
the registries' iCalendar packages bring more than this needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from rubric.calendar import PlannedReminder, Window
from rubric.periods import format_roc_date

PRODID = "-//sqbot//服務品質小幫手//ZH-TW"
TZID = "Asia/Taipei"
_TIMEZONE = (
    "BEGIN:VTIMEZONE", f"TZID:{TZID}", "BEGIN:STANDARD", "DTSTART:19700101T000000",
    "TZOFFSETFROM:+0800", "TZOFFSETTO:+0800", "TZNAME:CST", "END:STANDARD", "END:VTIMEZONE",
)


@dataclass(frozen=True)
class Event:
    """One calendar entry: all day when ``at`` is None, else at that time in Taipei."""

    uid: str
    summary: str
    day: date
    last_day: date | None = None  # all-day events over several days, inclusive
    at: time | None = None
    description: str = ""
    alarm_before: timedelta | None = None  # before the start
    alarm_text: str = ""


def escape(text: str) -> str:
    """A TEXT value: backslash, semicolon, comma and newline escaped (RFC 5545 3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str) -> str:
    """A content line cut into lines of at most 75 octets, continued with a space, never
    inside a UTF-8 character (RFC 5545 3.1)."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not out else 74):
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, minutes = divmod(seconds // 60, 60)
    return f"-PT{hours}H{minutes}M" if minutes else f"-PT{hours}H"


def calendar(events: Iterable[Event], *, name: str, stamp: datetime) -> bytes:
    """The VCALENDAR document holding ``events``."""
    dtstamp = stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape(name)}", f"X-WR-TIMEZONE:{TZID}",
             *_TIMEZONE]
    for event in events:
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{dtstamp}",
                  f"SUMMARY:{escape(event.summary)}"]
        if event.at is None:
            end = (event.last_day or event.day) + timedelta(days=1)
            lines += [f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}",
                      f"DTEND;VALUE=DATE:{end:%Y%m%d}", "TRANSP:TRANSPARENT"]
        else:
            start = datetime.combine(event.day, event.at)
            lines += [f"DTSTART;TZID={TZID}:{start:%Y%m%dT%H%M%S}",
                      f"DTEND;TZID={TZID}:{start + timedelta(minutes=30):%Y%m%dT%H%M%S}"]
        if event.description:
            lines.append(f"DESCRIPTION:{escape(event.description)}")
        if event.alarm_before is not None:
            lines += ["BEGIN:VALARM", "ACTION:DISPLAY",
                      f"DESCRIPTION:{escape(event.alarm_text or event.summary)}",
                      f"TRIGGER:{_duration(event.alarm_before)}", "END:VALARM"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


def _uid(*parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{digest}@sqbot"


def window_calendar(window: Window, *, agency: str, stamp: datetime) -> bytes:
    """A quarter's self-assessment: the days it is open and the due day (alarm the day
    before at 09:00)."""
    label = window.period.label
    due = format_roc_date(window.due)
    events = [
        Event(_uid(agency, window.period.short_label, "window"),
              f"{label}服務品質自行考核（填寫期間）", window.opens, last_day=window.due,
              description=f"{agency}：{label}服務品質自行考核，請於{due}前完成並送出。"),
        Event(_uid(agency, window.period.short_label, "due"), f"{label}自評截止",
              window.due, description=f"今天是{label}自評送出的最後一天（{due}）。",
              alarm_before=timedelta(hours=15), alarm_text=f"明天（{due}）{label}自評截止"),
    ]
    return calendar(events, name=f"{agency} {label}自評", stamp=stamp)


def window_filename(window: Window) -> str:
    """``115年第4季自評期程.ics``."""
    return f"{window.period.label}自評期程.ics"


def plan_calendar(reminders: Iterable[tuple[PlannedReminder, str, str, str]], *,
                  roc_year: int, agency: str, stamp: datetime) -> bytes:
    """A year's reminder plan: each (reminder, kind label, audience, text) an event."""
    events = [Event(_uid(agency, roc_year, reminder.key), f"{label}：{audience}",
                    reminder.day, at=reminder.fire_time, description=text)
              for reminder, label, audience, text in reminders]
    return calendar(events, name=f"{agency} {roc_year}年度服務品質提醒", stamp=stamp)
