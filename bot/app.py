"""Wiring: settings → database → (later) handlers and channel adapters."""

from __future__ import annotations

from bot.settings import Settings
from storage.db import Database
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
