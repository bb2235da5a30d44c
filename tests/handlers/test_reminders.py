"""Reminders through a whole ROC year 115 with a controlled clock (no sleeping)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from handlers.reminders import Reminders
from rubric import load_year
from rubric.calendar import ScheduleConfig, WorkCalendar, plan_year
from storage.models import ChatBinding, OutboxMessage, ReminderLog, Role
from storage.org import ensure_demo_agency
from tests.handlers.test_flows import answer_all
from tests.reports.test_calendar_ics import events

CONFIG = ScheduleConfig()
RUBRIC = load_year(105)


def at_nine(day: date) -> datetime:
    """09:00 in Taipei on ``day``, as UTC."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


@pytest.fixture
def people(office):
    """Bound identities: 規劃課 staff and head, 秘書室 (secretariat), 工務課 staff; and the
    secretariat's group."""
    office.add_member("工務同仁", "工務課")
    chats = {name: office.chat(name) for name in ("王小明", "林課長", "陳秘書", "工務同仁")}
    with office.database.transaction() as session:
        agency = ensure_demo_agency(session=session)
        session.add(ChatBinding(agency_id=agency.id, channel="console", chat_id="sec-group",
                                role=Role.SECRETARIAT))
    ids = {name: office.member(name).id for name in chats}
    return chats, ids


def sent_log(office) -> list[tuple[str, str, str]]:
    with office.database.transaction() as session:
        rows = session.exec(select(ReminderLog).where(ReminderLog.recipient != "-skipped-")
                            .order_by(ReminderLog.id)).all()
    return [(f"{r.kind}:{r.period}", r.recipient, r.sent_at.date().isoformat()) for r in rows]


def test_a_whole_year(office, people):
    chats, ids = people
    reminders = Reminders(office.database, CONFIG)
    staff = {name: f"member:{ids[name]}" for name in ids}
    secretariat = "secretariat:1"
    day = date(2026, 1, 1)
    while day <= date(2026, 12, 31):
        if day == date(2026, 4, 9):  # 規劃課 submits Q1 between the 7- and 3-day nudges
            office.clock.set(at_nine(day) + timedelta(hours=1))
            answer_all(chats["王小明"])
            chats["王小明"].press("送出")
            chats["王小明"].press("確認送出")
        reminders.run_due(at_nine(day))
        reminders.run_due(at_nine(day) + timedelta(hours=9))  # a second tick the same day
        day += timedelta(days=1)
    log = sent_log(office)
    assert len(log) == len(set((k, r) for k, r, _ in log))  # nobody got anything twice

    def who(key: str) -> tuple[set[str], set[str]]:
        found = [(r, d) for k, r, d in log if k == key]
        return {r for r, _ in found}, {d for _, d in found}

    everyone = set(staff.values())
    assert who("opening:115Q1") == (everyone, {"2026-04-01"})
    assert who("nudge-7:115Q1") == ({staff["王小明"], staff["陳秘書"], staff["工務同仁"],
                                     secretariat}, {"2026-04-08"})
    # 規劃課 submitted on 4/9: its staff get no more nudges; no section head of an open
    # section is bound, so the last two nudges reach the same people.
    for key, when in (("nudge-3:115Q1", "2026-04-10"), ("nudge-1:115Q1", "2026-04-14"),
                      ("nudge-0:115Q1", "2026-04-15")):
        assert who(key) == ({staff["陳秘書"], staff["工務同仁"], secretariat}, {when}), key
    # Q2: nobody submits; the section head joins on the last two nudges.
    assert who("nudge-7:115Q2")[0] == {staff["王小明"], staff["陳秘書"], staff["工務同仁"],
                                      secretariat}
    assert who("nudge-1:115Q2") == (everyone | {secretariat}, {"2026-07-14"})
    assert who("nudge-0:115Q2") == (everyone | {secretariat}, {"2026-07-15"})
    assert who("opening:115Q4") == (everyone, {"2026-12-01"})
    assert who("report_cases:115") == (everyone, {"2026-12-01"})
    assert who("nudge-0:115Q4")[1] == {"2026-12-18"}  # 12/20 is a Sunday
    for key, when in (("countdown:115:12-01", "2026-12-01"), ("countdown:115:12-15", "2026-12-15"),
                      ("countdown:115:12-24", "2026-12-24"), ("countdown:115:12-30", "2026-12-30"),
                      ("phone_test:115Q1", "2026-02-02"), ("phone_test:115Q2", "2026-05-04"),
                      ("phone_test:115Q3", "2026-08-03"), ("phone_test:115Q4", "2026-11-02"),
                      ("digest:115Q1:2026-04-06", "2026-04-07")):
        assert who(key) == ({secretariat}, {when}), key
    planned = {r.key for r in plan_year(115, CONFIG, WorkCalendar())}
    assert {k for k, _, _ in log} == planned  # every reminder of the year went out

    outbox = office.outbox()
    assert len({m.idempotency_key for m in outbox}) == len(outbox)
    to_group = [m.payload["text"] for m in outbox if m.destination == "sec-group"]
    after_submission = [t for t in to_group
                        if t.startswith("【未完成名單】115年第1季（截止115年4月15日，尚餘 5 天）")]
    assert len(after_submission) == 1 and "規劃課" not in after_submission[0]
    assert "工務課：0/25 題，未開始" in after_submission[0]
    countdown = next(t for t in to_group if t.startswith("【年度報告倒數】"))
    assert "115年12月31日前陳報水利署，尚餘 30 天" in countdown
    assert "・115年第1季　未送出：秘書室、工務課、管理課" in countdown
    assert "未審定：規劃課" in countdown
    assert "尚未登錄電話禮貌測試：115年第1季、115年第2季、115年第3季、115年第4季" in countdown
    nudge = next(m for m in outbox if m.destination == chats["王小明"].user_id
                 and m.payload["text"].startswith("【提醒】規劃課 115年第2季"))
    assert "尚有 25 題未作答（已作答 0/25 題），截止日為115年7月15日（距截止還有 7 天）" in \
        nudge.payload["text"]
    assert nudge.payload["choices"][0]["label"] == "填寫自評"
    call = next(m for m in outbox if m.destination == chats["工務同仁"].user_id
                and m.payload["text"].startswith("【年度案例】"))
    assert "115年度提升服務品質績效總報告開始彙整（資料截止時間：115年12月31日）" in \
        call.payload["text"]
    assert "工務課目前已提供 0 則。" in call.payload["text"]
    assert [c["label"] for c in call.payload["choices"]] == ["年度案例"]


