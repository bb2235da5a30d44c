"""Wiring: settings → database → handlers (and, later, the channel adapters)."""

from __future__ import annotations

from bot.settings import Settings
from handlers.dispatch import Clock, Dispatcher, system_clock
from handlers.turn import FlowConfig
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
    config = FlowConfig(
        evidence=EvidenceStore(settings.data_dir / "evidence"),
        max_evidence_bytes=settings.evidence_max_bytes,
        assessment_window_days=settings.assessment_window_days,
    )
    return Dispatcher(database, config, clock=clock)
