"""A portable backup: every table as gzip-compressed JSON lines, restorable on either database.

The file holds one JSON object per line::

    {"format": "sqbot-backup", "version": 1, "revision": "0007", "tables": [...], ...}
    {"table": "agencies", "row": {"id": 1, "name": "…", "created_at": "2026-…+00:00"}}
    …
    {"end": true, "rows": {"agencies": 1, …}}

Tables come in dependency order (parents first) so a restore can insert them as they come;
datetimes are ISO 8601 with their offset, dates ISO, bytes base64, JSON columns as JSON.
The closing line lets a restore tell a whole backup from a cut-off one.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage.errors import StorageError
from storage.migrate import current_revision
from storage.models import metadata

FORMAT = "sqbot-backup"
VERSION = 1
_BATCH = 500


class BackupError(StorageError):
    """A backup cannot be written or restored: ``zh`` says why for the operator (zh-TW),
    ``detail`` is the technical detail; the message carries both."""

    def __init__(self, detail: str, zh: str = "備份檔或資料庫不符合還原的條件") -> None:
        self.detail = detail
        self.zh = zh
        super().__init__(f"{zh}（技術細節：{detail}）")


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds or a restore put back: the schema revision and rows per table."""

    revision: str
    rows: dict[str, int]

    @property
    def total(self) -> int:
        """Rows over all tables."""
        return sum(self.rows.values())


def _kind(column: sa.Column[Any]) -> str:
    """How a column's values travel in JSON: ``datetime``, ``date``, ``bytes`` or ``plain``."""
    column_type = column.type
    if isinstance(column_type, sa.types.TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, sa.DateTime):
        return "datetime"
    if isinstance(column_type, sa.Date):
        return "date"
    if isinstance(column_type, sa.LargeBinary):
        return "bytes"
    return "plain"


def _encode(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind in ("datetime", "date"):
        return value.isoformat()
    return base64.b64encode(value).decode("ascii")


def _decode(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return base64.b64decode(value)


def _tables() -> list[sa.Table]:
    return list(metadata.sorted_tables)


def _rows(connection: Connection, table: sa.Table) -> Iterator[dict[str, Any]]:
    kinds = {column.name: _kind(column) for column in table.columns}
    order = list(table.primary_key.columns) or list(table.columns)
    result = connection.execution_options(yield_per=_BATCH).execute(
        sa.select(table).order_by(*order))
    for row in result.mappings():
        yield {name: _encode(kinds[name], row[name]) for name in kinds}


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def backup_database(*, engine: Engine, path: Path, now: datetime) -> BackupSummary:
    """Write every table of ``engine``'s database to ``path`` (replaced atomically).

    Reads in one transaction, so the backup is a consistent snapshot on PostgreSQL too.
    """
    revision = current_revision(engine)
    if revision is None:
        raise BackupError("the database has no schema yet: there is nothing to back up",
                          "資料庫尚未建立資料表，沒有可備份的內容（請先執行 sqbot init）")
    tables = _tables()
    counts: dict[str, int] = {}
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with engine.connect() as connection, connection.begin(), \
                gzip.open(partial, "wb") as out:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            out.write(_line({"format": FORMAT, "version": VERSION, "revision": revision,
                             "backend": connection.dialect.name,
                             "created_at": now.isoformat(),
                             "tables": [t.name for t in tables]}))
            for table in tables:
                counts[table.name] = 0
                for row in _rows(connection, table):
                    out.write(_line({"table": table.name, "row": row}))
                    counts[table.name] += 1
            out.write(_line({"end": True, "rows": counts}))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {path}: {exc.strerror or exc}",
                          f"無法寫入備份檔 {path}") from exc
    return BackupSummary(revision, counts)


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            for number, text in enumerate(source, start=1):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise BackupError(f"{path}: line {number} is not JSON",
                                      f"備份檔 {path} 已損壞（第 {number} 行）") from None
                if not isinstance(value, dict):
                    raise BackupError(f"{path}: line {number} is not a JSON object",
                                      f"備份檔 {path} 已損壞（第 {number} 行）")
                yield value
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not a readable sqbot backup ({exc})",
                          f"無法讀取備份檔 {path}（不是 sqbot 的備份檔，或已損壞）") from exc