def test_a_restart_in_the_middle_of_a_round_sends_nobody_twice(office, people):
    _, ids = people
    reminders = Reminders(office.database, CONFIG)
    first = reminders.run_due(at_nine(date(2026, 4, 1)), budget=2)
    assert first.interrupted and len(first.sent) == 2
    second = reminders.run_due(at_nine(date(2026, 4, 1)))
    assert not second.interrupted
    recipients = [line.split(" → ")[1] for line in first.sent + second.sent]
    assert sorted(recipients) == sorted(f"member:{i}" for i in ids.values())
    assert reminders.run_due(at_nine(date(2026, 4, 1))).sent == []


def test_a_bot_down_across_a_nudge_sends_it_once_at_start_up(office, people):
    reminders = Reminders(office.database, CONFIG)
    # Down from 3/31 to 4/11 09:30: the opening still matters, the 7-day nudge was
    # overtaken by the 3-day one (4/10): only that one goes out.
    report = reminders.run_due(at_nine(date(2026, 4, 11)) + timedelta(minutes=30))
    keys = {line.split(" → ")[0] for line in report.sent}
    assert keys == {"opening:115Q1", "nudge-3:115Q1", "digest:115Q1:2026-04-06"}
    assert "nudge-7:115Q1" in report.skipped
    assert reminders.run_due(at_nine(date(2026, 4, 11)) + timedelta(hours=1)).sent == []


def test_a_catch_up_goes_only_where_it_still_matters(office, people):
    """The first start-up on 4/11, in the middle of 115Q1's window, with sections in every
    state: the opening and the nudge reach only the sections that still have work, and a
    section that answered everything is asked to submit, not told it has answered 25/25."""
    chats, ids = people
    for name, section in (("管理同仁", "管理課"), ("資產同仁", "資產課")):
        office.add_member(name, section)
        chats[name] = office.chat(name)
        ids[name] = office.member(name).id
    office.clock.set(at_nine(date(2026, 4, 7)))
    answer_all(chats["王小明"])  # 規劃課: submitted and verified
    chats["王小明"].press("送出")
    chats["王小明"].press("確認送出")
    secretary = chats["陳秘書"]
    secretary.say("審定 規劃課")
    secretary.press("完成審定")
    secretary.say("流程公開完整")
    assert "總分" in secretary.text
    answer_all(chats["工務同仁"])  # 工務課: submitted
    chats["工務同仁"].press("送出")
    chats["工務同仁"].press("確認送出")
    answer_all(chats["管理同仁"])  # 管理課: all answered, not submitted; 資產課: nothing
    report = Reminders(office.database, CONFIG).run_due(
        at_nine(date(2026, 4, 11)) + timedelta(minutes=30))
    sent: dict[str, set[str]] = {}
    for line in report.sent:
        key, recipient = line.split(" → ")
        sent.setdefault(key, set()).add(recipient)
    still_open = {f"member:{ids[n]}" for n in ("管理同仁", "資產同仁", "陳秘書")}
    assert sent["opening:115Q1"] == still_open
    assert sent["nudge-3:115Q1"] == still_open | {"secretariat:1"}
    texts = {m.destination: m.payload["text"] for m in office.outbox()
             if m.payload["text"].startswith("【自評開始】")}
    assert "管理課已全部作答，尚未送出" in texts[f"console-{ids['管理同仁']}"]
    assert "資產課目前已作答 0/25 題" in texts[f"console-{ids['資產同仁']}"]


def test_a_holiday_moves_the_reminder(office, people):
    calendar = WorkCalendar(extra_closed=[date(2026, 4, 1)])
    reminders = Reminders(office.database, CONFIG, calendar)
    assert reminders.run_due(at_nine(date(2026, 4, 1))).sent == []
    assert len(reminders.run_due(at_nine(date(2026, 4, 2))).sent) == 4


def test_members_without_a_chat_get_nothing(office):
    reminders = Reminders(office.database, CONFIG)
    assert reminders.run_due(at_nine(date(2026, 4, 1))).sent == []
    with office.database.transaction() as session:
        assert session.exec(select(OutboxMessage)).all() == []


def test_every_opening_reminder_carries_the_quarters_calendar(office, people):
    Reminders(office.database, CONFIG).run_due(datetime(2026, 12, 1, 1, 30,
                                                                  tzinfo=UTC))
    openings = [m for m in office.outbox() if m.payload["text"].startswith("【自評開始】")]
    assert openings
    for message in openings:
        document = message.payload["document"]
        assert document["filename"] == "115年第4季自評期程.ics"
        assert document["mime_type"] == "text/calendar"
        summaries = [e["SUMMARY"] for e in events(base64.b64decode(document["content"]))]
        assert summaries == ["115年第4季服務品質自行考核（填寫期間）", "115年第4季自評截止"]
        assert "行事曆檔" in message.payload["text"]
