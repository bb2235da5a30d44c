"""Several events in one transaction (issue #18): a LINE webhook body brings up to 100. Each
is still its own event id, in order, with its own replies; one that fails is rolled back
alone and answered with the apology; the others are kept."""

from __future__ import annotations

from sqlmodel import select

from handlers import texts
from handlers.messages import Incoming
from storage.models import Agency, Member, ProcessedEvent, Role, Section
from storage.org import add_member, bind_identity
from tests.handlers.test_flows import stored_answers


def text(user: str, event_id: str, words: str) -> Incoming:
    return Incoming(channel="console", user_id=user, chat_id=user, event_id=event_id,
                    text=words)


def test_a_batch_is_handled_in_order_each_with_its_replies(office):
    office.add_member("張技士", "工務課")
    mine, theirs = office.chat("王小明"), office.chat("張技士")
    batch = [text(mine.user_id, "b1", "填寫自評"), text(theirs.user_id, "b2", "填寫自評"),
             text(mine.user_id, "b3", "100"), text(theirs.user_id, "b4", "略過"),
             text(mine.user_id, "b3", "100")]  # a redelivery inside the same body
    replies = office.dispatcher.dispatch_many(batch)
    assert len(replies) == 5
    assert "規劃課 115年第4季 自評（填寫中）" in replies[0][0].text
    assert "工務課 115年第4季 自評（填寫中）" in replies[1][0].text
    assert "已記錄 1.1" in replies[2][0].text and "第 2/25 題" in replies[2][0].text
    assert "第 2/25 題" in replies[3][0].text
    assert replies[4] == []
    assert stored_answers(office) == {"1.1": 100}
    # The state each event left is the next one's: its window goes on from there.
    mine.say("上一題")
    assert "第 1/25 題" in mine.text


def test_one_failing_event_is_rolled_back_alone(office, caplog):
    with office.database.transaction() as session:
        broken = Agency(name="設定有誤的機關", rubric_year=99)  # no rubric for year 99
        session.add(broken)
        session.flush()
        section = Section(agency_id=broken.id, name="測試課", position=1)
        session.add(section)
        session.flush()
        member = add_member(session=session, agency=broken, name="李技士", role=Role.STAFF,
                            section=section)
        bind_identity(session=session, member=member, channel="console",
                      platform_user_id="console-broken")
    mine = office.chat("王小明")
    batch = [text(mine.user_id, "c1", "填寫自評"), text("console-broken", "c2", "填寫自評"),
             text(mine.user_id, "c3", "90")]
    replies = office.dispatcher.dispatch_many(batch)
    assert [reply.text for reply in replies[1]] == [texts.ERROR]
    assert "已記錄 1.1" in replies[2][0].text
    assert stored_answers(office) == {"1.1": 90}
    assert "no rubric for year 99" in caplog.text
    with office.database.transaction() as session:
        handled = {row.event_id for row in session.exec(select(ProcessedEvent)).all()}
        assert {"c1", "c2", "c3"} <= handled  # the failed one is not redelivered either
        assert session.exec(select(Member).where(Member.name == "李技士")).one()
    assert office.dispatcher.dispatch_many([text("console-broken", "c2", "填寫自評")]) == [[]]
