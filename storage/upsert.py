"""``INSERT … ON CONFLICT DO NOTHING`` that SQLAlchemy can cache.

A statement built with literal ``.values(...)`` is compiled anew on every call; on the hot
path (every event records its id, every answer its row) that compilation cost more than the
database work. Here the statement is built once per (dialect, table, columns) with bound
parameters, and the values travel as execution parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session


@lru_cache(maxsize=128)
def _statement(dialect: str, table: sa.Table, columns: tuple[str, ...],
               conflict: tuple[str, ...], returning: str | None) -> sa.Insert:
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    statement: Any = factory(table).values({name: sa.bindparam(name) for name in columns})
    statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    if returning is not None:
        statement = statement.returning(table.c[returning])
    return statement  # type: ignore[no-any-return]


def insert_ignoring(session: Session, model: type, values: Mapping[str, Any], *,
                    conflict: Sequence[str], returning: str | None = None) -> Any | None:
    """Insert a row unless one with the same ``conflict`` key exists.

    Returns the ``returning`` column of the new row, or None when nothing was inserted (and
    None always when ``returning`` is not given).
    """
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    columns = tuple(sorted(values))
    statement = _statement(dialect, table, columns, tuple(conflict), returning)
    if session.new or session.dirty or session.deleted:
        session.flush()  # rows this one may refer to go first, as the ORM would do
    result = session.connection().execute(statement, dict(values))
    if returning is None:
        return None
    row = result.first()
    return None if row is None else row[0]
