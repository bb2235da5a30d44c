"""A notice for the secretariat is never lost (issue #15, finding 10): made before any
secretariat member or group has a chat, it is held, and goes out once one is bound."""

from __future__ import annotations

from handlers.messages import ChatKind
from storage.models import OutboxStatus, Role
from tests.handlers.test_secretariat import submitted


def rows(office, status: str) -> list:
    return [m for m in office.outbox() if m.status == status]


def test_a_submission_waits_for_a_secretariat_member_to_bind(office):
    submitted(office)  # nobody of the secretariat has a chat yet
    held = rows(office, OutboxStatus.HELD)
    assert [m.payload["text"].splitlines()[0] for m in held] == ["【自評送出】規劃課 115年第4季"]
    assert not rows(office, OutboxStatus.PENDING)
    code = office.invite(role=Role.SECRETARIAT, section="秘書室", name="林秘書")
    clerk = office.stranger("clerk-1")
    clerk.say(code)
    assert "綁定完成！林秘書您好" in clerk.text
    out = rows(office, OutboxStatus.PENDING)
    assert [(m.destination, m.payload["text"].splitlines()[0]) for m in out] == [
        ("clerk-1", "【自評送出】規劃課 115年第4季")]
    assert [m.status for m in office.outbox() if m.channel == "held"] == [OutboxStatus.RELEASED]
    clerk.say("選單")  # nothing is released twice
    assert len(rows(office, OutboxStatus.PENDING)) == 1


def test_binding_the_group_releases_to_the_group(office):
    submitted(office)
    code = office.invite(role=Role.SECRETARIAT, section="秘書室", name="林秘書")
    group = office.stranger("someone")
    group.chat_kind, group.chat_id = ChatKind.GROUP, "g-9"
    group.say(f"/bind {code}")
    assert "本群組已綁定為" in group.text
    out = rows(office, OutboxStatus.PENDING)
    assert [(m.destination, m.payload["text"].splitlines()[0]) for m in out] == [
        ("g-9", "【自評送出】規劃課 115年第4季")]
