"""The hot path's round trips are pinned (issue #18): a typed score is the event people send
most, and each statement it costs is paid 25 times per section per quarter. A change that
adds one fails here; one that removes one lowers the pin."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

#: statements of one typed score that moves on to the next question (BEGIN aside), the state
#: row's write included: event id, state row, member, section, assessment, its answers,
#: the answer (upsert + read), its update and revision, the assessment's version, last
#: quarter's assessment (沿用上季), the state row.
ANSWER_STATEMENTS = 13


@contextmanager
def counted(office):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    engine = office.database.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_a_typed_score_costs_a_fixed_number_of_statements(office):
    chat = office.chat("王小明")
    chat.say("填寫自評")
    chat.say("100")  # the first answer creates rows the later ones only update
    with counted(office) as statements:
        chat.say("50")
    assert "已記錄 1.2" in chat.text and "第 3/25 題" in chat.text
    writes = [s for s in statements if s in ("INSERT", "UPDATE", "DELETE")]
    assert len(statements) - statements.count("BEGIN") <= ANSWER_STATEMENTS, statements
    assert len(writes) <= 6, writes  # event id, answer upsert, answer, revision, version, state
