"""The migrations build exactly the schema the models describe, on both databases."""

import sqlalchemy as sa
from sqlmodel import SQLModel

from storage.db import create_db_engine
from storage.migrate import current_revision, head_revision, pending_changes, upgrade


def test_migrations_and_models_agree(empty_database_url):
    engine = create_db_engine(empty_database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert pending_changes(engine) == []
    tables = set(sa.inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    engine.dispose()


def test_upgrade_twice_is_harmless(empty_database_url):
    engine = create_db_engine(empty_database_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_downgrade_to_base_removes_every_table(empty_database_url):
    engine = create_db_engine(empty_database_url)
    upgrade(engine)
    upgrade_down(engine)
    remaining = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    engine.dispose()


def upgrade_down(engine):
    from alembic import command

    from storage.migrate import alembic_config

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def test_a_model_change_without_migration_is_detected(empty_database_url):
    """The agreement check can fail: a column the migrations lack is reported."""
    engine = create_db_engine(empty_database_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE agencies ADD COLUMN stray INTEGER")
    diffs = pending_changes(engine)
    assert any(d[0] == "remove_column" and d[3].name == "stray" for d in diffs)
    engine.dispose()