def read_header(path: Path) -> dict[str, Any]:
    """The first line of a backup, checked to be a sqbot backup this code can read."""
    for header in _read(path):
        if header.get("format") != FORMAT:
            raise BackupError(f"{path} is not a sqbot backup", f"{path} 不是 sqbot 的備份檔")
        if header.get("version") != VERSION:
            raise BackupError(f"{path} is a backup of format version {header.get('version')};"
                              f" this sqbot reads version {VERSION}",
                              f"備份檔 {path} 的格式版本與本版 sqbot 不同，無法還原")
        return header
    raise BackupError(f"{path} is empty", f"備份檔 {path} 是空的")


def _non_empty(connection: Connection, tables: list[sa.Table]) -> list[str]:
    return [table.name for table in tables
            if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1))
            .first() is not None]


def _reset_sequences(connection: Connection, tables: list[sa.Table]) -> None:
    """Move PostgreSQL's id sequences past the restored ids, so new rows get new ids."""
    for table in tables:
        column = table.columns.get("id")
        if column is None or not column.primary_key or not column.autoincrement:
            continue
        quoted = connection.dialect.identifier_preparer.quote(table.name)
        connection.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                    f"COALESCE(max(id), 1), max(id) IS NOT NULL) FROM {quoted}"),
            {"table": quoted})


def restore_database(*, engine: Engine, path: Path) -> BackupSummary:
    """Load the backup at ``path`` into ``engine``'s empty database of the same revision.

    Everything is inserted in one transaction: a refused or broken backup leaves the
    database as empty as it was. BackupError says what is wrong.
    """
    header = read_header(path)
    revision = current_revision(engine)
    if revision is None:
        raise BackupError("the database has no schema: run `sqbot db upgrade` first",
                          "目標資料庫尚未建立資料表：請先執行 sqbot db upgrade")
    if revision != header.get("revision"):
        raise BackupError(f"the backup is of schema revision {header.get('revision')}, the "
                          f"database is at {revision}: restore into a database of the same "
                          "revision",
                          f"備份檔的結構版本（{header.get('revision')}）與資料庫（{revision}）"
                          "不同：請還原到同一結構版本的空資料庫")
    tables = {table.name: table for table in _tables()}
    unknown = [name for name in header.get("tables", []) if name not in tables]
    if unknown:
        raise BackupError(f"the backup has tables this sqbot does not know: {unknown}",
                          "備份檔含有本版 sqbot 不認得的資料表，請用產生備份的 sqbot 版本還原")
    kinds = {name: {c.name: _kind(c) for c in table.columns} for name, table in tables.items()}
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        filled = _non_empty(connection, list(tables.values()))
        if filled:
            raise BackupError("the database is not empty (it has rows in "
                              f"{', '.join(filled)}): restore only into an empty database",
                              "目標資料庫不是空的：只能還原到空的資料庫，未做任何變更")
        batch: list[dict[str, Any]] = []
        current: str | None = None
        ended: dict[str, Any] | None = None

        def flush() -> None:
            if batch and current is not None:
                connection.execute(tables[current].insert(), batch)
                batch.clear()

        lines = _read(path)
        next(lines)  # the header, checked above
        for entry in lines:
            if ended is not None:
                raise BackupError(f"{path} has lines after its end",
                                  f"備份檔 {path} 在結尾之後還有資料，可能已損壞")
            if entry.get("end") is True:
                ended = entry
                continue
            name, row = entry.get("table"), entry.get("row")
            if name not in tables or not isinstance(row, dict):
                raise BackupError(f"{path} has a line for an unknown table {name!r}",
                                  f"備份檔 {path} 含有本版 sqbot 不認得的資料表 {name}")
            if name != current:
                flush()
                current = name
            table_kinds = kinds[name]
            batch.append({column: _decode(table_kinds[column], value)
                          for column, value in row.items() if column in table_kinds})
            counts[name] = counts.get(name, 0) + 1
            if len(batch) >= _BATCH:
                flush()
        flush()
        if ended is None:
            raise BackupError(f"{path} is cut off: its closing line is missing",
                              f"備份檔 {path} 不完整（缺少結尾），未做任何變更")
        expected = {name: count for name, count in ended.get("rows", {}).items() if count}
        if expected != counts:
            raise BackupError(f"{path} does not hold the rows its closing line lists",
                              f"備份檔 {path} 的筆數與結尾記錄不符，未做任何變更")
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, list(tables.values()))
    return BackupSummary(str(revision), counts)
