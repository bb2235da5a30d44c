"""Backup and restore, on both databases and across them; and the restores that are refused."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.backup import BackupError, backup_database, restore_database
from storage.db import Database, create_db_engine
from storage.migrate import head_revision, upgrade
from storage.models import metadata
from storage.org import create_agency
from tests.storage.test_privacy import fill_office

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, ordered by primary key."""
    with engine.connect() as connection:
        return {
            table.name: [dict(row) for row in connection.execute(
                sa.select(table).order_by(*table.primary_key.columns)).mappings()]
            for table in metadata.sorted_tables
        }


def _fresh(url: str) -> Database:
    database = Database.from_url(url)
    upgrade(database.engine)
    return database


@pytest.fixture
def filled(database):
    with database.transaction() as session:
        fill_office(session)
    return database


def test_backup_then_restore_gives_the_same_rows(filled, empty_database_url, tmp_path):
    path = tmp_path / "sqbot.jsonl.gz"
    summary = backup_database(engine=filled.engine, path=path, now=NOW)
    assert summary.revision == head_revision()
    assert summary.rows["members"] == 3 and summary.rows["attachments"] == 1

    target = _fresh(empty_database_url)
    restored = restore_database(engine=target.engine, path=path)
    assert restored.total == summary.total
    before, after = _snapshot(filled.engine), _snapshot(target.engine)
    assert after == before
    assert after["attachments"][0]["content"] == b"%PDF"
    assert after["answers"] and after["audit_events"] and after["outbox"]

    # New rows get ids after the restored ones (PostgreSQL's sequences were moved on).
    with target.transaction() as session:
        agency = create_agency(session=session, name="另一機關")
    assert agency.id == max(row["id"] for row in before["agencies"]) + 1
    target.dispose()


def test_the_file_is_json_lines_with_a_header(filled, tmp_path):
    path = tmp_path / "b.jsonl.gz"
    backup_database(engine=filled.engine, path=path, now=NOW)
    lines = [json.loads(line)
             for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    header, end = lines[0], lines[-1]
    assert header["format"] == "sqbot-backup" and header["revision"] == head_revision()
    assert header["tables"] == [t.name for t in metadata.sorted_tables]
    assert end["end"] is True and end["rows"]["members"] == 3
    order = [line["table"] for line in lines[1:-1]]
    assert order.index("agencies") < order.index("members") < order.index("answers")
    attachment = next(line["row"] for line in lines if line.get("table") == "attachments")
    assert attachment["content"] == "JVBERg=="
    assert attachment["created_at"].endswith("+00:00")


def test_restore_refuses_a_database_with_rows(filled, tmp_path):
    path = tmp_path / "b.jsonl.gz"
    backup_database(engine=filled.engine, path=path, now=NOW)
    with pytest.raises(BackupError, match=r"not empty .*agencies"):
        restore_database(engine=filled.engine, path=path)


def test_restore_refuses_another_revision(filled, empty_database_url, tmp_path):
    path = tmp_path / "b.jsonl.gz"
    backup_database(engine=filled.engine, path=path, now=NOW)
    older = Database.from_url(empty_database_url)
    upgrade(older.engine, "0001")
    with pytest.raises(BackupError, match=f"revision {head_revision()}, the database is at 0001"
                       ) as refused:
        restore_database(engine=older.engine, path=path)
    # For the operator: zh-TW first, then the technical detail.
    said = str(refused.value)
    assert said.startswith(f"備份檔的結構版本（{head_revision()}）與資料庫（0001）不同")
    older.dispose()


def test_a_cut_off_backup_leaves_the_database_empty(filled, empty_database_url, tmp_path):
    path = tmp_path / "b.jsonl.gz"
    backup_database(engine=filled.engine, path=path, now=NOW)
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(b"".join(lines[:-1])))
    target = _fresh(empty_database_url)
    with pytest.raises(BackupError, match="cut off"):
        restore_database(engine=target.engine, path=cut)
    assert all(rows == [] for rows in _snapshot(target.engine).values())
    not_a_backup = tmp_path / "x.gz"
    not_a_backup.write_bytes(b"plain text")
    with pytest.raises(BackupError, match="not a readable sqbot backup"):
        restore_database(engine=target.engine, path=not_a_backup)
    target.dispose()


@pytest.mark.parametrize("direction", ["sqlite→postgresql", "postgresql→sqlite"])
def test_restore_across_databases(direction, postgres, tmp_path: Path):
    sqlite_url = f"sqlite:///{tmp_path / 'sqbot.db'}"
    source_url, target_url = (sqlite_url, postgres.create()) \
        if direction.startswith("sqlite") else (postgres.create(), sqlite_url)
    source, target = _fresh(source_url), _fresh(target_url)
    with source.transaction() as session:
        fill_office(session)
    path = tmp_path / "b.jsonl.gz"
    backup_database(engine=source.engine, path=path, now=NOW)
    restore_database(engine=target.engine, path=path)
    assert _snapshot(target.engine) == _snapshot(source.engine)
    source.dispose()
    target.dispose()


def test_backup_of_an_unmigrated_database_is_refused(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(BackupError, match="no schema"):
        backup_database(engine=engine, path=tmp_path / "b.jsonl.gz", now=NOW)
    assert not (tmp_path / "b.jsonl.gz").exists()
    engine.dispose()
