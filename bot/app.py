"""Wiring: settings → database → handlers (and, later, the channel adapters)."""

from __future__ import annotations

from datetime import time

from bot.settings import Settings
from handlers.dispatch import Clock, Dispatcher, system_clock
from handlers.turn import FlowConfig
from rubric.calendar import ScheduleConfig, WorkCalendar
from storage.db import Database
from storage.evidence import EvidenceStore
from storage.migrate import current_revision, head_revision, upgrade


class NotMigrated(Exception):
    """The database schema is older (or newer) than this code."""


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    """Open DATABASE_URL; with ``migrate`` bring it to the newest schema, else check it is."""
    database = Database.from_url(settings.database_url)
    if migrate:
        upgrade(database.engine)
        return database
    current, head = current_revision(database.engine), head_revision()
    if current != head:
        database.dispose()
        raise NotMigrated(
            f"資料庫版本為 {current or '空的'}，程式需要 {head}：請先執行 `sqbot db upgrade`"
            f"（DATABASE_URL 指向的資料庫）"
        )
    return database


def build_dispatcher(settings: Settings, database: Database, *,
                     clock: Clock = system_clock) -> Dispatcher:
    """The flows, wired to the database, the evidence store under DATA_DIR and the clock."""
    schedule = schedule_config(settings)
    config = FlowConfig(
        evidence=EvidenceStore(settings.data_dir / "evidence"),
        max_evidence_bytes=settings.evidence_max_bytes,
        schedule=schedule,
        calendar=WorkCalendar.for_config(schedule),
    )
    return Dispatcher(database, config, clock=clock)


def schedule_config(settings: Settings) -> ScheduleConfig:
    """The calendar settings as the domain's ScheduleConfig."""
    def month_day(text: str) -> tuple[int, int]:
        month, day = text.split("-")
        return int(month), int(day)

    hour, minute = settings.reminder_time.split(":")
    return ScheduleConfig(
        window_days=settings.assessment_window_days,
        q4_opens_on=month_day(settings.q4_opens_on),
        q4_due_on=month_day(settings.q4_due_on),
        nudge_days=tuple(settings.nudge_days_before_due),
        report_countdown=tuple(month_day(d) for d in settings.report_countdown),
        reminder_time=time(int(hour), int(minute)),
        extra_closed=frozenset(settings.extra_closed_days),
        extra_working=frozenset(settings.extra_working_days),
    )
