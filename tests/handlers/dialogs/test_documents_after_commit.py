"""Documents and charts are drawn after the event's transaction has committed (issue #14):
drawing takes seconds, and inside the transaction every writer would wait for it (SQLite's
BEGIN IMMEDIATE) while the conversation row stays locked.

Each renderer is wrapped (the real one still runs) to look, from a connection of its own, for
the event's processed_events row: it is visible there only once the transaction committed.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

import handlers.proposals
import reports.charts
import reports.tables
from storage.models import ProcessedEvent
from tests.handlers.test_proposals import submitted as proposal_submitted


class Committed:
    """Wraps renderers; records, per call, whether the event was committed when it ran."""

    def __init__(self, office, monkeypatch) -> None:
        self.office, self.monkeypatch = office, monkeypatch
        self.seen: dict[str, bool] = {}
        self.event_id = ""

    def wrap(self, module, name: str) -> None:
        real = getattr(module, name)

        def watched(*args, **kwargs):
            with self.office.database.transaction() as session:
                self.seen[name] = session.exec(select(ProcessedEvent).where(
                    ProcessedEvent.event_id == self.event_id)).first() is not None
            return real(*args, **kwargs)

        self.monkeypatch.setattr(module, name, watched)

    def say(self, chat, text: str, event_id: str) -> None:
        self.event_id = event_id
        chat.say(text, event_id=event_id)


@pytest.fixture
def committed(office, monkeypatch) -> Committed:
    return Committed(office, monkeypatch)


def test_the_quarterly_table_and_its_chart(office, committed):
    for name in ("quarter_chart_png",):
        committed.wrap(reports.charts, name)
    for name in ("quarter_ods", "quarter_xlsx"):
        committed.wrap(reports.tables, name)
    committed.say(office.chat("陳秘書"), "總表", "table-1")
    assert committed.seen == {"quarter_chart_png": True, "quarter_ods": True,
                              "quarter_xlsx": True}


def test_the_annual_table_and_its_chart(office, committed):
    committed.wrap(reports.charts, "annual_trend_png")
    for name in ("annual_ods", "annual_xlsx"):
        committed.wrap(reports.tables, name)
    committed.say(office.chat("陳秘書"), "年度 115", "annual-1")
    assert committed.seen == {"annual_trend_png": True, "annual_ods": True,
                              "annual_xlsx": True}


def test_a_proposal_opened_by_the_secretariat(office, committed):
    proposal_submitted(office)
    committed.wrap(handlers.proposals, "proposal_odt")
    committed.wrap(handlers.proposals, "proposal_docx")
    secretary = office.chat("陳秘書")
    secretary.say("提案清單")
    committed.event_id = "open-1"
    secretary.act(secretary.choice("開啟 115-P-0001").action, event_id="open-1")
    assert [r.document.filename.rsplit(".", 1)[1] for r in secretary.last if r.document] == [
        "odt", "docx"]
    assert committed.seen == {"proposal_odt": True, "proposal_docx": True}
