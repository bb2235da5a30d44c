"""Wrong invitation codes are counted per chat, per platform user and overall (finding 7 of
the second reliability pass): a new user id, a second group or another member of a locked
group gets no fresh tries, and a group never tells a valid code from a wrong one."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlmodel import select

from handlers.messages import ChatKind
from storage.models import ChatBinding, ChatIdentity, Role

LOCKED = "輸入錯誤的邀請碼次數過多"
WRONG = [f"ABCDE-FGH{a}{b}" for a in "JKMNP" for b in "QRSTUVWXYZ"]


_events = itertools.count(1000)


def in_group(office, user_id: str, group: str):
    chat = office.stranger(user_id)
    chat.chat_kind, chat.chat_id = ChatKind.GROUP, group
    chat.events = _events  # one person in several chats: event ids must not repeat
    return chat


def lock(chat, start: int = 0) -> None:
    for attempt in range(5):
        chat.say(f"/bind {WRONG[start + attempt]}" if chat.chat_kind == ChatKind.GROUP
                 else WRONG[start + attempt])
    assert LOCKED in chat.text


def test_another_member_of_a_locked_group_gets_no_fresh_tries(office, clock):
    code = office.invite(role=Role.SECRETARIAT, section="秘書室")
    lock(in_group(office, "guesser", "g-locked"))
    other = in_group(office, "someone-else", "g-locked")
    other.say(f"/bind {code}")
    assert LOCKED in other.text
    with office.database.transaction() as session:
        assert session.exec(select(ChatBinding)).all() == []
    clock.set(clock.now + timedelta(minutes=16))
    other.say(f"/bind {code}")
    assert "秘書室群組" in other.text and LOCKED not in other.text


def test_a_locked_person_gets_no_fresh_tries_in_a_second_group_or_in_private(office):
    code = office.invite(name="張三")
    lock(in_group(office, "guesser", "g-1"))
    second = in_group(office, "guesser", "g-2")
    second.say(f"/bind {WRONG[10]}")
    assert LOCKED in second.text
    private = office.stranger("guesser")
    private.say(code)
    assert LOCKED in private.text
    with office.database.transaction() as session:
        assert session.exec(select(ChatIdentity)).all() == []


def test_many_accounts_are_held_by_the_overall_ceiling(office, clock):
    code = office.invite(name="張三")
    for account in range(33):  # 3 wrong codes each: no chat or person reaches its limit
        chat = office.stranger(f"account-{account}")
        for attempt in range(3):
            chat.say(WRONG[(account * 3 + attempt) % len(WRONG)])
        assert LOCKED not in chat.text
    newcomer = office.stranger("newcomer")
    newcomer.say(WRONG[0])  # the 100th wrong code overall
    assert LOCKED in newcomer.text
    newcomer.say(code)  # from now on every code waits, even the right one
    assert LOCKED in newcomer.text and "60 分鐘後再試" in newcomer.text
    clock.set(clock.now + timedelta(minutes=61))
    newcomer.say(code)
    assert "綁定完成！張三您好" in newcomer.text


def test_a_staff_code_in_a_group_reveals_nothing_and_counts_as_a_failure(office):
    staff_code = office.invite(name="張三")
    group = in_group(office, "someone", "g-1")
    group.say(f"/bind {staff_code}")
    valid_but_wrong_role = group.text
    group.say(f"/bind {WRONG[0]}")
    assert group.text == valid_but_wrong_role  # the same words for a code that exists
    for attempt in range(1, 4):
        group.say(f"/bind {WRONG[attempt]}")
    assert LOCKED in group.text  # the staff code was the first of five failures
    staff = office.stranger("zhang")  # and it was not used up
    staff.say(staff_code)
    assert "綁定完成！張三您好" in staff.text
